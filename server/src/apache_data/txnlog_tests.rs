use super::*;
use crate::txn::apache::TxnDigest;
use crate::txn::{CreateKind, Txn, TxnHeader};
use zkrs_proto::Acl;

fn entry(zxid: i64) -> Vec<u8> {
    let hdr = TxnHeader {
        session_id: 0x100,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
    };
    let txn = Txn::Create {
        path: format!("/n{zxid}"),
        data: Some(vec![b'x'; zxid as usize % 7]),
        acl: Acl::open_unsafe(),
        kind: CreateKind::Create { ephemeral: false },
        parent_cversion: zxid as i32,
    };
    let digest = TxnDigest {
        version: 2,
        tree_digest: zxid * 31,
    };
    apache::encode(&hdr, &txn, Some(digest)).unwrap()
}

fn log_of(zxids: std::ops::RangeInclusive<i64>) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = zxids.map(entry).collect();
    encode(&entries)
}

fn path() -> &'static Path {
    Path::new("log.1")
}

/// Offsets of the records `encode` wrote.
fn offsets(bytes: &[u8]) -> Vec<u64> {
    parse(path(), bytes)
        .unwrap()
        .records
        .iter()
        .map(|r| r.offset)
        .collect()
}

#[test]
fn what_is_written_reads_back() {
    let bytes = log_of(1..=5);
    let log = parse(path(), &bytes).unwrap();
    let zxids: Vec<i64> = log.records.iter().map(|r| r.txn.header.zxid).collect();
    assert_eq!(zxids, [1, 2, 3, 4, 5]);
    assert_eq!(log.torn_at, None);
    assert_eq!(log.records[0].offset, HEADER_LEN as u64);
    assert_eq!(log.records[2].txn.digest.unwrap().tree_digest, 93);
}

#[test]
fn a_preallocated_zero_tail_is_the_normal_end() {
    let mut bytes = log_of(1..=3);
    bytes.resize(bytes.len() + 4096, 0);
    let log = parse(path(), &bytes).unwrap();
    assert_eq!((log.records.len(), log.torn_at), (3, None));
    // A file created but never written, or all zeros: no records, no error.
    assert!(parse(path(), &[]).unwrap().no_header);
    assert!(parse(path(), &[0; 100]).unwrap().no_header);
}

#[test]
fn a_record_cut_by_a_crash_ends_the_records() {
    let whole = log_of(1..=4);
    let last = *offsets(&whole).last().unwrap() as usize;
    for cut in last + 1..whole.len() {
        // What was written of the record may be zeros so far (the checksum's high half
        // always is): then nothing tells it from the preallocated tail.
        let torn = whole[last..cut]
            .iter()
            .any(|b| *b != 0)
            .then_some(last as u64);
        // The file ends inside the record...
        let log = parse(path(), &whole[..cut]).unwrap();
        assert_eq!((log.records.len(), log.torn_at), (3, torn), "cut {cut}");
        // ...or the rest of it is the preallocated zeros.
        let mut zeroed = whole.clone();
        zeroed[cut..].fill(0);
        zeroed.resize(whole.len() + 64, 0);
        let log = parse(path(), &zeroed).unwrap();
        assert_eq!(log.records.len(), 3, "cut {cut}");
        assert_eq!(log.torn_at, torn, "cut {cut}");
    }
}

#[test]
fn a_checksum_mismatch_is_damage_named_by_file_and_offset() {
    let mut bytes = log_of(1..=4);
    let second = offsets(&bytes)[1];
    bytes[second as usize + 20] ^= 0x40;
    let err = parse(path(), &bytes).unwrap_err();
    match &err {
        MigrationError::Damaged { file, offset, what } => {
            assert_eq!((file.as_path(), *offset), (path(), second));
            assert!(what.contains("checksum"), "{what}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("log.1: checksum"), "{err}");
}

#[test]
fn an_incomplete_record_with_data_after_it_is_damage() {
    let mut bytes = log_of(1..=4);
    let second = offsets(&bytes)[1] as usize;
    let third = offsets(&bytes)[2] as usize;
    // The end marker of the second record.
    bytes[third - 1] = 0;
    let err = parse(path(), &bytes).unwrap_err();
    assert!(matches!(err, MigrationError::Damaged { offset, .. } if offset == second as u64));
    // A zero length with records after it.
    let mut bytes = log_of(1..=4);
    bytes[second + 8..second + 12].fill(0);
    assert!(parse(path(), &bytes).is_err());
    // A length beyond jute.maxbuffer with records after it.
    let mut bytes = log_of(1..=4);
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_0000i32.to_be_bytes());
    assert!(parse(path(), &bytes).is_err());
}

#[test]
fn a_file_that_is_not_a_log_is_refused() {
    let mut bytes = log_of(1..=2);
    bytes[0] = b'X';
    let err = parse(path(), &bytes).unwrap_err();
    assert!(err.to_string().contains("not a transaction log"), "{err}");
    assert!(parse(path(), b"ZKLG").is_err());
}

/// Every truncation and every single flipped bit: a value or an error, never a panic; and
/// never more records than the file holds whole.
#[test]
fn truncated_and_flipped_bytes_never_panic() {
    let whole = log_of(1..=3);
    for cut in 0..whole.len() {
        if let Ok(log) = parse(path(), &whole[..cut]) {
            assert!(log.records.len() < 3, "cut {cut}");
        }
    }
    for i in 0..whole.len() {
        for bit in 0..8 {
            let mut b = whole.clone();
            b[i] ^= 1 << bit;
            if let Ok(log) = parse(path(), &b) {
                assert!(log.records.len() <= 3);
            }
        }
    }
}
