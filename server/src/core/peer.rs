//! The core's place in an ensemble: standalone, leading or following, and what it tells
//! the role's network side ([`PeerOut`]).
//!
//! The ZAB roles live in the core because they share its state: a leader's proposals are
//! the write pipeline's, its commits apply to the tree, a learner's sync needs the tree
//! and the log at one consistent point, and a follower's commits answer its clients. The
//! network side only moves packets and reads the log for a DIFF.

use std::sync::Arc;

use crate::ids::Zxid;
use crate::quorum::verifier::QuorumVerifier;
use crate::quorum::wire::packet::QuorumPacket;

use super::broadcast::ServerId;
use super::follower::Following;
use super::leader::Leading;

/// Which epoch file an [`super::Effect::WriteEpoch`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFile {
    /// `acceptedEpoch`: the highest epoch this member promised to follow.
    Accepted,
    /// `currentEpoch`: the epoch whose NEWLEADER this member accepted.
    Current,
}

/// What the core asks of the role's network side.
#[derive(Debug)]
pub enum PeerOut {
    /// To the leader (a learner's one peer).
    ToLeader(QuorumPacket),
    /// To one learner (on the leader), after everything queued for it before.
    ToLearner { sid: ServerId, pkt: QuorumPacket },
    /// Bring a learner's data up to date (a DIFF read from the log, a TRUNC, or a SNAP of
    /// the tree as it is now), before anything queued for it after this.
    SyncLearner { sid: ServerId, plan: SyncPlan },
    /// Close a learner's connection (a protocol violation, or a learner ahead of us).
    DropLearner { sid: ServerId },
    /// The leader has a synced quorum in `epoch` and serves clients (the role says so, and
    /// election advertises the epoch: peers that join later compare it).
    Serving { epoch: u32 },
    /// A reconfig was proposed (or, on a learner, logged): the member keeps it as the last
    /// configuration seen (Apache's `zoo.cfg.dynamic.next`) until it commits.
    ConfigProposed(QuorumVerifier),
    /// A configuration committed (a reconfig, or the one a new epoch settled on):
    /// `designated_leader` leads under it. The member writes it to its dynamic config
    /// file and, when its own role or its leader changes, ends the role.
    ConfigActivated {
        config: QuorumVerifier,
        designated_leader: Option<ServerId>,
    },
    /// The role cannot go on: back to leader election.
    Ended(String),
}

/// How a learner is brought up to date.
#[derive(Debug, Clone)]
pub enum SyncPlan {
    /// DIFF: every transaction after `after` through `through`, each as PROPOSAL + COMMIT,
    /// read from this leader's log.
    Diff { after: Zxid, through: Zxid },
    /// TRUNC: the learner drops everything after `to` (then gets what follows as a DIFF
    /// would: nothing, since `to` is where this leader stands).
    Trunc { to: Zxid },
    /// SNAP: the tree at `zxid`, a copy the learner's connection writes in Apache's
    /// snapshot stream (copying is several times cheaper than serializing, so the core
    /// pauses less, and the stream goes to the socket without a buffer of its own).
    Snap {
        zxid: Zxid,
        tree: Arc<crate::tree::DataTree>,
    },
}

impl SyncPlan {
    /// Apache's name for the sync mode (`zk_peer_state`, the log line).
    pub fn name(&self) -> &'static str {
        match self {
            SyncPlan::Diff { .. } => "diff",
            SyncPlan::Trunc { .. } => "trunc",
            SyncPlan::Snap { .. } => "snap",
        }
    }
}

/// What a new leader starts from.
#[derive(Debug, Clone)]
pub struct LeaderSetup {
    /// The committed configuration: its voters make the quorum.
    pub config: QuorumVerifier,
    /// The last configuration this member saw proposed (a reconfig that may not have
    /// committed); equal to `config` without one. NEWLEADER carries it, so an interrupted
    /// reconfig completes in the new epoch.
    pub last_seen: QuorumVerifier,
    /// This member's `acceptedEpoch` and `currentEpoch`.
    pub accepted_epoch: u32,
    pub current_epoch: u32,
}

/// What a learner starts from once synced (after UPTODATE).
#[derive(Debug, Clone)]
pub struct FollowerSetup {
    pub leader: ServerId,
    pub observer: bool,
    pub epoch: u32,
    /// Voters in the configuration (`zk_quorum_size`).
    pub voters: usize,
    /// Proposals logged durably during the sync and not yet committed, in zxid order: the
    /// core acknowledges them and applies each when its COMMIT comes.
    pub uncommitted: Vec<crate::storage::writer::LogEntry>,
    /// The configuration NEWLEADER carried, when reconfig is on and it is newer than the
    /// member's: it becomes the committed one at UPTODATE (an interrupted reconfig, or the
    /// version a new epoch stamped), as Apache's learners take it.
    pub config: Option<QuorumVerifier>,
}

/// Standalone, or the role in an ensemble.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per core, replaced only when the role changes"
)]
pub enum Mode {
    Standalone,
    Leading(Leading),
    Following(Following),
    /// A member cut off from its quorum (`readonlymode.enabled`): serves reads to clients
    /// that asked for a read-only session, refuses writes, and keeps its sessions to itself.
    ReadOnly,
}

impl Mode {
    pub fn is_follower(&self) -> bool {
        matches!(self, Mode::Following(_))
    }

    /// Whether this member decides (prepares writes, expires sessions): the leader, or a
    /// standalone server.
    pub fn decides(&self) -> bool {
        matches!(self, Mode::Standalone | Mode::Leading(_))
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self, Mode::ReadOnly)
    }
}
