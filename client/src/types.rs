//! Small public types: session states, watch events, create options, ACL helpers.

use std::time::Duration;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use zkrs_proto::{Acl, CreateMode, EventType, Id, KeeperState};

/// The state of the client's session, as reported to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// No connection yet, or the connection was lost; the client is looking for a server.
    /// The session may still be alive on the servers.
    Disconnected,
    /// Connected, session established (or re-established on another connection).
    SyncConnected,
    /// The servers expired the session. Terminal: make a new client.
    Expired,
    /// The server rejected the credentials given with `add_auth`. Terminal.
    AuthFailed,
    /// The client was closed. Terminal.
    Closed,
}

impl SessionState {
    /// Whether the client is finished in this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }

    /// Whether requests can be sent now.
    pub fn is_connected(self) -> bool {
        self == SessionState::SyncConnected
    }

    /// The `KeeperState` of a watch event announcing this state.
    pub fn keeper_state(self) -> KeeperState {
        match self {
            SessionState::Disconnected => KeeperState::Disconnected,
            SessionState::SyncConnected => KeeperState::SyncConnected,
            SessionState::Expired => KeeperState::Expired,
            SessionState::AuthFailed => KeeperState::AuthFailed,
            SessionState::Closed => KeeperState::Closed,
        }
    }
}

/// A watch notification, with the path relative to the client's chroot.
///
/// Node events have `state == SyncConnected`. Session events have `event_type == None` and
/// an empty path: persistent watchers receive `Disconnected` and `SyncConnected` (events may
/// have been missed in between), and every watcher receives a final `Expired`, `AuthFailed`
/// or `Closed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub state: KeeperState,
    pub path: String,
}

impl WatchedEvent {
    pub(crate) fn session(state: SessionState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::None,
            state: state.keeper_state(),
            path: String::new(),
        }
    }

    /// Whether this is a session event rather than a change of a node.
    pub fn is_session_event(&self) -> bool {
        self.event_type == EventType::None
    }
}

/// How to create a node: its mode, ACL and, for TTL modes, time to live.
///
/// `CreateMode` converts into options with the open ACL, so `client.create(path, data,
/// CreateMode::Ephemeral)` works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    pub mode: CreateMode,
    pub acl: Vec<Acl>,
    /// Only for `PersistentWithTtl` and `PersistentSequentialWithTtl`.
    pub ttl: Option<Duration>,
}

impl CreateOptions {
    /// Options for `mode` with the open ACL (`world:anyone`, all permissions).
    pub fn new(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// A TTL node (`PersistentWithTtl`, or `PersistentSequentialWithTtl` when `sequential`).
    pub fn with_ttl_mode(ttl: Duration, sequential: bool) -> CreateOptions {
        let mode = if sequential {
            CreateMode::PersistentSequentialWithTtl
        } else {
            CreateMode::PersistentWithTtl
        };
        CreateOptions::new(mode).ttl(ttl)
    }

    /// Replaces the ACL.
    pub fn acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = acl;
        self
    }

    /// Sets the time to live (TTL modes only).
    pub fn ttl(mut self, ttl: Duration) -> CreateOptions {
        self.ttl = Some(ttl);
        self
    }
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions::new(CreateMode::Persistent)
    }
}

impl From<CreateMode> for CreateOptions {
    fn from(mode: CreateMode) -> CreateOptions {
        CreateOptions::new(mode)
    }
}

impl From<&CreateOptions> for CreateOptions {
    fn from(o: &CreateOptions) -> CreateOptions {
        o.clone()
    }
}

/// The id of a `digest` ACL entry for `user` with `password`:
/// `user:base64(sha1("user:password"))`, as `DigestAuthenticationProvider` computes it.
pub fn digest_id(user: &str, password: &str) -> Id {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    Id::new(
        "digest",
        format!(
            "{user}:{}",
            base64::engine::general_purpose::STANDARD.encode(hash)
        ),
    )
}

/// An ACL entry granting `perms` to the digest identity `user`/`password`.
pub fn digest_acl(perms: i32, user: &str, password: &str) -> Acl {
    Acl {
        perms,
        id: digest_id(user, password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_apache() {
        // `DigestAuthenticationProvider.generateDigest("super:test")`.
        assert_eq!(
            digest_id("super", "test").id,
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }
}
