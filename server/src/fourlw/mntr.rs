//! `mntr`: tab-separated `zk_*` metrics, driven by a table of Apache 3.8's fixed keys in its
//! output order, each with its kind and the modes that print it. A new metric is one line in
//! `MNTR_TABLE`; its value comes from a typed field of the view, from
//! [`ServerSnapshot::metrics`], or is Apache's initial value.
//!
//! Which mode prints which quorum key follows Apache's sources: `QuorumZooKeeperServer`
//! (leader, follower, observer) adds `zk_peer_state` and `zk_quorum_size`;
//! `LeaderZooKeeperServer` adds `zk_learners`, `zk_synced_followers`,
//! `zk_synced_non_voting_followers`, `zk_synced_observers`, `zk_pending_syncs`,
//! `zk_leader_uptime` and the proposal sizes; `FollowerZooKeeperServer` adds
//! `zk_synced_observers` only as an observer master. `zk_digest_mismatches_count` is a
//! server counter every mode prints. Standalone and read-only servers print none of the
//! quorum keys (the captures in `tests/fixtures/4lw/` show all of this).

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use super::java::{java_double, summary_avg};
use super::role::{Role, ServerMode};
use super::state::ServerSnapshot;

/// A summary metric: `mntr` expands it into `zk_avg_X`, `zk_min_X`, `zk_max_X`, `zk_cnt_X`,
/// `zk_sum_X` and, for the advanced ones, `zk_p50_X`, `zk_p95_X`, `zk_p99_X`, `zk_p999_X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SummaryValue {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations (the average is derived, rounded like Apache).
    pub sum: i64,
    /// Smallest observation (printed 0 while `count` is 0).
    pub min: i64,
    /// Largest observation (printed 0 while `count` is 0).
    pub max: i64,
    /// p50, p95, p99, p999; printed for advanced summaries (0s when `None`), and for extra
    /// summaries only when present.
    pub percentiles: Option<[i64; 4]>,
}

/// A value for `mntr`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// An integer gauge or counter.
    Int(i64),
    /// A floating gauge, printed like Java's `Double.toString` (`0.0`, `2.0667`).
    Float(f64),
    /// A text value.
    Text(String),
    /// A summary (see [`SummaryValue`]).
    Summary(SummaryValue),
}

/// Kind of a fixed `mntr` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MntrKind {
    /// Integer gauge or counter.
    Int,
    /// Floating gauge (Java `Double.toString` format).
    Float,
    /// Text.
    Text,
    /// Summary: `avg`, `min`, `max`, `cnt`, `sum` keys.
    BasicSummary,
    /// Summary with percentiles: plus `p50`, `p95`, `p99`, `p999` keys.
    AdvancedSummary,
}

/// Which servers emit a fixed `mntr` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MntrPresence {
    /// Every mode (standalone, read-only, quorum).
    Always,
    /// Leader, follower and observer.
    Quorum,
    /// Leader only.
    Leader,
    /// `zk_synced_observers`: a leader, and a follower that is an observer master (Apache's
    /// gauge is null elsewhere, and null gauges are not printed).
    SyncedObservers,
}

impl MntrPresence {
    /// Whether a server in `role` prints the entry.
    pub(super) fn applies(self, role: &Role) -> bool {
        match self {
            MntrPresence::Always => true,
            MntrPresence::Quorum => role.mode.in_quorum(),
            MntrPresence::Leader => role.mode == ServerMode::Leader,
            MntrPresence::SyncedObservers => match role.mode {
                ServerMode::Leader => true,
                ServerMode::Follower => role
                    .quorum
                    .as_ref()
                    .is_some_and(|q| q.follower_synced_observers.is_some()),
                _ => false,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct MntrEntry {
    pub(super) name: &'static str,
    pub(super) kind: MntrKind,
    pub(super) presence: MntrPresence,
}

const fn entry(name: &'static str, kind: MntrKind, presence: MntrPresence) -> MntrEntry {
    MntrEntry {
        name,
        kind,
        presence,
    }
}
const fn text(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Text, MntrPresence::Always)
}
const fn quorum_text(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Text, MntrPresence::Quorum)
}
const fn float(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Float, MntrPresence::Always)
}
const fn int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Always)
}
const fn quorum_int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Quorum)
}
const fn leader_int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Leader)
}
const fn basic_summary(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::BasicSummary, MntrPresence::Always)
}
const fn advanced_summary(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::AdvancedSummary, MntrPresence::Always)
}

/// Apache 3.8's fixed `mntr` entries in its output order (a stable hash order: the same for
/// every mode, entries missing in a mode are skipped). Names are without the `zk_` prefix;
/// summaries are listed by base name.
pub(super) const MNTR_TABLE: &[MntrEntry] = &[
    text("version"),
    text("server_state"),
    quorum_text("peer_state"),
    int("ephemerals_count"),
    int("num_alive_connections"),
    float("avg_latency"),
    leader_int("min_proposal_size"),
    int("outstanding_requests"),
    int("znode_count"),
    int("global_sessions"),
    int("non_mtls_remote_conn_count"),
    int("last_client_response_size"),
    int("packets_sent"),
    int("packets_received"),
    leader_int("max_proposal_size"),
    int("max_client_response_size"),
    leader_int("synced_followers"),
    float("connection_drop_probability"),
    int("watch_count"),
    leader_int("synced_non_voting_followers"),
    entry(
        "synced_observers",
        MntrKind::Int,
        MntrPresence::SyncedObservers,
    ),
    int("auth_failed_count"),
    int("min_latency"),
    int("max_file_descriptor_count"),
    int("approximate_data_size"),
    int("open_file_descriptor_count"),
    leader_int("last_proposal_size"),
    leader_int("pending_syncs"),
    leader_int("leader_uptime"),
    int("local_sessions"),
    int("uptime"),
    int("max_latency"),
    int("outstanding_tls_handshake"),
    leader_int("learners"),
    int("min_client_response_size"),
    int("non_mtls_local_conn_count"),
    quorum_int("quorum_size"),
    int("proposal_count"),
    int("watch_bytes"),
    int("outstanding_changes_removed"),
    int("throttled_ops"),
    int("stale_requests_dropped"),
    int("large_requests_rejected"),
    int("insecure_admin_count"),
    int("connection_rejected"),
    int("cnxn_closed_without_zk_server_running"),
    int("sessionless_connections_expired"),
    int("looking_count"),
    int("dead_watchers_queued"),
    int("stale_requests"),
    int("connection_drop_count"),
    int("learner_proposal_received_count"),
    int("digest_mismatches_count"),
    int("dead_watchers_cleared"),
    int("response_packet_cache_hits"),
    int("bytes_received_count"),
    int("add_dead_watcher_stall_time"),
    int("request_throttle_wait_count"),
    int("requests_not_forwarded_to_commit_processor"),
    int("response_packet_cache_misses"),
    int("ensemble_auth_success"),
    int("prep_processor_request_queued"),
    int("learner_commit_received_count"),
    int("stale_replies"),
    int("connection_request_count"),
    int("response_bytes"),
    int("ensemble_auth_fail"),
    int("diff_count"),
    int("response_packet_get_children_cache_misses"),
    int("connection_revalidate_count"),
    int("quit_leading_due_to_disloyal_voter"),
    int("snap_count"),
    int("unrecoverable_error_count"),
    int("unsuccessful_handshake"),
    int("commit_count"),
    int("stale_sessions_expired"),
    int("response_packet_get_children_cache_hits"),
    int("sync_processor_request_queued"),
    int("outstanding_changes_queued"),
    int("request_commit_queued"),
    int("ensemble_auth_skip"),
    int("skip_learner_request_to_next_processor_count"),
    int("tls_handshake_exceeded"),
    int("revalidate_count"),
    basic_summary("socket_closing_time"),
    basic_summary("proposal_process_time"),
    basic_summary("leader_unavailable_time"),
    basic_summary("node_created_watch_count"),
    basic_summary("session_queues_drained"),
    basic_summary("write_commit_proc_req_queued"),
    basic_summary("connection_token_deficit"),
    basic_summary("read_commit_proc_req_queued"),
    basic_summary("node_deleted_watch_count"),
    basic_summary("startup_txns_load_time"),
    basic_summary("sync_processor_queue_size"),
    basic_summary("follower_sync_time"),
    basic_summary("prep_processor_queue_size"),
    basic_summary("fsynctime"),
    basic_summary("inflight_snap_count"),
    basic_summary("reads_issued_from_session_queue"),
    basic_summary("learner_request_processor_queue_size"),
    basic_summary("snapshottime"),
    basic_summary("unavailable_time"),
    basic_summary("startup_txns_loaded"),
    basic_summary("reads_after_write_in_session_queue"),
    basic_summary("requests_in_session_queue"),
    basic_summary("write_commit_proc_issued"),
    basic_summary("prep_process_time"),
    basic_summary("pending_session_queue_size"),
    basic_summary("time_waiting_empty_pool_in_commit_processor_read_ms"),
    basic_summary("commit_process_time"),
    basic_summary("dbinittime"),
    basic_summary("inflight_diff_count"),
    basic_summary("netty_queued_buffer_capacity"),
    basic_summary("election_time"),
    basic_summary("commit_commit_proc_req_queued"),
    basic_summary("sync_processor_batch_size"),
    basic_summary("node_children_watch_count"),
    basic_summary("write_batch_time_in_commit_processor"),
    basic_summary("read_commit_proc_issued"),
    basic_summary("concurrent_request_processing_in_commit_processor"),
    basic_summary("observer_sync_time"),
    basic_summary("node_changed_watch_count"),
    basic_summary("sync_process_time"),
    basic_summary("startup_snap_load_time"),
    advanced_summary("prep_processor_queue_time_ms"),
    advanced_summary("jvm_pause_time_ms"),
    advanced_summary("close_session_prep_time"),
    advanced_summary("read_commitproc_time_ms"),
    advanced_summary("updatelatency"),
    advanced_summary("local_write_committed_time_ms"),
    advanced_summary("request_throttle_queue_time_ms"),
    advanced_summary("readlatency"),
    advanced_summary("quorum_ack_latency"),
    advanced_summary("om_commit_process_time_ms"),
    advanced_summary("read_final_proc_time_ms"),
    advanced_summary("commit_propagation_latency"),
    advanced_summary("dead_watchers_cleaner_latency"),
    advanced_summary("write_final_proc_time_ms"),
    advanced_summary("proposal_ack_creation_latency"),
    advanced_summary("proposal_latency"),
    advanced_summary("om_proposal_process_time_ms"),
    advanced_summary("sync_processor_queue_and_flush_time_ms"),
    advanced_summary("propagation_latency"),
    advanced_summary("server_write_committed_time_ms"),
    advanced_summary("sync_processor_queue_time_ms"),
    advanced_summary("sync_processor_queue_flush_time_ms"),
    advanced_summary("write_commitproc_time_ms"),
];

/// The fixed `mntr` metric names Apache 3.8 emits (without `zk_`, summaries by base name),
/// with their kind and presence, in output order.
#[cfg(test)]
pub fn mntr_metrics() -> impl Iterator<Item = (&'static str, MntrKind, MntrPresence)> {
    MNTR_TABLE.iter().map(|e| (e.name, e.kind, e.presence))
}

/// The full list of fixed `mntr` keys (with `zk_`, summaries expanded) a server in `role`
/// prints, in order; dynamic extra entries come after them.
#[cfg(test)]
pub fn mntr_keys(role: &Role) -> Vec<String> {
    let mut keys = Vec::new();
    for e in MNTR_TABLE.iter().filter(|e| e.presence.applies(role)) {
        match e.kind {
            MntrKind::Int | MntrKind::Float | MntrKind::Text => keys.push(format!("zk_{}", e.name)),
            MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
                let stats: &[&str] = if e.kind == MntrKind::AdvancedSummary {
                    &SUMMARY_STATS
                } else {
                    &SUMMARY_STATS[..5]
                };
                keys.extend(stats.iter().map(|s| format!("zk_{s}_{}", e.name)));
            }
        }
    }
    keys
}

#[cfg(test)]
pub(super) const SUMMARY_STATS: [&str; 9] = [
    "avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999",
];

/// Values of the fixed keys that come from typed snapshot fields.
pub(super) fn typed_metric(snap: &ServerSnapshot, name: &str) -> Option<MetricValue> {
    let uint = |v: u64| Some(MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX)));
    let role = &snap.role;
    let leader = || role.leader();
    match name {
        "version" => Some(MetricValue::Text(snap.full_version())),
        "server_state" => Some(MetricValue::Text(role.mode.as_str().to_string())),
        "peer_state" => Some(MetricValue::Text(role.peer_state())),
        "quorum_size" => uint(role.quorum.as_ref().map_or(0, |q| q.quorum_size)),
        "ephemerals_count" => uint(snap.ephemerals_count),
        "num_alive_connections" => uint(snap.num_alive_connections),
        "avg_latency" => Some(MetricValue::Float(snap.latency.avg_ms())),
        "min_latency" => uint(snap.latency.min_printed()),
        "max_latency" => uint(snap.latency.max_ms),
        "outstanding_requests" => uint(snap.outstanding_requests),
        "znode_count" => uint(snap.node_count),
        "global_sessions" => uint(snap.global_sessions),
        "local_sessions" => uint(snap.local_sessions),
        "packets_sent" => uint(snap.packets_sent),
        "packets_received" => uint(snap.packets_received),
        "watch_count" => uint(snap.watch_count),
        "approximate_data_size" => uint(snap.approximate_data_size),
        "open_file_descriptor_count" => uint(snap.open_file_descriptor_count),
        "max_file_descriptor_count" => uint(snap.max_file_descriptor_count),
        "uptime" => uint(snap.uptime_ms),
        "last_proposal_size" => Some(MetricValue::Int(leader().last_proposal_size)),
        "min_proposal_size" => Some(MetricValue::Int(leader().min_proposal_size)),
        "max_proposal_size" => Some(MetricValue::Int(leader().max_proposal_size)),
        "synced_followers" => uint(leader().synced_followers),
        "synced_non_voting_followers" => uint(leader().synced_non_voting_followers),
        "synced_observers" => match role.mode {
            ServerMode::Leader => uint(leader().synced_observers),
            _ => uint(role.quorum.as_ref()?.follower_synced_observers?),
        },
        "pending_syncs" => uint(leader().pending_syncs),
        "leader_uptime" => uint(leader().leader_uptime_ms),
        "learners" => uint(leader().learners),
        _ => None,
    }
}

fn default_metric(e: &MntrEntry) -> MetricValue {
    match e.kind {
        MntrKind::Text => MetricValue::Text(String::new()),
        MntrKind::Float => MetricValue::Float(0.0),
        // Apache's response-size stats start (and reset) at -1.
        MntrKind::Int if e.name.ends_with("_client_response_size") => MetricValue::Int(-1),
        MntrKind::Int => MetricValue::Int(0),
        MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
            MetricValue::Summary(SummaryValue::default())
        }
    }
}

/// `mntr`: the fixed entries a server in this role prints, in Apache's order, then the
/// dynamic ones.
pub(super) fn render(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    for e in MNTR_TABLE.iter().filter(|e| e.presence.applies(&snap.role)) {
        let value = typed_metric(snap, e.name)
            .or_else(|| snap.metrics.get(e.name).cloned())
            .unwrap_or_else(|| default_metric(e));
        match (e.kind, value) {
            (MntrKind::BasicSummary | MntrKind::AdvancedSummary, MetricValue::Summary(s)) => {
                summary_lines(out, e.name, &s, e.kind == MntrKind::AdvancedSummary)?
            }
            (MntrKind::BasicSummary | MntrKind::AdvancedSummary, _) => summary_lines(
                out,
                e.name,
                &SummaryValue::default(),
                e.kind == MntrKind::AdvancedSummary,
            )?,
            (_, MetricValue::Summary(_)) => metric_line(out, e.name, &default_metric(e))?,
            (_, v) => metric_line(out, e.name, &v)?,
        }
    }
    let fixed: BTreeSet<&str> = MNTR_TABLE.iter().map(|e| e.name).collect();
    let extras = snap
        .extra_metrics
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain(
            snap.metrics
                .iter()
                .filter(|(k, _)| !fixed.contains(k.as_str()))
                .map(|(k, v)| (k.as_str(), v)),
        );
    for (name, value) in extras {
        match value {
            MetricValue::Summary(s) => summary_lines(out, name, s, s.percentiles.is_some())?,
            v => metric_line(out, name, v)?,
        }
    }
    Ok(())
}

fn metric_line(out: &mut String, name: &str, v: &MetricValue) -> fmt::Result {
    match v {
        MetricValue::Int(i) => writeln!(out, "zk_{name}\t{i}"),
        MetricValue::Float(f) => writeln!(out, "zk_{name}\t{}", java_double(*f)),
        MetricValue::Text(t) => writeln!(out, "zk_{name}\t{t}"),
        MetricValue::Summary(s) => summary_lines(out, name, s, s.percentiles.is_some()),
    }
}

fn summary_lines(out: &mut String, name: &str, s: &SummaryValue, advanced: bool) -> fmt::Result {
    let (min, max) = if s.count == 0 { (0, 0) } else { (s.min, s.max) };
    writeln!(
        out,
        "zk_avg_{name}\t{}",
        java_double(summary_avg(s.count, s.sum as f64))
    )?;
    writeln!(out, "zk_min_{name}\t{min}")?;
    writeln!(out, "zk_max_{name}\t{max}")?;
    writeln!(out, "zk_cnt_{name}\t{}", s.count)?;
    writeln!(out, "zk_sum_{name}\t{}", s.sum)?;
    if advanced {
        let p = s.percentiles.unwrap_or_default();
        for (label, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
            writeln!(out, "zk_{label}_{name}\t{v}")?;
        }
    }
    Ok(())
}
