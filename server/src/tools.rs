//! Offline tools over a data directory: print a log segment or a snapshot (like Apache's
//! `LogFormatter` and `SnapshotFormatter`) and purge old files (like `zkCleanup.sh`); and a
//! measurement of how long a snapshot stops the core.

use std::fmt::Write as _;
use std::path::Path;

use crate::config::Config;
use crate::ids::Zxid;
use crate::quorum::election::{Decision, History, Role};
use crate::quorum::election_net::{self, ElectionNetError, ElectionSetup};
use crate::storage::codec::describe;
use crate::storage::epoch::{self, EpochError};
use crate::storage::purge::{purge, PurgeReport};
use crate::storage::recovery::recover;
use crate::storage::snapshot;
use crate::storage::txnlog::scan_segment;
use crate::storage::{DataDirs, StorageError};
use tokio::sync::watch;

pub use crate::snapshot_pause::measure as measure_snapshot_pause;

/// One line per transaction: zxid, session, cxid, time, op and path; then what stopped the
/// scan, if anything did.
pub fn dump_log(path: &Path) -> std::io::Result<String> {
    let scan = scan_segment(path)?;
    let mut out = String::new();
    for (h, t) in &scan.entries {
        let _ = writeln!(
            out,
            "zxid={:#x} session={:#x} cxid={:#x} time={} {}",
            h.zxid,
            h.session_id,
            h.cxid,
            h.time,
            describe(t)
        );
    }
    let _ = writeln!(out, "{} transactions", scan.entries.len());
    if let Some(p) = scan.problem {
        let _ = writeln!(
            out,
            "stopped at {:?}; {} of {} bytes are valid",
            p, scan.valid_len, scan.file_len
        );
    }
    Ok(out)
}

/// The snapshot's zxid, every node with its Stat, and the sessions with their ephemerals.
pub fn dump_snapshot(path: &Path) -> Result<String, snapshot::SnapshotError> {
    let tree = snapshot::load(path)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "zxid={:#x} nodes={}",
        tree.last_zxid(),
        tree.node_count()
    );
    let mut nodes: Vec<_> = tree.iter_nodes().collect();
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, n) in nodes {
        let s = n.stat();
        let _ = writeln!(
            out,
            "{path} czxid={:#x} mzxid={:#x} pzxid={:#x} version={} cversion={} aversion={} \
             ephemeralOwner={:#x} dataLength={} numChildren={}",
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children
        );
    }
    let mut sessions: Vec<_> = tree.sessions().collect();
    sessions.sort_by_key(|(id, _)| **id);
    let _ = writeln!(out, "sessions={}", sessions.len());
    for (id, rec) in sessions {
        let eph: Vec<&String> = tree.ephemerals_of(*id).collect();
        let _ = writeln!(
            out,
            "session {id:#x} timeout={} ephemerals={eph:?}",
            rec.timeout_ms
        );
    }
    Ok(out)
}

/// `zkrs-server purge`: keeps `count` snapshots (at least 3) and the logs they need.
pub fn purge_dirs(
    data_dir: &Path,
    data_log_dir: &Path,
    count: usize,
) -> Result<PurgeReport, StorageError> {
    purge(&DataDirs::new(data_dir, data_log_dir), count)
}

/// Why `zkrs-server elect` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ElectError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Epoch(#[from] EpochError),
    #[error(transparent)]
    Net(#[from] ElectionNetError),
}

/// `zkrs-server elect`: runs only leader election for `config`'s member (its `myid`), with
/// the last zxid of the state recovered from its data dirs and its `currentEpoch`, and
/// calls `report` with one line per decision. Keeps answering the other members until the
/// future is dropped. Must run inside a Tokio runtime.
pub async fn elect(config: &Config, mut report: impl FnMut(&str)) -> Result<(), ElectError> {
    let dirs = DataDirs::open(&config.data_dir, &config.data_log_dir)?;
    let (tree, _) = recover(&dirs)?;
    let last_zxid = Zxid::from_raw(tree.last_zxid());
    drop(tree);
    let epochs = epoch::load(&dirs.snap_dir, last_zxid)?;
    let history = History {
        last_zxid,
        current_epoch: epochs.current,
    };
    tracing::info!(zxid = %format_args!("{:#x}", last_zxid.raw()), current_epoch = epochs.current, "electing");
    let setup = ElectionSetup::from_config(config, history)?;
    let (tx, mut rx) = watch::channel(None);
    let run = election_net::run(setup, tx);
    tokio::pin!(run);
    loop {
        tokio::select! {
            r = &mut run => return r.map_err(ElectError::from),
            changed = rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let decided = *rx.borrow_and_update();
                if let Some(d) = decided {
                    report(&describe_decision(&d));
                }
            }
        }
    }
}

/// `elected: follow 3 (epoch 0x1, peerEpoch 0x0, zxid 0x0)`: the role, the round (election
/// epoch) it was decided in, and the leader's epoch and zxid.
fn describe_decision(d: &Decision) -> String {
    let role = match d.role {
        Role::Lead => "lead".to_string(),
        Role::Follow(sid) => format!("follow {sid}"),
        Role::Observe(sid) => format!("observe {sid}"),
    };
    format!(
        "elected: {role} (epoch {:#x}, peerEpoch {:#x}, zxid {:#x})",
        d.vote.election_epoch,
        d.vote.peer_epoch,
        d.vote.zxid.raw()
    )
}

/// What `zkrs-server status` found: the lines to print, and whether the server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub serving: bool,
}

/// Apache's `zkServer.sh status` message for a server that gave no `Mode:`.
pub const NOT_RUNNING: &str = "Error contacting service. It is probably not running.";

/// The address `zkrs-server status` asks, and how it names the host: a wildcard client
/// address is reached on loopback and printed as `localhost`, as `zkServer.sh` does when
/// `clientPortAddress` is unset.
pub fn status_target(config: &Config) -> (std::net::SocketAddr, String) {
    let addr = config.client_addr();
    if addr.ip().is_unspecified() {
        let ip: std::net::IpAddr = if addr.is_ipv6() {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        };
        (
            std::net::SocketAddr::new(ip, addr.port()),
            "localhost".to_string(),
        )
    } else {
        (addr, addr.ip().to_string())
    }
}

/// `zkrs-server status`: sends `srvr` to the member `config` describes and reports as
/// `zkServer.sh status` does. `answer` is the reply (or why there was none), passed in so
/// the rendering is testable without a server; [`status`] does the asking.
pub fn render_status(config: &Config, answer: std::io::Result<String>) -> Status {
    let (addr, host) = status_target(config);
    let mut text = format!(
        "Client port found: {}. Client address: {host}. Client SSL: false.\n",
        addr.port()
    );
    let mode = answer
        .as_ref()
        .ok()
        .and_then(|a| a.lines().find(|l| l.starts_with("Mode: ")));
    match (mode, &answer) {
        (Some(m), _) => {
            text.push_str(m);
            text.push('\n');
        }
        (None, Ok(a)) => {
            // Apache prints only the error; the server's own words (not serving yet, srvr
            // not whitelisted) say why, so show them too.
            let first = a.lines().next().unwrap_or("(an empty answer)");
            let _ = writeln!(text, "{NOT_RUNNING}\nThe server answered: {first}");
        }
        (None, Err(e)) => {
            let _ = writeln!(text, "{NOT_RUNNING}\n({addr}: {e})");
        }
    }
    Status {
        text,
        serving: mode.is_some(),
    }
}

/// Asks the member `config` describes with `srvr`, waiting at most `limit` for each step.
pub fn status(config: &Config, limit: std::time::Duration) -> Status {
    use std::io::{Read, Write};
    let (addr, _) = status_target(config);
    let answer = (|| {
        let mut s = std::net::TcpStream::connect_timeout(&addr, limit)?;
        s.set_read_timeout(Some(limit))?;
        s.set_write_timeout(Some(limit))?;
        s.write_all(b"srvr")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })();
    render_status(config, answer)
}

/// The largest local ensemble `zkrs-server ensemble` writes.
pub const MAX_LOCAL_ENSEMBLE: usize = 9;

/// Ports of member `i` (1-based) of a local ensemble: client, quorum, election. With the
/// default base 2181 they are Apache's documented single-host layout (2181.., 2888..,
/// 3888..).
pub fn local_ports(base_port: u16, i: usize) -> Option<(u16, u16, u16)> {
    let off = u16::try_from(i.checked_sub(1)?).ok()?;
    let port = |delta: u16| base_port.checked_add(delta)?.checked_add(off);
    Some((port(0)?, port(707)?, port(1707)?))
}

/// Why a local ensemble cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalEnsembleError {
    #[error("an ensemble has 1 to {MAX_LOCAL_ENSEMBLE} members, got {0}")]
    Size(usize),
    #[error("{0} members tolerate no more failures than {n} (pass --allow-even to run it anyway)", n = .0 - 1)]
    Even(usize),
    #[error("base port {base}: member {n}'s election port would be above 65535")]
    Ports { base: u16, n: usize },
}

/// One member of a local ensemble: its directory, files and client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMember {
    pub id: usize,
    pub dir: std::path::PathBuf,
    pub zoo_cfg: String,
    pub client: std::net::SocketAddr,
}

impl LocalMember {
    pub fn cfg_path(&self) -> std::path::PathBuf {
        self.dir.join("zoo.cfg")
    }
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.join("data")
    }
    pub fn log_path(&self) -> std::path::PathBuf {
        self.dir.join("zkrs.log")
    }
}

/// Lays out `n` members under `dir` (`member1`, `member2`, ...), all on `host` with
/// distinct ports from `base_port`: pure, so the files are testable without writing them.
/// Every member lists all of them; each gets every four-letter word, since the ensemble is
/// for development on one machine, and no admin server (nothing would share its port).
pub fn local_ensemble(
    n: usize,
    dir: &Path,
    host: std::net::IpAddr,
    base_port: u16,
    allow_even: bool,
) -> Result<Vec<LocalMember>, LocalEnsembleError> {
    if !(1..=MAX_LOCAL_ENSEMBLE).contains(&n) {
        return Err(LocalEnsembleError::Size(n));
    }
    if n.is_multiple_of(2) && !allow_even {
        return Err(LocalEnsembleError::Even(n));
    }
    let mut ports = Vec::new();
    for i in 1..=n {
        ports.push(
            local_ports(base_port, i).ok_or(LocalEnsembleError::Ports { base: base_port, n })?,
        );
    }
    let h = if host.is_ipv6() {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let mut servers = String::new();
    for (i, (client, quorum, election)) in ports.iter().enumerate() {
        let _ = writeln!(
            servers,
            "server.{}={h}:{quorum}:{election}:participant;{h}:{client}",
            i + 1
        );
    }
    Ok(ports
        .iter()
        .enumerate()
        .map(|(i, (client, _, _))| {
            let id = i + 1;
            let member_dir = dir.join(format!("member{id}"));
            let zoo_cfg =
                format!(
                "# Member {id} of a local ensemble of {n}, written by `zkrs-server ensemble`.\n\
                 tickTime=2000\n\
                 initLimit=10\n\
                 syncLimit=5\n\
                 dataDir={}\n\
                 clientPort={client}\n\
                 clientPortAddress={host}\n\
                 4lw.commands.whitelist=*\n\
                 admin.enableServer=false\n\
                 {}{servers}",
                member_dir.join("data").display(),
                if n == 1 { "standaloneEnabled=false\n" } else { "" },
            );
            LocalMember {
                id,
                dir: member_dir,
                zoo_cfg,
                client: std::net::SocketAddr::new(host, *client),
            }
        })
        .collect())
}

/// Writes each member's zoo.cfg and `data/myid`, creating the directories.
pub fn write_local_ensemble(members: &[LocalMember]) -> std::io::Result<()> {
    for m in members {
        std::fs::create_dir_all(m.data_dir())?;
        std::fs::write(m.cfg_path(), &m.zoo_cfg)?;
        std::fs::write(m.data_dir().join("myid"), format!("{}\n", m.id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::txnlog::{list_segments, FileTxnLog};
    use crate::storage::writer::{LogEntry, TxnLog};
    use crate::txn::{Txn, TxnHeader};
    use std::sync::Arc;

    #[test]
    fn dumps_name_zxids_ops_and_paths() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(d.path().to_path_buf(), 1 << 20, false);
        log.append(&[LogEntry {
            hdr: TxnHeader {
                session_id: 0x10,
                cxid: 1,
                zxid: 0x2a,
                time: 7,
            },
            txn: Arc::new(Txn::Delete {
                path: "/gone".into(),
                container: false,
            }),
        }])
        .unwrap();
        let (_, seg) = list_segments(d.path()).unwrap().remove(0);
        let out = dump_log(&seg).unwrap();
        assert!(out.contains("zxid=0x2a session=0x10"), "{out}");
        assert!(out.contains("delete /gone"), "{out}");

        let tree = crate::tree::DataTree::new();
        let snap = snapshot::write(d.path(), 0, &snapshot::serialize(&tree)).unwrap();
        let out = dump_snapshot(&snap).unwrap();
        assert!(out.starts_with("zxid=0x0 nodes=4"), "{out}");
        assert!(out.contains("/zookeeper/config "), "{out}");
    }

    #[test]
    fn local_ensemble_files() {
        let dir = Path::new("/tmp/ens");
        let lo = std::net::IpAddr::from([127, 0, 0, 1]);
        let ms = local_ensemble(3, dir, lo, 2181, false).unwrap();
        assert_eq!(ms.len(), 3);
        assert_eq!(ms[1].dir, dir.join("member2"));
        assert_eq!(ms[1].client, "127.0.0.1:2182".parse().unwrap());
        assert_eq!(
            ms[1].zoo_cfg,
            "# Member 2 of a local ensemble of 3, written by `zkrs-server ensemble`.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/tmp/ens/member2/data
clientPort=2182
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181
server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182
server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2183
"
        );
        // Each file is one our own parser accepts as that member, without warnings.
        let d = tempfile::tempdir().unwrap();
        let ms = local_ensemble(5, d.path(), lo, 12181, false).unwrap();
        write_local_ensemble(&ms).unwrap();
        for m in &ms {
            let (c, w) = Config::from_file(&m.cfg_path()).unwrap();
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(c.my_id, Some(m.id as u64));
            assert_eq!(c.client_addr(), m.client);
            assert_eq!(c.servers.len(), 5);
            assert!(!c.is_standalone());
        }
        // Sizes and ports.
        assert_eq!(
            local_ensemble(4, dir, lo, 2181, false),
            Err(LocalEnsembleError::Even(4))
        );
        assert_eq!(local_ensemble(4, dir, lo, 2181, true).unwrap().len(), 4);
        assert_eq!(
            local_ensemble(0, dir, lo, 2181, true),
            Err(LocalEnsembleError::Size(0))
        );
        assert_eq!(
            local_ensemble(10, dir, lo, 2181, true),
            Err(LocalEnsembleError::Size(10))
        );
        assert_eq!(
            local_ensemble(3, dir, lo, 63827, false),
            Err(LocalEnsembleError::Ports { base: 63827, n: 3 })
        );
        assert!(local_ensemble(3, dir, lo, 63826, false).is_ok());
        let one = local_ensemble(1, dir, lo, 2181, false).unwrap();
        assert!(one[0].zoo_cfg.contains("standaloneEnabled=false\n"));
    }

    #[test]
    fn status_reads_like_zkserver_sh() {
        let cfg = Config::standalone_default("/d".into());
        let s = render_status(
            &cfg,
            Ok("Zookeeper version: 3.8\nMode: follower\nNode count: 5\n".into()),
        );
        assert!(s.serving);
        assert_eq!(
            s.text,
            "Client port found: 2181. Client address: 127.0.0.1. Client SSL: false.\nMode: follower\n"
        );
        let s = render_status(&cfg, Ok(format!("{}\n", crate::fourlw::NOT_SERVING)));
        assert!(!s.serving);
        assert_eq!(
            s.text,
            format!("Client port found: 2181. Client address: 127.0.0.1. Client SSL: false.\n{NOT_RUNNING}\nThe server answered: {}\n", crate::fourlw::NOT_SERVING)
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let s = render_status(&cfg, Err(refused));
        assert!(!s.serving);
        assert!(s.text.contains(NOT_RUNNING), "{}", s.text);
        // A wildcard address is asked on loopback and printed as localhost.
        let (c, _) = Config::parse("dataDir=/d\nclientPort=2999\n", "zoo.cfg").unwrap();
        assert_eq!(
            status_target(&c),
            ("127.0.0.1:2999".parse().unwrap(), "localhost".into())
        );
    }
}
