//! Apache's per-node digest (`DigestCalculator`, digest version 2): a CRC32 over the path,
//! the data and the stored Stat. The tree digest is the wrapping 64-bit sum of all node
//! digests (`AdHash`), so a change is "subtract the node's old digest, add its new one".
//! An Apache learner compares it with the leader's `TxnDigest` after every txn, so ours
//! must agree to the bit: same fields, same order, same widths.

use super::StoredStat;

/// Nodes below this prefix count 0: their quota stats are updated locally on each member
/// (`ZooDefs.ZOOKEEPER_NODE_SUBTREE`). `/zookeeper` itself does count.
const EXCLUDED_PREFIX: &str = "/zookeeper/";

/// The digest of one node as Apache computes it. The root is hashed under the path ""
/// (Apache files it under both "" and "/" and maps "/" to ""); null and empty data hash
/// the same.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StoredStat) -> u64 {
    prefix(path, data).map_or(0, |p| finish(p, stat))
}

/// The CRC state after the path and data, or `None` for a node that counts 0. A change to
/// the Stat alone finishes one prefix twice (before and after) instead of hashing the data
/// twice.
pub fn prefix(path: &str, data: Option<&[u8]>) -> Option<crc32fast::Hasher> {
    if path.starts_with(EXCLUDED_PREFIX) {
        return None;
    }
    let path = if path == "/" { "" } else { path };
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    Some(crc)
}

/// Completes a node digest with the Stat block: five longs, three ints, one long, 60 bytes,
/// big-endian.
pub fn finish(mut crc: crc32fast::Hasher, stat: &StoredStat) -> u64 {
    let mut b = [0u8; 60];
    let longs = [stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime];
    for (i, v) in longs.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
    }
    b[40..44].copy_from_slice(&stat.version.to_be_bytes());
    b[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    b[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    b[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    crc.update(&b);
    // Java's CRC32.getValue(): the unsigned 32-bit value widened to a long.
    crc.finalize() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_subtree_counts_zero_but_not_zookeeper_itself() {
        let s = StoredStat::default();
        assert_eq!(node_digest("/zookeeper/quota", Some(b""), &s), 0);
        assert_eq!(node_digest("/zookeeper/config", Some(b"x"), &s), 0);
        assert_ne!(node_digest("/zookeeper", Some(b""), &s), 0);
        assert_ne!(node_digest("/zookeeperx", Some(b""), &s), 0);
        assert_eq!(
            node_digest("/", None, &s),
            node_digest("/", Some(b""), &s),
            "root maps to \"\", null data hashes as empty"
        );
    }
}
