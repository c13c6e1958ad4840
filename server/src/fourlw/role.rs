//! The server's place in the ensemble, as the words report it: `srvr`'s `Mode:`, `isro`, and
//! `mntr`'s `zk_server_state`, `zk_peer_state` and quorum keys.
//!
//! Apache reads these from its `QuorumPeer` and `Leader` (`getState()`,
//! `getDetailedPeerState()`, the gauges of `QuorumZooKeeperServer`, `LeaderZooKeeperServer`
//! and `FollowerZooKeeperServer`). Here the replication layer publishes a [`Role`] and the
//! words only read it, so that nothing in this module depends on how the ensemble works. A
//! standalone server keeps [`Role::default`].

use super::conf::Membership;

/// What the replication layer publishes for the words; one value, replaced as a whole when
/// the server's state changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Whether requests are served. While false (looking for a leader, syncing with it,
    /// loading) most words answer [`super::NOT_SERVING`], as Apache does when its
    /// `ZooKeeperServer` is not running.
    pub serving: bool,
    /// `Mode:` / `zk_server_state`; `ReadOnly` also makes `isro` answer `ro`.
    pub mode: ServerMode,
    /// The quorum values; `None` standalone and read-only (Apache's read-only server is not a
    /// quorum server and prints none of them). For a leader, follower or observer `None`
    /// renders as [`QuorumInfo::default`].
    pub quorum: Option<QuorumInfo>,
}

impl Default for Role {
    /// A standalone server that serves.
    fn default() -> Self {
        Role {
            serving: true,
            mode: ServerMode::Standalone,
            quorum: None,
        }
    }
}

impl Role {
    /// The leader's own values, or their defaults (`srvr`'s proposal sizes, `mntr`).
    pub fn leader(&self) -> LeaderInfo {
        self.quorum
            .as_ref()
            .and_then(|q| q.leader)
            .unwrap_or_default()
    }

    /// `zk_peer_state` as Apache's `QuorumPeer.getDetailedPeerState()` builds it: the peer
    /// state in lower case, then ` - <zab phase>` unless the phase is election, then
    /// ` - <sync mode>` unless there is none. E.g. `leading - broadcast`,
    /// `following - synchronization - diff`.
    pub fn peer_state(&self) -> String {
        let q = self.quorum.clone().unwrap_or_default();
        let mut s = match self.mode {
            ServerMode::Leader => "leading",
            ServerMode::Follower => "following",
            ServerMode::Observer => "observing",
            // Not printed: only quorum modes have `zk_peer_state`.
            ServerMode::Standalone | ServerMode::ReadOnly => "looking",
        }
        .to_string();
        if let Some(phase) = q.zab_phase.as_str() {
            s.push_str(" - ");
            s.push_str(phase);
        }
        if let Some(sync) = q.sync_mode.as_str() {
            s.push_str(" - ");
            s.push_str(sync);
        }
        s
    }
}

/// The server's role, as `Mode:` / `zk_server_state` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerMode {
    /// `standalone`
    #[default]
    Standalone,
    /// `leader`
    Leader,
    /// `follower`
    Follower,
    /// `observer`
    Observer,
    /// `read-only` (a partitioned peer serving read-only clients; `isro` says `ro`)
    ReadOnly,
}

impl ServerMode {
    /// The text Apache prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerMode::Standalone => "standalone",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
        }
    }

    /// Leader, follower and observer: Apache's `QuorumZooKeeperServer` subclasses, which
    /// print `zk_peer_state` and `zk_quorum_size`.
    pub fn in_quorum(self) -> bool {
        matches!(
            self,
            ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
        )
    }
}

/// Apache's `QuorumPeer.ZabState`: where the peer is in the Zab protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZabPhase {
    /// Electing a leader (not printed in `zk_peer_state`).
    Election,
    /// `discovery`
    Discovery,
    /// `synchronization`
    Synchronization,
    /// `broadcast`: the steady state of a serving ensemble.
    #[default]
    Broadcast,
}

impl ZabPhase {
    fn as_str(self) -> Option<&'static str> {
        match self {
            ZabPhase::Election => None,
            ZabPhase::Discovery => Some("discovery"),
            ZabPhase::Synchronization => Some("synchronization"),
            ZabPhase::Broadcast => Some("broadcast"),
        }
    }
}

/// Apache's `QuorumPeer.SyncMode`: how a learner is being brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "a learner does not publish its sync mode while it syncs yet"
    )
)]
pub enum SyncMode {
    /// Not syncing (not printed).
    #[default]
    None,
    /// `diff`
    Diff,
    /// `snap`
    Snap,
    /// `trunc`
    Trunc,
}

impl SyncMode {
    fn as_str(self) -> Option<&'static str> {
        match self {
            SyncMode::None => None,
            SyncMode::Diff => Some("diff"),
            SyncMode::Snap => Some("snap"),
            SyncMode::Trunc => Some("trunc"),
        }
    }
}

/// Values of a leader, follower or observer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuorumInfo {
    /// Zab phase for `zk_peer_state` (default broadcast).
    pub zab_phase: ZabPhase,
    /// Sync mode for `zk_peer_state` (default none).
    pub sync_mode: SyncMode,
    /// `zk_quorum_size`: the number of voting members (Apache: `getVotingView().size()`).
    pub quorum_size: u64,
    /// Leader-only values (`Proposal sizes` line, `zk_*_proposal_size`, `zk_synced_*`, ...);
    /// `None` on a leader renders as [`LeaderInfo::default`].
    pub leader: Option<LeaderInfo>,
    /// The leader's server id as this member knows it (Apache's `QuorumPeer.getLeaderId`,
    /// the admin server's `leader_id`). `None`: a leader answers its own id, a learner -1.
    pub leader_id: Option<u64>,
    /// The leader's host as its `server.N` line gives it (Apache's `getLeaderAddress`, the
    /// admin server's `leader_ip`). `None`: taken from the configuration by `leader_id`.
    pub leader_address: Option<String>,
    /// `zk_synced_observers` on a follower that is an observer master
    /// (`observerMasterPort`): the observers syncing from it. Apache's gauge is null on any
    /// other follower, and a null gauge is not printed, so `None` prints nothing. (A leader
    /// prints [`LeaderInfo::synced_observers`] instead; an observer never prints it.)
    pub follower_synced_observers: Option<u64>,
    /// The membership block `conf` ends with: the ensemble's current configuration, which
    /// changes with `reconfig`, so the replication layer publishes it (Apache prints its
    /// live quorum verifier). `None` prints no block.
    pub membership: Option<Membership>,
    /// Further `mntr` entries, read when a word is answered (a leader's per-learner queue
    /// figures).
    pub metrics: Option<MetricsSource>,
}

/// Where further `mntr` entries come from: read at the moment a word is answered.
#[derive(Clone)]
pub struct MetricsSource(
    pub std::sync::Arc<dyn Fn() -> Vec<(String, super::MetricValue)> + Send + Sync>,
);

impl PartialEq for MetricsSource {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSource")
    }
}

/// Leader-only `srvr`/`stat`/`mntr` values (Apache: `LeaderZooKeeperServer`'s gauges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderInfo {
    /// Size in bytes of the last proposal (-1 none yet).
    pub last_proposal_size: i64,
    /// Smallest proposal size (-1 none yet).
    pub min_proposal_size: i64,
    /// Largest proposal size (-1 none yet).
    pub max_proposal_size: i64,
    /// `zk_synced_followers`: voting followers in sync (Apache: forwarding followers).
    pub synced_followers: u64,
    /// `zk_synced_non_voting_followers`: followers in sync that are not voters.
    pub synced_non_voting_followers: u64,
    /// `zk_synced_observers`: observers in sync.
    pub synced_observers: u64,
    /// `zk_pending_syncs`: `sync` requests waiting for a commit.
    pub pending_syncs: u64,
    /// `zk_leader_uptime`, ms since this server became leader.
    pub leader_uptime_ms: u64,
    /// `zk_learners`: connected followers and observers, in sync or not. (Apache 3.8 has no
    /// `zk_followers`; 3.5 printed that name.)
    pub learners: u64,
}

impl Default for LeaderInfo {
    fn default() -> Self {
        LeaderInfo {
            last_proposal_size: -1,
            min_proposal_size: -1,
            max_proposal_size: -1,
            synced_followers: 0,
            synced_non_voting_followers: 0,
            synced_observers: 0,
            pending_syncs: 0,
            leader_uptime_ms: 0,
            learners: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(mode: ServerMode, zab_phase: ZabPhase, sync_mode: SyncMode) -> Role {
        Role {
            serving: true,
            mode,
            quorum: Some(QuorumInfo {
                zab_phase,
                sync_mode,
                ..QuorumInfo::default()
            }),
        }
    }

    #[test]
    fn peer_state_reads_like_apaches_detailed_peer_state() {
        use ServerMode::*;
        let cases = [
            (
                Leader,
                ZabPhase::Broadcast,
                SyncMode::None,
                "leading - broadcast",
            ),
            (
                Follower,
                ZabPhase::Broadcast,
                SyncMode::None,
                "following - broadcast",
            ),
            (
                Observer,
                ZabPhase::Broadcast,
                SyncMode::None,
                "observing - broadcast",
            ),
            (
                Leader,
                ZabPhase::Discovery,
                SyncMode::None,
                "leading - discovery",
            ),
            (
                Follower,
                ZabPhase::Synchronization,
                SyncMode::Diff,
                "following - synchronization - diff",
            ),
            (
                Follower,
                ZabPhase::Election,
                SyncMode::Snap,
                "following - snap",
            ),
            (
                Observer,
                ZabPhase::Synchronization,
                SyncMode::Trunc,
                "observing - synchronization - trunc",
            ),
        ];
        for (mode, phase, sync, expected) in cases {
            assert_eq!(role(mode, phase, sync).peer_state(), expected);
        }
        // A quorum mode without published values reads as a steady ensemble.
        let bare = Role {
            mode: Follower,
            ..Role::default()
        };
        assert_eq!(bare.peer_state(), "following - broadcast");
    }

    #[test]
    fn default_role_is_a_serving_standalone_server() {
        let r = Role::default();
        assert!(r.serving);
        assert_eq!(r.mode, ServerMode::Standalone);
        assert_eq!(r.quorum, None);
        assert_eq!(r.leader(), LeaderInfo::default());
        assert!(!ServerMode::Standalone.in_quorum() && !ServerMode::ReadOnly.in_quorum());
    }
}
