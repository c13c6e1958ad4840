//! Admin commands: the four-letter words answered on the client port, rendered by
//! [`crate::fourlw`] from a snapshot of the core's state.

use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::core::CoreMsg;
use crate::fourlw::{
    self, ConfInfo, ConnectionStats, DumpInfo, Environment, FourLetterWord, LatencyStats,
    MetricValue, ServerSnapshot, SummaryValue, WatchSummary,
};
use crate::stats::Inspection;

/// The version reported to clients and tools. Tools such as kazoo parse the leading
/// `x.y.z` to decide which features the server has: zkrs speaks ZooKeeper 3.9's protocol.
pub const COMPAT_VERSION: &str = "3.9.0";

pub fn version_string() -> String {
    format!("{COMPAT_VERSION}-zkrs-{}", env!("CARGO_PKG_VERSION"))
}

/// Whether the whitelist allows a word; `srvr` is always allowed, as in Apache.
pub fn allowed(config: &Config, cmd: FourLetterWord) -> bool {
    cmd == FourLetterWord::Srvr || config.four_letter_allowed(cmd.name())
}

/// The answer to a four-letter word. `stmk_mask` is the mask that followed `stmk`.
pub async fn four_letter_word(
    cmd: FourLetterWord,
    remote: std::net::SocketAddr,
    core: &mpsc::UnboundedSender<CoreMsg>,
    config: &Config,
) -> String {
    if !allowed(config, cmd) {
        return fourlw::not_in_whitelist(cmd.name());
    }
    match cmd {
        FourLetterWord::Crst => {
            let _ = core.send(CoreMsg::ResetConnStats);
        }
        FourLetterWord::Srst => {
            let _ = core.send(CoreMsg::ResetServerStats);
        }
        _ => {}
    }
    let mut snap = ServerSnapshot {
        version: version_string(),
        build_date: "unknown".to_string(),
        ..ServerSnapshot::default()
    };
    if cmd.needs_snapshot() {
        let (tx, rx) = oneshot::channel();
        if core.send(CoreMsg::Inspect(tx)).is_err() {
            snap.serving = false;
        } else {
            match rx.await {
                Ok(i) => {
                    fill(&mut snap, &i, config);
                    count_this_connection(&mut snap, remote);
                }
                Err(_) => snap.serving = false,
            }
        }
    }
    fourlw::render(cmd, &snap)
}

/// Apache counts the connection that asked: it is alive, sent one packet (the word), has
/// no session, and is no longer read from (interest ops 0).
fn count_this_connection(s: &mut ServerSnapshot, remote: std::net::SocketAddr) {
    s.num_alive_connections += 1;
    s.packets_received += 1;
    let mut me = ConnectionStats::new(remote);
    me.interest_ops = 0;
    me.received = 1;
    s.connections.insert(0, me);
}

fn fill(s: &mut ServerSnapshot, i: &Inspection, config: &Config) {
    s.latency = LatencyStats {
        count: i.server.latency.count,
        sum_ms: i.server.latency.total,
        min_ms: i.server.latency.min,
        max_ms: i.server.latency.max,
    };
    s.packets_received = i.server.packets_received;
    s.packets_sent = i.server.packets_sent;
    s.num_alive_connections = i.conns.len() as u64;
    s.outstanding_requests = i.outstanding_requests as u64;
    s.last_zxid = i.last_zxid;
    // Apache's node table holds the root twice (as "" and "/"), and its counts show it.
    s.node_count = i.node_count as u64 + 1;
    s.ephemerals_count = i.ephemerals_count as u64;
    s.approximate_data_size = i.approximate_data_size.max(0) as u64;
    s.watch_count = i.watch_count as u64;
    s.watch_summary = WatchSummary {
        connections: i.watching_sessions as u64,
        paths: i.watched_paths as u64,
        watches: i.data_watch_count as u64,
    };
    s.extra_metrics = i
        .namespaces
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                MetricValue::Summary(SummaryValue {
                    count: v.count,
                    sum: v.sum,
                    min: v.min,
                    max: v.max,
                    percentiles: None,
                }),
            )
        })
        .collect();
    s.global_sessions = i.session_count as u64;
    s.uptime_ms = i.uptime_ms;
    s.open_file_descriptor_count = fourlw::open_file_descriptor_count().unwrap_or(0);
    s.max_file_descriptor_count = fourlw::max_file_descriptor_count().unwrap_or(0);
    s.conf = ConfInfo {
        client_port: config.client_port as i32,
        secure_client_port: config.secure_client_port.map_or(-1, i32::from),
        data_dir: config.data_dir.display().to_string(),
        data_log_dir: config.data_log_dir.display().to_string(),
        tick_time: config.tick_time_ms as i32,
        max_client_cnxns: config.max_client_cnxns as i32,
        min_session_timeout: config.min_session_timeout_ms() as i32,
        max_session_timeout: config.max_session_timeout_ms() as i32,
        client_port_listen_backlog: -1,
        server_id: config.my_id.unwrap_or(0) as i64,
        quorum: None,
    };
    s.environment = Environment::from_process();
    s.connections = i
        .conns
        .iter()
        .map(|c| {
            let mut cs = ConnectionStats::new(c.remote);
            cs.interest_ops = 1;
            cs.queued = c.queued as u64;
            cs.received = c.stats.packets_received;
            cs.sent = c.stats.packets_sent;
            cs.session_id = c.session_id;
            cs.last_op = fourlw::last_op_code(c.stats.last_op.code())
                .unwrap_or("NA")
                .to_string();
            cs.established_ms = c.stats.established_wall_ms;
            cs.session_timeout_ms = c.timeout_ms;
            cs.last_cxid = c.stats.last_cxid as i64;
            cs.last_zxid = c.stats.last_zxid;
            cs.last_response_ms = c.stats.last_response_wall_ms;
            cs.last_latency_ms = c.stats.last_latency as i64;
            cs.min_latency_ms = c.stats.latency.min as i64;
            cs.avg_latency_ms = c.stats.latency.avg() as i64;
            cs.max_latency_ms = c.stats.latency.max as i64;
            cs
        })
        .collect();
    s.watches_by_session = i.watches_by_session.clone();
    s.watches_by_path = i.watches_by_path.clone();
    s.dump = DumpInfo {
        ephemerals: i.ephemerals_by_session.clone(),
        ..DumpInfo::default()
    };
}
