//! Apache's transaction log files (`FileTxnLog`): `FileHeader{int magic "ZKLG", int
//! version 2, long dbId 0}`, then records `long Adler-32 of the entry, int length, the
//! entry (Apache's txn bytes, [`crate::txn::apache`]), byte 'B'`. Files are preallocated
//! with zeros, so a zero length ends the records.
//!
//! What counts as damage follows Apache's reader (`FileTxnIterator.next`,
//! `Util.readTxnBytes`): a record the file ends inside, or one without its 'B', is the
//! end of that file's records (what a crash while appending leaves; Apache's next start
//! begins a new file); a checksum mismatch, or an entry that does not decode, is an error.
//! This reader is stricter in one way and more lenient in another: an incomplete record
//! counts as a crash's leftover only when nothing but zeros follows it (otherwise records
//! after it would be silently lost, and it is reported as damage), and a length field
//! torn by the crash (garbage followed only by zeros) is such a leftover too, where Apache
//! refuses to start.

use std::path::{Path, PathBuf};

use crate::txn::apache::{self, ApacheTxn, MAX_BUFFER};

use super::checksum::Adler32;
use super::error::{damaged, io_err, MigrationError};

pub const LOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// `FileTxnLog.VERSION`.
pub const FORMAT_VERSION: i32 = 2;
/// `FileTxnLog.dbId`.
const DB_ID: i64 = 0;
const HEADER_LEN: usize = 16;
/// Checksum and length before an entry.
const RECORD_HEAD: usize = 12;
/// The byte after each entry (`Util.writeTxnBytes`).
const END_OF_RECORD: u8 = b'B';

/// One transaction read from a log, with where it starts.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub offset: u64,
    pub txn: ApacheTxn,
}

/// A log file as read: its records, and where they ended if not cleanly.
#[derive(Debug)]
pub struct LogFile {
    pub path: PathBuf,
    pub records: Vec<LogRecord>,
    /// Offset of an incomplete last record followed only by zeros (a crash's leftover).
    pub torn_at: Option<u64>,
    /// The file is empty or all zeros: created, but not one byte of header written.
    pub no_header: bool,
}

/// Reads the log file at `path`.
pub fn read(path: &Path) -> Result<LogFile, MigrationError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse(path, &bytes)
}

/// Reads a log file's bytes (`path` names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<LogFile, MigrationError> {
    let mut log = LogFile {
        path: path.to_path_buf(),
        records: Vec::new(),
        torn_at: None,
        no_header: false,
    };
    // Everything from here to the end is zeros: a preallocated tail.
    let data_end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let zeros_from = |at: usize| data_end <= at;
    if data_end == 0 {
        log.no_header = true;
        return Ok(log);
    }
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(damaged(path, 0, "the file ends inside its header"));
    };
    let magic = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != LOG_MAGIC {
        return Err(damaged(
            path,
            0,
            format!("not a transaction log: magic {magic:#x}, not \"ZKLG\""),
        ));
    }
    let mut pos = HEADER_LEN;
    loop {
        let offset = pos as u64;
        let torn = |log: &mut LogFile| log.torn_at = Some(offset);
        let Some(head) = bytes.get(pos..pos + RECORD_HEAD) else {
            if !zeros_from(pos) {
                torn(&mut log);
            }
            return Ok(log);
        };
        let crc = i64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        let len = i32::from_be_bytes(head[8..].try_into().unwrap_or_default());
        if len == 0 {
            // The preallocated zeros: the end of the records (a checksum without a length
            // is a record the crash cut after its first field).
            if zeros_from(pos + RECORD_HEAD) {
                if !zeros_from(pos) {
                    torn(&mut log);
                }
                return Ok(log);
            }
            return Err(damaged(
                path,
                offset,
                "a record of length 0 (the end of the records) with data after it",
            ));
        }
        if len < 0 || len as usize > MAX_BUFFER {
            if zeros_from(pos + RECORD_HEAD) {
                torn(&mut log);
                return Ok(log);
            }
            return Err(damaged(
                path,
                offset,
                format!("a record of unreasonable length {len} (jute.maxbuffer is {MAX_BUFFER})"),
            ));
        }
        let body_at = pos + RECORD_HEAD;
        let end = body_at + len as usize + 1;
        if end > bytes.len() {
            // The file ends inside the record: only a crash leaves that.
            torn(&mut log);
            return Ok(log);
        }
        if bytes[end - 1] != END_OF_RECORD {
            if zeros_from(end) {
                torn(&mut log);
                return Ok(log);
            }
            return Err(damaged(
                path,
                offset,
                "a record without its end marker, with data after it",
            ));
        }
        let entry = &bytes[body_at..end - 1];
        let sum = Adler32::of(entry);
        if sum != crc {
            return Err(damaged(
                path,
                offset,
                format!("checksum mismatch: the record says {crc:#x}, its bytes sum to {sum:#x}"),
            ));
        }
        let txn = apache::decode(entry)
            .map_err(|e| damaged(path, offset, format!("a record that does not decode: {e}")))?;
        log.records.push(LogRecord { offset, txn });
        pos = end;
    }
}

/// Apache's bytes of a log file holding `txns` (without preallocation: Apache's reader
/// stops at the end of the file as it stops at zeros).
pub fn encode(txns: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + txns.iter().map(|t| t.len() + 13).sum::<usize>());
    out.extend_from_slice(&LOG_MAGIC.to_be_bytes());
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&DB_ID.to_be_bytes());
    for t in txns {
        out.extend_from_slice(&Adler32::of(t).to_be_bytes());
        out.extend_from_slice(&(t.len() as i32).to_be_bytes());
        out.extend_from_slice(t);
        out.push(END_OF_RECORD);
    }
    out
}

#[cfg(test)]
#[path = "txnlog_tests.rs"]
mod tests;
