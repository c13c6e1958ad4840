//! The one place the view is filled: from the core's [`Inspection`], the server's [`Config`]
//! and the [`Role`] the replication layer publishes. Everything Apache computes differently
//! from what the core counts is adjusted here, so renderers print what they are given.

use std::net::SocketAddr;

use super::conf::ConfInfo;
use super::connections::{last_op_code, ConnectionStats};
use super::dump::DumpInfo;
use super::envi::Environment;
use super::mntr::{MetricValue, SummaryValue};
use super::process;
use super::role::Role;
use super::state::{LatencyStats, ServerSnapshot};
use super::watches::WatchSummary;
use crate::config::Config;
use crate::stats::Inspection;

impl ServerSnapshot {
    /// The view of a server in `role`, before anything is asked of the core: enough for
    /// `ruok`, and what the other words answer when the core cannot be reached.
    pub fn new(version: String, build_date: String, role: Role) -> Self {
        ServerSnapshot {
            version,
            build_date,
            role,
            ..ServerSnapshot::default()
        }
    }

    /// Fills every server-wide, per-connection and watch field from the core's inspection
    /// and the configuration (and this process's figures from the OS).
    pub fn fill_from_core(&mut self, i: &Inspection, config: &Config) {
        let s = self;
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
        s.open_file_descriptor_count = process::open_file_descriptor_count().unwrap_or(0);
        s.max_file_descriptor_count = process::max_file_descriptor_count().unwrap_or(0);
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
        s.connections = i.conns.iter().map(connection).collect();
        s.watches_by_session = i.watches_by_session.clone();
        s.watches_by_path = i.watches_by_path.clone();
        s.dump = DumpInfo {
            ephemerals: i.ephemerals_by_session.clone(),
            ..DumpInfo::default()
        };
    }

    /// Apache counts the connection that asked: it is alive, sent one packet (the word), has
    /// no session, and is no longer read from (interest ops 0).
    pub fn count_asking_connection(&mut self, remote: SocketAddr) {
        self.num_alive_connections += 1;
        self.packets_received += 1;
        let mut me = ConnectionStats::new(remote);
        me.interest_ops = 0;
        me.received = 1;
        self.connections.insert(0, me);
    }
}

/// A client connection as `cons` shows it; a connection the core knows is being read from
/// (interest ops 1).
fn connection(c: &crate::stats::ConnInfo) -> ConnectionStats {
    let mut cs = ConnectionStats::new(c.remote);
    cs.interest_ops = 1;
    cs.queued = c.queued as u64;
    cs.received = c.stats.packets_received;
    cs.sent = c.stats.packets_sent;
    cs.session_id = c.session_id;
    cs.last_op = last_op_code(c.stats.last_op.code())
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
}
