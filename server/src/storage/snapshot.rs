//! Snapshots: the whole tree and session registry at a zxid, in one checksummed file
//! `snapshot.<zxid in hex>`, written to a temporary name, synced, then renamed.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use zkrs_proto::records::{read_acl_vec, write_acl_vec};
use zkrs_proto::{DecodeError, Reader, Stat, Writer};

use crate::tree::{DataTree, SessionRecord, TreeBuilder};

use super::direct::DirectWriter;
use super::fsync_dir;

pub const SNAP_MAGIC: &[u8; 8] = b"ZKRSSNAP";
/// Format 2 dropped the session passwords (members derive them from the session id);
/// format 1 snapshots are still read.
pub const SNAP_FORMAT: u32 = 2;
const SNAP_FORMAT_WITH_PASSWORDS: u32 = 1;

pub fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{zxid:016x}")
}

pub fn parse_snapshot_name(name: &str) -> Option<i64> {
    let hex = name.strip_prefix("snapshot.")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// Snapshot files in `dir`, newest (highest zxid) first.
pub fn list_snapshots(dir: &Path) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut v = Vec::new();
    if !dir.exists() {
        return Ok(v);
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if let Some(z) = e.file_name().to_str().and_then(parse_snapshot_name) {
            v.push((z, e.path()));
        }
    }
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    Ok(v)
}

fn write_stat(w: &mut Writer, s: &Stat) {
    w.write_i64(s.czxid);
    w.write_i64(s.mzxid);
    w.write_i64(s.ctime);
    w.write_i64(s.mtime);
    w.write_i32(s.version);
    w.write_i32(s.cversion);
    w.write_i32(s.aversion);
    w.write_i64(s.ephemeral_owner);
    w.write_i64(s.pzxid);
}

fn read_stat(r: &mut Reader<'_>) -> Result<Stat, DecodeError> {
    Ok(Stat {
        czxid: r.read_i64()?,
        mzxid: r.read_i64()?,
        ctime: r.read_i64()?,
        mtime: r.read_i64()?,
        version: r.read_i32()?,
        cversion: r.read_i32()?,
        aversion: r.read_i32()?,
        ephemeral_owner: r.read_i64()?,
        pzxid: r.read_i64()?,
        ..Stat::default()
    })
}

/// Serializes the tree as it stands into one buffer (tools and tests; the server streams,
/// see [`serialize_chunked`]).
pub fn serialize(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::new();
    serialize_chunked(tree, 1 << 20, |chunk| out.extend_from_slice(&chunk));
    out
}

/// A writer that hands its bytes on in pieces, keeping the running checksum.
struct Chunked<F: FnMut(Vec<u8>)> {
    w: Writer,
    crc: crc32fast::Hasher,
    chunk: usize,
    sink: F,
}

impl<F: FnMut(Vec<u8>)> Chunked<F> {
    fn flush_if_full(&mut self) {
        if self.w.len() >= self.chunk {
            let next = Writer::with_capacity(self.chunk + 4096);
            let bytes = std::mem::replace(&mut self.w, next).into_inner();
            self.crc.update(&bytes);
            (self.sink)(bytes);
        }
    }

    fn finish(self) {
        let Chunked {
            w, crc, mut sink, ..
        } = self;
        let mut crc = crc;
        let mut last = w.into_inner();
        crc.update(&last);
        last.extend_from_slice(&crc.finalize().to_be_bytes());
        sink(last);
    }
}

/// Serializes the tree as it stands, handing it to `sink` in pieces of about `chunk` bytes
/// as they fill (the last ends with the checksum). The server writes the pieces to the file
/// while the rest is serialized, so a snapshot never sits whole in memory.
pub fn serialize_chunked(tree: &DataTree, chunk: usize, sink: impl FnMut(Vec<u8>)) {
    let mut out = Chunked {
        w: Writer::with_capacity(chunk + 4096),
        crc: crc32fast::Hasher::new(),
        chunk,
        sink,
    };
    out.w.write_raw(SNAP_MAGIC);
    out.w.write_raw(&SNAP_FORMAT.to_be_bytes());
    out.w.write_i64(tree.last_zxid());
    // Each distinct ACL once; nodes name theirs by position in this table.
    // In the order of their encoding, not of the tree's table slots (which depend on the
    // history), so that equal trees give equal bytes.
    let mut table = tree.acl_table();
    table.sort_by_cached_key(|(_, a)| {
        let mut w = Writer::new();
        write_acl_vec(&mut w, a);
        w.into_inner()
    });
    let position: HashMap<u32, u32> = table
        .iter()
        .enumerate()
        .map(|(pos, (index, _))| (*index, pos as u32))
        .collect();
    out.w.write_i32(table.len() as i32);
    for (_, a) in &table {
        write_acl_vec(&mut out.w, a);
    }
    out.w.write_i64(tree.node_count() as i64);
    // Parents before children, so loading inserts each node under a parent it already has.
    tree.visit_nodes(|path, node| {
        let w = &mut out.w;
        w.write_string(path);
        w.write_opt_buffer(node.data());
        let i = position
            .get(&tree.acl_index(&node))
            .copied()
            .unwrap_or(u32::MAX);
        w.write_i32(i as i32);
        write_stat(w, &node.raw_stat());
        out.flush_if_full();
    });
    // In id order, so that equal trees give equal bytes on every member.
    let mut sessions: Vec<_> = tree.sessions().collect();
    sessions.sort_unstable_by_key(|(id, _)| **id);
    out.w.write_i64(sessions.len() as i64);
    for (id, s) in sessions {
        out.w.write_i64(*id);
        out.w.write_i32(s.timeout_ms);
    }
    out.finish();
}

/// A snapshot file being written: a temporary name until [`SnapshotFile::finish`] syncs it
/// and renames it into place. Written around the page cache where possible (see
/// [`super::direct`]).
pub struct SnapshotFile {
    writer: DirectWriter,
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
}

impl SnapshotFile {
    pub fn create(dir: &Path, zxid: i64) -> std::io::Result<Self> {
        let name = snapshot_name(zxid);
        let tmp = dir.join(format!("{name}.tmp"));
        Ok(SnapshotFile {
            writer: DirectWriter::create(&tmp)?,
            tmp,
            path: dir.join(name),
            dir: dir.to_path_buf(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write(bytes)
    }

    /// Makes the snapshot durable under its final name.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        let file = self.writer.finish()?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        fsync_dir(&self.dir)?;
        Ok(self.path)
    }
}

/// Writes a serialized snapshot durably: temp file, fsync, rename, fsync of the directory.
pub fn write(dir: &Path, zxid: i64, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let mut f = SnapshotFile::create(dir, zxid)?;
    f.write(bytes)?;
    f.finish()
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a zkrs snapshot")]
    BadMagic,
    #[error("snapshot format {0}; this server reads format {SNAP_FORMAT}")]
    UnknownFormat(u32),
    #[error("checksum mismatch")]
    Checksum,
    #[error("undecodable: {0}")]
    Decode(#[from] DecodeError),
    #[error("inconsistent: {0}")]
    Inconsistent(String),
}

/// Reads and verifies a snapshot.
pub fn load(path: &Path) -> Result<DataTree, SnapshotError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    decode(&bytes)
}

pub fn decode(bytes: &[u8]) -> Result<DataTree, SnapshotError> {
    if bytes.len() < 16 || &bytes[..8] != SNAP_MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let format = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if format != SNAP_FORMAT && format != SNAP_FORMAT_WITH_PASSWORDS {
        return Err(SnapshotError::UnknownFormat(format));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(SnapshotError::Checksum);
    }
    let mut r = Reader::new(&body[12..]);
    let zxid = r.read_i64()?;
    let acl_count = r.read_vec_len(4)?.unwrap_or(0);
    let mut acls = Vec::with_capacity(acl_count);
    for _ in 0..acl_count {
        acls.push(read_acl_vec(&mut r)?);
    }
    let count = r.read_i64()?;
    if count < 0 || count as usize > body.len() {
        return Err(SnapshotError::Inconsistent(format!("node count {count}")));
    }
    let mut tree = TreeBuilder::new(acls, count as usize);
    for _ in 0..count {
        let path = r.read_str()?;
        let data = r.read_opt_bytes()?;
        let acl = r.read_i32()? as u32;
        let stat = read_stat(&mut r)?;
        tree.add(path, data, acl, stat)
            .map_err(SnapshotError::Inconsistent)?;
    }
    let n = r.read_i64()?;
    if n < 0 || n as usize > body.len() {
        return Err(SnapshotError::Inconsistent(format!("session count {n}")));
    }
    let mut sessions = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let id = r.read_i64()?;
        let timeout_ms = r.read_i32()?;
        if format == SNAP_FORMAT_WITH_PASSWORDS {
            r.read_buffer()?;
        }
        sessions.push((id, SessionRecord { timeout_ms }));
    }
    r.finish()?;
    tree.finish(sessions, zxid)
        .map_err(SnapshotError::Inconsistent)
}

/// The zxid a snapshot file covers, from its header (for the dumper and purge).
pub fn peek_zxid(bytes: &[u8]) -> Option<i64> {
    let b: [u8; 8] = bytes.get(12..20)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{CreateKind, Txn, TxnHeader};
    use zkrs_proto::Acl;

    fn sample() -> DataTree {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        let h = |zxid| TxnHeader {
            session_id: 9,
            cxid: 0,
            zxid,
            time: 5,
        };
        t.apply(&h(1), &Txn::CreateSession { timeout_ms: 3000 }, &mut tr);
        let ephemeral = CreateKind::Create { ephemeral: true };
        let persistent = CreateKind::Create { ephemeral: false };
        for (z, path, kind) in [
            (2, "/a", persistent),
            (3, "/a/e", ephemeral),
            (4, "/c", CreateKind::Container),
        ] {
            t.apply(
                &h(z),
                &Txn::Create {
                    path: path.into(),
                    data: if z == 2 { None } else { Some(b"x".to_vec()) },
                    acl: Acl::open_unsafe(),
                    kind,
                    parent_cversion: 1,
                },
                &mut tr,
            );
        }
        t
    }

    #[test]
    fn round_trip_keeps_everything() {
        let t = sample();
        let back = decode(&serialize(&t)).unwrap();
        assert_eq!(back.last_zxid(), 4);
        assert_eq!(back.node_count(), t.node_count());
        for (p, n) in t.iter_nodes() {
            let m = back.get(&p).unwrap();
            assert_eq!(m.raw_stat(), n.raw_stat(), "{p}");
            assert_eq!(m.data(), n.data());
            assert_eq!(m.acl(), n.acl());
            assert_eq!(m.child_names(), n.child_names());
        }
        assert_eq!(back.session(9), t.session(9));
        assert_eq!(back.ephemerals_of(9).count(), 1);
        assert_eq!(back.containers().count(), 1);
    }

    /// Format 1 kept a password per session; those snapshots still load.
    #[test]
    fn format_1_snapshots_with_passwords_still_load() {
        let t = sample();
        let bytes = serialize(&t);
        let body = &bytes[..bytes.len() - 4];
        // The one session is the last record: id and timeout, then format 1's password.
        let mut old = body.to_vec();
        old[8..12].copy_from_slice(&1u32.to_be_bytes());
        old.extend_from_slice(&16i32.to_be_bytes());
        old.extend_from_slice(&[3; 16]);
        let crc = crc32fast::hash(&old);
        old.extend_from_slice(&crc.to_be_bytes());
        let back = decode(&old).unwrap();
        assert_eq!(back.session(9), t.session(9));
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.digest(), t.digest());
    }

    #[test]
    fn damage_is_detected() {
        let bytes = serialize(&sample());
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(matches!(decode(&flipped), Err(SnapshotError::Checksum)));
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut newer = bytes.clone();
        newer[11] = 9;
        assert!(matches!(
            decode(&newer),
            Err(SnapshotError::UnknownFormat(9))
        ));
        assert_eq!(peek_zxid(&bytes), Some(4));
    }
}
