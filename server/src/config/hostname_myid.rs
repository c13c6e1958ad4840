//! `--myid-from-hostname`: a member learns its server id from its hostname's ordinal.
//!
//! A Kubernetes StatefulSet names its pods `NAME-0`, `NAME-1`, ... and gives each a
//! volume that follows the name, so one zoo.cfg can serve every pod if each pod writes its
//! own `dataDir/myid` on first start: `NAME-N` is server N + 1. An existing `myid` is
//! never overwritten (the volume already belongs to a member), only compared.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// The environment variable that asks for the same as the flag (`1`, `true` or `yes`).
pub const ENV_VAR: &str = "ZKRS_MYID_FROM_HOSTNAME";

/// Why no `myid` could be derived or written.
#[derive(Debug, thiserror::Error)]
pub enum HostnameMyIdError {
    #[error(
        "hostname {hostname:?} does not end in an ordinal like NAME-0 or NAME-2, \
         so no myid can be derived from it (write dataDir/myid instead)"
    )]
    NoOrdinal { hostname: String },
    #[error("hostname {hostname:?}: the ordinal is too large for a server id")]
    TooLarge { hostname: String },
    #[error("cannot read this machine's hostname: {0}")]
    Hostname(io::Error),
    #[error("{ENV_VAR}={value:?}: expected 1, true or yes (or 0, false, no)")]
    BadEnv { value: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{file}: cannot write: {source}")]
    Write { file: String, source: io::Error },
}

/// What [`ensure_myid`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `myid` was missing and now holds `id`.
    Written { file: PathBuf, id: u64 },
    /// `myid` exists (it is left as it is, and checked later); `existing` is its trimmed
    /// text, `derived` what the hostname says.
    Kept {
        file: PathBuf,
        existing: String,
        derived: u64,
    },
    /// The config has no `server.N` lines (nor a dynamic config file): a standalone server
    /// needs no id.
    NotNeeded,
}

/// The server id for a hostname ending in `-N`: N + 1. Only the first DNS label counts,
/// so `zk-2.zk-hs.default.svc.cluster.local` is `zk-2`.
pub fn myid_from_hostname(hostname: &str) -> Result<u64, HostnameMyIdError> {
    let no_ordinal = || HostnameMyIdError::NoOrdinal {
        hostname: hostname.to_string(),
    };
    let label = hostname.trim().split('.').next().unwrap_or_default();
    let (name, ordinal) = label.rsplit_once('-').ok_or_else(no_ordinal)?;
    if name.is_empty() || ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(no_ordinal());
    }
    let too_large = || HostnameMyIdError::TooLarge {
        hostname: hostname.to_string(),
    };
    let ordinal: u64 = ordinal.parse().map_err(|_| too_large())?;
    // Server ids are Java longs: 1..=i64::MAX.
    if ordinal >= i64::MAX as u64 {
        return Err(too_large());
    }
    Ok(ordinal + 1)
}

/// Whether the environment variable's value asks for the hostname's ordinal; unset or
/// empty means no.
pub fn env_enabled(value: Option<&OsStr>) -> Result<bool, HostnameMyIdError> {
    let Some(value) = value else {
        return Ok(false);
    };
    let v = value.to_string_lossy();
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" => Ok(false),
        "1" | "true" | "yes" => Ok(true),
        _ => Err(HostnameMyIdError::BadEnv {
            value: v.into_owned(),
        }),
    }
}

/// This machine's hostname as the kernel knows it (what `hostname` prints), or `$HOSTNAME`
/// where /proc is not mounted.
pub fn current_hostname() -> Result<String, HostnameMyIdError> {
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(h) if !h.trim().is_empty() => Ok(h.trim().to_string()),
        Ok(_) => std::env::var("HOSTNAME").map_err(|_| {
            HostnameMyIdError::Hostname(io::Error::other("the kernel's hostname is empty"))
        }),
        Err(e) => std::env::var("HOSTNAME").map_err(|_| HostnameMyIdError::Hostname(e)),
    }
}

/// Writes `dataDir/myid` from `hostname` when zoo.cfg at `config_path` names members and
/// `myid` does not exist yet. Everything else about the file is checked later, by
/// [`Config::from_file`]; the id written may still be refused there if zoo.cfg does not
/// list it.
pub fn ensure_myid(config_path: &Path, hostname: &str) -> Result<Outcome, HostnameMyIdError> {
    let text = std::fs::read_to_string(config_path).map_err(|e| {
        HostnameMyIdError::Config(ConfigError::Io {
            file: config_path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        })
    })?;
    let (cfg, _warnings) = Config::parse(&text, &config_path.display().to_string())?;
    if cfg.servers.is_empty() && cfg.dynamic_config_file.is_none() {
        return Ok(Outcome::NotNeeded);
    }
    let derived = myid_from_hostname(hostname)?;
    // Relative to the working directory, as Config::from_file resolves it.
    let data_dir = super::absolute(&cfg.data_dir)?;
    let file = data_dir.join("myid");
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            return Ok(Outcome::Kept {
                file,
                existing: text.trim().to_string(),
                derived,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(HostnameMyIdError::Config(ConfigError::Io {
                file: file.display().to_string(),
                kind: e.kind(),
                message: e.to_string(),
            }))
        }
    }
    let write_err = |path: &Path, source| HostnameMyIdError::Write {
        file: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&data_dir).map_err(|e| write_err(&data_dir, e))?;
    // Written aside and renamed, so a crash never leaves a torn myid behind.
    let part = data_dir.join("myid.part");
    std::fs::write(&part, format!("{derived}\n")).map_err(|e| write_err(&part, e))?;
    std::fs::rename(&part, &file).map_err(|e| write_err(&file, e))?;
    Ok(Outcome::Written { file, id: derived })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ordinal_plus_one_is_the_id() {
        assert_eq!(myid_from_hostname("zk-0").unwrap(), 1);
        assert_eq!(myid_from_hostname("name-2").unwrap(), 3);
        assert_eq!(myid_from_hostname("my-cluster-10").unwrap(), 11);
        assert_eq!(myid_from_hostname("zk-2\n").unwrap(), 3);
    }

    #[test]
    fn only_the_first_dns_label_counts() {
        let fqdn = "zk-2.zk-hs.default.svc.cluster.local";
        assert_eq!(myid_from_hostname(fqdn).unwrap(), 3);
        assert!(myid_from_hostname("zk.ns-1").is_err());
    }

    #[test]
    fn a_hostname_without_an_ordinal_is_refused_by_name() {
        for h in [
            "zk",
            "zk2",
            "zk-",
            "-2",
            "zk-a",
            "zk-2a",
            "zk-+2",
            "",
            "4a7d1ef0c2b3",
        ] {
            match myid_from_hostname(h) {
                Err(e @ HostnameMyIdError::NoOrdinal { .. }) => {
                    assert!(e.to_string().contains(&format!("{h:?}")), "{e}")
                }
                other => panic!("{h:?}: expected NoOrdinal, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_ordinal_past_a_java_long_is_refused() {
        let max = i64::MAX as u64;
        assert_eq!(myid_from_hostname(&format!("zk-{}", max - 1)).unwrap(), max);
        for h in [
            format!("zk-{max}"),
            "zk-99999999999999999999999".to_string(),
        ] {
            assert!(matches!(
                myid_from_hostname(&h),
                Err(HostnameMyIdError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn the_env_var_takes_yes_or_no_words() {
        assert!(!env_enabled(None).unwrap());
        for v in ["", "0", "false", "No"] {
            assert!(!env_enabled(Some(OsStr::new(v))).unwrap(), "{v}");
        }
        for v in ["1", "true", "YES"] {
            assert!(env_enabled(Some(OsStr::new(v))).unwrap(), "{v}");
        }
        assert!(matches!(
            env_enabled(Some(OsStr::new("2"))),
            Err(HostnameMyIdError::BadEnv { .. })
        ));
    }

    fn member_cfg(dir: &Path) -> PathBuf {
        let cfg = dir.join("zoo.cfg");
        let data = dir.join("data");
        std::fs::write(
            &cfg,
            format!(
                "dataDir={}\nserver.1=zk-0:2888:3888;2181\nserver.2=zk-1:2888:3888;2181\n\
                 server.3=zk-2:2888:3888;2181\n",
                data.display()
            ),
        )
        .unwrap();
        cfg
    }

    #[test]
    fn a_missing_myid_is_written_and_the_config_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = member_cfg(dir.path());
        let outcome = ensure_myid(&cfg, "zk-1").unwrap();
        let file = dir.path().join("data").join("myid");
        assert_eq!(
            outcome,
            Outcome::Written {
                file: file.clone(),
                id: 2
            }
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "2\n");
        assert!(!dir.path().join("data").join("myid.part").exists());
        let (config, _) = Config::from_file(&cfg).unwrap();
        assert_eq!(config.my_server().map(|s| s.id), Some(2));
    }

    #[test]
    fn an_existing_myid_is_kept_even_when_the_hostname_disagrees() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = member_cfg(dir.path());
        let file = dir.path().join("data").join("myid");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "3\n").unwrap();
        let outcome = ensure_myid(&cfg, "zk-0").unwrap();
        let existing = "3".to_string();
        assert_eq!(
            outcome,
            Outcome::Kept {
                file: file.clone(),
                existing,
                derived: 1
            }
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "3\n");
    }

    #[test]
    fn a_standalone_config_needs_no_ordinal() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(&cfg, format!("dataDir={}\n", dir.path().display())).unwrap();
        assert_eq!(ensure_myid(&cfg, "laptop").unwrap(), Outcome::NotNeeded);
        assert!(!dir.path().join("myid").exists());
    }

    #[test]
    fn a_member_without_an_ordinal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = member_cfg(dir.path());
        assert!(matches!(
            ensure_myid(&cfg, "laptop"),
            Err(HostnameMyIdError::NoOrdinal { .. })
        ));
        assert!(!dir.path().join("data").exists());
    }

    #[test]
    fn a_bad_config_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.cfg");
        let e = ensure_myid(&missing, "zk-0").unwrap_err();
        assert!(e.to_string().contains("nope.cfg"), "{e}");
    }
}
