//! Snapshots: the whole tree and session registry, in one checksummed file
//! `snapshot.<zxid in hex>`, written to a temporary name, synced, then renamed.
//!
//! Snapshots are fuzzy (as Apache's): the tree is walked in slices while transactions are
//! applied between them (see [`crate::tree::FuzzyWalk`]), so the file holds every node that
//! existed at its zxid, each in some state at or after it, and recovery replays the log
//! after that zxid over it. The same stream of pieces goes to a file or to a learner.
//!
//! Format 2: `magic, format u32, zxid i64, node count hint i64`, then records
//! `[length u32][tag u8][body]` (an ACL, defined where a node first uses it; a node; a
//! session; the end, holding the last zxid applied when the walk ended), then a CRC32 of all
//! that precedes it. Format 1 (a node count, an ACL table up front, the nodes, the sessions)
//! is still read.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use zkrs_proto::records::{read_acl_vec, write_acl_vec};
use zkrs_proto::{DecodeError, Reader, Stat, Writer};

use std::sync::Arc;

use zkrs_proto::Acl;

use crate::tree::{DataTree, FuzzyWalk, NodeRef, SessionRecord, TreeBuilder};

use super::direct::DirectWriter;
use super::fsync_dir;

pub const SNAP_MAGIC: &[u8; 8] = b"ZKRSSNAP";
pub const SNAP_FORMAT: u32 = 2;

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

/// Serializes the tree as it stands into one buffer (a learner's snapshot after a SNAP,
/// tools and tests; the server's periodic snapshots stream, see [`SnapshotStream`]).
pub fn serialize(tree: &DataTree) -> Vec<u8> {
    let mut s = SnapshotStream::new(tree, 1 << 20);
    s.step(tree, usize::MAX);
    let mut out = Vec::new();
    while let Some(piece) = s.pop_piece() {
        out.extend_from_slice(&piece);
    }
    out
}

/// Format 2's records.
const TAG_ACL: u8 = 1;
const TAG_NODE: u8 = 2;
const TAG_SESSION: u8 = 3;
const TAG_END: u8 = 4;
/// Bytes of a stored Stat: five i64 times, owner and zxids, three i32 versions.
const STAT_LEN: usize = 7 * 8 + 3 * 4 - 8;
/// No record is near this large (data is bounded by `jute.maxbuffer`): a longer length is
/// garbage, refused before anything is allocated for it.
const MAX_RECORD: usize = 64 << 20;

/// A snapshot being taken: serializes the tree in slices between the core's other work
/// (each call to [`SnapshotStream::step`] walks a bounded number of nodes) and hands out the
/// bytes in pieces of about `piece_bytes`, for a file or a learner. The tree may change
/// between slices (see the module documentation); the snapshot's zxid is the last applied
/// one when the stream was created.
pub struct SnapshotStream {
    walk: FuzzyWalk,
    w: Writer,
    crc: crc32fast::Hasher,
    piece_bytes: usize,
    ready: std::collections::VecDeque<Vec<u8>>,
    /// ACLs written so far, by address, with their position in the snapshot; the `Arc`s
    /// are kept so that an address is not reused while the snapshot is taken.
    acl_pos: HashMap<usize, u32>,
    acls: Vec<Arc<[Acl]>>,
    nodes: u64,
    finished: bool,
}

impl SnapshotStream {
    pub fn new(tree: &DataTree, piece_bytes: usize) -> Self {
        let mut w = Writer::with_capacity(piece_bytes + 4096);
        w.write_raw(SNAP_MAGIC);
        w.write_raw(&SNAP_FORMAT.to_be_bytes());
        w.write_i64(tree.last_zxid());
        w.write_i64(tree.node_count() as i64);
        SnapshotStream {
            walk: FuzzyWalk::new(tree),
            w,
            crc: crc32fast::Hasher::new(),
            piece_bytes: piece_bytes.max(1),
            ready: Default::default(),
            acl_pos: HashMap::new(),
            acls: Vec::new(),
            nodes: 0,
            finished: false,
        }
    }

    /// The snapshot's zxid: the log is replayed after it.
    pub fn zxid(&self) -> i64 {
        self.walk.start_zxid()
    }

    /// Nodes serialized so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Pieces ready to be written or sent.
    pub fn pending_pieces(&self) -> usize {
        self.ready.len()
    }

    /// The next ready piece, in order; the last one ends with the checksum.
    pub fn pop_piece(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Puts back a piece that could not be handed on yet, to be popped first again.
    pub fn unpop_piece(&mut self, piece: Vec<u8>) {
        self.ready.push_front(piece);
    }

    /// Serializes up to `max_nodes` more nodes of `tree`; once the walk is over, the
    /// sessions and the end. Returns true when the snapshot is complete (every piece is
    /// then ready).
    pub fn step(&mut self, tree: &DataTree, max_nodes: usize) -> bool {
        if self.finished {
            return true;
        }
        let mut walk = std::mem::replace(&mut self.walk, FuzzyWalk::new(tree));
        let done = walk.step(tree, max_nodes, |path, node| self.node(path, node));
        self.walk = walk;
        if done {
            // The sessions as they are at the end of the walk: replaying the log after the
            // start opens or closes each again, which changes nothing. In id order, so that
            // equal trees give equal bytes on every member. No passwords: every member
            // derives a session's password from its id.
            let mut sessions: Vec<_> = tree.sessions().collect();
            sessions.sort_unstable_by_key(|(id, _)| **id);
            for (id, s) in sessions {
                self.w.write_raw(&(1u32 + 8 + 4).to_be_bytes());
                self.w.write_raw(&[TAG_SESSION]);
                self.w.write_i64(*id);
                self.w.write_i32(s.timeout_ms);
                self.flush_if_full();
            }
            self.w.write_raw(&9u32.to_be_bytes());
            self.w.write_raw(&[TAG_END]);
            self.w.write_i64(tree.last_zxid());
            let mut last = std::mem::replace(&mut self.w, Writer::with_capacity(0)).into_inner();
            self.crc.update(&last);
            let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
            last.extend_from_slice(&crc.to_be_bytes());
            self.ready.push_back(last);
            self.acls.clear();
            self.acl_pos.clear();
            self.finished = true;
        }
        self.finished
    }

    fn node(&mut self, path: &str, node: NodeRef<'_>) {
        let acl = node.acl();
        let key = Arc::as_ptr(acl) as *const Acl as usize;
        let pos = match self.acl_pos.get(&key) {
            Some(&p) => p,
            None => {
                let p = self.acls.len() as u32;
                let mut r = Writer::frame();
                r.write_raw(&[TAG_ACL]);
                write_acl_vec(&mut r, acl);
                self.w.write_raw(&r.finish_frame());
                self.acls.push(acl.clone());
                self.acl_pos.insert(key, p);
                p
            }
        };
        let data = node.data();
        let len = 1 + 4 + path.len() + 4 + data.map_or(0, <[u8]>::len) + 4 + STAT_LEN;
        let w = &mut self.w;
        w.write_raw(&(len as u32).to_be_bytes());
        w.write_raw(&[TAG_NODE]);
        w.write_string(path);
        w.write_opt_buffer(data);
        w.write_i32(pos as i32);
        write_stat(w, &node.raw_stat());
        self.nodes += 1;
        self.flush_if_full();
    }

    fn flush_if_full(&mut self) {
        if self.w.len() >= self.piece_bytes {
            let next = Writer::with_capacity(self.piece_bytes + 4096);
            let bytes = std::mem::replace(&mut self.w, next).into_inner();
            self.crc.update(&bytes);
            self.ready.push_back(bytes);
        }
    }
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

/// Reads and verifies a snapshot file, building the tree as it is read (the file is never
/// whole in memory).
pub fn load(path: &Path) -> Result<DataTree, SnapshotError> {
    read_from(File::open(path)?)
}

/// Reads and verifies a snapshot held in memory.
#[cfg(test)]
pub fn decode(bytes: &[u8]) -> Result<DataTree, SnapshotError> {
    read_from(bytes)
}

/// Reads and verifies a snapshot from a stream (a file, or the pieces a leader sends, see
/// [`PieceReader`]). The tree is built as records arrive; it is returned only if the
/// checksum at the end matches.
pub fn read_from(r: impl Read) -> Result<DataTree, SnapshotError> {
    let mut r = Chunks::new(r);
    let head = r.take(12).map_err(|_| SnapshotError::BadMagic)?;
    if &head[..8] != SNAP_MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let format = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    if format == 1 {
        return decode_v1(&r.rest()?);
    }
    if format != SNAP_FORMAT {
        return Err(SnapshotError::UnknownFormat(format));
    }
    let b = r.take(16)?;
    let zxid = i64::from_be_bytes(b[..8].try_into().unwrap_or_default());
    let hint = i64::from_be_bytes(b[8..].try_into().unwrap_or_default());
    let mut tree = TreeBuilder::new(Vec::new(), hint.clamp(0, 1 << 26) as usize);
    let mut acls = 0usize;
    let mut sessions = Vec::new();
    let through = loop {
        let len = r.take(4)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len == 0 || len > MAX_RECORD {
            return Err(SnapshotError::Inconsistent(format!("record length {len}")));
        }
        let rec = r.take(len)?;
        let mut rd = Reader::new(&rec[1..]);
        match rec[0] {
            TAG_ACL => {
                tree.add_acl(read_acl_vec(&mut rd)?);
                acls += 1;
            }
            TAG_NODE => {
                let path = rd.read_str()?;
                let data = rd.read_opt_bytes()?;
                let acl = rd.read_i32()?;
                let stat = read_stat(&mut rd)?;
                if acl < 0 || acl as usize >= acls {
                    return Err(SnapshotError::Inconsistent(format!(
                        "{path} names ACL {acl}, not defined before it"
                    )));
                }
                tree.add(path, data, acl as u32, stat)
                    .map_err(SnapshotError::Inconsistent)?;
            }
            TAG_SESSION => {
                let id = rd.read_i64()?;
                let timeout_ms = rd.read_i32()?;
                sessions.push((id, SessionRecord { timeout_ms }));
            }
            TAG_END => break rd.read_i64()?,
            t => return Err(SnapshotError::Inconsistent(format!("record type {t}"))),
        }
        rd.finish()?;
    };
    let want = r.checksum();
    let crc = r.take(4)?;
    if u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) != want {
        return Err(SnapshotError::Checksum);
    }
    if !r.at_end()? {
        return Err(SnapshotError::Inconsistent(
            "bytes after the checksum".into(),
        ));
    }
    tracing::debug!(zxid, through, "snapshot read");
    tree.finish(sessions, zxid)
        .map_err(SnapshotError::Inconsistent)
}

/// Bytes read from a stream a megabyte at a time, handed out as slices (a record is parsed
/// where it lies), and checksummed in large runs as they are consumed (checksumming each
/// small record on its own costs a third of the load time).
struct Chunks<R> {
    inner: R,
    buf: Vec<u8>,
    /// Consumed up to `pos`, read up to `end`, checksummed up to `hashed`.
    pos: usize,
    end: usize,
    hashed: usize,
    crc: crc32fast::Hasher,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> Chunks<R> {
    fn new(inner: R) -> Self {
        Chunks {
            inner,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            hashed: 0,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// The next `n` bytes; an error if the stream ends first.
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.end - self.pos < n {
            self.fill(n)?;
        }
        let at = self.pos;
        self.pos += n;
        Ok(&self.buf[at..at + n])
    }

    /// Moves what is not consumed to the front and reads until `n` bytes are there.
    fn fill(&mut self, n: usize) -> std::io::Result<()> {
        self.crc.update(&self.buf[self.hashed..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.hashed = 0;
        if self.buf.len() < n {
            self.buf.resize(n.max(CHUNK), 0);
        }
        while self.end < n {
            let k = self.inner.read(&mut self.buf[self.end..])?;
            if k == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.end += k;
        }
        Ok(())
    }

    /// The checksum of everything consumed so far.
    fn checksum(&mut self) -> u32 {
        self.crc.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        self.crc.clone().finalize()
    }

    fn at_end(&mut self) -> std::io::Result<bool> {
        Ok(self.pos == self.end && self.inner.read(&mut [0u8; 1])? == 0)
    }

    /// Everything from the start of the stream (what was consumed too), for format 1.
    fn rest(mut self) -> std::io::Result<Vec<u8>> {
        let mut all = self.buf[..self.end].to_vec();
        self.inner.read_to_end(&mut all)?;
        Ok(all)
    }
}

/// Reads a snapshot's pieces as one stream: the receiving side of [`SnapshotStream`]'s
/// pieces (e.g. a `std::sync::mpsc::Receiver<Vec<u8>>`, iterated), for [`read_from`].
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "reads a snapshot as its pieces arrive; the tests use it, a streamed SNAP will"
    )
)]
pub struct PieceReader<I> {
    pieces: I,
    current: Vec<u8>,
    pos: usize,
}

#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "reads a snapshot as its pieces arrive; the tests use it, a streamed SNAP will"
    )
)]
impl<I: Iterator<Item = Vec<u8>>> PieceReader<I> {
    pub fn new(pieces: impl IntoIterator<IntoIter = I>) -> Self {
        PieceReader {
            pieces: pieces.into_iter(),
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl<I: Iterator<Item = Vec<u8>>> Read for PieceReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            match self.pieces.next() {
                Some(p) => {
                    self.current = p;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The last zxid whose effects a snapshot file may hold: for a fuzzy snapshot the zxid
/// applied when its walk ended (its end record), otherwise its own zxid; `i64::MAX` for a
/// file without an end record, which no state can be rebuilt from. A snapshot can
/// rebuild the state at a zxid only at or after this one (see [`super::truncate`]).
pub fn covered_through(path: &Path) -> std::io::Result<i64> {
    use std::os::unix::fs::FileExt;
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = [0u8; 20];
    if len < 20 {
        // Too short to be a snapshot (recovery skips it): it rebuilds nothing.
        return Ok(i64::MAX);
    }
    f.read_exact_at(&mut head, 0)?;
    let zxid = i64::from_be_bytes(head[12..20].try_into().unwrap_or_default());
    if head[8..12] != SNAP_FORMAT.to_be_bytes() {
        // Format 1 was written whole at its zxid.
        return Ok(zxid);
    }
    if len < 28 + 17 {
        return Ok(i64::MAX);
    }
    // The end record, `[9][TAG_END][zxid]`, then the checksum.
    let mut tail = [0u8; 17];
    f.read_exact_at(&mut tail, len - 17)?;
    if tail[..4] != 9u32.to_be_bytes() || tail[4] != TAG_END {
        return Ok(i64::MAX);
    }
    Ok(i64::from_be_bytes(tail[5..13].try_into().unwrap_or_default()).max(zxid))
}

/// Decodes format 1 (written before snapshots were fuzzy).
fn decode_v1(bytes: &[u8]) -> Result<DataTree, SnapshotError> {
    if bytes.len() < 16 || &bytes[..8] != SNAP_MAGIC {
        return Err(SnapshotError::BadMagic);
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
        // Format 1 kept a password per session; they are derived from the id now.
        r.read_buffer()?;
        sessions.push((id, SessionRecord { timeout_ms }));
    }
    r.finish()?;
    tree.finish(sessions, zxid)
        .map_err(SnapshotError::Inconsistent)
}

/// The zxid a snapshot file covers, from its header.
#[cfg(test)]
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

    #[test]
    fn pieces_of_any_size_load_and_damage_anywhere_is_refused() {
        let t = sample();
        let whole = serialize(&t);
        let mut stream = SnapshotStream::new(&t, 7);
        while !stream.step(&t, 1) {}
        let mut pieces = Vec::new();
        while let Some(p) = stream.pop_piece() {
            pieces.push(p);
        }
        assert!(pieces.len() > 5, "small pieces: {}", pieces.len());
        assert_eq!(
            pieces.concat(),
            whole,
            "the same bytes however they are cut"
        );
        let back = read_from(PieceReader::new(pieces)).unwrap();
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.session(9), t.session(9));
        for at in (0..whole.len()).step_by(3) {
            let mut bad = whole.clone();
            bad[at] ^= 0x10;
            assert!(
                decode(&bad).is_err(),
                "a flipped byte at {at} goes unnoticed"
            );
        }
        for len in [0, 12, 30, whole.len() / 2, whole.len() - 1] {
            assert!(decode(&whole[..len]).is_err(), "cut at {len}");
        }
        let mut longer = whole.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn a_snapshot_file_tells_the_last_zxid_it_may_hold() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = sample();
        let mut stream = SnapshotStream::new(&t, 1 << 20);
        stream.step(&t, 2);
        // Applied while the walk goes on: the file may hold it.
        t.apply(
            &TxnHeader {
                session_id: 9,
                cxid: 0,
                zxid: 5,
                time: 5,
            },
            &Txn::Delete {
                path: "/c".into(),
                container: true,
            },
            &mut Vec::new(),
        );
        while !stream.step(&t, 2) {}
        let mut bytes = Vec::new();
        while let Some(p) = stream.pop_piece() {
            bytes.extend_from_slice(&p);
        }
        let path = write(dir.path(), stream.zxid(), &bytes).unwrap();
        assert_eq!(stream.zxid(), 4);
        assert_eq!(covered_through(&path).unwrap(), 5);
        assert_eq!(load(&path).unwrap().last_zxid(), 4);
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
