//! Transactions: what the write pipeline logs, replicates and applies. Applying the same
//! transactions in zxid order yields the same tree on every member.

use zkrs_proto::Acl;

pub mod apache;
#[cfg(test)]
mod apache_log_tests;

/// Who issued a transaction, when, and where it sits in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    pub session_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    /// Wall-clock milliseconds at the leader when the transaction was prepared.
    pub time: i64,
}

/// One state change, shaped as Apache's transaction records (`zookeeper.jute`, package
/// `org.apache.zookeeper.txn`) so that [`apache`] can re-emit Apache's bytes exactly and
/// rebuild the same value from them. Everything in it was decided by the leader's
/// preparation, so applying it needs no further decisions (sequential names and versions
/// are already resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// `CreateSessionTxn`. The password is not here: every member derives it from the
    /// session id (see [`crate::session_password`]).
    CreateSession { timeout_ms: i32 },
    CloseSession {
        /// `CloseSessionTxn.paths2Delete`: the session's ephemerals, in the order they are
        /// deleted. `None` for a txn without body (older leaders): every member then deletes
        /// the ephemerals it knows of the session.
        ephemerals: Option<Vec<String>>,
    },
    Create {
        path: String,
        /// `None`: the client sent null data.
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        /// Which Apache txn type this is, which also decides the node's `ephemeralOwner`.
        kind: CreateKind,
        /// The parent's cversion after this create; -1 means "one more than now" (what a
        /// version-0 create record, which has no such field, decodes to).
        parent_cversion: i32,
    },
    Delete {
        path: String,
        /// `deleteContainer` (20): the container/TTL reaper's delete rather than a client's.
        container: bool,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        /// The node's version after this change.
        version: i32,
        /// `reconfig` (16): a new ensemble configuration written to `/zookeeper/config`.
        reconfig: bool,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        /// The node's aversion after this change.
        aversion: i32,
    },
    /// `CheckVersionTxn`, only inside a multi: no state change.
    Check {
        path: String,
        /// The checked version plus one, as Apache records it.
        version: i32,
    },
    /// A failed operation inside a failed multi: 0 for those before the failure, the error
    /// for the failing one, `RuntimeInconsistency` after it.
    Error { err: i32 },
    /// All or nothing: either every member succeeds or the whole multi is a list of errors.
    Multi(Vec<Txn>),
}

/// Which of Apache's create txns a create is. The header type decides the reply shape and
/// the node's `ephemeralOwner` (taken from the header's session for ephemerals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// `create` (1), `CreateTxn`: the reply carries the path only. Every create inside a
    /// multi that is neither a container nor a TTL node is one of these.
    Create { ephemeral: bool },
    /// `create2` (15), `CreateTxn`: the reply carries path and Stat.
    Create2 { ephemeral: bool },
    /// `createContainer` (19), `CreateContainerTxn`.
    Container,
    /// `createTTL` (21), `CreateTTLTxn` with its TTL in milliseconds.
    Ttl(i64),
}

impl CreateKind {
    /// The node's `ephemeralOwner` when `session_id` (the txn header's) creates it.
    pub fn owner(self, session_id: i64) -> i64 {
        match self {
            CreateKind::Create { ephemeral } | CreateKind::Create2 { ephemeral } => {
                if ephemeral {
                    session_id
                } else {
                    0
                }
            }
            CreateKind::Container => CONTAINER_OWNER,
            CreateKind::Ttl(ttl) => ttl_owner(ttl),
        }
    }

    /// Whether the reply carries the Stat as well as the path.
    pub fn replies_with_stat(self) -> bool {
        !matches!(self, CreateKind::Create { .. })
    }
}

/// `ephemeralOwner` of container nodes (`EphemeralType.CONTAINER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte of `ephemeralOwner` marking a TTL node; the TTL is in the low bytes.
const TTL_MASK: i64 = 0xFF << 56;
/// The largest TTL the encoding holds (`EphemeralType.TTL` max).
pub const MAX_TTL: i64 = 0x00FF_FFFF_FFFF;

/// What kind of node an `ephemeralOwner` value describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

pub fn ttl_owner(ttl: i64) -> i64 {
    TTL_MASK | ttl
}

pub fn owner_kind(owner: i64) -> OwnerKind {
    if owner == 0 {
        OwnerKind::Persistent
    } else if owner == CONTAINER_OWNER {
        OwnerKind::Container
    } else if owner & TTL_MASK == TTL_MASK {
        OwnerKind::Ttl(owner & !TTL_MASK)
    } else {
        OwnerKind::Ephemeral(owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_kinds() {
        assert_eq!(owner_kind(0), OwnerKind::Persistent);
        assert_eq!(owner_kind(CONTAINER_OWNER), OwnerKind::Container);
        assert_eq!(owner_kind(ttl_owner(5000)), OwnerKind::Ttl(5000));
        assert_eq!(owner_kind(0x1234), OwnerKind::Ephemeral(0x1234));
    }
}
