//! The transaction log: append-only segment files `log.<first zxid in hex>`, each a header
//! then records `[length u32][crc32 u32][entry]`. A new segment starts past a size
//! threshold. Reading stops at the first record that is torn or fails its checksum.
//!
//! Segments are preallocated: when syncing is on, zeros are written a megabyte ahead of the
//! records, so that the sync of an append neither grows the file nor allocates blocks and
//! flushes the data alone rather than the data and then the inode (on ext4 about a third
//! less time per sync). Zeros at a record boundary therefore mark the end of the records.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::storage::writer::{LogEntry, LogError, TxnLog};
use crate::txn::{Txn, TxnHeader};

use super::codec::{decode_entry, encode_entry};
use super::fsync_dir;

pub const LOG_MAGIC: &[u8; 8] = b"ZKRSLOG1";
pub const LOG_FORMAT: u32 = 1;
const HEADER_LEN: u64 = 12;
/// No single transaction is near this large (data is limited by `jute.maxbuffer`); a
/// length beyond it is garbage.
const MAX_RECORD: u32 = 64 * 1024 * 1024;

pub fn segment_name(first_zxid: i64) -> String {
    format!("log.{first_zxid:016x}")
}

/// The first zxid a segment file name announces.
pub fn parse_segment_name(name: &str) -> Option<i64> {
    let hex = name.strip_prefix("log.")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// Segment files in `dir`, ordered by first zxid.
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut v = Vec::new();
    if !dir.exists() {
        return Ok(v);
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if let Some(z) = e.file_name().to_str().and_then(parse_segment_name) {
            v.push((z, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(LOG_MAGIC);
    h[8..].copy_from_slice(&LOG_FORMAT.to_be_bytes());
    h
}

/// How far ahead of the records the segment is written with zeros.
const ZERO_AHEAD: u64 = 1024 * 1024;

/// Appends to the newest segment, starting a new one past `segment_limit` bytes.
pub struct FileTxnLog {
    dir: PathBuf,
    current: Option<Segment>,
    segment_limit: u64,
    force_sync: bool,
    buf: Vec<u8>,
    zeros: Vec<u8>,
}

/// The open segment.
struct Segment {
    file: File,
    /// Where the next record goes.
    end: u64,
    /// Everything before this offset has been written (records or zeros).
    zeroed_to: u64,
    /// Cleared when writing zeros ahead failed.
    preallocate: bool,
}

impl FileTxnLog {
    /// A log in `dir`. Appends always go to a fresh segment, so a recovered (and possibly
    /// truncated) segment is never written again.
    pub fn new(dir: PathBuf, segment_limit: u64, force_sync: bool) -> Self {
        FileTxnLog {
            dir,
            current: None,
            segment_limit,
            force_sync,
            buf: Vec::new(),
            zeros: Vec::new(),
        }
    }

    fn roll(&mut self, first_zxid: i64) -> Result<(), LogError> {
        if let Some(seg) = self.current.take() {
            if self.force_sync {
                seg.file.sync_data()?;
            }
        }
        let path = self.dir.join(segment_name(first_zxid));
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)?;
        file.write_all_at(&header(), 0)?;
        if self.force_sync {
            file.sync_all()?;
            fsync_dir(&self.dir)?;
        }
        tracing::debug!(segment = %path.display(), "new log segment");
        self.current = Some(Segment {
            file,
            end: HEADER_LEN,
            zeroed_to: HEADER_LEN,
            preallocate: true,
        });
        Ok(())
    }
}

impl Segment {
    /// Writes zeros past the records so that `need` more bytes of records land in blocks
    /// already allocated and inside the file's length. Done a megabyte at a time, so one
    /// sync in thousands pays for the metadata (see the module comment).
    fn zero_ahead(&mut self, need: u64, zeros: &mut Vec<u8>) -> std::io::Result<()> {
        if self.end + need <= self.zeroed_to {
            return Ok(());
        }
        let to = self.end + need + ZERO_AHEAD;
        let len = (to - self.zeroed_to) as usize;
        if zeros.len() < len {
            zeros.resize(len, 0);
        }
        self.file.write_all_at(&zeros[..len], self.zeroed_to)?;
        self.zeroed_to = to;
        Ok(())
    }
}

impl TxnLog for FileTxnLog {
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), LogError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let need_roll = match &self.current {
            None => true,
            Some(seg) => seg.end >= self.segment_limit,
        };
        if need_roll {
            self.roll(first.hdr.zxid)?;
        }
        self.buf.clear();
        for e in entries {
            let payload = encode_entry(&e.hdr, &e.txn);
            self.buf
                .extend_from_slice(&(payload.len() as u32).to_be_bytes());
            self.buf
                .extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
            self.buf.extend_from_slice(&payload);
        }
        let seg = self
            .current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no open log segment"))?;
        if self.force_sync && seg.preallocate {
            if let Err(e) = seg.zero_ahead(self.buf.len() as u64, &mut self.zeros) {
                // No room for the zeros (a full disk, a file size limit): the records may
                // still fit, so they are written without preallocation.
                tracing::warn!(error = %e, "cannot preallocate the log segment; appending without");
                seg.preallocate = false;
            }
        }
        seg.file.write_all_at(&self.buf, seg.end)?;
        seg.end += self.buf.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        if self.force_sync {
            if let Some(seg) = &self.current {
                seg.file.sync_data()?;
            }
        }
        Ok(())
    }
}

/// Why reading a segment stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailProblem {
    /// The last record is incomplete (a write cut short by a crash).
    Torn { offset: u64 },
    /// A record's checksum or contents are wrong.
    Corrupt { offset: u64, why: String },
    /// The header is missing or not ours.
    BadHeader { why: String },
}

/// What a segment holds up to its first bad record.
#[derive(Debug)]
pub struct SegmentScan {
    pub entries: Vec<(TxnHeader, Txn)>,
    /// Length of the valid prefix (header and whole good records).
    pub valid_len: u64,
    pub file_len: u64,
    pub problem: Option<TailProblem>,
}

pub fn scan_segment(path: &Path) -> std::io::Result<SegmentScan> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(scan_bytes(&bytes))
}

pub fn scan_bytes(bytes: &[u8]) -> SegmentScan {
    let file_len = bytes.len() as u64;
    let mut scan = SegmentScan {
        entries: Vec::new(),
        valid_len: 0,
        file_len,
        problem: None,
    };
    if let Err(problem) = check_header(bytes) {
        scan.problem = Some(problem);
        return scan;
    }
    let mut pos = HEADER_LEN as usize;
    scan.valid_len = HEADER_LEN;
    loop {
        match next_record(bytes, pos) {
            Next::End => break,
            Next::Problem(p) => {
                scan.problem = Some(p);
                break;
            }
            Next::Record(e, end) => {
                scan.entries.push(e);
                pos = end;
                scan.valid_len = pos as u64;
            }
        }
    }
    scan
}

/// Checks a segment's header.
fn check_header(bytes: &[u8]) -> Result<(), TailProblem> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(TailProblem::Torn { offset: 0 });
    }
    if &bytes[..8] != LOG_MAGIC {
        return Err(TailProblem::BadHeader {
            why: "not a zkrs log segment".into(),
        });
    }
    let format = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if format != LOG_FORMAT {
        return Err(TailProblem::BadHeader {
            why: format!("log format {format}, this server reads {LOG_FORMAT}"),
        });
    }
    Ok(())
}

/// What follows a record boundary.
enum Next {
    /// No more records: the end of the file, or the preallocated zeros.
    End,
    /// A good record, and the offset after it.
    Record((TxnHeader, Txn), usize),
    Problem(TailProblem),
}

/// Reads the record at `pos`, a record boundary.
fn next_record(bytes: &[u8], pos: usize) -> Next {
    let offset = pos as u64;
    if pos >= bytes.len() || all_zero(&bytes[pos..]) {
        // The preallocated rest of the segment: no record was written here.
        return Next::End;
    }
    if bytes.len() - pos < 8 {
        return Next::Problem(TailProblem::Torn { offset });
    }
    let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
    let crc = u32::from_be_bytes([
        bytes[pos + 4],
        bytes[pos + 5],
        bytes[pos + 6],
        bytes[pos + 7],
    ]);
    if len == 0 || len > MAX_RECORD {
        return Next::Problem(TailProblem::Corrupt {
            offset,
            why: format!("impossible record length {len}"),
        });
    }
    let end = pos + 8 + len as usize;
    if end > bytes.len() {
        return Next::Problem(TailProblem::Torn { offset });
    }
    let payload = &bytes[pos + 8..end];
    if crc32fast::hash(payload) != crc {
        // The last record written, cut short inside the preallocated zeros, is torn;
        // a bad record with more records after it is corruption.
        return Next::Problem(if all_zero(&bytes[end..]) && payload.ends_with(&[0]) {
            TailProblem::Torn { offset }
        } else {
            TailProblem::Corrupt {
                offset,
                why: "checksum mismatch".into(),
            }
        });
    }
    match decode_entry(payload) {
        Ok(e) => Next::Record(e, end),
        Err(e) => Next::Problem(TailProblem::Corrupt {
            offset,
            why: format!("undecodable record: {e}"),
        }),
    }
}

/// The offset just after the last whole record with a zxid at or before `zxid` (the header's
/// end if there is none), in a segment's bytes.
pub fn record_end_after(bytes: &[u8], zxid: i64) -> u64 {
    if check_header(bytes).is_err() {
        return 0;
    }
    let mut pos = HEADER_LEN as usize;
    while let Next::Record((hdr, _), end) = next_record(bytes, pos) {
        if hdr.zxid > zxid {
            break;
        }
        pos = end;
    }
    pos as u64
}

/// Reads the log from a zxid on (the transactions a learner lacks, for a DIFF): every
/// transaction with a greater zxid, in order, across segments. Safe while the writer
/// appends: it yields what is written and stops cleanly at the end of the records, at a
/// record still being written, or at a torn tail; a segment rolled after the reader was
/// opened is found when the previous one is read to its end. The caller bounds it by the
/// last committed zxid (the log may hold proposals not yet committed). One segment is held
/// in memory at a time (64 MB at most with the server's segment limit).
pub struct LogReader {
    dir: PathBuf,
    /// The last zxid yielded (at first, the zxid to read after).
    last: i64,
    /// Segments not yet opened, in order.
    pending: std::collections::VecDeque<(i64, PathBuf)>,
    current: Option<OpenSegment>,
    stopped: Option<TailProblem>,
    done: bool,
}

/// The segment being read: its bytes as last read and the offset of the next record.
struct OpenSegment {
    first: i64,
    path: PathBuf,
    bytes: Vec<u8>,
    pos: usize,
    /// Whether a later segment existed when `bytes` were read (then this one was final).
    final_read: bool,
}

/// Why the log cannot serve a read from a zxid.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the log starts at zxid {first:#x}: transactions after {after:#x} are no longer in it"
    )]
    TooOld { after: i64, first: i64 },
    #[error("the log jumps from zxid {from:#x} to {to:#x}")]
    Gap { from: i64, to: i64 },
    #[error("{path}: {problem:?}")]
    Damaged { path: PathBuf, problem: TailProblem },
}

fn read_io(path: &Path) -> impl FnOnce(std::io::Error) -> LogReadError + '_ {
    move |source| LogReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl LogReader {
    /// A reader of every transaction in `dir` with a zxid above `after`. Fails if the
    /// oldest segment starts past `after + 1`: what followed `after` may have been purged
    /// (or, across epochs, there may have been nothing, which the log cannot tell), and the
    /// learner needs a snapshot.
    pub fn open(dir: &Path, after: i64) -> Result<Self, LogReadError> {
        let segments = list_segments(dir).map_err(read_io(dir))?;
        if let Some((first, _)) = segments.first() {
            if *first > after.saturating_add(1) {
                return Err(LogReadError::TooOld {
                    after,
                    first: *first,
                });
            }
        }
        // The segment holding after + 1 is the last one starting at or before it.
        let start = segments
            .iter()
            .rposition(|(first, _)| *first <= after.saturating_add(1))
            .unwrap_or(0);
        Ok(LogReader {
            dir: dir.to_path_buf(),
            last: after,
            pending: segments.into_iter().skip(start).collect(),
            current: None,
            stopped: None,
            done: false,
        })
    }

    /// The zxid of the last transaction yielded (or the one the reader started after).
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "a DIFF reader's position; the tests read it")
    )]
    pub fn last_zxid(&self) -> i64 {
        self.last
    }

    /// What stopped the reader before the end of the records, if anything did (a torn
    /// record at the tail; corruption is yielded as an error).
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "a DIFF reader's position; the tests read it")
    )]
    pub fn stopped_at(&self) -> Option<&TailProblem> {
        self.stopped.as_ref()
    }

    /// Segments newer than `first` now in the directory (the writer may have rolled).
    fn later_segments(&self, first: i64) -> Result<Vec<(i64, PathBuf)>, LogReadError> {
        Ok(list_segments(&self.dir)
            .map_err(read_io(&self.dir))?
            .into_iter()
            .filter(|(z, _)| *z > first)
            .collect())
    }

    fn open_next(&mut self) -> Result<bool, LogReadError> {
        let Some((first, path)) = self.pending.pop_front() else {
            return Ok(false);
        };
        // Listed before reading: if a later segment exists now, what is read is final.
        let final_read = !self.pending.is_empty() || !self.later_segments(first)?.is_empty();
        let bytes = std::fs::read(&path).map_err(read_io(&path))?;
        if let Err(problem) = check_header(&bytes) {
            if matches!(problem, TailProblem::Torn { .. }) && !final_read {
                // Created a moment ago, its header not yet written: nothing in it yet.
                self.current = None;
                return Ok(false);
            }
            return Err(LogReadError::Damaged { path, problem });
        }
        self.current = Some(OpenSegment {
            first,
            path,
            bytes,
            pos: HEADER_LEN as usize,
            final_read,
        });
        Ok(true)
    }

    /// Reads the rest of the current segment again from the next record's offset (records
    /// may have been written over the zeros since), noting whether it is final now.
    fn reread(&mut self) -> Result<(), LogReadError> {
        let Some(first) = self.current.as_ref().map(|s| s.first) else {
            return Ok(());
        };
        let later = self.later_segments(first)?;
        let Some(seg) = self.current.as_mut() else {
            return Ok(());
        };
        let mut f = File::open(&seg.path).map_err(read_io(&seg.path))?;
        seg.bytes.truncate(seg.pos);
        let mut rest = Vec::new();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(seg.pos as u64))
            .and_then(|_| f.read_to_end(&mut rest))
            .map_err(read_io(&seg.path))?;
        seg.bytes.extend_from_slice(&rest);
        seg.final_read = !later.is_empty();
        for l in later {
            if !self.pending.iter().any(|(z, _)| *z == l.0) {
                self.pending.push_back(l);
            }
        }
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<(TxnHeader, Txn)>, LogReadError> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some(seg) = self.current.as_mut() else {
                return Ok(None);
            };
            match next_record(&seg.bytes, seg.pos) {
                Next::Record((hdr, txn), end) => {
                    seg.pos = end;
                    if hdr.zxid <= self.last {
                        continue;
                    }
                    if hdr.zxid >> 32 == self.last >> 32 && hdr.zxid != self.last + 1 {
                        return Err(LogReadError::Gap {
                            from: self.last,
                            to: hdr.zxid,
                        });
                    }
                    self.last = hdr.zxid;
                    return Ok(Some((hdr, txn)));
                }
                Next::End | Next::Problem(TailProblem::Torn { .. }) if !seg.final_read => {
                    // The end of what was written when the segment was read: look again,
                    // and if a later segment exists by now this one is complete.
                    let pos = seg.pos;
                    self.reread()?;
                    let Some(seg) = self.current.as_mut() else {
                        return Ok(None);
                    };
                    if matches!(next_record(&seg.bytes, pos), Next::Record(..)) {
                        continue;
                    }
                    if !seg.final_read {
                        // The newest segment, read to the end of its records.
                        if let Next::Problem(p) = next_record(&seg.bytes, pos) {
                            self.stopped = Some(p);
                        }
                        return Ok(None);
                    }
                }
                Next::End => self.current = None,
                Next::Problem(problem @ TailProblem::Torn { .. }) => {
                    // A torn record in a segment the writer has left: recovery cuts such a
                    // tail at start, and what follows it cannot be applied.
                    self.stopped = Some(problem);
                    return Ok(None);
                }
                Next::Problem(problem) => {
                    let path = seg.path.clone();
                    return Err(LogReadError::Damaged { path, problem });
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<(TxnHeader, Txn), LogReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn entry(zxid: i64) -> LogEntry {
        LogEntry {
            hdr: TxnHeader {
                session_id: 1,
                cxid: zxid as i32,
                zxid,
                time: 0,
            },
            txn: Arc::new(Txn::Delete {
                path: format!("/n{zxid}"),
                container: false,
            }),
        }
    }

    #[test]
    fn append_scan_and_roll() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 100, true);
        log.append(&[entry(1), entry(2)]).unwrap();
        log.sync().unwrap();
        log.append(&[entry(3)]).unwrap();
        log.append(&[entry(4)]).unwrap();
        log.sync().unwrap();
        let segs = list_segments(dir.path()).unwrap();
        assert!(segs.len() >= 2, "rolled past the limit: {segs:?}");
        let zxids: Vec<i64> = segs
            .iter()
            .flat_map(|(_, p)| scan_segment(p).unwrap().entries)
            .map(|(h, _)| h.zxid)
            .collect();
        assert_eq!(zxids, vec![1, 2, 3, 4]);
    }

    #[test]
    fn torn_and_corrupt_tails_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 1 << 20, false);
        log.append(&[entry(1), entry(2), entry(3)]).unwrap();
        let (_, path) = list_segments(dir.path()).unwrap().remove(0);
        let good = std::fs::read(&path).unwrap();
        let full = scan_bytes(&good);
        assert_eq!(full.entries.len(), 3);
        assert!(full.problem.is_none());

        // Torn: the last record cut short.
        let torn = scan_bytes(&good[..good.len() - 3]);
        assert_eq!(torn.entries.len(), 2);
        assert!(matches!(torn.problem, Some(TailProblem::Torn { .. })));

        // A flipped byte in the middle record: it and everything after are cut.
        let rec = (good.len() - HEADER_LEN as usize) / 3;
        let mut flipped = good.clone();
        flipped[HEADER_LEN as usize + rec + 20] ^= 0x40;
        let c = scan_bytes(&flipped);
        assert_eq!(c.entries.len(), 1);
        assert!(matches!(c.problem, Some(TailProblem::Corrupt { .. })));
        assert_eq!(c.valid_len, HEADER_LEN + rec as u64);

        // An empty segment (crash right after creating it).
        let e = scan_bytes(&[]);
        assert!(e.entries.is_empty());
        assert!(matches!(e.problem, Some(TailProblem::Torn { offset: 0 })));
    }

    #[test]
    fn preallocated_segments_end_at_the_first_unwritten_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 2 * ZERO_AHEAD, true);
        log.append(&[entry(1), entry(2)]).unwrap();
        log.sync().unwrap();
        let (_, first) = list_segments(dir.path()).unwrap().remove(0);
        let scan = scan_segment(&first).unwrap();
        assert!(
            scan.file_len > scan.valid_len + ZERO_AHEAD - 1,
            "zeros are written ahead: {} of {}",
            scan.valid_len,
            scan.file_len
        );
        assert_eq!(scan.entries.len(), 2);
        assert!(scan.problem.is_none(), "{:?}", scan.problem);
        let written = std::fs::read(&first).unwrap();

        // A record larger than the zeroed region still lands whole, and more zeros follow.
        let big = LogEntry {
            hdr: TxnHeader {
                session_id: 1,
                cxid: 3,
                zxid: 3,
                time: 0,
            },
            txn: Arc::new(Txn::SetData {
                path: "/big".into(),
                data: Some(vec![7; 2 * ZERO_AHEAD as usize]),
                version: 1,
                reconfig: false,
            }),
        };
        log.append(&[big]).unwrap();
        log.sync().unwrap();
        let after = scan_segment(&first).unwrap();
        let zxids: Vec<i64> = after.entries.iter().map(|(h, _)| h.zxid).collect();
        assert_eq!(zxids, vec![1, 2, 3]);
        assert!(after.problem.is_none());
        assert!(after.file_len > after.valid_len);

        // Past the limit the next record starts a new segment.
        log.append(&[entry(4), entry(5)]).unwrap();
        log.sync().unwrap();
        let segs = list_segments(dir.path()).unwrap();
        assert_eq!(segs.len(), 2, "{segs:?}");
        let second = scan_segment(&segs[1].1).unwrap();
        let zxids: Vec<i64> = second.entries.iter().map(|(h, _)| h.zxid).collect();
        assert_eq!(zxids, vec![4, 5]);

        // A record cut short inside the zeros is torn; zeros between records are corrupt.
        let mut bytes = written.clone();
        let end = scan.valid_len as usize;
        bytes[end - 3..end].fill(0);
        let torn = scan_bytes(&bytes);
        assert_eq!(torn.entries.len(), 1);
        assert!(
            matches!(torn.problem, Some(TailProblem::Torn { .. })),
            "{:?}",
            torn.problem
        );
        let mut gap = written;
        let first_rec = HEADER_LEN as usize;
        let rec_len = (end - first_rec) / 2;
        gap[first_rec..first_rec + rec_len].fill(0);
        let c = scan_bytes(&gap);
        assert!(c.entries.is_empty());
        assert!(
            matches!(c.problem, Some(TailProblem::Corrupt { .. })),
            "{:?}",
            c.problem
        );
    }

    fn read_zxids(dir: &Path, after: i64) -> Vec<i64> {
        LogReader::open(dir, after)
            .unwrap()
            .map(|e| e.unwrap().0.zxid)
            .collect()
    }

    #[test]
    fn reads_from_a_zxid_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        // A small limit: a segment per append or two.
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 100, true);
        for z in 1..=9 {
            log.append(&[entry(z)]).unwrap();
        }
        log.sync().unwrap();
        assert!(list_segments(dir.path()).unwrap().len() >= 3);
        assert_eq!(read_zxids(dir.path(), 0), (1..=9).collect::<Vec<_>>());
        assert_eq!(read_zxids(dir.path(), 4), (5..=9).collect::<Vec<_>>());
        assert_eq!(read_zxids(dir.path(), 9), Vec::<i64>::new());
        assert!(read_zxids(dir.path(), 20).is_empty());

        // Purged: the log no longer holds what follows zxid 2.
        let segs = list_segments(dir.path()).unwrap();
        std::fs::remove_file(&segs[0].1).unwrap();
        let first = list_segments(dir.path()).unwrap()[0].0;
        assert!(matches!(
            LogReader::open(dir.path(), first - 2),
            Err(LogReadError::TooOld { .. })
        ));
        assert_eq!(read_zxids(dir.path(), first - 1)[0], first);
    }

    #[test]
    fn a_reader_stops_at_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 1 << 20, false);
        log.append(&[entry(1), entry(2), entry(3)]).unwrap();
        let (_, path) = list_segments(dir.path()).unwrap().remove(0);
        let len = std::fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut r = LogReader::open(dir.path(), 0).unwrap();
        let got: Vec<i64> = r.by_ref().map(|e| e.unwrap().0.zxid).collect();
        assert_eq!(got, vec![1, 2]);
        assert!(matches!(r.stopped_at(), Some(TailProblem::Torn { .. })));
        assert_eq!(r.last_zxid(), 2);

        // Corruption with records after it is an error, not a quiet end.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER_LEN as usize + 20] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let mut r = LogReader::open(dir.path(), 0).unwrap();
        assert!(matches!(r.next(), Some(Err(LogReadError::Damaged { .. }))));
        assert!(r.next().is_none());
    }

    #[test]
    fn a_reader_sees_appends_made_while_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        // Preallocated segments (zeros ahead of the records) of about three records each.
        let mut log = FileTxnLog::new(dir.path().to_path_buf(), 150, true);
        log.append(&[entry(1), entry(2)]).unwrap();
        log.sync().unwrap();
        let mut r = LogReader::open(dir.path(), 0).unwrap();
        assert_eq!(r.next().unwrap().unwrap().0.zxid, 1);
        // Written after the reader read the segment: over its zeros, then into new segments.
        for z in 3..=8 {
            log.append(&[entry(z)]).unwrap();
        }
        log.sync().unwrap();
        assert!(list_segments(dir.path()).unwrap().len() >= 2);
        let rest: Vec<i64> = r.by_ref().map(|e| e.unwrap().0.zxid).collect();
        assert_eq!(rest, (2..=8).collect::<Vec<_>>());
        assert!(r.stopped_at().is_none());

        // A record half written (its length and part of its bytes) ends the read cleanly.
        let segs = list_segments(dir.path()).unwrap();
        let (_, last) = segs.last().unwrap();
        let scan = scan_segment(last).unwrap();
        let mut rec = Vec::new();
        let payload = encode_entry(&entry(9).hdr, &entry(9).txn);
        rec.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        rec.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        rec.extend_from_slice(&payload[..payload.len() / 2]);
        let f = OpenOptions::new().write(true).open(last).unwrap();
        f.write_all_at(&rec, scan.valid_len).unwrap();
        let mut r = LogReader::open(dir.path(), 6).unwrap();
        let got: Vec<i64> = r.by_ref().map(|e| e.unwrap().0.zxid).collect();
        assert_eq!(got, vec![7, 8]);
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(0x1_0000_0001), "log.0000000100000001");
        assert_eq!(
            parse_segment_name("log.0000000100000001"),
            Some(0x1_0000_0001)
        );
        assert_eq!(parse_segment_name("log.zz"), None);
        assert_eq!(parse_segment_name("snapshot.0000000000000001"), None);
    }
}
