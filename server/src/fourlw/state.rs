//! [`ServerSnapshot`]: the one view of the server that every word renders from.

use std::collections::BTreeMap;

use super::conf::ConfInfo;
use super::connections::ConnectionStats;
use super::dump::DumpInfo;
use super::envi::Environment;
use super::java::summary_avg;
use super::mntr::MetricValue;
use super::role::Role;
use super::watches::WatchSummary;
use super::DEFAULT_TRACE_MASK;

/// Server-wide request latency, in milliseconds (reset by `srst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyStats {
    /// Number of requests measured.
    pub count: u64,
    /// Sum of their latencies.
    pub sum_ms: u64,
    /// Smallest latency (ignored while `count` is 0: printed as 0).
    pub min_ms: u64,
    /// Largest latency.
    pub max_ms: u64,
}

impl LatencyStats {
    /// Adds one measurement.
    #[cfg(test)]
    pub fn record(&mut self, ms: u64) {
        self.min_ms = if self.count == 0 {
            ms
        } else {
            self.min_ms.min(ms)
        };
        self.max_ms = self.max_ms.max(ms);
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    /// The average as Apache computes it: rounded half-up to 4 decimals, 0 when empty.
    pub fn avg_ms(&self) -> f64 {
        summary_avg(self.count, self.sum_ms as f64)
    }

    pub(super) fn min_printed(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ms
        }
    }
}

/// The one view of the server the words render from: plain data, filled in one place
/// (`collect.rs`: [`ServerSnapshot::fill_from_core`]) from the core's inspection and the
/// config, with the [`Role`] the replication layer publishes. Which fields a word reads is
/// told by [`super::FourLetterWord::scope`]; the rest may stay at their defaults, which are a
/// fresh standalone server's.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSnapshot {
    // ---- status (SnapshotScope::Status) ----
    /// Serving or not, mode and quorum values: what the replication layer publishes
    /// (standalone: [`Role::default`]).
    pub role: Role,
    /// Trace mask for `gtmk`/`stmk` (Apache default [`DEFAULT_TRACE_MASK`]).
    pub trace_mask: i64,

    // ---- server-wide (SnapshotScope::Server) ----
    /// Version as printed before `, built on` (Apache: `3.8.0-<git hash>`); e.g.
    /// `3.8.0-zkrs-0.1.0`. Keep a leading `x.y.z` that tools parse.
    pub version: String,
    /// Build date as printed after `built on` (Apache: `2024-12-29 17:54 UTC`).
    pub build_date: String,
    /// Server-wide request latency (`Latency min/avg/max`, `zk_*_latency`).
    pub latency: LatencyStats,
    /// `Received:` / `zk_packets_received`.
    pub packets_received: u64,
    /// `Sent:` / `zk_packets_sent`.
    pub packets_sent: u64,
    /// `Connections:` / `zk_num_alive_connections` (including the 4lw connection itself).
    pub num_alive_connections: u64,
    /// `Outstanding:` / `zk_outstanding_requests`.
    pub outstanding_requests: u64,
    /// `Zxid:` — last processed zxid, printed in hex.
    pub last_zxid: i64,
    /// `Node count:` / `zk_znode_count`.
    pub node_count: u64,
    /// `zk_ephemerals_count`.
    pub ephemerals_count: u64,
    /// `zk_approximate_data_size`: bytes of node paths plus data.
    pub approximate_data_size: u64,
    /// `zk_watch_count`: data watches plus child watches.
    pub watch_count: u64,
    /// `wchs`.
    pub watch_summary: WatchSummary,
    /// `zk_global_sessions`.
    pub global_sessions: u64,
    /// `zk_local_sessions`.
    pub local_sessions: u64,
    /// `zk_uptime`, ms since the server started serving.
    pub uptime_ms: u64,
    /// `zk_open_file_descriptor_count` (this process, from `/proc`).
    pub open_file_descriptor_count: u64,
    /// `zk_max_file_descriptor_count` (the soft limit, from `/proc`).
    pub max_file_descriptor_count: u64,
    /// `dataDirSize` (`conf`) and `datadir_size` (`dirs`), bytes.
    pub data_dir_size: u64,
    /// `dataLogSize` (`conf`) and `logdir_size` (`dirs`), bytes.
    pub data_log_size: u64,
    /// `conf`.
    pub conf: ConfInfo,
    /// `envi`.
    pub environment: Environment,
    /// Values of the other fixed `mntr` keys, by name without the `zk_` prefix (a summary by
    /// its base name, e.g. `fsynctime`); absent keys print as 0 (`-1` for
    /// `*_client_response_size`). See [`super::mntr_keys`]. Names not among the fixed keys are
    /// printed after `extra_metrics`, in name order.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Dynamic `mntr` entries Apache appends after its fixed keys, printed in this order
    /// (e.g. per-namespace summaries `app_read_per_namespace`, per-learner
    /// `1_learner_handler_qp_size`).
    pub extra_metrics: Vec<(String, MetricValue)>,

    // ---- per connection (SnapshotScope::Connections) ----
    /// `stat` (brief) and `cons` (long) lines, in this order.
    pub connections: Vec<ConnectionStats>,
    /// `dump`.
    pub dump: DumpInfo,

    // ---- full watch lists (SnapshotScope::Watches) ----
    /// `wchc`: for each session, the paths it watches (data watches).
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    /// `wchp`: for each path, the sessions watching it (data watches).
    pub watches_by_path: Vec<(String, Vec<i64>)>,
}

impl Default for ServerSnapshot {
    fn default() -> Self {
        ServerSnapshot {
            role: Role::default(),
            trace_mask: DEFAULT_TRACE_MASK,
            version: String::new(),
            build_date: String::new(),
            latency: LatencyStats::default(),
            packets_received: 0,
            packets_sent: 0,
            num_alive_connections: 0,
            outstanding_requests: 0,
            last_zxid: 0,
            node_count: 0,
            ephemerals_count: 0,
            approximate_data_size: 0,
            watch_count: 0,
            watch_summary: WatchSummary::default(),
            global_sessions: 0,
            local_sessions: 0,
            uptime_ms: 0,
            open_file_descriptor_count: 0,
            max_file_descriptor_count: 0,
            data_dir_size: 0,
            data_log_size: 0,
            conf: ConfInfo::default(),
            environment: Environment::default(),
            metrics: BTreeMap::new(),
            extra_metrics: Vec::new(),
            connections: Vec::new(),
            dump: DumpInfo::default(),
            watches_by_session: Vec::new(),
            watches_by_path: Vec::new(),
        }
    }
}

impl ServerSnapshot {
    /// The measured sizes of the data and log directories.
    pub fn set_dir_sizes(&mut self, sizes: super::DirSizes) {
        self.data_dir_size = sizes.data_dir;
        self.data_log_size = sizes.data_log;
    }

    /// `<version>, built on <build_date>`, as `srvr`, `envi` and `zk_version` print it.
    pub fn full_version(&self) -> String {
        format!("{}, built on {}", self.version, self.build_date)
    }
}
