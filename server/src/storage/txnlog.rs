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
    if bytes.len() < HEADER_LEN as usize {
        scan.problem = Some(TailProblem::Torn { offset: 0 });
        return scan;
    }
    if &bytes[..8] != LOG_MAGIC {
        scan.problem = Some(TailProblem::BadHeader {
            why: "not a zkrs log segment".into(),
        });
        return scan;
    }
    let format = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if format != LOG_FORMAT {
        scan.problem = Some(TailProblem::BadHeader {
            why: format!("log format {format}, this server reads {LOG_FORMAT}"),
        });
        return scan;
    }
    let mut pos = HEADER_LEN as usize;
    scan.valid_len = HEADER_LEN;
    while pos < bytes.len() {
        let offset = pos as u64;
        if all_zero(&bytes[pos..]) {
            // The preallocated rest of the segment: no record was written here.
            break;
        }
        if bytes.len() - pos < 8 {
            scan.problem = Some(TailProblem::Torn { offset });
            break;
        }
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let crc = u32::from_be_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        if len == 0 || len > MAX_RECORD {
            scan.problem = Some(TailProblem::Corrupt {
                offset,
                why: format!("impossible record length {len}"),
            });
            break;
        }
        let end = pos + 8 + len as usize;
        if end > bytes.len() {
            scan.problem = Some(TailProblem::Torn { offset });
            break;
        }
        let payload = &bytes[pos + 8..end];
        if crc32fast::hash(payload) != crc {
            // The last record written, cut short inside the preallocated zeros, is torn;
            // a bad record with more records after it is corruption.
            scan.problem = Some(if all_zero(&bytes[end..]) && payload.ends_with(&[0]) {
                TailProblem::Torn { offset }
            } else {
                TailProblem::Corrupt {
                    offset,
                    why: "checksum mismatch".into(),
                }
            });
            break;
        }
        match decode_entry(payload) {
            Ok(e) => scan.entries.push(e),
            Err(e) => {
                scan.problem = Some(TailProblem::Corrupt {
                    offset,
                    why: format!("undecodable record: {e}"),
                });
                break;
            }
        }
        pos = end;
        scan.valid_len = pos as u64;
    }
    scan
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
