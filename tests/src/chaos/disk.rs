//! Disk faults: slow and failing fsyncs through an LD_PRELOAD shim (`faultfs.c`, built
//! with `cc` when a run needs it), and corruption of a stopped member's files before it
//! restarts. Both work the same for zkrs and Apache: the shim intercepts the C library's
//! `fsync`/`fdatasync` (Rust's `sync_all`/`sync_data`, Java's `FileChannel.force`), and
//! both keep their log in files named `log.<hex zxid>` and snapshots `snapshot.<hex
//! zxid>` under the data dir (`zkrs/` or `version-2/`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

/// The shim's source, written beside the library it is built into.
const SHIM_SOURCE: &str = include_str!("faultfs.c");

/// The shim's control directory, relative to a member's working directory (its own dir).
pub const CONTROL_DIR: &str = "faults";

/// Builds the shim into `dir` with `cc`; returns the shared library's path.
pub fn build_shim(dir: &Path) -> anyhow::Result<PathBuf> {
    let source = dir.join("faultfs.c");
    let library = dir.join("faultfs.so");
    fs::write(&source, SHIM_SOURCE)?;
    let output = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .output()
        .context("running cc (the disk nemesis builds an LD_PRELOAD shim; install gcc)")?;
    if !output.status.success() {
        bail!(
            "cc could not build the fsync shim: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(library)
}

/// The process wrapper that loads the shim into a member.
pub fn wrapper(library: &Path) -> Vec<String> {
    vec![
        "env".to_string(),
        format!("LD_PRELOAD={}", library.display()),
        format!("ZKRS_FAULTFS_DIR={CONTROL_DIR}"),
    ]
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

/// Sets how fsyncs behave in the member whose directory is `member_dir`.
pub fn set_sync(member_dir: &Path, sync: Sync) -> anyhow::Result<()> {
    let control = member_dir.join(CONTROL_DIR);
    fs::create_dir_all(&control)?;
    let (fail, delay) = (control.join("fail"), control.join("delay_ms"));
    for file in [&fail, &delay] {
        match fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", file.display())),
        }
    }
    match sync {
        Sync::Normal => {}
        Sync::Slow(ms) => fs::write(&delay, ms.to_string())?,
        Sync::Failing => fs::write(&fail, "")?,
    }
    Ok(())
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
        if Command::new("cc").arg("--version").output().is_err() {
            eprintln!("SKIPPED: no cc to build the fsync shim");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let library = build_shim(dir.path()).unwrap();
        // `sync` from coreutils calls fsync on the file it is given (`sync FILE`).
        let file = dir.path().join("data");
        fs::write(&file, b"x").unwrap();
        let run = || {
            Command::new("env")
                .arg(format!("LD_PRELOAD={}", library.display()))
                .arg(format!("ZKRS_FAULTFS_DIR={CONTROL_DIR}"))
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
}
