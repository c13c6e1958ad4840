//! Prometheus metrics in text exposition format 0.0.4, with the families Apache's
//! `PrometheusMetricsProvider` (3.8, simpleclient 0.9) exports: the same names, types, help
//! texts (the name), `key` labels of the sets and summary quantiles, so dashboards and
//! alerts written for Apache work unchanged. The JVM's own families (`exportJvmInfo`) have
//! no equivalent here and are not exported.
//!
//! Values come from the `mntr` rendering of the one view ([`MntrLines`]) and, for the
//! labelled sets, from the view's dynamic entries (`<key>_<set name>`). A summary whose
//! quantile the view does not keep reports `NaN`, which is also what Apache reports
//! before any observation. As in Apache, the gauges of the serving server are absent while
//! it does not serve, and the quorum and leader gauges are present only in those roles.
//! `prometheus_families.txt` (taken from Apache's sources) pins the table below.

use std::fmt::Write as _;

use crate::fourlw::{MetricValue, ServerMode, ServerSnapshot};

use super::json::java_double;
use super::mntr::MntrLines;

/// The content type of the 0.0.4 text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How a family is typed and sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A summary with quantile 0.5 only (Apache's `DetailLevel.BASIC`).
    BasicSummary,
    /// A summary with quantiles 0.5, 0.9 and 0.99 (`DetailLevel.ADVANCED`).
    AdvancedSummary,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::BasicSummary | Kind::AdvancedSummary => "summary",
        }
    }
}

/// When a family is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Always (Apache's `ServerMetrics`, registered once at start).
    Always,
    /// While the server serves (`ZooKeeperServer.registerMetrics`).
    Serving,
    /// While serving as leader, follower or observer (`QuorumZooKeeperServer`).
    Quorum,
    /// While serving as leader (`LeaderZooKeeperServer`).
    Leader,
    /// While serving as leader or follower (`synced_observers`).
    LeaderOrFollower,
}

impl Presence {
    pub fn applies(self, serving: bool, mode: ServerMode) -> bool {
        match self {
            Presence::Always => true,
            Presence::Serving => serving,
            Presence::Quorum => serving && mode.in_quorum(),
            Presence::Leader => serving && mode == ServerMode::Leader,
            Presence::LeaderOrFollower => {
                serving && matches!(mode, ServerMode::Leader | ServerMode::Follower)
            }
        }
    }
}

/// One family: its name, kind, presence and whether it is a set labelled by `key`.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub presence: Presence,
    pub labelled: bool,
}

const fn family(name: &'static str, kind: Kind, presence: Presence, labelled: bool) -> Family {
    Family {
        name,
        kind,
        presence,
        labelled,
    }
}
const fn counter(name: &'static str, p: Presence) -> Family {
    family(name, Kind::Counter, p, false)
}
const fn counter_set(name: &'static str, p: Presence) -> Family {
    family(name, Kind::Counter, p, true)
}
const fn gauge(name: &'static str, p: Presence) -> Family {
    family(name, Kind::Gauge, p, false)
}
const fn gauge_set(name: &'static str, p: Presence) -> Family {
    family(name, Kind::Gauge, p, true)
}
const fn basic(name: &'static str, p: Presence) -> Family {
    family(name, Kind::BasicSummary, p, false)
}
const fn basic_set(name: &'static str, p: Presence) -> Family {
    family(name, Kind::BasicSummary, p, true)
}
const fn advanced(name: &'static str, p: Presence) -> Family {
    family(name, Kind::AdvancedSummary, p, false)
}
const fn advanced_set(name: &'static str, p: Presence) -> Family {
    family(name, Kind::AdvancedSummary, p, true)
}

use Presence::*;

/// Apache 3.8's families, in the order of its sources.
pub const FAMILIES: &[Family] = &[
    basic("fsynctime", Always),
    basic("snapshottime", Always),
    basic("dbinittime", Always),
    advanced("readlatency", Always),
    advanced("updatelatency", Always),
    advanced("propagation_latency", Always),
    basic("follower_sync_time", Always),
    basic("observer_sync_time", Always),
    basic("election_time", Always),
    counter("looking_count", Always),
    counter("diff_count", Always),
    counter("snap_count", Always),
    counter("commit_count", Always),
    counter("connection_request_count", Always),
    basic("connection_token_deficit", Always),
    counter("connection_rejected", Always),
    basic("inflight_snap_count", Always),
    basic("inflight_diff_count", Always),
    basic_set("write_per_namespace", Always),
    basic_set("read_per_namespace", Always),
    counter("bytes_received_count", Always),
    counter("unrecoverable_error_count", Always),
    basic("node_created_watch_count", Always),
    basic("node_deleted_watch_count", Always),
    basic("node_changed_watch_count", Always),
    basic("node_children_watch_count", Always),
    counter("add_dead_watcher_stall_time", Always),
    counter("dead_watchers_queued", Always),
    counter("dead_watchers_cleared", Always),
    advanced("dead_watchers_cleaner_latency", Always),
    counter("response_packet_cache_hits", Always),
    counter("response_packet_cache_misses", Always),
    counter("response_packet_get_children_cache_hits", Always),
    counter("response_packet_get_children_cache_misses", Always),
    counter("ensemble_auth_success", Always),
    counter("ensemble_auth_fail", Always),
    counter("ensemble_auth_skip", Always),
    advanced("prep_processor_queue_time_ms", Always),
    basic("prep_processor_queue_size", Always),
    counter("prep_processor_request_queued", Always),
    counter("outstanding_changes_queued", Always),
    counter("outstanding_changes_removed", Always),
    basic("prep_process_time", Always),
    basic("proposal_process_time", Always),
    advanced("close_session_prep_time", Always),
    counter("revalidate_count", Always),
    counter("connection_drop_count", Always),
    counter("connection_revalidate_count", Always),
    counter("sessionless_connections_expired", Always),
    counter("stale_sessions_expired", Always),
    basic("unavailable_time", Always),
    basic("leader_unavailable_time", Always),
    basic("requests_in_session_queue", Always),
    basic("pending_session_queue_size", Always),
    basic("reads_after_write_in_session_queue", Always),
    basic("reads_issued_from_session_queue", Always),
    basic("session_queues_drained", Always),
    basic(
        "time_waiting_empty_pool_in_commit_processor_read_ms",
        Always,
    ),
    basic("write_batch_time_in_commit_processor", Always),
    basic("concurrent_request_processing_in_commit_processor", Always),
    basic("read_commit_proc_req_queued", Always),
    basic("write_commit_proc_req_queued", Always),
    basic("commit_commit_proc_req_queued", Always),
    counter("request_commit_queued", Always),
    basic("read_commit_proc_issued", Always),
    basic("write_commit_proc_issued", Always),
    counter("throttled_ops", Always),
    advanced("read_commitproc_time_ms", Always),
    advanced("write_commitproc_time_ms", Always),
    advanced("local_write_committed_time_ms", Always),
    advanced("server_write_committed_time_ms", Always),
    basic("commit_process_time", Always),
    advanced("om_proposal_process_time_ms", Always),
    advanced("om_commit_process_time_ms", Always),
    advanced("read_final_proc_time_ms", Always),
    advanced("write_final_proc_time_ms", Always),
    advanced("proposal_latency", Always),
    advanced("proposal_ack_creation_latency", Always),
    advanced("commit_propagation_latency", Always),
    counter("learner_proposal_received_count", Always),
    counter("learner_commit_received_count", Always),
    basic_set("learner_handler_qp_size", Always),
    advanced_set("learner_handler_qp_time_ms", Always),
    basic("startup_txns_loaded", Always),
    basic("startup_txns_load_time", Always),
    basic("startup_snap_load_time", Always),
    advanced("sync_processor_queue_and_flush_time_ms", Always),
    basic("sync_processor_queue_size", Always),
    counter("sync_processor_request_queued", Always),
    advanced("sync_processor_queue_time_ms", Always),
    advanced("sync_processor_queue_flush_time_ms", Always),
    basic("sync_process_time", Always),
    basic("sync_processor_batch_size", Always),
    advanced("quorum_ack_latency", Always),
    advanced_set("ack_latency", Always),
    counter("proposal_count", Always),
    counter("quit_leading_due_to_disloyal_voter", Always),
    counter("stale_requests", Always),
    counter("stale_requests_dropped", Always),
    counter("stale_replies", Always),
    advanced("request_throttle_queue_time_ms", Always),
    counter("request_throttle_wait_count", Always),
    counter("large_requests_rejected", Always),
    basic("netty_queued_buffer_capacity", Always),
    counter("digest_mismatches_count", Always),
    basic("learner_request_processor_queue_size", Always),
    counter("unsuccessful_handshake", Always),
    counter("insecure_admin_count", Always),
    counter("tls_handshake_exceeded", Always),
    counter("cnxn_closed_without_zk_server_running", Always),
    counter("skip_learner_request_to_next_processor_count", Always),
    basic("socket_closing_time", Always),
    counter("requests_not_forwarded_to_commit_processor", Always),
    counter("response_bytes", Always),
    counter("watch_bytes", Always),
    advanced("jvm_pause_time_ms", Always),
    counter_set("quota_exceeded_error_per_namespace", Always),
    gauge("avg_latency", Serving),
    gauge("max_latency", Serving),
    gauge("min_latency", Serving),
    gauge("packets_received", Serving),
    gauge("packets_sent", Serving),
    gauge("num_alive_connections", Serving),
    gauge("outstanding_requests", Serving),
    gauge("uptime", Serving),
    gauge("znode_count", Serving),
    gauge("watch_count", Serving),
    gauge("ephemerals_count", Serving),
    gauge("approximate_data_size", Serving),
    gauge("global_sessions", Serving),
    gauge("local_sessions", Serving),
    gauge("open_file_descriptor_count", Serving),
    gauge("max_file_descriptor_count", Serving),
    gauge("connection_drop_probability", Serving),
    gauge("last_client_response_size", Serving),
    gauge("max_client_response_size", Serving),
    gauge("min_client_response_size", Serving),
    gauge("outstanding_tls_handshake", Serving),
    gauge("auth_failed_count", Serving),
    gauge("non_mtls_remote_conn_count", Serving),
    gauge("non_mtls_local_conn_count", Serving),
    gauge_set("quota_count_limit_per_namespace", Serving),
    gauge_set("quota_bytes_limit_per_namespace", Serving),
    gauge_set("quota_count_usage_per_namespace", Serving),
    gauge_set("quota_bytes_usage_per_namespace", Serving),
    gauge("quorum_size", Quorum),
    gauge("learners", Leader),
    gauge("synced_followers", Leader),
    gauge("synced_non_voting_followers", Leader),
    gauge("synced_observers", LeaderOrFollower),
    gauge("pending_syncs", Leader),
    gauge("leader_uptime", Leader),
    gauge("last_proposal_size", Leader),
    gauge("max_proposal_size", Leader),
    gauge("min_proposal_size", Leader),
];

/// The `/metrics` body for the server the view shows.
pub fn render(snap: &ServerSnapshot) -> String {
    let mntr = MntrLines::of(snap);
    let mut out = String::new();
    let (serving, mode) = (snap.role.serving, snap.role.mode);
    for f in FAMILIES
        .iter()
        .filter(|f| f.presence.applies(serving, mode))
    {
        let _ = writeln!(out, "# HELP {0} {0}", f.name);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.type_name());
        if f.labelled {
            for (key, value) in set_members(snap, f.name) {
                sample(&mut out, f, &[("key", key)], value);
            }
        } else {
            sample(&mut out, f, &[], unlabelled(&mntr, f));
        }
    }
    out
}

/// A value as the view has it: a plain number, or a summary's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Number(f64),
    Summary {
        count: u64,
        sum: f64,
        /// p50 and p99 when known.
        p50: Option<f64>,
        p99: Option<f64>,
    },
}

fn unlabelled(mntr: &MntrLines, f: &Family) -> Value {
    match f.kind {
        Kind::Counter | Kind::Gauge => {
            // A gauge Apache's callback answers with null (a follower that is not an
            // observer master: `synced_observers`) is exported as 0, as Apache does.
            Value::Number(mntr.number(f.name).unwrap_or(0.0))
        }
        Kind::BasicSummary | Kind::AdvancedSummary => {
            let stat = |s: &str| mntr.number(&format!("{s}_{}", f.name));
            Value::Summary {
                count: stat("cnt").unwrap_or(0.0) as u64,
                sum: stat("sum").unwrap_or(0.0),
                p50: stat("p50"),
                p99: stat("p99"),
            }
        }
    }
}

/// The members of a set: the view's dynamic entries named `<key>_<set name>`.
fn set_members<'a>(snap: &'a ServerSnapshot, set: &str) -> Vec<(&'a str, Value)> {
    let suffix = format!("_{set}");
    snap.extra_metrics
        .iter()
        .filter_map(|(name, v)| {
            let key = name.strip_suffix(suffix.as_str())?;
            let value = match v {
                MetricValue::Int(i) => Value::Number(*i as f64),
                MetricValue::Float(x) => Value::Number(*x),
                MetricValue::Text(_) => return None,
                MetricValue::Summary(s) => Value::Summary {
                    count: s.count,
                    sum: s.sum as f64,
                    p50: s.percentiles.map(|p| p[0] as f64),
                    p99: s.percentiles.map(|p| p[2] as f64),
                },
            };
            Some((key, value))
        })
        .collect()
}

/// The sample lines of one family member, as simpleclient 0.9 writes them (labels end
/// with a comma, values as Java doubles).
fn sample(out: &mut String, f: &Family, labels: &[(&str, &str)], value: Value) {
    match value {
        Value::Number(v) => line(out, f.name, labels, None, v),
        Value::Summary {
            count,
            sum,
            p50,
            p99,
        } => {
            // No observation yet: every quantile is NaN, as in Apache.
            let known = |q: Option<f64>| {
                if count == 0 {
                    f64::NAN
                } else {
                    q.unwrap_or(f64::NAN)
                }
            };
            let quantiles: &[(&str, f64)] = match f.kind {
                Kind::AdvancedSummary => {
                    &[("0.5", known(p50)), ("0.9", f64::NAN), ("0.99", known(p99))]
                }
                _ => &[("0.5", known(p50))],
            };
            for (q, v) in quantiles {
                line(out, f.name, labels, Some(q), *v);
            }
            line(
                out,
                &format!("{}_count", f.name),
                labels,
                None,
                count as f64,
            );
            line(out, &format!("{}_sum", f.name), labels, None, sum);
        }
    }
}

fn line(out: &mut String, name: &str, labels: &[(&str, &str)], quantile: Option<&str>, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || quantile.is_some() {
        out.push('{');
        for (k, val) in labels
            .iter()
            .copied()
            .chain(quantile.map(|q| ("quantile", q)))
        {
            let _ = write!(out, "{k}=\"{}\",", escape_label(val));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", go_double(v));
}

/// simpleclient's `doubleToGoString`: Java's digits, with Go's names for the infinities.
fn go_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    java_double(v)
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourlw::{QuorumInfo, Role, SummaryValue};
    use std::collections::BTreeSet;

    /// `prometheus_families.txt`: (name, type, presence, labelled).
    fn pinned() -> Vec<(String, String, String, bool)> {
        include_str!("prometheus_families.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].into(),
                    f[1].into(),
                    f[2].into(),
                    f.get(3) == Some(&"key"),
                )
            })
            .collect()
    }

    fn presence_name(p: Presence) -> &'static str {
        match p {
            Always => "always",
            Serving => "serving",
            Quorum => "quorum",
            Leader => "leader",
            LeaderOrFollower => "leader,follower",
        }
    }

    fn type_name(k: Kind) -> &'static str {
        match k {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::BasicSummary => "summary-basic",
            Kind::AdvancedSummary => "summary-advanced",
        }
    }

    #[test]
    fn the_table_is_apaches_set_of_families() {
        let ours: Vec<(String, String, String, bool)> = FAMILIES
            .iter()
            .map(|f| {
                (
                    f.name.to_string(),
                    type_name(f.kind).to_string(),
                    presence_name(f.presence).to_string(),
                    f.labelled,
                )
            })
            .collect();
        assert_eq!(ours, pinned());
        let names: BTreeSet<&str> = FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAMILIES.len(), "a family is listed twice");
    }

    fn snap(role: Role) -> ServerSnapshot {
        ServerSnapshot::new("3.9.0".into(), "unknown".into(), role)
    }

    fn types(text: &str) -> BTreeSet<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn families_follow_the_role_as_apache_registers_them() {
        let standalone = types(&render(&snap(Role::default())));
        assert!(standalone.contains(&("znode_count".into(), "gauge".into())));
        assert!(standalone.contains(&("readlatency".into(), "summary".into())));
        assert!(standalone.contains(&("digest_mismatches_count".into(), "counter".into())));
        assert!(!standalone.iter().any(|(n, _)| n == "quorum_size"));

        let leader = types(&render(&snap(Role {
            serving: true,
            mode: ServerMode::Leader,
            quorum: Some(QuorumInfo::default()),
        })));
        for name in [
            "quorum_size",
            "learners",
            "synced_followers",
            "synced_observers",
        ] {
            assert!(leader.iter().any(|(n, _)| n == name), "{name}");
        }
        let follower = types(&render(&snap(Role {
            serving: true,
            mode: ServerMode::Follower,
            quorum: None,
        })));
        assert!(follower.iter().any(|(n, _)| n == "synced_observers"));
        assert!(!follower.iter().any(|(n, _)| n == "learners"));

        let looking = types(&render(&snap(Role {
            serving: false,
            mode: ServerMode::Follower,
            quorum: None,
        })));
        assert!(!looking.iter().any(|(n, _)| n == "znode_count"));
        assert!(looking.iter().any(|(n, _)| n == "looking_count"));
    }

    #[test]
    fn samples_are_written_as_simpleclient_writes_them() {
        let mut s = snap(Role::default());
        s.node_count = 5;
        s.latency.count = 0;
        s.extra_metrics.push((
            "app_write_per_namespace".into(),
            MetricValue::Summary(SummaryValue {
                count: 2,
                sum: 30,
                min: 10,
                max: 20,
                percentiles: None,
            }),
        ));
        let text = render(&s);
        for want in [
            "# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5.0\n",
            "# TYPE readlatency summary\nreadlatency{quantile=\"0.5\",} NaN\n\
             readlatency{quantile=\"0.9\",} NaN\nreadlatency{quantile=\"0.99\",} NaN\n\
             readlatency_count 0.0\nreadlatency_sum 0.0\n",
            "# TYPE fsynctime summary\nfsynctime{quantile=\"0.5\",} NaN\nfsynctime_count 0.0\n",
            "# TYPE last_client_response_size gauge\nlast_client_response_size -1.0\n",
            "# TYPE avg_latency gauge\navg_latency 0.0\n",
            "write_per_namespace{key=\"app\",quantile=\"0.5\",} NaN\n\
             write_per_namespace_count{key=\"app\",} 2.0\nwrite_per_namespace_sum{key=\"app\",} 30.0\n",
            "# TYPE quota_exceeded_error_per_namespace counter\n# HELP",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // Every sample line is `name[{labels}] value` with a value Prometheus parses.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = l.rsplit_once(' ').expect("a value");
            assert!(v == "NaN" || v.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(go_double(f64::INFINITY), "+Inf");
        assert_eq!(go_double(1e7), "1.0E7");
    }
}
