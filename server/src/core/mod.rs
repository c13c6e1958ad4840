//! The core: the one owner of the tree, the session table and the watch table.
//!
//! It is deterministic and does no I/O: every input comes with the time ([`Now`]), it
//! draws no random numbers (session passwords derive from session ids, as Apache's), and
//! every output is an [`Effect`] for the edges to carry out (frames to send, connections
//! to close, log appends). [`driver`] runs it on Tokio; tests and the simulation drive it
//! directly. Its parts:
//!
//! - [`sessions`]: the session registry and liveness;
//! - [`order`]: per-session reply order, pending writes named by (session id, cxid);
//! - [`pipeline`]: the write pipeline, prepare → propose → durable → commit → apply →
//!   reply, through the [`broadcast`] seam (standalone is a quorum of one);
//! - [`clients`]: handshakes, reattach, and the requests of a connection;
//! - [`timers`]: session expiry and the container/TTL reaper;
//! - [`inspect`]: the figures the four-letter words and admin output show.

pub mod broadcast;
mod clients;
pub mod driver;
mod follower;
mod inspect;
mod leader;
mod order;
pub mod peer;
mod pipeline;
pub(crate) mod reconfig;
mod sessions;
mod timers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use zkrs_proto::{ConnectRequest, ErrorCode, Request};

use crate::acl::AuthInfo;
use crate::ids::Zxid;
use crate::prep::{PrepConfig, Preparer};
use crate::stats::{ConnStats, ServerStats};
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;
use crate::watch::WatchManager;

use broadcast::Broadcast;
use peer::{EpochFile, Mode, PeerOut};
use sessions::{LiveSession, Sessions};

pub use driver::{ConnHandle, CoreMsg, Installed};
pub use peer::{FollowerSetup, LeaderSetup, SyncPlan};

pub type ConnId = u64;

/// The time an input happens at: a monotonic instant for timeouts and a wall clock for
/// transaction times (ctime/mtime, TTLs). Passed in, so a run can be replayed.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall_ms: i64,
}

impl Now {
    pub fn system() -> Now {
        Now {
            mono: Instant::now(),
            wall_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        }
    }
}

/// What a connection gets from the core.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A notification or connect response.
    Frame(Vec<u8>),
    /// The answer to a request: writing it frees one of the connection's places for
    /// outstanding requests.
    Reply(Vec<u8>),
    /// Flush what was sent before, then close the connection.
    Close,
}

/// What the edges must do for the core.
#[derive(Debug)]
pub enum Effect {
    /// Send to a connection (dropped if it is gone).
    Send { conn: ConnId, out: Outgoing },
    /// Append to the transaction log; report durability with [`Input::Durable`] (or
    /// [`Input::LogFailed`]).
    Append(LogEntry),
    /// Write `acceptedEpoch` or `currentEpoch` durably, before any later effect.
    WriteEpoch { file: EpochFile, epoch: u32 },
    /// For the ensemble role's network side (packets to peers, a learner's sync, the end of
    /// the role).
    Peer(PeerOut),
}

/// What happens to the core.
#[derive(Debug)]
pub enum Input {
    Connect {
        conn: ConnId,
        remote: SocketAddr,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    },
    /// A request whose body did not decode: answered with `err`, in order.
    Undecodable {
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
    },
    Disconnected {
        conn: ConnId,
    },
    /// Everything appended through this zxid is durable.
    Durable(Zxid),
    /// Appending failed; nothing from `first_zxid` on is durable.
    LogFailed {
        first_zxid: Zxid,
        error: String,
    },
    /// Time to look for expired sessions.
    ExpiryTick,
    /// Time to delete empty containers and expired TTL nodes.
    ReaperTick,
    /// Nothing else is due: a snapshot in progress may take its next slice.
    SnapshotTurn,
    ResetServerStats,
    ResetConnStats,
    /// A packet from the leader (on a follower or observer).
    FromLeader(crate::quorum::wire::packet::QuorumPacket),
    /// A packet from a learner's connection `conn` (on the leader). `diff_possible` tells,
    /// for an ACKEPOCH, whether this leader's log holds the learner's last zxid (so a DIFF
    /// can bring it up to date); the connection's thread looks, since that is I/O.
    FromLearner {
        sid: broadcast::ServerId,
        conn: u64,
        pkt: crate::quorum::wire::packet::QuorumPacket,
        diff_possible: bool,
    },
    /// A learner's connection `conn` ended (on the leader).
    LearnerGone {
        sid: broadcast::ServerId,
        conn: u64,
    },
    /// Half a tick passed: the leader pings and checks its quorum.
    PeerTick,
}

/// The core's settings, from the config.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub server_id: i64,
    pub tick: Duration,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub super_digest: Option<String>,
    pub prep: PrepConfig,
    pub container_check_interval: Duration,
    /// `syncLimit` in ticks: how long a learner may go unheard before the leader stops
    /// counting it (and a leader without a quorum of heard voters steps down).
    pub sync_limit: u32,
    /// `initLimit` in ticks: how long a new leader waits for a quorum to join.
    pub init_limit: u32,
    /// `leaderServes`: whether a leader takes client connections.
    pub leader_serves: bool,
    /// `syncEnabled`: whether an observer logs the transactions it learns.
    pub sync_enabled: bool,
}

#[derive(Debug)]
struct Conn {
    remote: SocketAddr,
    session: Option<i64>,
    auth: AuthInfo,
    stats: ConnStats,
    /// Requests pipelined behind a reattach that waits for the leader's revalidation
    /// (a client sends its watches and auth right after the handshake): taken in order
    /// once the session is attached, dropped with the connection if it is refused.
    held: Option<Vec<(i32, Request, Instant)>>,
}

pub struct Core {
    settings: CoreSettings,
    tree: DataTree,
    prep: Preparer,
    watches: WatchManager,
    sessions: Sessions,
    conns: HashMap<ConnId, Conn>,
    broadcast: Broadcast,
    /// Set when the log failed: writes are refused from then on, reads go on.
    log_failed: Option<String>,
    stats: ServerStats,
    started: Instant,
    snapshots: Option<crate::storage::scheduler::SnapshotScheduler>,
    namespaces: crate::namespace::NamespaceStats,
    now: Now,
    effects: Vec<Effect>,
    /// Standalone, or this member's place in the ensemble.
    mode: Mode,
    /// Committed transactions whose leader-computed digest (Apache's TxnDigest) differed
    /// from this member's tree after applying them: replicas that diverged.
    digest_mismatches: u64,
}

impl Core {
    /// A core over `tree` (fresh, or recovered from disk: its sessions are live again and
    /// their timeouts run from `now`, so clients that come back in time keep them).
    pub fn new(settings: CoreSettings, tree: DataTree, now: Now) -> Self {
        let restored: Vec<(i64, LiveSession)> = tree
            .sessions()
            .map(|(&id, rec)| {
                let timeout = Duration::from_millis(rec.timeout_ms.max(0) as u64);
                (id, LiveSession::new(timeout, now.mono, None))
            })
            .collect();
        let sessions = Sessions::new(settings.server_id as u8, now.wall_ms, restored);
        let broadcast =
            Broadcast::standalone(settings.server_id as u64, Zxid::from_raw(tree.last_zxid()));
        Core {
            prep: Preparer::new(settings.prep.clone()),
            settings,
            tree,
            watches: WatchManager::new(),
            sessions,
            conns: HashMap::new(),
            broadcast,
            log_failed: None,
            stats: ServerStats::default(),
            started: now.mono,
            snapshots: None,
            namespaces: Default::default(),
            now,
            effects: Vec::new(),
            mode: Mode::Standalone,
            digest_mismatches: 0,
        }
    }

    /// This core leads an ensemble (see [`LeaderSetup`]): it serves clients once a quorum
    /// has synced with it.
    pub fn into_leader(mut self, setup: LeaderSetup) -> Self {
        self.count_config_write();
        self.start_leading(setup);
        self
    }

    /// This core serves read-only clients while its member has no quorum.
    pub fn into_read_only(mut self) -> Self {
        tracing::info!("serving read-only clients until a quorum is found");
        self.mode = Mode::ReadOnly;
        self
    }

    /// This core follows (or observes) a leader it has synced with.
    pub fn into_follower(mut self, setup: FollowerSetup) -> Self {
        self.count_config_write();
        self.start_following(setup);
        self
    }

    /// The tree, when it holds exactly what the log holds (no proposal this core logged is
    /// still uncommitted, and the log did not fail), so that the member's next role can
    /// start from it without reading its data from disk again; `None` otherwise.
    pub fn into_tree_matching_log(self) -> Option<DataTree> {
        if self.log_failed.is_some() {
            return None;
        }
        let settled = match &self.mode {
            Mode::ReadOnly => true,
            Mode::Standalone | Mode::Leading(_) => self.broadcast.in_flight() == 0,
            Mode::Following(f) => f.settled(),
        };
        settled.then_some(self.tree)
    }

    /// Snapshots the tree every `snapCount`-ish applied transactions.
    pub fn with_snapshots(mut self, s: crate::storage::scheduler::SnapshotScheduler) -> Self {
        self.snapshots = Some(s);
        self
    }

    /// What a snapshot in progress waits for before its next slice (see
    /// [`Input::SnapshotTurn`]).
    pub fn snapshot_work(&self) -> crate::storage::scheduler::SnapshotWork {
        self.snapshots
            .as_ref()
            .map_or_else(crate::storage::scheduler::SnapshotWork::none, |s| s.work())
    }

    /// The settings the core runs with (the driver takes its timer periods from them).
    pub fn settings(&self) -> &CoreSettings {
        &self.settings
    }

    /// Takes one input at `now`. Its effects wait in [`Core::take_effects`].
    pub fn handle(&mut self, now: Now, input: Input) {
        self.now = now;
        match input {
            Input::Connect { conn, remote, req } => self.on_connect(conn, remote, req),
            Input::Request {
                conn,
                xid,
                req,
                received,
            } => self.on_request(conn, xid, req, received),
            Input::Undecodable { conn, xid, err } => self.on_undecodable(conn, xid, err),
            Input::Disconnected { conn } => self.on_disconnect(conn),
            Input::Durable(zxid) => self.on_durable(zxid),
            Input::LogFailed { first_zxid, error } => self.on_log_failed(first_zxid, error),
            Input::ExpiryTick => self.expire_sessions(),
            Input::ReaperTick => self.reap_containers_and_ttls(),
            Input::SnapshotTurn => {
                if let Some(s) = &mut self.snapshots {
                    s.pump(&self.tree);
                }
            }
            Input::ResetServerStats => {
                self.stats.reset();
                self.namespaces.reset();
            }
            Input::ResetConnStats => {
                for c in self.conns.values_mut() {
                    c.stats.reset();
                }
            }
            Input::FromLeader(pkt) => self.on_leader_packet(pkt),
            Input::FromLearner {
                sid,
                conn,
                pkt,
                diff_possible,
            } => self.on_learner_packet(sid, conn, pkt, diff_possible),
            Input::LearnerGone { sid, conn } => self.on_learner_gone(sid, conn),
            Input::PeerTick => self.on_peer_tick(),
        }
    }

    /// The effects of the inputs taken so far, in the order they happened.
    pub fn take_effects(&mut self) -> std::vec::Drain<'_, Effect> {
        self.effects.drain(..)
    }

    /// An ensemble member wrote its config into `/zookeeper/config` when it loaded its
    /// data: Apache counts that write in the `zookeeper` namespace's figures.
    fn count_config_write(&mut self) {
        let len = self
            .tree
            .get(crate::tree::CONFIG)
            .map_or(0, |n| n.data_len());
        self.namespaces.write(crate::tree::CONFIG, len);
    }

    /// Whether clients are served: always, except on a leader still waiting for a quorum
    /// to sync with it.
    pub(super) fn serving(&self) -> bool {
        match &self.mode {
            Mode::Standalone | Mode::Following(_) | Mode::ReadOnly => true,
            Mode::Leading(l) => l.is_broadcasting(),
        }
    }

    /// What `mntr` shows of this member's place in the ensemble.
    pub(super) fn quorum_figures(&self) -> Option<crate::stats::QuorumFigures> {
        match &self.mode {
            Mode::Standalone | Mode::ReadOnly => None,
            Mode::Leading(l) => Some(crate::stats::QuorumFigures {
                quorum_size: l.voters() as u64,
                leader: Some(l.figures(self.now.mono)),
                digest_mismatches: self.digest_mismatches,
                ..Default::default()
            }),
            Mode::Following(f) => Some(crate::stats::QuorumFigures {
                quorum_size: f.voters() as u64,
                leader: None,
                digest_mismatches: self.digest_mismatches,
                proposals_received: f.proposals_received,
                commits_received: f.commits_received,
            }),
        }
    }

    /// The newest zxid this member can vouch for: its tree's, or the start of the epoch it
    /// serves in (Apache's `lastProcessedZxid` after NEWLEADER), whichever is later.
    pub(super) fn known_zxid(&self) -> i64 {
        let epoch = match &self.mode {
            Mode::Standalone | Mode::ReadOnly => None,
            Mode::Leading(l) => l.epoch(),
            Mode::Following(f) => Some(f.epoch()),
        };
        let start = epoch.map_or(0, |e| Zxid::new(e, 0).raw());
        self.tree.last_zxid().max(start)
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        self.send_out(conn, Outgoing::Frame(frame));
    }

    fn send_reply(&mut self, conn: ConnId, frame: Vec<u8>) {
        self.send_out(conn, Outgoing::Reply(frame));
    }

    fn send_out(&mut self, conn: ConnId, out: Outgoing) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packets_sent += 1;
            self.stats.packets_sent += 1;
            self.effects.push(Effect::Send { conn, out });
        }
    }

    fn close_conn(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.effects.push(Effect::Send {
                conn,
                out: Outgoing::Close,
            });
        }
    }
}

#[cfg(test)]
mod testkit;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod ensemble_tests;

#[cfg(test)]
mod cluster_sim;
