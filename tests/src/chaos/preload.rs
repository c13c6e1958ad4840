//! LD_PRELOAD shims, built with `cc` when a run needs them: [`disk`](super::disk)'s
//! `faultfs.c` (slow, failing and full disks) and [`reroute`](super::reroute)'s
//! `reroute.c` (a dynamic ensemble's links through the proxies). A member is started
//! under `env` with the libraries preloaded and the shims' settings in its environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

/// Writes `source` to `dir/<name>.c` and builds it into `dir/<name>.so`; returns the
/// library's path.
pub fn build(dir: &Path, name: &str, source: &str) -> anyhow::Result<PathBuf> {
    let source_file = dir.join(format!("{name}.c"));
    let library = dir.join(format!("{name}.so"));
    fs::write(&source_file, source)?;
    let output = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&source_file)
        .arg("-ldl")
        .output()
        .context("running cc (the disk and reconfig-partition nemeses build LD_PRELOAD shims; install gcc)")?;
    if !output.status.success() {
        bail!(
            "cc could not build the {name} shim: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(library)
}

/// The process wrapper that loads `libraries` into a member, with `env` (`NAME=value`)
/// in its environment.
pub fn wrapper(libraries: &[PathBuf], env: &[String]) -> Vec<String> {
    let preload: Vec<String> = libraries.iter().map(|l| l.display().to_string()).collect();
    let mut wrapper = vec![
        "env".to_string(),
        format!("LD_PRELOAD={}", preload.join(":")),
    ];
    wrapper.extend(env.iter().cloned());
    wrapper
}

/// Fails, saying what to install, when `cc` cannot be run: the shims are built with it
/// (tests/install-deps.sh installs gcc).
pub fn require_cc() {
    assert!(
        Command::new("cc").arg("--version").output().is_ok(),
        "the LD_PRELOAD shims are built with cc, and there is no cc (tests/install-deps.sh installs gcc)"
    );
}

/// A temporary directory holding the shim `build` makes, for the shims' own tests.
#[cfg(test)]
pub fn test_shim(
    build: impl FnOnce(&Path) -> anyhow::Result<PathBuf>,
) -> (tempfile::TempDir, PathBuf) {
    require_cc();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let library = build(dir.path()).expect("building the shim");
    (dir, library)
}

/// Builds the test program `source` into `dir/probe` (the shims' tests run it under them).
#[cfg(test)]
pub fn build_probe(dir: &Path, source: &str) -> PathBuf {
    fs::write(dir.join("probe.c"), source).expect("writing probe.c");
    let built = Command::new("cc")
        .args(["-O2", "-o", "probe", "probe.c"])
        .current_dir(dir)
        .output()
        .expect("running cc");
    assert!(built.status.success(), "{built:?}");
    dir.join("probe")
}
