//! Figures about this process that Apache takes from its JVM: `envi`'s properties and the
//! file descriptor counts of `mntr`. Linux `/proc` where available, fallbacks elsewhere.

use super::envi::Environment;

impl Environment {
    /// Fills every key from this process (Linux `/proc` where available, else fallbacks).
    pub fn from_process() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let host_name = read("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".to_string());
        let os_name = match std::env::consts::OS {
            "linux" => "Linux".to_string(),
            "macos" => "Mac OS X".to_string(),
            "windows" => "Windows".to_string(),
            "freebsd" => "FreeBSD".to_string(),
            other => other.to_string(),
        };
        let os_arch = match std::env::consts::ARCH {
            "x86_64" => "amd64".to_string(),
            other => other.to_string(),
        };
        let os_version = read("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        let user_name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .or_else(user_name_from_passwd)
            .unwrap_or_else(|| "?".to_string());
        let path_string =
            |p: Option<std::path::PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_default();
        let kib_field = |text: &Option<String>, key: &str| -> Option<u64> {
            text.as_deref()?
                .lines()
                .find_map(|l| l.strip_prefix(key))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        let status = read("/proc/self/status");
        let meminfo = read("/proc/meminfo");
        Environment {
            host_name,
            java_version: "n/a".to_string(),
            java_vendor: "zkrs".to_string(),
            java_home: "n/a".to_string(),
            java_class_path: path_string(std::env::current_exe().ok()),
            java_library_path: std::env::var("LD_LIBRARY_PATH").unwrap_or_default(),
            java_io_tmpdir: std::env::temp_dir().display().to_string(),
            java_compiler: "<NA>".to_string(),
            os_name,
            os_arch,
            os_version,
            user_name,
            user_home: std::env::var("HOME").unwrap_or_default(),
            user_dir: path_string(std::env::current_dir().ok()),
            memory_free_mb: 0,
            memory_max_mb: kib_field(&meminfo, "MemTotal:").unwrap_or(0) / 1024,
            memory_total_mb: kib_field(&status, "VmRSS:").unwrap_or(0) / 1024,
        }
    }
}

fn user_name_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_string())
    })
}

/// Number of open file descriptors of this process (Linux), for `zk_open_file_descriptor_count`.
pub fn open_file_descriptor_count() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    // The directory handle being read is itself one of them.
    Some((n as u64).saturating_sub(1))
}

/// The soft limit on open files (Linux), for `zk_max_file_descriptor_count`.
pub fn max_file_descriptor_count() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
