use super::*;
use crate::txn::{CreateKind, Txn, TxnHeader};
use zkrs_proto::Acl;

/// A small tree of every node kind, with a session and its ephemeral.
fn tree() -> DataTree {
    let mut t = DataTree::new();
    let mut zxid = 0;
    let mut apply = |t: &mut DataTree, session: i64, txn: Txn| {
        zxid += 1;
        let hdr = TxnHeader {
            session_id: session,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
        };
        t.apply(&hdr, &txn, &mut Vec::new());
    };
    apply(&mut t, 0x77, Txn::CreateSession { timeout_ms: 30_000 });
    let create = |path: &str, kind: CreateKind, acl: Vec<Acl>, pcv: i32| Txn::Create {
        path: path.into(),
        data: Some(path.as_bytes().to_vec()),
        acl,
        kind,
        parent_cversion: pcv,
    };
    let digest_acl = vec![Acl::new(31, "digest", "u:x")];
    apply(
        &mut t,
        0x77,
        create(
            "/app",
            CreateKind::Create { ephemeral: false },
            Acl::open_unsafe(),
            1,
        ),
    );
    apply(
        &mut t,
        0x77,
        create(
            "/app/e",
            CreateKind::Create { ephemeral: true },
            Acl::open_unsafe(),
            1,
        ),
    );
    apply(
        &mut t,
        0x77,
        create(
            "/app/secret",
            CreateKind::Create { ephemeral: false },
            digest_acl,
            2,
        ),
    );
    apply(
        &mut t,
        0x77,
        create("/c", CreateKind::Container, Acl::open_unsafe(), 2),
    );
    apply(
        &mut t,
        0x77,
        create(
            "/c/child",
            CreateKind::Create { ephemeral: false },
            Acl::open_unsafe(),
            1,
        ),
    );
    apply(
        &mut t,
        0x77,
        create("/ttl", CreateKind::Ttl(60_000), Acl::open_unsafe(), 3),
    );
    t
}

fn encoded(t: &DataTree) -> Vec<u8> {
    let mut out = Vec::new();
    encode(t, &mut out).unwrap();
    out
}

fn read_bytes(bytes: &[u8], zxid: i64) -> Result<ApacheSnapshot, MigrationError> {
    parse(Path::new("snapshot.x"), bytes, zxid)
}

#[test]
fn a_file_is_read_as_its_bytes_are() {
    let t = tree();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(snapshot_name(t.last_zxid()));
    std::fs::write(&p, encoded(&t)).unwrap();
    assert_eq!(read(&p, t.last_zxid()).unwrap().tree.digest(), t.digest());
    std::fs::write(&p, b"short").unwrap();
    let err = read(&p, t.last_zxid()).unwrap_err();
    assert!(
        err.to_string().starts_with(&p.display().to_string()),
        "{err}"
    );
}

#[test]
fn what_is_written_reads_back_with_its_digest() {
    let t = tree();
    let s = read_bytes(&encoded(&t), t.last_zxid()).unwrap();
    assert_eq!(s.tree.node_count(), t.node_count());
    assert_eq!(s.tree.digest(), t.digest());
    assert_eq!(s.tree.sessions().count(), 1);
    assert_eq!(s.tree.ephemeral_count(), 1);
    assert_eq!(
        s.digest,
        Some(ZxidDigest {
            zxid: t.last_zxid(),
            version: DIGEST_VERSION,
            digest: t.digest()
        })
    );
    assert_eq!(s.last_processed_zxid, None);
    for path in ["/app/secret", "/c/child", "/ttl", "/app/e"] {
        let (a, b) = (t.get(path).unwrap(), s.tree.get(path).unwrap());
        assert_eq!(
            (a.stat(), a.data(), &**a.acl()),
            (b.stat(), b.data(), &**b.acl()),
            "{path}"
        );
    }
}

#[test]
fn the_parts_apache_versions_add_or_leave_out_are_read() {
    let t = tree();
    let full = encoded(&t);
    // 3.5 (no digest): the file ends after the first seal.
    let digest_part = 8 + 4 + 8 + 13;
    let mut old = full[..full.len() - digest_part].to_vec();
    let s = read_bytes(&old, t.last_zxid()).unwrap();
    assert_eq!((s.digest, s.last_processed_zxid), (None, None));
    // 3.9 with digests off: the last processed zxid right after the first seal.
    let mut sum = Adler32::default();
    sum.update(&old);
    sum.update(&9i64.to_be_bytes());
    old.extend_from_slice(&9i64.to_be_bytes());
    old.extend_from_slice(&sum.value().to_be_bytes());
    old.extend_from_slice(&SEAL);
    let s = read_bytes(&old, t.last_zxid()).unwrap();
    assert_eq!((s.digest, s.last_processed_zxid), (None, Some(9)));
    assert_eq!(s.needs_log_through(t.last_zxid()), 9);
    // 3.9 with digests: both.
    let mut new = full.clone();
    let mut sum = Adler32::default();
    sum.update(&new);
    sum.update(&12i64.to_be_bytes());
    new.extend_from_slice(&12i64.to_be_bytes());
    new.extend_from_slice(&sum.value().to_be_bytes());
    new.extend_from_slice(&SEAL);
    let s = read_bytes(&new, t.last_zxid()).unwrap();
    assert!(s.digest.is_some());
    assert_eq!(s.last_processed_zxid, Some(12));
}

#[test]
fn a_flipped_byte_fails_the_checksum_at_the_seal() {
    let t = tree();
    let mut bytes = encoded(&t);
    // A byte of some node's data, in the middle of the body.
    let at = bytes.windows(4).position(|w| w == b"/c/c").unwrap() + 2;
    bytes[at] ^= 0x01;
    let err = read_bytes(&bytes, t.last_zxid()).unwrap_err();
    let MigrationError::Damaged { what, offset, .. } = &err else {
        panic!("{err}")
    };
    assert!(what.contains("checksum mismatch"), "{what}");
    assert!(*offset > at as u64, "the seal comes after the damage");
}

#[test]
fn a_snapshot_not_written_to_the_end_is_refused() {
    let t = tree();
    let bytes = encoded(&t);
    let err = read_bytes(&bytes[..bytes.len() - 40], t.last_zxid()).unwrap_err();
    assert!(
        err.to_string().contains("does not end with a seal"),
        "{err}"
    );
}

/// Every truncation and every flipped byte of a small snapshot: an error or a value,
/// never a panic.
#[test]
fn truncated_and_flipped_bytes_never_panic() {
    let t = tree();
    let whole = encoded(&t);
    // Cut right after the first seal, it is a whole snapshot without a digest (3.5's).
    let first_seal_end = whole.len() - (8 + 4 + 8 + 13);
    for cut in 0..whole.len() {
        let read = read_bytes(&whole[..cut], 7);
        assert_eq!(read.is_ok(), cut == first_seal_end, "cut {cut}");
    }
    for i in 0..whole.len() {
        let mut b = whole.clone();
        b[i] ^= 0xA5;
        let _ = read_bytes(&b, 7);
    }
}
