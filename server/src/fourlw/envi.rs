//! `envi`: the JVM system properties Apache prints, with this process's equivalents.

use std::fmt::{self, Write as _};

use super::state::ServerSnapshot;

/// `envi` values. Apache prints JVM system properties; we keep the keys and fill them from our
/// process ([`Environment::from_process`], in `process.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// `host.name`.
    pub host_name: String,
    /// `java.version` (we say `n/a`: there is no JVM).
    pub java_version: String,
    /// `java.vendor` (we say `zkrs`).
    pub java_vendor: String,
    /// `java.home` (we say `n/a`).
    pub java_home: String,
    /// `java.class.path` (we print the server executable's path).
    pub java_class_path: String,
    /// `java.library.path` (we print `LD_LIBRARY_PATH`, possibly empty).
    pub java_library_path: String,
    /// `java.io.tmpdir` (the temporary directory).
    pub java_io_tmpdir: String,
    /// `java.compiler` (Apache prints `<NA>`; so do we).
    pub java_compiler: String,
    /// `os.name`, Java style (`Linux`, `Mac OS X`, ...).
    pub os_name: String,
    /// `os.arch`, Java style (`amd64`, `aarch64`, ...).
    pub os_arch: String,
    /// `os.version` (kernel release).
    pub os_version: String,
    /// `user.name`.
    pub user_name: String,
    /// `user.home`.
    pub user_home: String,
    /// `user.dir` (working directory).
    pub user_dir: String,
    /// `os.memory.free`, MB (JVM: unused committed heap; we: 0).
    pub memory_free_mb: u64,
    /// `os.memory.max`, MB (JVM: max heap; we: physical memory).
    pub memory_max_mb: u64,
    /// `os.memory.total`, MB (JVM: committed heap; we: resident set size).
    pub memory_total_mb: u64,
}

/// `envi`: the version, then the properties in Apache's order, then memory in MB.
pub(super) fn render(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    let e = &snap.environment;
    writeln!(out, "Environment:")?;
    writeln!(out, "zookeeper.version={}", snap.full_version())?;
    let pairs: [(&str, &str); 14] = [
        ("host.name", &e.host_name),
        ("java.version", &e.java_version),
        ("java.vendor", &e.java_vendor),
        ("java.home", &e.java_home),
        ("java.class.path", &e.java_class_path),
        ("java.library.path", &e.java_library_path),
        ("java.io.tmpdir", &e.java_io_tmpdir),
        ("java.compiler", &e.java_compiler),
        ("os.name", &e.os_name),
        ("os.arch", &e.os_arch),
        ("os.version", &e.os_version),
        ("user.name", &e.user_name),
        ("user.home", &e.user_home),
        ("user.dir", &e.user_dir),
    ];
    for (k, v) in pairs {
        writeln!(out, "{k}={v}")?;
    }
    writeln!(out, "os.memory.free={}MB", e.memory_free_mb)?;
    writeln!(out, "os.memory.max={}MB", e.memory_max_mb)?;
    writeln!(out, "os.memory.total={}MB", e.memory_total_mb)?;
    Ok(())
}
