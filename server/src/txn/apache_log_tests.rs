//! Apache ZooKeeper 3.8's own transaction log, replayed on our tree: every txn decodes with
//! our codec, and after each one our tree digest equals the digest Apache's leader logged
//! with it. The log was written by a real Apache server driven through every txn kind a
//! standalone server produces (fixtures/apache_log/README.md).

use crate::tree::DataTree;
use crate::txn::apache::{self, op, DIGEST_VERSION};
use crate::txn::Txn;

const LOG: &[u8] = include_bytes!("../../tests/fixtures/apache_log/log.fixture");

/// Adler-32, the checksum `FileTxnLog` keeps per entry.
fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for &x in b {
        a = (a + x as u32) % 65521;
        s = (s + a) % 65521;
    }
    (s << 16) | a
}

/// The entries of a `log.<zxid>` file: header `{int 'ZKLG', int 2, long dbid}`, then per
/// entry `{long adler32, int length, bytes, byte 'B'}` until a zero length (the
/// preallocated tail).
fn entries(log: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&log[..4], b"ZKLG");
    assert_eq!(i32::from_be_bytes(log[4..8].try_into().unwrap()), 2);
    let mut pos = 16;
    let mut out = Vec::new();
    while pos + 12 <= log.len() {
        let sum = u64::from_be_bytes(log[pos..pos + 8].try_into().unwrap());
        let len = i32::from_be_bytes(log[pos + 8..pos + 12].try_into().unwrap());
        if len == 0 {
            break;
        }
        let bytes = &log[pos + 12..pos + 12 + len as usize];
        assert_eq!(sum, adler32(bytes) as u64, "checksum at {pos}");
        assert_eq!(log[pos + 12 + len as usize], b'B', "end marker at {pos}");
        out.push(bytes);
        pos += 12 + len as usize + 1;
    }
    out
}

#[test]
fn apache_log_replays_with_apache_digests_after_every_txn() {
    let mut tree = DataTree::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut checked = 0;
    let entries = entries(LOG);
    assert!(entries.len() > 150, "{} entries", entries.len());
    for bytes in entries {
        let t = apache::decode(bytes).expect("Apache's txn decodes");
        // Our encoder gives back Apache's bytes.
        assert_eq!(
            apache::encode(&t.header, &t.txn, t.digest).unwrap(),
            bytes,
            "re-encoding zxid {:#x}",
            t.header.zxid
        );
        seen.insert(apache::txn_type(&t.txn));
        if let Txn::Multi(subs) = &t.txn {
            seen.extend(subs.iter().map(|s| 1000 + apache::txn_type(s)));
        }
        tree.apply(&t.header, &t.txn, &mut Vec::new());
        if let Some(d) = t.digest {
            assert_eq!(d.version, DIGEST_VERSION);
            assert_eq!(
                tree.digest(),
                d.tree_digest,
                "digest after zxid {:#x}: {:?}",
                t.header.zxid,
                t.txn
            );
            checked += 1;
        }
        assert_eq!(tree.digest(), tree.compute_digest());
    }
    assert!(checked > 150, "{checked} digests checked");
    for ty in [
        op::CREATE_SESSION,
        op::CLOSE_SESSION,
        op::CREATE,
        op::CREATE2,
        op::CREATE_CONTAINER,
        op::CREATE_TTL,
        op::DELETE,
        op::DELETE_CONTAINER,
        op::SET_DATA,
        op::SET_ACL,
        op::ERROR,
        op::MULTI,
        1000 + op::CHECK,
        1000 + op::ERROR,
    ] {
        assert!(seen.contains(&ty), "the log holds a txn of type {ty}");
    }
}
