//! The snapshot an Apache leader streams after a SNAP packet (`LearnerHandler` →
//! `SerializeUtils.serializeSnapshot`), both ways, then the `"BenWasHere"` trailer:
//!
//! 1. `int` session count, then `(long id, int timeout)` per session;
//! 2. the ACL cache: `int` count, then `(long ref, vector<ACL>)` per entry;
//! 3. the nodes, parents first: `ustring path` (the root is `""`), then `DataNode{buffer
//!    data, long aclRef, StatPersisted}`; aclRef −1 is `OPEN_ACL_UNSAFE` without a cache
//!    entry;
//! 4. the terminator path `"/"`.
//!
//! There is no length, checksum or digest in it: the reader checks every length against
//! `jute.maxbuffer` and the structure as it goes (Apache's own reader refuses a node whose
//! parent has not come yet, and so does this one).
//!
//! The writer follows Apache's orders where they are visible in the bytes, so that a tree
//! built by the same transactions gives Apache's bytes exactly (the fixture test checks
//! this). None of these orders matters to a reader; they are emulated for comparison only:
//! - children come in Java `HashSet` iteration order (Apache keeps each node's children in
//!   a `HashSet<String>(8)`): by bucket of the name's Java hash in a table grown for the
//!   child count, and within a bucket in creation order (czxid). A parent that once had
//!   many more children than now, or nine names in one bucket, gives Apache another order;
//! - sessions come in the order of the `HashMap` copy `serializeSnapshot` makes: by
//!   bucket of the id's Java hash, ties by id (Apache's tie order depends on its session
//!   table's history);
//! - ACL references are numbered 1, 2, … in the order Apache's cache would have met the
//!   ACLs in a tree built by creates (the earliest czxid using each), which a `HashMap` of
//!   contiguous small longs lists in ascending order; the nodes a tree is born with (`/`,
//!   `/zookeeper`, `/zookeeper/quota`) keep −1 while their ACL is the open one never set.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use zkrs_proto::path::{parent, validate_path};
use zkrs_proto::records::write_acl_vec;
use zkrs_proto::{Acl, Id, Stat, Writer};

use crate::tree::{DataTree, NodeRef, SessionRecord, TreeBuilder, QUOTA, ZOOKEEPER};

/// The trailer Apache's leader writes after the snapshot (`LearnerHandler.run`) and its
/// learner checks (`Learner.syncWithLeader`).
pub const SIGNATURE: &str = "BenWasHere";

/// The path that ends the node list (no node is ever written under it: the root is "").
const TERMINATOR: &str = "/";

/// An aclRef that names `OPEN_ACL_UNSAFE` without a cache entry.
const OPEN_UNSAFE_REF: i64 = -1;

/// Bytes gathered before they go to the writer: a node record is small, a syscall per
/// node on an unbuffered socket would not be.
const FLUSH_AT: usize = 64 << 10;

/// Why a SNAP stream was refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapError {
    #[error("i/o while reading the snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended inside a record.
    #[error("snapshot truncated in {what} at byte {offset}")]
    Truncated { what: &'static str, offset: u64 },
    /// Bytes that are not a snapshot Apache would load.
    #[error("malformed snapshot: {what} at byte {offset}: {reason}")]
    Malformed {
        what: &'static str,
        offset: u64,
        reason: String,
    },
}

// ---- writing ----

/// Writes `tree` as Apache's leader writes it after a SNAP packet (SerializeUtils.serializeSnapshot):
/// sessions (id, timeout), the ACL cache (ref -> vector<ACL>), the nodes in pre-order
/// (path, DataNode{data, aclRef, StatPersisted}), the "/" terminator. NOT the "BenWasHere" trailer.
pub fn write_snap(tree: &DataTree, w: &mut impl Write) -> std::io::Result<()> {
    let mut out = Writer::with_capacity(FLUSH_AT + 4096);

    let mut sessions: Vec<(i64, i32)> =
        tree.sessions().map(|(id, s)| (*id, s.timeout_ms)).collect();
    let cap = java_copy_capacity(sessions.len());
    sessions.sort_unstable_by_key(|&(id, _)| (bucket(java_long_hash(id), cap), id));
    out.write_i32(sessions.len() as i32);
    for (id, timeout) in sessions {
        out.write_i64(id);
        out.write_i32(timeout);
    }

    // The cache comes before the nodes, so one pass finds the ACLs and their first use.
    let mut first_use: HashMap<*const [Acl], (i64, Arc<[Acl]>)> = HashMap::new();
    for (path, node) in tree.iter_nodes() {
        if keeps_open_ref(&path, &node) {
            continue;
        }
        let czxid = node.stored().czxid;
        first_use
            .entry(Arc::as_ptr(node.acl()))
            .and_modify(|e| e.0 = e.0.min(czxid))
            .or_insert_with(|| (czxid, node.acl().clone()));
    }
    let mut cache: Vec<(i64, Arc<[Acl]>)> = first_use.into_values().collect();
    cache.sort_unstable();
    let refs: HashMap<*const [Acl], i64> = cache
        .iter()
        .enumerate()
        .map(|(i, (_, acl))| (Arc::as_ptr(acl), i as i64 + 1))
        .collect();
    out.write_i32(cache.len() as i32);
    for (i, (_, acl)) in cache.iter().enumerate() {
        out.write_i64(i as i64 + 1);
        write_acl_vec(&mut out, acl);
    }

    // Pre-order with an explicit stack: a tree may be far deeper than the thread's stack.
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        let Some(node) = tree.get(&path) else {
            continue;
        };
        out.write_string(if path == "/" { "" } else { &path });
        out.write_opt_buffer(node.data());
        let aref = if keeps_open_ref(&path, &node) {
            OPEN_UNSAFE_REF
        } else {
            refs.get(&Arc::as_ptr(node.acl()))
                .copied()
                .unwrap_or(OPEN_UNSAFE_REF)
        };
        out.write_i64(aref);
        let s = node.stored();
        out.write_i64(s.czxid);
        out.write_i64(s.mzxid);
        out.write_i64(s.ctime);
        out.write_i64(s.mtime);
        out.write_i32(s.version);
        out.write_i32(s.cversion);
        out.write_i32(s.aversion);
        out.write_i64(s.ephemeral_owner);
        out.write_i64(s.pzxid);
        let children = java_child_order(tree, &path, &node);
        stack.extend(children.into_iter().rev());
        if out.len() >= FLUSH_AT {
            w.write_all(
                &std::mem::replace(&mut out, Writer::with_capacity(FLUSH_AT + 4096)).into_inner(),
            )?;
        }
    }
    out.write_string(TERMINATOR);
    w.write_all(&out.into_inner())
}

/// Whether Apache would hold this node's ACL as −1: only the nodes its `DataTree` is born
/// with get that reference, and keep it until an ACL is set on them.
fn keeps_open_ref(path: &str, node: &NodeRef<'_>) -> bool {
    matches!(path, "/" | ZOOKEEPER | QUOTA)
        && node.stored().aversion == 0
        && **node.acl() == *Acl::open_unsafe()
}

/// The children's paths in the order Apache's `HashSet<String>(8)` would list them.
fn java_child_order(tree: &DataTree, path: &str, node: &NodeRef<'_>) -> Vec<String> {
    let names = node.child_names();
    let cap = grown_capacity(names.len());
    let mut children: Vec<(u32, i64, String)> = names
        .into_iter()
        .map(|name| {
            let child = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            let czxid = tree.get(&child).map_or(0, |c| c.stored().czxid);
            (bucket(java_string_hash(name), cap), czxid, child)
        })
        .collect();
    children.sort_unstable();
    children.into_iter().map(|(_, _, p)| p).collect()
}

/// Java's `String.hashCode`: over UTF-16 code units.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `Long.hashCode`.
fn java_long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// `HashMap`'s bucket for a hash: the high half folded into the low one, masked.
fn bucket(h: i32, cap: usize) -> u32 {
    let h = h as u32;
    (h ^ (h >> 16)) & (cap as u32).wrapping_sub(1)
}

/// The table size of a `HashSet(8)` after `n` insertions: it doubles whenever the count
/// passes three quarters of it.
fn grown_capacity(n: usize) -> usize {
    let mut cap = 8usize;
    while n > cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// The table size of `new HashMap<>(m)` for a map of `n` entries (Java computes it in
/// float: `tableSizeFor((int)(n / 0.75f + 1))`).
fn java_copy_capacity(n: usize) -> usize {
    let t = (n as f32 / 0.75f32 + 1.0f32) as usize;
    t.max(1).next_power_of_two()
}

/// Writes Apache's trailer: the jute string "BenWasHere".
pub fn write_signature(w: &mut impl Write) -> std::io::Result<()> {
    let mut out = Writer::with_capacity(4 + SIGNATURE.len());
    out.write_string(SIGNATURE);
    w.write_all(&out.into_inner())
}

// ---- reading ----

/// Jute fields off a byte stream, counting the offset for error messages. Reads exactly
/// what each field needs (no read-ahead), so what follows the snapshot stays in `r`.
struct JuteIn<'r, R> {
    r: &'r mut R,
    offset: u64,
    max: usize,
}

impl<R: Read> JuteIn<'_, R> {
    fn exact<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapError> {
        let mut b = [0u8; N];
        match self.r.read_exact(&mut b) {
            Ok(()) => {
                self.offset += N as u64;
                Ok(b)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(SnapError::Truncated {
                what,
                offset: self.offset,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, SnapError> {
        self.exact::<4>(what).map(i32::from_be_bytes)
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, SnapError> {
        self.exact::<8>(what).map(i64::from_be_bytes)
    }

    fn malformed(&self, what: &'static str, reason: impl Into<String>) -> SnapError {
        SnapError::Malformed {
            what,
            offset: self.offset,
            reason: reason.into(),
        }
    }

    /// A jute length or count: −1 is null; anything else negative, or above the limit, is
    /// refused as Apache's `checkLength` refuses it.
    fn len(&mut self, what: &'static str) -> Result<Option<usize>, SnapError> {
        let n = self.i32(what)?;
        if n == -1 {
            return Ok(None);
        }
        match usize::try_from(n) {
            Ok(n) if n <= self.max => Ok(Some(n)),
            _ => Err(self.malformed(what, format!("length {n} (limit {})", self.max))),
        }
    }

    /// A buffer; its memory grows with the bytes that arrive, not with the length claimed.
    fn buffer(&mut self, what: &'static str) -> Result<Option<Vec<u8>>, SnapError> {
        let Some(n) = self.len(what)? else {
            return Ok(None);
        };
        let mut v = Vec::with_capacity(n.min(FLUSH_AT));
        let got = self.r.by_ref().take(n as u64).read_to_end(&mut v)?;
        if got < n {
            return Err(SnapError::Truncated {
                what,
                offset: self.offset + got as u64,
            });
        }
        self.offset += n as u64;
        Ok(Some(v))
    }

    fn string(&mut self, what: &'static str) -> Result<String, SnapError> {
        let start = self.offset;
        let Some(bytes) = self.buffer(what)? else {
            return Err(self.malformed(what, "null string"));
        };
        java_string(bytes).ok_or_else(|| SnapError::Malformed {
            what,
            offset: start,
            reason: "not UTF-8".into(),
        })
    }
}

/// A string as Java writes it: UTF-8, except that Java's jute writer encodes each UTF-16
/// unit on its own, so a character beyond the BMP arrives as two 3-byte surrogates
/// (CESU-8). Those are put back together; anything else that is not UTF-8 is refused.
fn java_string(bytes: Vec<u8>) -> Option<String> {
    let bytes = match String::from_utf8(bytes) {
        Ok(s) => return Some(s),
        Err(e) => e.into_bytes(),
    };
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let cont = |k: usize| {
            bytes
                .get(i + k)
                .filter(|c| *c & 0xC0 == 0x80)
                .map(|c| u32::from(c & 0x3F))
        };
        let (cp, n) = match b {
            0x00..=0x7F => (u32::from(b), 1),
            0xC2..=0xDF => ((u32::from(b & 0x1F) << 6) | cont(1)?, 2),
            0xE0..=0xEF => ((u32::from(b & 0x0F) << 12) | (cont(1)? << 6) | cont(2)?, 3),
            0xF0..=0xF4 => (
                (u32::from(b & 0x07) << 18) | (cont(1)? << 12) | (cont(2)? << 6) | cont(3)?,
                4,
            ),
            _ => return None,
        };
        let mut buf = [0u16; 2];
        if (0xD800..=0xDFFF).contains(&cp) {
            units.push(cp as u16);
        } else {
            units.extend_from_slice(char::from_u32(cp)?.encode_utf16(&mut buf));
        }
        i += n;
    }
    String::from_utf16(&units).ok()
}

/// Reads such a stream (through the "/" terminator, not the trailer) into a DataTree whose
/// last zxid is `zxid` (the SNAP packet's zxid); ACL references are remapped to this tree's own;
/// ephemeral/container/TTL sets, quota stats and the digest rebuilt as the tree's own loaders do.
/// Every length is bounded by `max_buffer` (jute.maxbuffer); a bad stream is an error, never a panic.
///
/// `r` is read exactly up to the terminator; pass it buffered (a `BufReader` over the socket)
/// and read the trailer and the packets that follow from the same reader.
pub fn read_snap(r: &mut impl Read, zxid: i64, max_buffer: usize) -> Result<DataTree, SnapError> {
    let mut r = JuteIn {
        r,
        offset: 0,
        max: max_buffer,
    };

    let count = r.i32("session count")?;
    if count < 0 {
        return Err(r.malformed("session count", format!("{count}")));
    }
    // No allocation on the claimed count: the entries must arrive first.
    let mut sessions = Vec::new();
    for _ in 0..count {
        let id = r.i64("session id")?;
        let timeout_ms = r.i32("session timeout")?;
        sessions.push((id, SessionRecord { timeout_ms }));
    }

    let count = r.i32("ACL cache size")?;
    if count < 0 {
        return Err(r.malformed("ACL cache size", format!("{count}")));
    }
    let mut builder = TreeBuilder::new(Vec::new(), 0);
    // Apache's reference → position in the builder's table. A reference listed twice
    // keeps its last list, as Apache's map does.
    let mut by_ref: HashMap<i64, u32> = HashMap::new();
    let mut table_len = 0u32;
    for _ in 0..count {
        let aref = r.i64("ACL reference")?;
        let Some(n) = r.len("ACL list length")? else {
            // Apache's cache reader fails the same way ("missing acls").
            return Err(r.malformed("ACL list length", "null ACL list"));
        };
        let mut acl = Vec::new();
        for _ in 0..n {
            let perms = r.i32("ACL perms")?;
            let scheme = r.string("ACL scheme")?;
            let id = r.string("ACL id")?;
            acl.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        builder.add_acl(acl);
        by_ref.insert(aref, table_len);
        table_len += 1;
    }
    let mut open_ref: Option<u32> = None;

    loop {
        let path = r.string("node path")?;
        if path == TERMINATOR {
            break;
        }
        let at = r.offset;
        let data = r.buffer("node data")?;
        let aref = r.i64("node aclRef")?;
        let stat = Stat {
            czxid: r.i64("node czxid")?,
            mzxid: r.i64("node mzxid")?,
            ctime: r.i64("node ctime")?,
            mtime: r.i64("node mtime")?,
            version: r.i32("node version")?,
            cversion: r.i32("node cversion")?,
            aversion: r.i32("node aversion")?,
            ephemeral_owner: r.i64("node ephemeralOwner")?,
            pzxid: r.i64("node pzxid")?,
            ..Stat::default()
        };
        let bad = |reason: String| SnapError::Malformed {
            what: "node",
            offset: at,
            reason,
        };
        let acl = if aref == OPEN_UNSAFE_REF {
            *open_ref.get_or_insert_with(|| {
                builder.add_acl(Acl::open_unsafe());
                table_len += 1;
                table_len - 1
            })
        } else {
            *by_ref
                .get(&aref)
                .ok_or_else(|| bad(format!("{path:?} names ACL {aref}, not in the cache")))?
        };
        let ours = if path.is_empty() {
            "/"
        } else {
            validate_path(&path, false).map_err(|e| bad(e.to_string()))?;
            let p = parent(&path).unwrap_or("/");
            if !builder.has_node(p) {
                return Err(bad(format!("{path:?} comes before its parent")));
            }
            &path
        };
        builder.add(ours, data.as_deref(), acl, stat).map_err(bad)?;
    }
    builder
        .finish(sessions, zxid)
        .map_err(|reason| SnapError::Malformed {
            what: "tree",
            offset: r.offset,
            reason,
        })
}

/// Checks Apache's trailer: the jute string "BenWasHere".
pub fn read_signature(r: &mut impl Read) -> Result<(), SnapError> {
    let mut r = JuteIn {
        r,
        offset: 0,
        max: SIGNATURE.len(),
    };
    let s = r.string("signature")?;
    if s != SIGNATURE {
        return Err(r.malformed("signature", format!("{s:?}")));
    }
    Ok(())
}

#[cfg(test)]
#[path = "snap_tests.rs"]
mod tests;
