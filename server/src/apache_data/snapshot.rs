//! Apache's snapshot files (`FileSnap` with `SnapStream`'s default, uncompressed mode):
//!
//! 1. `FileHeader{int magic "ZKSN", int version 2, long dbId -1}`;
//! 2. the body as a SNAP packet carries it (sessions, ACL cache, nodes, the "/" terminator:
//!    [`crate::quorum::wire::snap`]);
//! 3. a seal: the Adler-32 of every byte before it, as a long, then the string "/";
//! 4. Apache 3.6+: the `ZxidDigest{long zxid, int version, long digest}` (a hex string
//!    digest before version 2), and another seal;
//! 5. Apache 3.9+: the last zxid applied when the (fuzzy) walk ended, and a third seal.
//!
//! Each seal covers everything before it, seals included. Parts 4 and 5 are optional, as
//! Apache's reader treats them.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::quorum::wire::snap::{read_snap, write_snap, SnapError};
use crate::tree::DataTree;
use crate::txn::apache::{DIGEST_VERSION, MAX_BUFFER};

use super::checksum::Adler32;
use super::error::{damaged, io_err, MigrationError};
use super::files::snapshot_name;

pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// `FileSnap.VERSION`.
pub const FORMAT_VERSION: i32 = 2;
/// `FileSnap.dbId`.
const DB_ID: i64 = -1;
const HEADER_LEN: u64 = 16;
/// A seal: the checksum long and the one-character string "/".
const SEAL: [u8; 5] = [0, 0, 0, 1, b'/'];
const SEAL_LEN: u64 = 8 + SEAL.len() as u64;
/// Part 5 alone: the zxid and its seal.
const LAST_ZXID_PART: u64 = 8 + SEAL_LEN;

/// The tree digest a snapshot records (`DataTree.ZxidDigest`): the digest of the tree at
/// `zxid`, the last transaction applied when the walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

/// A snapshot file as read.
#[derive(Debug)]
pub struct ApacheSnapshot {
    /// The tree and sessions, at the zxid of the file's name.
    pub tree: DataTree,
    pub digest: Option<ZxidDigest>,
    /// Apache 3.9's record of the last zxid applied when the walk ended.
    pub last_processed_zxid: Option<i64>,
}

impl ApacheSnapshot {
    /// The log must reach this zxid for the (fuzzy) snapshot to give a consistent state:
    /// the last change the walk may have seen.
    pub fn needs_log_through(&self, zxid: i64) -> i64 {
        let digest = self.digest.map_or(zxid, |d| d.zxid);
        digest
            .max(self.last_processed_zxid.unwrap_or(zxid))
            .max(zxid)
    }
}

/// A reader that checksums and counts what passes through it (Java's
/// `CheckedInputStream`: the checksum is of the bytes read so far).
struct CheckedReader<R> {
    inner: R,
    adler: Adler32,
    offset: u64,
}

impl<R: Read> Read for CheckedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.adler.update(&buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R: Read> CheckedReader<R> {
    fn exact<const N: usize>(
        &mut self,
        path: &Path,
        what: &str,
    ) -> Result<[u8; N], MigrationError> {
        let at = self.offset;
        let mut b = [0u8; N];
        match self.read_exact(&mut b) {
            Ok(()) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(damaged(
                path,
                at,
                format!("the file ends inside the {what}"),
            )),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    fn i32(&mut self, path: &Path, what: &str) -> Result<i32, MigrationError> {
        self.exact::<4>(path, what).map(i32::from_be_bytes)
    }

    fn i64(&mut self, path: &Path, what: &str) -> Result<i64, MigrationError> {
        self.exact::<8>(path, what).map(i64::from_be_bytes)
    }

    /// A seal: the checksum of everything before it, then "/".
    fn seal(&mut self, path: &Path) -> Result<(), MigrationError> {
        let computed = self.adler.value();
        let at = self.offset;
        let recorded = self.i64(path, "seal")?;
        if recorded != computed {
            return Err(damaged(
                path,
                at,
                format!(
                    "checksum mismatch: the seal records {recorded:#x}, the bytes before it \
                     sum to {computed:#x}"
                ),
            ));
        }
        if self.exact::<5>(path, "seal")? != SEAL {
            return Err(damaged(path, at + 8, "a seal without its \"/\""));
        }
        Ok(())
    }
}

/// Reads and verifies the snapshot file `path` whose name gives `zxid`. Damage is an
/// error naming the file and the offset; nothing in the file can make this panic.
pub fn read(path: &Path, zxid: i64) -> Result<ApacheSnapshot, MigrationError> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut tail = [0u8; 5];
    if len >= 5 {
        file.read_exact_at(&mut tail, len - 5)
            .map_err(io_err(path))?;
    }
    read_from(
        path,
        BufReader::with_capacity(256 << 10, file),
        len,
        tail,
        zxid,
    )
}

/// [`read`] for a snapshot's bytes in memory; `path` names it in errors.
#[cfg(test)]
pub fn parse(path: &Path, bytes: &[u8], zxid: i64) -> Result<ApacheSnapshot, MigrationError> {
    let mut tail = [0u8; 5];
    if let Some(t) = bytes.len().checked_sub(5).and_then(|at| bytes.get(at..)) {
        tail.copy_from_slice(t);
    }
    read_from(path, bytes, bytes.len() as u64, tail, zxid)
}

/// Reads a snapshot of `len` bytes from `r`, whose last five bytes are `tail`.
fn read_from(
    path: &Path,
    r: impl Read,
    len: u64,
    tail: [u8; 5],
    zxid: i64,
) -> Result<ApacheSnapshot, MigrationError> {
    // Apache's `isValidSnapshot`: a file that does not end with a seal was not written to
    // the end (a crash while it was taken).
    if len < HEADER_LEN + SEAL_LEN || tail != SEAL {
        return Err(damaged(
            path,
            len.saturating_sub(5),
            "the file does not end with a seal: it was not written to the end",
        ));
    }
    let mut r = CheckedReader {
        inner: r,
        adler: Adler32::default(),
        offset: 0,
    };
    let magic = r.i32(path, "file header")?;
    if magic != SNAP_MAGIC {
        return Err(damaged(
            path,
            0,
            format!("not a snapshot: magic {magic:#x}, not \"ZKSN\""),
        ));
    }
    // Apache reads the version and the database id without checking them.
    r.i32(path, "file header")?;
    r.i64(path, "file header")?;
    let tree = read_snap(&mut r, zxid, MAX_BUFFER).map_err(|e| body_error(path, e))?;
    r.seal(path)?;
    let mut snapshot = ApacheSnapshot {
        tree,
        digest: None,
        last_processed_zxid: None,
    };
    let left = |r: &CheckedReader<_>| len.saturating_sub(r.offset);
    // Exactly one zxid and its seal left: a 3.9 server with digests turned off.
    if left(&r) > 0 && left(&r) != LAST_ZXID_PART {
        let at = r.offset;
        let zxid = r.i64(path, "digest")?;
        let version = r.i32(path, "digest")?;
        let digest = if version >= 2 {
            r.i64(path, "digest")?
        } else {
            // Digest version 1 wrote the value as a hex string.
            let n = r.i32(path, "digest")?;
            if !(0..=32).contains(&n) {
                return Err(damaged(path, at, format!("digest string of length {n}")));
            }
            let mut text = vec![0u8; n as usize];
            r.read_exact(&mut text)
                .map_err(|_| damaged(path, at, "the file ends inside the digest"))?;
            std::str::from_utf8(&text)
                .ok()
                .and_then(|t| u64::from_str_radix(t, 16).ok())
                .ok_or_else(|| damaged(path, at, "a digest that is not a hex number"))?
                as i64
        };
        r.seal(path)?;
        snapshot.digest = Some(ZxidDigest {
            zxid,
            version,
            digest,
        });
    }
    if left(&r) > 0 {
        snapshot.last_processed_zxid = Some(r.i64(path, "last processed zxid")?);
        r.seal(path)?;
    }
    if left(&r) > 0 {
        return Err(damaged(path, r.offset, "bytes after the last seal"));
    }
    Ok(snapshot)
}

fn body_error(path: &Path, e: SnapError) -> MigrationError {
    match e {
        SnapError::Io(e) => io_err(path)(e),
        SnapError::Truncated { what, offset } => damaged(
            path,
            HEADER_LEN + offset,
            format!("the file ends inside the {what}"),
        ),
        SnapError::Malformed {
            what,
            offset,
            reason,
        } => damaged(path, HEADER_LEN + offset, format!("{what}: {reason}")),
    }
}

/// A writer that checksums what passes through it (`CheckedOutputStream`).
struct CheckedWriter<W> {
    inner: W,
    adler: Adler32,
}

impl<W: Write> Write for CheckedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.adler.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> CheckedWriter<W> {
    fn seal(&mut self) -> std::io::Result<()> {
        let sum = self.adler.value();
        self.write_all(&sum.to_be_bytes())?;
        self.write_all(&SEAL)
    }
}

/// Writes `tree` as Apache 3.8 writes a snapshot at the tree's last zxid: header, body,
/// seal, the tree's digest at that zxid, seal. (No 3.9 trailer: 3.8 would not read it,
/// and 3.9 reads a snapshot without it.)
pub fn encode(tree: &DataTree, out: impl Write) -> std::io::Result<()> {
    let mut w = CheckedWriter {
        inner: out,
        adler: Adler32::default(),
    };
    w.write_all(&SNAP_MAGIC.to_be_bytes())?;
    w.write_all(&FORMAT_VERSION.to_be_bytes())?;
    w.write_all(&DB_ID.to_be_bytes())?;
    write_snap(tree, &mut w)?;
    w.seal()?;
    w.write_all(&tree.last_zxid().to_be_bytes())?;
    w.write_all(&DIGEST_VERSION.to_be_bytes())?;
    w.write_all(&tree.digest().to_be_bytes())?;
    w.seal()?;
    w.flush()
}

/// Writes the snapshot of `tree` into `dir` durably (a temporary name, fsync, rename).
pub fn write(dir: &Path, tree: &DataTree) -> Result<PathBuf, MigrationError> {
    let path = dir.join(snapshot_name(tree.last_zxid()));
    let tmp = dir.join(format!("{}.tmp", snapshot_name(tree.last_zxid())));
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    encode(tree, &mut out).map_err(io_err(&tmp))?;
    let file = out.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(path)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
