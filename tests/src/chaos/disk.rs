//! Disk faults: slow and failing fsyncs and a full disk through an LD_PRELOAD shim
//! (`faultfs.c`, built with `cc` when a run needs it), and corruption of a stopped
//! member's files before it restarts. They work the same for zkrs and Apache: the shim
//! intercepts the C library's `fsync`/`fdatasync` (Rust's `sync_all`/`sync_data`, Java's
//! `FileChannel.force`) and its writes to regular files (`write`, `pwrite`, `writev`,
//! `fallocate`, a growing `ftruncate`: what Rust's `File` and Java's streams and channels
//! call), and both keep their log in files named `log.<hex zxid>` and snapshots
//! `snapshot.<hex zxid>` under the data dir (`zkrs/` or `version-2/`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::preload;

/// The shim's source.
const SHIM_SOURCE: &str = include_str!("faultfs.c");

/// The shim's control directory, relative to a member's working directory (its own dir).
pub const CONTROL_DIR: &str = "faults";

/// Builds the shim into `dir`; returns the shared library's path.
pub fn build_shim(dir: &Path) -> anyhow::Result<PathBuf> {
    preload::build(dir, "faultfs", SHIM_SOURCE)
}

/// The shim's setting in a member's environment.
pub fn shim_env() -> String {
    format!("ZKRS_FAULTFS_DIR={CONTROL_DIR}")
}

/// What a member's fsyncs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    Normal,
    /// Each sleeps this many milliseconds first.
    Slow(u64),
    /// Each fails with EIO.
    Failing,
}

/// Removes `file` if it exists.
fn remove_if_present(file: &Path) -> anyhow::Result<()> {
    match fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", file.display())),
    }
}

/// Sets how fsyncs behave in the member whose directory is `member_dir`.
pub fn set_sync(member_dir: &Path, sync: Sync) -> anyhow::Result<()> {
    let control = member_dir.join(CONTROL_DIR);
    fs::create_dir_all(&control)?;
    let (fail, delay) = (control.join("fail"), control.join("delay_ms"));
    for file in [&fail, &delay] {
        remove_if_present(file)?;
    }
    match sync {
        Sync::Normal => {}
        Sync::Slow(ms) => fs::write(&delay, ms.to_string())?,
        Sync::Failing => fs::write(&fail, "")?,
    }
    Ok(())
}

/// Fills (`full`) or frees the disk of the member whose directory is `member_dir`: while
/// it is full, every write that adds data to a regular file fails with ENOSPC.
pub fn set_full(member_dir: &Path, full: bool) -> anyhow::Result<()> {
    let control = member_dir.join(CONTROL_DIR);
    fs::create_dir_all(&control)?;
    let flag = control.join("full");
    if full {
        fs::write(&flag, "")?;
        Ok(())
    } else {
        remove_if_present(&flag)
    }
}

/// The newest file of a data dir whose name is `<prefix>.<hex zxid>` (in `zkrs/` or
/// `version-2/`), if any.
pub fn newest(data_dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for sub in ["zkrs", "version-2"] {
        let Ok(entries) = fs::read_dir(data_dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let zxid = name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|hex| u64::from_str_radix(hex, 16).ok());
            if let Some(zxid) = zxid {
                found.push((zxid, e.path()));
            }
        }
    }
    found.into_iter().max().map(|(_, p)| p)
}

/// Flips one byte of the last record of `file`, a log preallocated with zeros: two bytes
/// before its last non-zero byte (inside the record's body, before Apache's end-of-record
/// marker), so the record's checksum no longer matches. Returns the offset.
pub fn corrupt_last_record(file: &Path) -> anyhow::Result<u64> {
    let mut bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let Some(last) = bytes.iter().rposition(|&b| b != 0) else {
        bail!("{} holds no record", file.display());
    };
    let at = last.saturating_sub(2);
    bytes[at] ^= 0xff;
    fs::write(file, &bytes)?;
    Ok(at as u64)
}

/// Flips one byte in the middle of `file` (a snapshot). Returns the offset.
pub fn corrupt_middle(file: &Path) -> anyhow::Result<u64> {
    let mut bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    if bytes.is_empty() {
        bail!("{} is empty", file.display());
    }
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    fs::write(file, &bytes)?;
    Ok(at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A program that tries every kind of write the shim watches, on a regular file (fd 3
    /// or above), and then a write to a socket and a pipe, and prints one line per try:
    /// `<call> ok` or `<call> <errno name>`.
    const PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
static void report(const char *call, long r) {
    printf("%s %s\n", call, r >= 0 ? "ok" : (errno == ENOSPC ? "ENOSPC" : strerror(errno)));
}
/* A filesystem that cannot preallocate is not the shim's doing: counted as done. */
static long allocated(long r) {
    return r != 0 && errno == EOPNOTSUPP ? 0 : r;
}
int main(void) {
    int fd = open("probe.data", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 3) { return 2; }
    struct iovec iov = {"vec", 3};
    report("write", write(fd, "data", 4));
    report("pwrite", pwrite(fd, "data", 4, 8));
    report("writev", writev(fd, &iov, 1));
    report("pwritev", pwritev(fd, &iov, 1, 16));
    report("fallocate", allocated(fallocate(fd, 0, 0, 4096)));
    int pr = posix_fallocate(fd, 0, 8192);
    errno = pr;
    report("posix_fallocate", pr == 0 ? 0 : -1);
    report("ftruncate-grow", ftruncate(fd, 65536));
    report("ftruncate-shrink", ftruncate(fd, 0));
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) { return 2; }
    report("socket", write(pair[0], "x", 1));
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) { return 2; }
    report("pipe", write(pipe_fds[1], "x", 1));
    return 0;
}
"#;

    #[test]
    fn the_newest_file_is_found_by_its_zxid_and_its_last_record_is_corrupted() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("version-2");
        fs::create_dir_all(&logs).unwrap();
        fs::write(logs.join("log.ff"), [1, 2, 3]).unwrap();
        fs::write(logs.join("log.100"), [7, 8, 9, 10, 0x42, 0, 0, 0]).unwrap();
        fs::write(logs.join("snapshot.0"), [1]).unwrap();
        let newest_log = newest(dir.path(), "log").unwrap();
        assert_eq!(newest_log, logs.join("log.100"));
        assert_eq!(corrupt_last_record(&newest_log).unwrap(), 2);
        assert_eq!(
            fs::read(&newest_log).unwrap(),
            [7, 8, !9, 10, 0x42, 0, 0, 0]
        );
        assert_eq!(
            newest(dir.path(), "snapshot").unwrap(),
            logs.join("snapshot.0")
        );
        assert!(newest(dir.path(), "nothing").is_none());
    }

    #[test]
    fn the_shim_slows_and_fails_fsync_when_told() {
        let (dir, library) = preload::test_shim(build_shim);
        // `sync` from coreutils calls fsync on the file it is given (`sync FILE`).
        let file = dir.path().join("data");
        fs::write(&file, b"x").unwrap();
        let run = || {
            Command::new("env")
                .arg(format!("LD_PRELOAD={}", library.display()))
                .arg(shim_env())
                .args(["sync", "data"])
                .current_dir(dir.path())
                .output()
                .unwrap()
        };
        set_sync(dir.path(), Sync::Normal).unwrap();
        assert!(run().status.success());
        set_sync(dir.path(), Sync::Failing).unwrap();
        let failed = run();
        assert!(!failed.status.success());
        assert!(
            String::from_utf8_lossy(&failed.stderr).contains("Input/output error"),
            "{failed:?}"
        );
        set_sync(dir.path(), Sync::Slow(300)).unwrap();
        let started = std::time::Instant::now();
        assert!(run().status.success());
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    }

    #[test]
    fn the_shim_fails_file_writes_with_enospc_while_the_disk_is_full_and_spares_sockets() {
        let (dir, library) = preload::test_shim(build_shim);
        preload::build_probe(dir.path(), PROBE);
        let run = || {
            let out = Command::new("env")
                .arg(format!("LD_PRELOAD={}", library.display()))
                .arg(shim_env())
                .arg("./probe")
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let file_calls = [
            "write",
            "pwrite",
            "writev",
            "pwritev",
            "fallocate",
            "posix_fallocate",
            "ftruncate-grow",
        ];
        let expect = |file_result: &str| -> String {
            file_calls
                .iter()
                .map(|c| format!("{c} {file_result}\n"))
                .chain(["ftruncate-shrink ok\n", "socket ok\n", "pipe ok\n"].map(String::from))
                .collect()
        };
        set_full(dir.path(), true).unwrap();
        assert_eq!(run(), expect("ENOSPC"));
        assert_eq!(
            fs::metadata(dir.path().join("probe.data")).unwrap().len(),
            0
        );
        set_full(dir.path(), false).unwrap();
        assert_eq!(run(), expect("ok"));
        assert_eq!(
            fs::metadata(dir.path().join("probe.data")).unwrap().len(),
            0
        );
        // fsync faults and a full disk are independent.
        set_sync(dir.path(), Sync::Failing).unwrap();
        assert_eq!(run(), expect("ok"));
    }
}
