//! Apache ZooKeeper's data files from the tests' side, for the offline migration tests:
//! copying and fingerprinting data directories, the record boundaries of a transaction
//! log (found here with a reader of the tests' own, not the server's), and running the
//! command-line tools: `zkrs-server` with arguments, and Apache's own Java tools
//! (`SnapshotFormatter`, `TxnLogToolkit`) from its jars.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::{apache_classpath, zkrs_binary};

/// How long a tool may run before the test gives up on it (a JVM on a busy machine).
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// Copies the directory tree `from` into `to` (created if missing).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", entry.path().display()));
        }
    }
}

/// Every file under `dir` (relative path) with its contents: equal fingerprints mean
/// nothing was added, removed or changed.
pub fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let entry = entry.expect("dir entry");
            if entry.file_type().expect("file type").is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_path_buf();
                out.insert(rel, std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    out
}

/// Apache's files named `<prefix>.<hex zxid>` in `dir`, by zxid.
pub fn files(dir: &Path, prefix: &str) -> Vec<(i64, PathBuf)> {
    let mut v: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
            Some((i64::from_str_radix(hex, 16).ok()?, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// One record of an Apache transaction log: where it starts and how long its entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: usize,
    pub entry_len: usize,
    pub zxid: i64,
}

/// The records of an Apache log file: a 16-byte header, then `[checksum: 8][length: 4]
/// [entry][b'B']` until a zero length or the end (the entry starts with the session id,
/// cxid and zxid of its txn header).
pub fn log_records(bytes: &[u8]) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos + 12 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes"));
        if len <= 0 || pos + 12 + len as usize + 1 > bytes.len() {
            break;
        }
        let entry = pos + 12;
        let zxid = i64::from_be_bytes(bytes[entry + 12..entry + 20].try_into().expect("8 bytes"));
        out.push(LogRecord {
            offset: pos,
            entry_len: len as usize,
            zxid,
        });
        pos = entry + len as usize + 1;
    }
    out
}

/// What a tool printed and whether it succeeded.
#[derive(Debug)]
pub struct ToolRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ToolRun {
    /// Fails the test with both outputs unless the tool succeeded.
    pub fn expect_ok(self, what: &str) -> ToolRun {
        assert!(
            self.ok,
            "{what} failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `zkrs-server` with `args`.
pub fn zkrs_tool<S: AsRef<OsStr>>(args: &[S]) -> ToolRun {
    let mut cmd = Command::new(zkrs_binary());
    cmd.args(args);
    run(cmd)
}

/// Runs the Java class `class` of Apache ZooKeeper's jars with `args`.
pub fn apache_tool<S: AsRef<OsStr>>(class: &str, args: &[S]) -> ToolRun {
    let java = std::env::var_os("JAVA").unwrap_or_else(|| "java".into());
    let mut cmd = Command::new(java);
    cmd.args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
        .arg("-cp")
        .arg(apache_classpath())
        .arg(class)
        .args(args);
    run(cmd)
}

/// Runs `cmd` to its end, killing it (by its PID) after [`TOOL_LIMIT`].
fn run(mut cmd: Command) -> ToolRun {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > TOOL_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {TOOL_LIMIT:?}");
        }
        // Polling interval of a bounded wait for the process to end.
        std::thread::sleep(Duration::from_millis(20));
    };
    ToolRun {
        ok: status.success(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}
