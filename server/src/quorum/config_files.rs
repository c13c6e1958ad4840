//! The files a reconfiguring member keeps beside its `zoo.cfg`, as Apache writes them, so
//! that a restart (of zkrs or of Apache on the same files) starts from the configuration
//! the ensemble committed:
//!
//! - `zoo.cfg.dynamic.<hex version>`: the committed members, sorted `server.N=...` lines,
//!   no version line (the version is the file name's suffix);
//! - `zoo.cfg` rewritten without membership keys and pointing at it with
//!   `dynamicConfigFile=` (and without `clientPort`/`clientPortAddress` once this member's
//!   server line carries its client address);
//! - `zoo.cfg.dynamic.next`: a configuration proposed and not yet committed, with its
//!   `version=` line; read back as the last configuration seen, so that a reconfig
//!   interrupted by a crash completes in the next epoch. Deleted once it commits.
//!
//! Every file is replaced atomically (a durable temporary file renamed over it).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::verifier::{QuorumVerifier, VerifierError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: PathBuf,
        source: VerifierError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigFileError + '_ {
    move |source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The dynamic configuration files of the member whose static config is `static_path`.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    static_path: PathBuf,
}

impl ConfigFiles {
    pub fn new(static_path: impl Into<PathBuf>) -> ConfigFiles {
        ConfigFiles {
            static_path: static_path.into(),
        }
    }

    fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut name = self.static_path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// `zoo.cfg.dynamic.next`.
    pub fn next_path(&self) -> PathBuf {
        self.with_suffix(".dynamic.next")
    }

    /// `zoo.cfg.dynamic.<hex version>`.
    pub fn dynamic_path(&self, version: i64) -> PathBuf {
        self.with_suffix(&format!(".dynamic.{version:x}"))
    }

    /// Keeps a proposed configuration until it commits.
    pub fn write_proposed(&self, qv: &QuorumVerifier) -> Result<(), ConfigFileError> {
        let mut lines = apache_lines(qv);
        lines.push(format!("version={:x}", qv.version));
        lines.sort();
        write_atomically(&self.next_path(), lines.join("\n").as_bytes())
    }

    /// The proposed configuration a crash left behind, if any.
    pub fn read_proposed(&self) -> Result<Option<QuorumVerifier>, ConfigFileError> {
        let path = self.next_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        QuorumVerifier::parse(&text)
            .map(Some)
            .map_err(|source| ConfigFileError::Invalid { path, source })
    }

    /// The newest `zoo.cfg.dynamic.<hex version>` beside zoo.cfg, with its version: the
    /// last configuration this member activated, even one that does not list it (which
    /// zoo.cfg does not name, see [`ConfigFiles::write_active`]).
    pub fn newest_active(&self) -> Result<Option<QuorumVerifier>, ConfigFileError> {
        let dir = match self.static_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(name) = self.static_path.file_name() else {
            return Ok(None);
        };
        let prefix = format!("{}.dynamic.", name.to_string_lossy());
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&dir)(e)),
        };
        let newest = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                i64::from_str_radix(file.strip_prefix(&prefix)?, 16).ok()
            })
            .max();
        let Some(version) = newest else {
            return Ok(None);
        };
        let path = self.dynamic_path(version);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let mut qv = QuorumVerifier::parse(&text)
            .map_err(|source| ConfigFileError::Invalid { path, source })?;
        qv.version = version;
        Ok(Some(qv))
    }

    /// Makes `qv` the configuration this member starts from: its dynamic file, the static
    /// file pointing at it, and no leftover proposal of the same or an older version.
    /// `erase_client_port`: this member's server line names its client address, so the
    /// static `clientPort` keys go (Apache's `needEraseClientInfoFromStaticConfig`).
    ///
    /// `listed`: whether `qv` lists this member. If it does not (a joiner not added yet, a
    /// removed member), the dynamic file is written but zoo.cfg keeps naming the last
    /// configuration that lists it. Apache points zoo.cfg at the new file regardless, and
    /// then cannot start that member again (its myid has no line, so no addresses); a
    /// zkrs member restarts from its older configuration, and takes the ensemble's newer
    /// one from the first notification or NEWLEADER it hears, as a non-voter.
    pub fn write_active(
        &self,
        qv: &QuorumVerifier,
        erase_client_port: bool,
        listed: bool,
    ) -> Result<(), ConfigFileError> {
        let dynamic = self.dynamic_path(qv.version);
        let mut lines = apache_lines(qv);
        lines.sort();
        write_atomically(&dynamic, lines.join("\n").as_bytes())?;
        if !listed {
            self.drop_committed_proposal(qv);
            return Ok(());
        }

        let old = fs::read_to_string(&self.static_path).map_err(io(&self.static_path))?;
        let dynamic_abs = fs::canonicalize(&dynamic).map_err(io(&dynamic))?;
        let mut out = String::new();
        for line in old.lines() {
            if !is_membership_line(line, erase_client_port) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&format!("dynamicConfigFile={}\n", dynamic_abs.display()));
        write_atomically(&self.static_path, out.as_bytes())?;
        self.drop_committed_proposal(qv);
        Ok(())
    }

    /// Removes the proposal file: its proposal can no longer commit.
    pub fn forget_proposed(&self) -> Result<(), ConfigFileError> {
        match fs::remove_file(self.next_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&self.next_path())(e)),
            _ => Ok(()),
        }
    }

    /// Removes the proposal file once `qv`, as new or newer, committed.
    fn drop_committed_proposal(&self, qv: &QuorumVerifier) {
        if let Some(next) = self.read_proposed().ok().flatten() {
            if next.version <= qv.version {
                let _ = fs::remove_file(self.next_path());
            }
        }
    }
}

/// `server.N=value` lines as Apache writes them, to be sorted as strings (so
/// `server.10=` comes before `server.1=` and `server.2=`).
fn apache_lines(qv: &QuorumVerifier) -> Vec<String> {
    qv.dynamic_file_text().lines().map(str::to_string).collect()
}

/// The keys Apache's `editStaticConfig` drops from the static file.
fn is_membership_line(line: &str, erase_client_port: bool) -> bool {
    let key = line.split(['=', ':']).next().unwrap_or_default().trim();
    if key.starts_with('#') || key.is_empty() {
        return false;
    }
    key.starts_with("server.")
        || key.starts_with("group")
        || key.starts_with("weight")
        || key.starts_with("dynamicConfigFile")
        || key.starts_with("peerType")
        || (erase_client_port && key.starts_with("clientPort"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ConfigFileError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::storage::fsync_dir(dir).map_err(io(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qv(version: i64) -> QuorumVerifier {
        let mut q = QuorumVerifier::parse(
            "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=127.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
             server.10=127.0.0.10:2888:3888:observer;0.0.0.0:2181",
        )
        .unwrap();
        q.version = version;
        q
    }

    #[test]
    fn an_active_config_gets_its_file_and_the_static_file_points_at_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        fs::write(
            &cfg,
            "tickTime=2000\ndataDir=/d\nclientPort=2181\nserver.1=127.0.0.1:2888:3888;2181\nreconfigEnabled=true\n",
        )
        .unwrap();
        let files = ConfigFiles::new(&cfg);
        files.write_proposed(&qv(0x1_0000_0002)).unwrap();
        assert_eq!(files.read_proposed().unwrap(), Some(qv(0x1_0000_0002)));

        files.write_active(&qv(0x1_0000_0002), true, true).unwrap();
        let dynamic = fs::read_to_string(dir.path().join("zoo.cfg.dynamic.100000002")).unwrap();
        assert_eq!(
            dynamic,
            "server.10=127.0.0.10:2888:3888:observer;0.0.0.0:2181\n\
             server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=127.0.0.2:2888:3888:participant;0.0.0.0:2181",
            "sorted as strings, as Apache sorts them ('0' < '='), no version line"
        );
        let static_text = fs::read_to_string(&cfg).unwrap();
        let canonical = fs::canonicalize(dir.path().join("zoo.cfg.dynamic.100000002")).unwrap();
        assert_eq!(
            static_text,
            format!(
                "tickTime=2000\ndataDir=/d\nreconfigEnabled=true\ndynamicConfigFile={}\n",
                canonical.display()
            )
        );
        assert!(!files.next_path().exists(), "the proposal committed");
    }

    #[test]
    fn a_newer_proposal_survives_the_activation_of_an_older_config() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        fs::write(&cfg, "dataDir=/d\n").unwrap();
        let files = ConfigFiles::new(&cfg);
        files.write_proposed(&qv(9)).unwrap();
        files.write_active(&qv(5), false, true).unwrap();
        assert_eq!(files.read_proposed().unwrap().map(|q| q.version), Some(9));
        let again = fs::read_to_string(&cfg).unwrap();
        files.write_active(&qv(5), false, true).unwrap();
        assert_eq!(
            fs::read_to_string(&cfg).unwrap(),
            again,
            "rewriting is idempotent: one dynamicConfigFile line"
        );
    }

    #[test]
    fn a_forgotten_proposal_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = ConfigFiles::new(dir.path().join("zoo.cfg"));
        files.write_proposed(&qv(9)).unwrap();
        files.forget_proposed().unwrap();
        assert_eq!(files.read_proposed().unwrap(), None);
        files.forget_proposed().expect("forgetting nothing is fine");
    }

    #[test]
    fn a_config_that_does_not_list_the_member_leaves_zoo_cfg_on_the_last_that_did() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        fs::write(&cfg, "dataDir=/d\n").unwrap();
        let files = ConfigFiles::new(&cfg);
        files.write_active(&qv(5), false, true).unwrap();
        let listed = fs::read_to_string(&cfg).unwrap();
        files.write_proposed(&qv(9)).unwrap();
        files.write_active(&qv(9), false, false).unwrap();
        assert!(
            files.dynamic_path(9).exists(),
            "the new config is kept on disk"
        );
        assert_eq!(
            fs::read_to_string(&cfg).unwrap(),
            listed,
            "zoo.cfg unchanged"
        );
        assert!(!files.next_path().exists(), "the proposal committed");
        assert_eq!(
            files.newest_active().unwrap(),
            Some(qv(9)),
            "a restart finds it, and starts outside it"
        );
    }

    #[test]
    fn no_proposal_is_none_and_a_damaged_one_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = ConfigFiles::new(dir.path().join("zoo.cfg"));
        assert_eq!(files.read_proposed().unwrap(), None);
        fs::write(files.next_path(), "server.x=oops").unwrap();
        let err = files.read_proposed().unwrap_err().to_string();
        assert!(err.contains("zoo.cfg.dynamic.next"), "{err}");
    }
}
