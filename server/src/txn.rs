//! Transactions: what the write pipeline logs, replicates and applies. Applying the same
//! transactions in zxid order yields the same tree on every member.

use zkrs_proto::Acl;

/// Who issued a transaction, when, and where it sits in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    pub session_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    /// Wall-clock milliseconds at the leader when the transaction was prepared.
    pub time: i64,
}

/// One state change. Everything in it was decided by the leader's preparation, so applying
/// it needs no further decisions (sequential names and versions are already resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    CreateSession {
        timeout_ms: i32,
        passwd: Vec<u8>,
    },
    CloseSession {
        /// The session's ephemerals, in the order they are deleted.
        ephemerals: Vec<String>,
    },
    Create {
        path: String,
        /// `None`: the client sent null data.
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        /// The session for ephemerals, a TTL or container marker, or 0.
        ephemeral_owner: i64,
        /// The parent's cversion after this create.
        parent_cversion: i32,
        /// Which reply the client expects (create vs create2-style).
        kind: CreateKind,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        /// The node's version after this change.
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        /// The node's aversion after this change.
        aversion: i32,
    },
    /// A version check inside a multi: no state change.
    Check {
        path: String,
    },
    /// A failed operation inside a failed multi: 0 for those before the failure, the error
    /// for the failing one, `RuntimeInconsistency` after it.
    Error {
        err: i32,
    },
    /// All or nothing: either every member succeeds or the whole multi is a list of errors.
    Multi(Vec<Txn>),
}

/// Which create reply shape the request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// `create`: the path only.
    Plain,
    /// `create2`, `createTTL`, `createContainer`: path and Stat.
    WithStat,
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
