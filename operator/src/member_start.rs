//! `zkrs-operator prepare-member`: what a pod does before its member starts (an init
//! container), so that a member restarts from its own committed configuration and a new
//! member joins instead of crash-looping.
//!
//! The member runs from `<data>/zoo.cfg`, a writable copy in its volume: a reconfiguring
//! member writes `zoo.cfg.dynamic.<version>` beside its zoo.cfg and points zoo.cfg at it
//! (as Apache does), and the ConfigMap mount is read-only. Each start:
//!
//! * `myid` is written from the pod's name (`zk-2` is server 3) when missing;
//! * the settings are the ConfigMap's (so a changed zoo.cfg rolls out), with `dataDir`
//!   and `dataLogDir` the volume and the admin server on the client port's address;
//! * the membership is the member's own last committed one (the versioned
//!   `zoo.cfg.dynamic.<version>` its zoo.cfg points at) when that lists it; otherwise
//!   (first start, or a member removed earlier and now back) the committed voters from the
//!   members ConfigMap, plus its own line when it is not one of them: it starts as a
//!   joiner, follows without a vote, and becomes a voter when the operator's
//!   `reconfig -add` commits.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use zkrs_server::config::hostname_myid::myid_from_hostname;

use crate::builders::{SERVERS_KEY, VOTERS_KEY, ZOO_CFG_KEY};

/// The bootstrap membership file the start writes (no version: the server stamps one).
pub const BOOTSTRAP_FILE: &str = "zoo.cfg.dynamic";
/// The prefix of the files the server writes with each committed configuration.
const COMMITTED_PREFIX: &str = "zoo.cfg.dynamic.";

/// Why a member cannot be prepared; the init container fails with it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pod name {0:?} does not end in -<ordinal>")]
    PodName(String),
    #[error("{path}: myid holds {found:?}, but pod {pod} is server {id}")]
    OtherMyid {
        path: PathBuf,
        found: String,
        pod: String,
        id: u64,
    },
    #[error("{path}: no line for server {id}")]
    NoServerLine { path: PathBuf, id: u64 },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What the start decided, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// The member's own committed configuration, this file.
    Committed(PathBuf),
    /// The committed voters from the ConfigMap; `joiner` when this member is not one.
    FromConfigMap { voters: Vec<u64>, joiner: bool },
}

/// Where the pieces are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The ConfigMaps' mount (`zoo.cfg`, `servers`, `voters`).
    pub conf: PathBuf,
    /// The member's volume: its dataDir and its zoo.cfg.
    pub data: PathBuf,
}

impl Paths {
    pub fn zoo_cfg(&self) -> PathBuf {
        self.data.join("zoo.cfg")
    }
}

fn read(path: &Path) -> Result<String, StartError> {
    fs::read_to_string(path).map_err(|source| StartError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `text` to `path` through a temporary file renamed over it, so that a crash never
/// leaves half a file for the next start.
fn write_atomically(path: &Path, text: &str) -> Result<(), StartError> {
    let io = |source| StartError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// The value of `key` in a properties text (last one wins, as the server reads it).
fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .rev()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

/// Whether a configuration text has a line for server `id`.
fn lists(text: &str, id: u64) -> bool {
    let prefix = format!("server.{id}=");
    text.lines().any(|l| l.trim().starts_with(&prefix))
}

/// The member's own committed configuration: the versioned file its zoo.cfg points at, if
/// it exists and lists the member.
fn own_committed(paths: &Paths, id: u64) -> Result<Option<PathBuf>, StartError> {
    let zoo_cfg = paths.zoo_cfg();
    let Ok(text) = fs::read_to_string(&zoo_cfg) else {
        return Ok(None);
    };
    let Some(file) = value(&text, "dynamicConfigFile") else {
        return Ok(None);
    };
    let file = PathBuf::from(file);
    let versioned = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(COMMITTED_PREFIX))
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()));
    if !versioned {
        return Ok(None);
    }
    match fs::read_to_string(&file) {
        Ok(members) if lists(&members, id) => Ok(Some(file)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StartError::Io { path: file, source }),
    }
}

/// The membership from the ConfigMap: the voters' lines, and this member's own when it is
/// not a voter.
fn from_configmap(paths: &Paths, id: u64) -> Result<(String, Vec<u64>, bool), StartError> {
    let servers_path = paths.conf.join(SERVERS_KEY);
    let servers = read(&servers_path)?;
    let voters_path = paths.conf.join(VOTERS_KEY);
    let voters_text = read(&voters_path)?;
    let voters: Vec<u64> = voters_text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse().map_err(|_| StartError::Invalid {
                path: voters_path.clone(),
                message: format!("{v:?} is not a server id"),
            })
        })
        .collect::<Result<_, _>>()?;
    let line = |id: u64| {
        let prefix = format!("server.{id}=");
        servers
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&prefix))
            .map(str::to_string)
            .ok_or_else(|| StartError::NoServerLine {
                path: servers_path.clone(),
                id,
            })
    };
    let mut lines = Vec::new();
    for &v in &voters {
        lines.push(line(v)?);
    }
    let joiner = !voters.contains(&id);
    if joiner {
        lines.push(line(id)?);
    }
    Ok((lines.join("\n") + "\n", voters, joiner))
}

/// The keys the start writes itself; the ConfigMap's values of them are dropped.
const OWN_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "dynamicConfigFile",
    "admin.serverAddress",
    "DigestAuthenticationProvider.superDigest",
    "zookeeper.DigestAuthenticationProvider.superDigest",
];

/// Prepares `paths.data` for the member of pod `pod_name`; returns the zoo.cfg to run and
/// what was decided.
pub fn prepare(
    paths: &Paths,
    pod_name: &str,
    super_digest: Option<&str>,
) -> Result<(PathBuf, Membership), StartError> {
    let id = myid_from_hostname(pod_name).map_err(|_| StartError::PodName(pod_name.to_string()))?;
    fs::create_dir_all(&paths.data).map_err(|source| StartError::Io {
        path: paths.data.clone(),
        source,
    })?;
    let myid = paths.data.join("myid");
    match fs::read_to_string(&myid) {
        Ok(found) if found.trim() == id.to_string() => {}
        Ok(found) => {
            return Err(StartError::OtherMyid {
                path: myid,
                found: found.trim().to_string(),
                pod: pod_name.to_string(),
                id,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomically(&myid, &format!("{id}\n"))?
        }
        Err(source) => return Err(StartError::Io { path: myid, source }),
    }

    let (dynamic, membership, own_line) = match own_committed(paths, id)? {
        Some(file) => {
            let text = read(&file)?;
            let own = own_line(&text, id);
            (file.clone(), Membership::Committed(file), own)
        }
        None => {
            let (text, voters, joiner) = from_configmap(paths, id)?;
            let file = paths.data.join(BOOTSTRAP_FILE);
            write_atomically(&file, &text)?;
            let own = own_line(&text, id);
            (file, Membership::FromConfigMap { voters, joiner }, own)
        }
    };
    let settings_path = paths.conf.join(ZOO_CFG_KEY);
    let settings = read(&settings_path)?;
    let mut out = String::new();
    for line in settings.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        if key.is_some_and(|k| OWN_KEYS.contains(&k) || k.starts_with("server.")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let data = paths.data.display();
    out.push_str(&format!("dataDir={data}\ndataLogDir={data}\n"));
    // The admin server listens where the client port does (every interface in a pod).
    if let Some(host) = own_line.as_deref().and_then(client_host) {
        out.push_str(&format!("admin.serverAddress={host}\n"));
    }
    if let Some(d) = super_digest.filter(|d| !d.is_empty()) {
        out.push_str(&format!("DigestAuthenticationProvider.superDigest={d}\n"));
    }
    out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    let zoo_cfg = paths.zoo_cfg();
    write_atomically(&zoo_cfg, &out)?;
    Ok((zoo_cfg, membership))
}

fn own_line(text: &str, id: u64) -> Option<String> {
    let prefix = format!("server.{id}=");
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .map(str::to_string)
}

/// The host of a server line's client address (`...;host:port`), if it names one.
fn client_host(line: &str) -> Option<String> {
    let (_, client) = line.split_once(';')?;
    let (host, _port) = client.rsplit_once(':')?;
    Some(host.trim_matches(['[', ']']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(voters: &str) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        fs::create_dir_all(&conf).unwrap();
        fs::write(
            conf.join(ZOO_CFG_KEY),
            "tickTime=2000\ndataDir=/data\nclientPort=2181\nclientPortAddress=0.0.0.0\nreconfigEnabled=true\n",
        )
        .unwrap();
        let servers: String = (1..=5)
            .map(|id| {
                format!(
                    "server.{id}=zk-{}.zk-hs:2888:3888:participant;0.0.0.0:2181\n",
                    id - 1
                )
            })
            .collect();
        fs::write(conf.join(SERVERS_KEY), servers).unwrap();
        fs::write(conf.join(VOTERS_KEY), voters).unwrap();
        let data = dir.path().join("data");
        (dir, Paths { conf, data })
    }

    #[test]
    fn a_first_start_takes_the_voters_and_writes_myid() {
        let (_d, p) = setup("1,2,3\n");
        let (cfg, m) = prepare(&p, "zk-1", Some("super:abc=")).unwrap();
        assert_eq!(
            m,
            Membership::FromConfigMap {
                voters: vec![1, 2, 3],
                joiner: false
            }
        );
        assert_eq!(fs::read_to_string(p.data.join("myid")).unwrap(), "2\n");
        let text = fs::read_to_string(&cfg).unwrap();
        assert!(text.contains("tickTime=2000\n"));
        assert!(!text.contains("dataDir=/data\n") && !text.contains("clientPort="));
        assert!(text.contains(&format!("dataDir={}\n", p.data.display())));
        assert!(text.contains("admin.serverAddress=0.0.0.0\n"));
        assert!(text.contains("DigestAuthenticationProvider.superDigest=super:abc=\n"));
        let dynamic = fs::read_to_string(p.data.join(BOOTSTRAP_FILE)).unwrap();
        assert_eq!(dynamic.lines().count(), 3);
    }

    #[test]
    fn a_pod_that_is_not_a_voter_starts_as_a_joiner() {
        let (_d, p) = setup("1,2,3\n");
        let (_, m) = prepare(&p, "zk-3", None).unwrap();
        assert_eq!(
            m,
            Membership::FromConfigMap {
                voters: vec![1, 2, 3],
                joiner: true
            }
        );
        let dynamic = fs::read_to_string(p.data.join(BOOTSTRAP_FILE)).unwrap();
        assert!(dynamic.contains("server.4=zk-3.zk-hs:2888:3888:participant;0.0.0.0:2181"));
        assert_eq!(dynamic.lines().count(), 4);
    }

    #[test]
    fn a_restart_keeps_the_members_own_committed_configuration() {
        let (_d, p) = setup("1,2,3\n");
        prepare(&p, "zk-0", None).unwrap();
        // The server committed a 5-member configuration and pointed its zoo.cfg at it.
        let committed = p.data.join("zoo.cfg.dynamic.200000003");
        let five: String = (1..=5)
            .map(|id| format!("server.{id}=h{id}:2888:3888:participant;0.0.0.0:2181\n"))
            .collect();
        fs::write(&committed, five).unwrap();
        fs::write(
            p.zoo_cfg(),
            format!("tickTime=2000\ndynamicConfigFile={}\n", committed.display()),
        )
        .unwrap();
        // The ConfigMap changed meanwhile (a new tickTime, stale voters).
        fs::write(p.conf.join(ZOO_CFG_KEY), "tickTime=3000\n").unwrap();
        let (cfg, m) = prepare(&p, "zk-0", None).unwrap();
        assert_eq!(m, Membership::Committed(committed.clone()));
        let text = fs::read_to_string(cfg).unwrap();
        assert!(text.contains("tickTime=3000\n"));
        assert!(text.contains(&format!("dynamicConfigFile={}\n", committed.display())));
    }

    #[test]
    fn a_removed_member_back_again_joins_from_the_configmap() {
        let (_d, p) = setup("1,2,3\n");
        prepare(&p, "zk-4", None).unwrap();
        let committed = p.data.join("zoo.cfg.dynamic.300000001");
        let three: String = (1..=3)
            .map(|id| format!("server.{id}=h{id}:2888:3888:participant;0.0.0.0:2181\n"))
            .collect();
        fs::write(&committed, three).unwrap();
        fs::write(
            p.zoo_cfg(),
            format!("dynamicConfigFile={}\n", committed.display()),
        )
        .unwrap();
        let (_, m) = prepare(&p, "zk-4", None).unwrap();
        assert_eq!(
            m,
            Membership::FromConfigMap {
                voters: vec![1, 2, 3],
                joiner: true
            }
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let (_d, p) = setup("1,x\n");
        let e = prepare(&p, "zk-0", None).unwrap_err();
        assert!(e.to_string().contains("\"x\" is not a server id"), "{e}");
        let (_d, p) = setup("1\n");
        assert!(matches!(
            prepare(&p, "nohyphen", None),
            Err(StartError::PodName(_))
        ));
        let (_d, p) = setup("1,9\n");
        assert!(matches!(
            prepare(&p, "zk-0", None),
            Err(StartError::NoServerLine { id: 9, .. })
        ));
        let (_d, p) = setup("1\n");
        fs::create_dir_all(&p.data).unwrap();
        fs::write(p.data.join("myid"), "7\n").unwrap();
        assert!(matches!(
            prepare(&p, "zk-0", None),
            Err(StartError::OtherMyid { .. })
        ));
    }
}
