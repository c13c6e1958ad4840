//! Counters the four-letter words and admin commands report, and the snapshot of core
//! state they are rendered from.

use std::net::SocketAddr;
use std::time::Instant;

use zkrs_proto::OpCode;

use crate::tree::DataTree;
use crate::watch::WatchManager;

/// Request latency in milliseconds: min, max, and the running sum for the average.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub min: u64,
    pub max: u64,
    pub total: u64,
    pub count: u64,
}

impl Latency {
    pub fn record(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min {
            self.min = ms;
        }
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
    }

    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: Latency,
}

impl ServerStats {
    pub fn record_latency(&mut self, ms: u64) {
        self.latency.record(ms);
    }

    pub fn reset(&mut self) {
        *self = ServerStats::default();
    }
}

#[derive(Debug, Clone)]
pub struct ConnStats {
    pub established_wall_ms: i64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_op: OpCode,
    pub last_response_wall_ms: i64,
    pub last_latency: u64,
    pub latency: Latency,
}

impl ConnStats {
    /// A connection's counters, from the wall-clock time it was established (the core's
    /// clock is passed in, never read here).
    pub fn new(established_wall_ms: i64) -> Self {
        ConnStats {
            established_wall_ms,
            packets_received: 0,
            packets_sent: 0,
            last_cxid: -1,
            last_zxid: -1,
            last_op: OpCode::Notification,
            last_response_wall_ms: 0,
            last_latency: 0,
            latency: Latency::default(),
        }
    }

    pub fn record_latency(&mut self, ms: u64, zxid: i64, now_wall_ms: i64) {
        self.latency.record(ms);
        self.last_latency = ms;
        self.last_zxid = zxid;
        self.last_response_wall_ms = now_wall_ms;
    }

    pub fn reset(&mut self) {
        self.packets_received = 0;
        self.packets_sent = 0;
        self.latency = Latency::default();
        self.last_cxid = -1;
        self.last_zxid = -1;
        self.last_op = OpCode::Notification;
        self.last_response_wall_ms = 0;
        self.last_latency = 0;
    }
}

/// One connection as `cons`/`stat` show it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub session_id: i64,
    pub timeout_ms: i64,
    pub queued: usize,
    pub stats: ConnStats,
}

/// A consistent snapshot of core state, taken on the core and rendered elsewhere.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub last_zxid: i64,
    pub node_count: usize,
    pub approximate_data_size: i64,
    pub ephemerals_count: usize,
    pub watch_count: usize,
    pub watched_paths: usize,
    pub watching_sessions: usize,
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    pub watches_by_path: Vec<(String, Vec<i64>)>,
    pub ephemerals_by_session: Vec<(i64, Vec<String>)>,
    pub server: ServerStats,
    pub conns: Vec<ConnInfo>,
    pub outstanding_requests: usize,
    pub session_count: usize,
    pub uptime_ms: u64,
    /// Bytes read and written per top-level namespace.
    pub namespaces: Vec<(String, crate::namespace::Summary)>,
    /// An ensemble member's quorum figures.
    pub quorum: Option<QuorumFigures>,
    /// Data watches (getData/exists, persistent, recursive) by session and by path: what
    /// Apache's `wchs`/`wchc`/`wchp` list.
    pub data_watch_count: usize,
}

/// The core's own figures that go into an [`Inspection`].
pub struct CoreFigures {
    pub outstanding: usize,
    pub session_count: usize,
    pub started: Instant,
    pub namespaces: Vec<(String, crate::namespace::Summary)>,
    pub quorum: Option<QuorumFigures>,
}

/// An ensemble member's figures for `mntr` and `srvr` (what its core knows of the quorum).
#[derive(Debug, Clone, Default)]
pub struct QuorumFigures {
    /// Voters in the configuration.
    pub quorum_size: u64,
    /// On the leader: connected learners, synced voting followers, synced observers,
    /// forwarded `sync`s waiting, and how long it has led.
    pub leader: Option<LeaderFigures>,
    /// Transactions whose leader-computed digest differed from this member's tree.
    pub digest_mismatches: u64,
    /// On a learner: PROPOSAL and COMMIT packets received from the leader
    /// (`learner_proposal_received_count`, `learner_commit_received_count`).
    pub proposals_received: u64,
    pub commits_received: u64,
}

#[derive(Debug, Clone, Default)]
pub struct LeaderFigures {
    pub learners: u64,
    pub synced_followers: u64,
    /// Of the synced followers, those outside the voters (joiners, removed members).
    pub synced_non_voting_followers: u64,
    pub synced_observers: u64,
    pub pending_syncs: u64,
    pub uptime_ms: u64,
    /// Last, smallest and largest proposal size in bytes (-1 before the first).
    pub proposal_sizes: (i64, i64, i64),
}

impl Inspection {
    pub fn collect(
        tree: &DataTree,
        watches: &WatchManager,
        server: &ServerStats,
        conns: impl Iterator<Item = ConnInfo>,
        figures: CoreFigures,
    ) -> Self {
        let CoreFigures {
            outstanding,
            session_count,
            started,
            namespaces,
            quorum,
        } = figures;
        let mut by_session: Vec<(i64, Vec<String>)> = watches.data_watches_by_session();
        by_session.sort();
        let mut ephemerals: Vec<(i64, Vec<String>)> = tree
            .sessions()
            .map(|(&s, _)| (s, tree.ephemerals_of(s).cloned().collect::<Vec<_>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        ephemerals.sort();
        let mut conns: Vec<ConnInfo> = conns.collect();
        conns.sort_by_key(|c| c.remote);
        Inspection {
            last_zxid: tree.last_zxid(),
            node_count: tree.node_count(),
            approximate_data_size: tree.approximate_data_size(),
            ephemerals_count: tree.ephemeral_count(),
            watch_count: watches.count(),
            data_watch_count: by_session.iter().map(|(_, p)| p.len()).sum(),
            watched_paths: watches.data_watches_by_path().len(),
            watching_sessions: by_session.len(),
            watches_by_session: by_session,
            watches_by_path: watches.data_watches_by_path(),
            ephemerals_by_session: ephemerals,
            server: server.clone(),
            conns,
            outstanding_requests: outstanding,
            session_count,
            uptime_ms: started.elapsed().as_millis() as u64,
            namespaces,
            quorum,
        }
    }
}
