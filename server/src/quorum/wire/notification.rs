//! Fast leader election's notification (Apache's `FastLeaderElection.buildMsg` and
//! `Messenger.WorkerReceiver`). It travels inside an election frame
//! ([`super::election_frame`]); the sender's sid is not in it but comes from the connection.
//!
//! Apache 3.8/3.9 sends 44 + n bytes: `int state, long leader, long zxid, long
//! electionEpoch, long peerEpoch, int version (2), int n, n bytes of config`. It still reads
//! two older layouts, told apart only by the message's length: exactly 28 bytes (no
//! peerEpoch) and exactly 40 bytes (no version).

use super::cursor::Cursor;
use super::WireError;

/// The notification format version Apache 3.8/3.9 sends (`Notification.CURRENTVERSION`).
/// Versions above 1 carry a config.
pub const NOTIFICATION_VERSION: i32 = 2;

/// A server's state as the notification carries it (`QuorumPeer.ServerState` ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl PeerState {
    pub fn code(self) -> i32 {
        match self {
            PeerState::Looking => 0,
            PeerState::Following => 1,
            PeerState::Leading => 2,
            PeerState::Observing => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<PeerState> {
        match code {
            0 => Some(PeerState::Looking),
            1 => Some(PeerState::Following),
            2 => Some(PeerState::Leading),
            3 => Some(PeerState::Observing),
            _ => None,
        }
    }
}

/// One election notification: the sender's state and the vote it proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: PeerState,
    /// The proposed leader's sid.
    pub leader: i64,
    /// The proposed leader's last zxid.
    pub zxid: i64,
    /// The sender's logical clock (its election round).
    pub election_epoch: i64,
    /// The proposed leader's current epoch. A 28-byte message has none; Apache then takes
    /// the epoch of `zxid`, and so does [`Notification::decode`].
    pub peer_epoch: i64,
    /// The format version as read: 0 for the old 28- and 40-byte forms.
    pub version: i32,
    /// The sender's config (`QuorumVerifier.toString()` in UTF-8), present when
    /// `version > 1`. Kept as bytes: Apache compares and parses it, and a receiver that
    /// wants to re-send it must send exactly what it got.
    pub config: Option<Vec<u8>>,
}

impl Notification {
    /// Decodes one election message's body as Apache's `WorkerReceiver` does:
    /// - under 28 bytes: refused;
    /// - exactly 28: no peerEpoch (taken from the zxid), version 0;
    /// - exactly 40: peerEpoch, no version (the 4 bytes after it are ignored), version 0;
    /// - otherwise peerEpoch and version must be there (so 29..=39 bytes other than 28 are
    ///   refused, as Java's buffer underflows), and a version above 1 is followed by a
    ///   config length in `0..=message length` and that many bytes;
    /// - bytes after what the layout reads are ignored, as Apache ignores them;
    /// - a state other than 0..=3 is refused (Apache drops the message).
    ///
    /// `msg` is always a whole election frame, so here [`WireError::Truncated`] means a
    /// malformed message (Apache's buffer underflow), not "wait for more bytes".
    pub fn decode(msg: &[u8]) -> Result<Notification, WireError> {
        let capacity = msg.len();
        if capacity < 28 {
            return Err(WireError::ShortNotification(capacity));
        }
        let mut c = Cursor::new(msg);
        let state_code = c.i32()?;
        let leader = c.i64()?;
        let zxid = c.i64()?;
        let election_epoch = c.i64()?;
        let mut version = 0;
        let mut config = None;
        let peer_epoch = if capacity == 28 {
            zxid >> 32
        } else {
            let peer_epoch = c.i64()?;
            if capacity != 40 {
                version = c.i32()?;
            }
            peer_epoch
        };
        if version > 1 {
            let len = c.i32()?;
            if len < 0 || len as usize > capacity {
                return Err(WireError::ConfigLength { len, capacity });
            }
            config = Some(c.take(len as usize)?.to_vec());
        }
        // Apache parses the whole message before it looks at the state.
        let state =
            PeerState::from_code(state_code).ok_or(WireError::UnknownPeerState(state_code))?;
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }

    /// The bytes Apache 3.8/3.9 sends (`buildMsg` with config): always version
    /// [`NOTIFICATION_VERSION`], whatever `self.version` says, and the config (empty when
    /// there is none).
    pub fn encode(&self) -> Vec<u8> {
        let config = self.config.as_deref().unwrap_or_default();
        let mut out = self.fixed_fields(44 + config.len());
        out.extend_from_slice(&NOTIFICATION_VERSION.to_be_bytes());
        out.extend_from_slice(&(config.len() as i32).to_be_bytes());
        out.extend_from_slice(config);
        out
    }

    /// The 40-byte form of Apache's config-less `buildMsg` (used by its tests and by pre-3.5
    /// servers). It writes version 1 in the last 4 bytes; a receiver ignores them, since a
    /// 40-byte message is read as having no version.
    pub fn encode_40(&self) -> Vec<u8> {
        let mut out = self.fixed_fields(40);
        out.extend_from_slice(&1i32.to_be_bytes());
        out
    }

    /// The 28-byte form of servers from before peerEpoch existed.
    pub fn encode_28(&self) -> Vec<u8> {
        let mut out = self.fixed_fields(28);
        out.truncate(28);
        out
    }

    /// State, leader, zxid, electionEpoch, peerEpoch (36 bytes).
    fn fixed_fields(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity.max(36));
        out.extend_from_slice(&self.state.code().to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.election_epoch.to_be_bytes());
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out
    }
}
