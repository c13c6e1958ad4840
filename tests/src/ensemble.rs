//! An ensemble of N server processes, each on its own loopback address with the fixed
//! client, quorum and election ports, for tests that kill, pause and restart members.
//!
//! Every member gets the same `server.N=127.1.a.b:2888:3888[:observer]` lines and its own
//! `myid`; an observer also gets `peerType=observer` in its own zoo.cfg (Apache needs both).
//! Apache ZooKeeper members run `QuorumPeerMain`; zkrs-server members run
//! `zkrs-server zoo.cfg` on the same file; both kinds share one ensemble. Members are
//! killed by PID on drop, also when a test fails, and the tails of their logs are printed
//! then.
//!
//! Which implementation each member runs in the replication tests is chosen by
//! `ZKRS_ENSEMBLE` ([`env_kinds`]): `zkrs` (the default), `apache`, `mixed`
//! (alternating, Apache first), or a pattern of `a`/`z` letters repeated over the members.
//!
//! A *dynamic* ensemble ([`Ensemble::start_dynamic`]) is configured for reconfiguration as
//! Apache 3.5+ expects: `reconfigEnabled=true`, `standaloneEnabled=false`, and the
//! membership in a separate file named by `dynamicConfigFile=` (lines
//! `server.N=ip:2888:3888:participant;ip:2181`, no `version=` line, which Apache refuses
//! there). New members join with [`Ensemble::add_joiner`]; the servers rewrite the files
//! themselves (`zoo.cfg.dynamic.<hex version>`), which [`Member::dynamic_files`] reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::addr::{LoopbackAddr, CLIENT_PORT, ELECTION_PORT, QUORUM_PORT};
use crate::server::{self, Role, ServerConfig, ServerKind, STARTUP};
use crate::{zk, POLL};

/// How long a `srvr` probe may take before a member counts as not answering (a paused
/// member never answers).
const PROBE: Duration = Duration::from_secs(5);

/// What a member says about itself in `srvr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// Running but not serving (looking for a leader), or not answering at all.
    NotServing,
}

impl Mode {
    /// The `Mode:` line of a `srvr` answer (none: not serving).
    pub fn from_srvr(answer: &str) -> Mode {
        match answer
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::trim)
        {
            Some("leader") => Mode::Leader,
            Some("follower") => Mode::Follower,
            Some("observer") => Mode::Observer,
            Some("standalone") => Mode::Standalone,
            _ => Mode::NotServing,
        }
    }
}

/// What runs as one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// A voting member of this kind (Apache's `QuorumPeerMain`, or `zkrs-server zoo.cfg`).
    Server(ServerKind),
    /// A non-voting member of this kind: `server.N=...:observer` in every member's zoo.cfg
    /// and `peerType=observer` in its own.
    Observer(ServerKind),
    /// `zkrs-server elect zoo.cfg`: leader election only, printing a line per decision.
    Elect,
}

impl Launch {
    /// The server kind, if this is a server (voter or observer).
    pub fn server_kind(&self) -> Option<ServerKind> {
        match *self {
            Launch::Server(kind) | Launch::Observer(kind) => Some(kind),
            Launch::Elect => None,
        }
    }

    pub fn is_observer(&self) -> bool {
        matches!(self, Launch::Observer(_))
    }
}

/// The default of `ZKRS_ENSEMBLE`. Flip to `"zkrs"` once zkrs replicates.
pub const DEFAULT_ENSEMBLE: &str = "zkrs";

/// The kinds of `n` members chosen by `ZKRS_ENSEMBLE` (default [`DEFAULT_ENSEMBLE`]):
/// `apache`, `zkrs`, `mixed` (Apache, zkrs, Apache, ...), or a pattern of `a` (Apache) and
/// `z` (zkrs) letters repeated over the members (`zaa`: member 1 zkrs, 2 and 3 Apache).
pub fn env_kinds(n: usize) -> Vec<ServerKind> {
    kinds_from(&std::env::var("ZKRS_ENSEMBLE").unwrap_or_default(), n)
}

/// The kinds of `n` members for a `ZKRS_ENSEMBLE` value (see [`env_kinds`]).
pub fn kinds_from(value: &str, n: usize) -> Vec<ServerKind> {
    let value = if value.is_empty() {
        DEFAULT_ENSEMBLE
    } else {
        value
    };
    let pattern = match value {
        "apache" => "a",
        "zkrs" => "z",
        "mixed" => "az",
        other => other,
    };
    let letters: Vec<ServerKind> = pattern
        .chars()
        .map(|c| match c {
            'a' => ServerKind::Apache,
            'z' => ServerKind::Zkrs,
            _ => panic!(
                "ZKRS_ENSEMBLE must be `apache`, `zkrs`, `mixed` or a pattern of `a` and `z`, \
                 not {value:?}"
            ),
        })
        .collect();
    (0..n).map(|i| letters[i % letters.len()]).collect()
}

/// `participants` voting members and then `observers` observers, of the kinds
/// `ZKRS_ENSEMBLE` chooses (the pattern runs over all of them, observers last).
pub fn env_launches(participants: usize, observers: usize) -> Vec<Launch> {
    env_kinds(participants + observers)
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            if i < participants {
                Launch::Server(kind)
            } else {
                Launch::Observer(kind)
            }
        })
        .collect()
}

/// One member: its process (when running), address and files.
pub struct Member {
    /// `myid`: 1 for the first member.
    pub id: u32,
    launch: Launch,
    child: Option<Child>,
    paused: bool,
    ip: LoopbackAddr,
    dir: PathBuf,
    /// The client port ([`CLIENT_PORT`] unless a reconfig moved it).
    client_port: u16,
}

impl Member {
    /// Client address.
    pub fn addr(&self) -> SocketAddr {
        self.ip.at(self.client_port)
    }

    /// The member's loopback address (every port on it belongs to this test).
    pub fn ip(&self) -> std::net::Ipv4Addr {
        self.ip.ip()
    }

    /// Election address.
    pub fn election_addr(&self) -> SocketAddr {
        self.ip.at(ELECTION_PORT)
    }

    /// Quorum (learner) address: where the leader listens for its followers.
    pub fn quorum_addr(&self) -> SocketAddr {
        self.ip.at(QUORUM_PORT)
    }

    /// The whole log (stdout and stderr) of the member's processes so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the process is still running (false once it exited or was killed).
    fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// PID of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The last `lines` lines of the member's log, without the lines Apache writes for
    /// each of the harness's own `srvr`/`mntr` probes (they would fill any tail).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text
            .lines()
            .filter(|l| !(l.contains("Processing ") && l.contains(" command from ")))
            .collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// What the member runs.
    pub fn launch(&self) -> Launch {
        self.launch
    }

    /// Whether the member runs Apache ZooKeeper.
    pub fn is_apache(&self) -> bool {
        self.launch.server_kind() == Some(ServerKind::Apache)
    }

    /// The data dir (`myid`, and the snapshots and logs).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its `zoo.cfg` (the static configuration, which Apache rewrites after a reconfig).
    pub fn zoo_cfg_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    /// Its `zoo.cfg` as it is now.
    pub fn static_config(&self) -> String {
        fs::read_to_string(self.zoo_cfg_path()).unwrap_or_default()
    }

    /// The value of `dynamicConfigFile=` in its `zoo.cfg` now, if any.
    pub fn dynamic_config_file(&self) -> Option<PathBuf> {
        self.static_config()
            .lines()
            .find_map(|l| l.trim().strip_prefix("dynamicConfigFile="))
            .map(|v| PathBuf::from(v.trim()))
    }

    /// Every `zoo.cfg.dynamic*` file of the member, `(file name, contents)`, sorted by name.
    pub fn dynamic_files(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.starts_with("zoo.cfg.dynamic")
                            .then(|| (name, fs::read_to_string(e.path()).unwrap_or_default()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Its line in a dynamic configuration: `server.N=ip:2888:3888:<role>;ip:2181`.
    pub fn server_line(&self, observer: bool) -> String {
        let role = if observer { "observer" } else { "participant" };
        format!(
            "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}:{role};{}",
            self.id,
            self.ip.ip(),
            self.addr()
        )
    }

    /// Whether the harness counts it as an observer now.
    pub fn is_observer(&self) -> bool {
        self.launch.is_observer()
    }

    /// The mode a serving non-leader member reports.
    fn expected_learner_mode(&self) -> Mode {
        match self.launch {
            Launch::Observer(_) => Mode::Observer,
            _ => Mode::Follower,
        }
    }

    /// `mntr` as `key -> value`, or None if the member does not answer (stopped, paused,
    /// not serving).
    pub fn mntr(&self) -> Option<BTreeMap<String, String>> {
        if self.child.is_none() || self.paused {
            return None;
        }
        let answer = server::four_letter_word(self.addr(), "mntr", PROBE).ok()?;
        let map: BTreeMap<String, String> = answer
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        (!map.is_empty()).then_some(map)
    }

    /// `Mode:` from `srvr`.
    pub fn mode(&self) -> Mode {
        if self.child.is_none() || self.paused {
            return Mode::NotServing;
        }
        let Ok(answer) = server::four_letter_word(self.addr(), "srvr", PROBE) else {
            return Mode::NotServing;
        };
        Mode::from_srvr(&answer)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL to exactly the PID we spawned (a stopped process dies too); reaped.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid().expect("the member is running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }
}

/// N members started together.
pub struct Ensemble {
    kind: ServerKind,
    config: ServerConfig,
    members: Vec<Member>,
    // Dropped last.
    _dir: TempDir,
}

impl Ensemble {
    /// Starts `n` members of `kind` and waits until the ensemble serves: one member is
    /// leader and all others followers.
    pub fn start(kind: ServerKind, n: usize, config: ServerConfig) -> Ensemble {
        let mut ensemble = Self::prepare(kind, &vec![Launch::Server(kind); n], config);
        for i in 0..n {
            ensemble.spawn(i);
        }
        ensemble.wait_serving(STARTUP);
        ensemble
    }

    /// Writes the files of one member per entry of `launches` (ids 1, 2, ...) and starts
    /// none of them: [`Ensemble::restart`] starts one. `kind` is what [`Ensemble::kind`]
    /// reports. Mixed ensembles (Apache and zkrs members) are made this way.
    pub fn prepare(kind: ServerKind, launches: &[Launch], config: ServerConfig) -> Ensemble {
        let n = launches.len();
        let dir = tempfile::Builder::new()
            .prefix("zkrs-ensemble-")
            .tempdir()
            .expect("temp dir");
        let ips: Vec<LoopbackAddr> = (0..n).map(|_| LoopbackAddr::allocate()).collect();
        let mut servers = String::new();
        for (i, ip) in ips.iter().enumerate() {
            let observer = if matches!(launches[i], Launch::Observer(_)) {
                ":observer"
            } else {
                ""
            };
            let _ = writeln!(
                servers,
                "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}{observer}",
                i + 1,
                ip.ip()
            );
        }
        let mut members = Vec::new();
        for (i, ip) in ips.into_iter().enumerate() {
            let id = i as u32 + 1;
            let member_dir = dir.path().join(format!("member-{id}"));
            let data_dir = member_dir.join("data");
            fs::create_dir_all(&data_dir).expect("member data dir");
            fs::write(data_dir.join("myid"), format!("{id}\n")).expect("myid");
            let mut cfg = config.zoo_cfg(&data_dir, ip.at(CLIENT_PORT));
            // Generous limits in ticks: a JVM on a busy machine is slow to sync.
            cfg.push_str("initLimit=40\nsyncLimit=10\n");
            if matches!(launches[i], Launch::Observer(_)) {
                cfg.push_str("peerType=observer\n");
            }
            cfg.push_str(&servers);
            fs::write(member_dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
            members.push(Member {
                id,
                launch: launches[i],
                child: None,
                paused: false,
                ip,
                dir: member_dir,
                client_port: CLIENT_PORT,
            });
        }
        Ensemble {
            kind,
            config,
            members,
            _dir: dir,
        }
    }

    /// Starts one member per entry of `launches` (ids 1, 2, ...; Apache and zkrs mixed as
    /// they come, observers included) and waits until exactly one leader serves with every
    /// other member following or observing.
    pub fn start_mixed(launches: &[Launch], config: ServerConfig) -> Ensemble {
        let kind = launches
            .iter()
            .find_map(Launch::server_kind)
            .unwrap_or(ServerKind::Zkrs);
        let mut ensemble = Self::prepare(kind, launches, config);
        for i in 0..launches.len() {
            ensemble.spawn(i);
        }
        ensemble.wait_for_leader(STARTUP * 2);
        ensemble
    }

    /// `n` voting members of the kinds `ZKRS_ENSEMBLE` chooses ([`env_kinds`]), started
    /// and serving (one leader, the rest followers).
    pub fn from_env(n: usize, config: ServerConfig) -> Ensemble {
        Self::start_mixed(&env_launches(n, 0), config)
    }

    /// Starts `n` Apache ZooKeeper members (the reference) with the default test
    /// configuration.
    pub fn apache(n: usize) -> Ensemble {
        Self::start(ServerKind::Apache, n, ServerConfig::default())
    }

    fn spawn(&mut self, i: usize) {
        let m = &mut self.members[i];
        assert!(m.child.is_none(), "member {} is already running", m.id);
        let (kind, role) = match m.launch {
            Launch::Server(kind) | Launch::Observer(kind) => (kind, Role::Member),
            Launch::Elect => (ServerKind::Zkrs, Role::Elect),
        };
        let child = server::spawn(
            kind,
            role,
            &self.config,
            &m.dir.join("zoo.cfg"),
            &m.dir,
            &m.log_path(),
        )
        .unwrap_or_else(|e| panic!("starting member {}: {e}", m.id));
        m.child = Some(child);
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// Every member's client address, comma-separated, for a client that may use any.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| m.addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the member that reports `Mode: leader` now, if exactly one does.
    pub fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].mode() == Mode::Leader)
            .collect();
        match leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Waits (at most `limit`) until every running, unpaused member serves: one leader and
    /// the rest followers (observers for observer members) for a replicating ensemble, or
    /// each standalone. Returns the
    /// leader's index (None for standalone members).
    pub fn wait_serving(&self, limit: Duration) -> Option<usize> {
        let start = Instant::now();
        loop {
            let modes: Vec<(usize, Mode)> = self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.is_running() && !m.paused)
                .map(|(i, m)| (i, m.mode()))
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, mode)| *mode == Mode::Leader)
                .map(|(i, _)| *i)
                .collect();
            let all_standalone = modes.iter().all(|(_, mode)| *mode == Mode::Standalone);
            let quorum_ready = leaders.len() == 1
                && modes.iter().all(|&(i, mode)| {
                    mode == Mode::Leader || mode == self.members[i].expected_learner_mode()
                });
            if all_standalone && !modes.is_empty() {
                return None;
            }
            // A member that serves standalone beside members that replicate never joins
            // them (zkrs-server before replication): fail now rather than at the deadline.
            let replicating = modes
                .iter()
                .any(|(_, mode)| matches!(mode, Mode::Leader | Mode::Follower | Mode::Observer));
            // An Apache member never serves standalone with `server.N` lines, so a
            // standalone member beside one can never be part of a single leader's ensemble.
            let with_apache = modes.iter().any(|(i, _)| self.members[*i].is_apache());
            let standalone = modes.iter().find(|(_, mode)| *mode == Mode::Standalone);
            if let (true, Some((i, _))) = (replicating || with_apache, standalone) {
                panic!(
                    "member {} serves standalone in an ensemble ({:?}); modes {modes:?}",
                    i + 1,
                    self.members[*i].launch
                );
            }
            if quorum_ready {
                return Some(leaders[0]);
            }
            if start.elapsed() > limit {
                panic!(
                    "the ensemble did not serve within {limit:?}: modes {modes:?}\n{}",
                    self.log_tails(30)
                );
            }
            // Polling interval of a bounded wait.
            std::thread::sleep(POLL);
        }
    }

    /// Waits until a leader serves with the running members behind it, and returns it.
    pub fn wait_for_leader(&self, limit: Duration) -> usize {
        self.wait_serving(limit).unwrap_or_else(|| {
            panic!(
                "the members serve standalone, without a leader ({:?} members; zkrs-server \
                     before replication)",
                self.kind
            )
        })
    }

    /// Whether member `i`'s process is still running (it has not exited on its own).
    pub fn is_alive(&mut self, i: usize) -> bool {
        self.members[i].is_alive()
    }

    /// Kills member `i` with SIGKILL and reaps it.
    pub fn kill9(&mut self, i: usize) {
        self.members[i].kill();
    }

    /// Starts member `i` (again, after a kill) with its data dir; does not wait.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
    }

    /// Deletes everything in stopped member `i`'s data dir but `myid`: it restarts empty
    /// and must catch up from the leader with a full snapshot.
    pub fn wipe_data(&mut self, i: usize) {
        let m = &self.members[i];
        assert!(
            m.child.is_none(),
            "member {} must be stopped before its data is wiped",
            m.id
        );
        let data = m.data_dir();
        let entries =
            fs::read_dir(&data).unwrap_or_else(|e| panic!("reading {}: {e}", data.display()));
        for entry in entries {
            let entry = entry.expect("data dir entry");
            let path = entry.path();
            if entry.file_name() == "myid" {
                continue;
            }
            let removed = if entry.file_type().expect("file type").is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
        }
        assert!(data.join("myid").exists(), "myid survives the wipe");
    }

    /// Stops member `i` with SIGSTOP: it holds its sockets but answers nothing.
    pub fn pause(&mut self, i: usize) {
        self.members[i].signal("STOP");
        self.members[i].paused = true;
    }

    /// Lets a paused member `i` run again (SIGCONT).
    pub fn resume(&mut self, i: usize) {
        self.members[i].signal("CONT");
        self.members[i].paused = false;
    }

    /// Whether member `i` is stopped by [`Ensemble::pause`].
    pub fn is_paused(&self, i: usize) -> bool {
        self.members[i].paused
    }

    /// What each member runs.
    pub fn launches(&self) -> Vec<Launch> {
        self.members.iter().map(|m| m.launch).collect()
    }

    /// A connect string of every member, starting with member `first` (a client tries them
    /// in order, so clients started at different members spread over the ensemble).
    pub fn connect_string_from(&self, first: usize) -> String {
        let n = self.members.len();
        (0..n)
            .map(|k| self.members[(first + k) % n].addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Indexes of the members that run now (not killed; paused ones included).
    pub fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].is_running())
            .collect()
    }

    /// Indexes of the members that run and are not paused.
    pub fn serving_candidates(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].is_running() && !self.members[i].paused)
            .collect()
    }

    /// Connects a client to member `i` only.
    pub async fn client_of(&self, i: usize) -> zk::Client {
        server::connect(self.members[i].addr(), zk::Client::connector()).await
    }

    /// A summary of every member (id, kind, pid, mode), for failure messages.
    pub fn describe(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}:{:?}:{:?}:{:?}", m.id, m.launch, m.pid(), m.mode()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for m in &self.members {
            let _ = writeln!(
                out,
                "--- member {} ({}, pid {:?}) log tail ---\n{}",
                m.id,
                m.addr(),
                m.pid(),
                m.log_tail(lines)
            );
        }
        out
    }

    /// The member's directory (zoo.cfg, data dir with `myid`, log).
    pub fn member_dir(&self, i: usize) -> &Path {
        &self.members[i].dir
    }
}

/// The settings every member of a dynamic ensemble gets on top of the test configuration.
const DYNAMIC_SETTINGS: &str = "reconfigEnabled=true\nstandaloneEnabled=false\n";

impl Ensemble {
    /// Like [`Ensemble::prepare`], for reconfiguration: `reconfigEnabled=true`,
    /// `standaloneEnabled=false`, and the membership in `zoo.cfg.dynamic` beside each
    /// member's `zoo.cfg` (named by `dynamicConfigFile=`), with client addresses in the
    /// server lines. `config` should carry a super password
    /// ([`ServerConfig::with_super_password`]): a reconfig needs the super user unless ACLs
    /// are skipped. A `reconfigEnabled=false` in `config.extra` comes later in zoo.cfg and
    /// wins (Apache reads the last value of a key).
    pub fn prepare_dynamic(
        kind: ServerKind,
        launches: &[Launch],
        config: ServerConfig,
    ) -> Ensemble {
        let ensemble = Self::prepare(kind, launches, config);
        let lines: Vec<String> = ensemble
            .members
            .iter()
            .map(|m| m.server_line(m.launch.is_observer()))
            .collect();
        let dynamic = lines.join("\n") + "\n";
        for i in 0..ensemble.members.len() {
            let m = &ensemble.members[i];
            ensemble.write_dynamic_files(m, &dynamic);
        }
        ensemble
    }

    /// Writes a member's `zoo.cfg` (the static part, with `dynamicConfigFile=`) and its
    /// `zoo.cfg.dynamic` holding `dynamic`.
    fn write_dynamic_files(&self, m: &Member, dynamic: &str) {
        let mut cfg = DYNAMIC_SETTINGS.to_string();
        cfg.push_str(&self.config.zoo_cfg(&m.data_dir(), m.addr()));
        cfg.push_str("initLimit=40\nsyncLimit=10\n");
        if m.launch.is_observer() {
            cfg.push_str("peerType=observer\n");
        }
        let dynamic_path = m.dir.join("zoo.cfg.dynamic");
        let _ = writeln!(cfg, "dynamicConfigFile={}", dynamic_path.display());
        fs::write(m.zoo_cfg_path(), cfg).expect("zoo.cfg");
        fs::write(&dynamic_path, dynamic).expect("zoo.cfg.dynamic");
    }

    /// Starts a dynamic ensemble ([`Ensemble::prepare_dynamic`]) of `launches` and waits
    /// until one leader serves with every other member behind it.
    pub fn start_dynamic(launches: &[Launch], config: ServerConfig) -> Ensemble {
        let kind = launches
            .iter()
            .find_map(Launch::server_kind)
            .unwrap_or(ServerKind::Zkrs);
        let mut ensemble = Self::prepare_dynamic(kind, launches, config);
        for i in 0..launches.len() {
            ensemble.spawn(i);
        }
        ensemble.wait_for_leader(STARTUP * 2);
        ensemble
    }

    /// A dynamic ensemble of `participants` voters and `observers` observers of the kinds
    /// `ZKRS_ENSEMBLE` chooses, started and serving.
    pub fn from_env_dynamic(
        participants: usize,
        observers: usize,
        config: ServerConfig,
    ) -> Ensemble {
        Self::start_dynamic(&env_launches(participants, observers), config)
    }

    /// Adds a new member (id: one more than the last) and starts it, without waiting. Its
    /// dynamic configuration is `current` (the ensemble's configuration as a client reads
    /// it from `/zookeeper/config`; its `version=` line is dropped, since Apache refuses one
    /// in a dynamic file) plus its own line as participant (or observer). That is how
    /// Apache's documentation has a server join: it syncs as a non-voting learner until a
    /// `reconfig` adds it. Returns the new member's index.
    pub fn add_joiner(&mut self, launch: Launch, current: &str) -> usize {
        let id = self.members.len() as u32 + 1;
        let ip = LoopbackAddr::allocate();
        let dir = self._dir.path().join(format!("member-{id}"));
        let data_dir = dir.join("data");
        fs::create_dir_all(&data_dir).expect("member data dir");
        fs::write(data_dir.join("myid"), format!("{id}\n")).expect("myid");
        let member = Member {
            id,
            launch,
            child: None,
            paused: false,
            ip,
            dir,
            client_port: CLIENT_PORT,
        };
        let mut dynamic: String = current
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("server."))
            .map(|l| format!("{l}\n"))
            .collect();
        dynamic.push_str(&member.server_line(launch.is_observer()));
        dynamic.push('\n');
        self.write_dynamic_files(&member, &dynamic);
        self.members.push(member);
        let i = self.members.len() - 1;
        self.spawn(i);
        i
    }

    /// Records that member `i` now serves as an observer (or a participant), after a
    /// reconfig changed its role, so that the waits expect the right mode of it.
    pub fn set_observer(&mut self, i: usize, observer: bool) {
        let m = &mut self.members[i];
        let kind = m.launch.server_kind().expect("a server member");
        m.launch = if observer {
            Launch::Observer(kind)
        } else {
            Launch::Server(kind)
        };
    }

    /// Records that member `i` serves clients on `port` of its address now (after a
    /// reconfig moved it there).
    pub fn set_client_port(&mut self, i: usize, port: u16) {
        self.members[i].client_port = port;
    }

    /// Waits (at most `limit`) until the members `among` serve: exactly one of them leads
    /// and the others follow (or observe, for observers). Members outside `among` (removed
    /// ones that still run, stopped ones) are not looked at. Returns the leader's index.
    pub fn wait_serving_among(&self, among: &[usize], limit: Duration) -> usize {
        let start = Instant::now();
        loop {
            let modes: Vec<(usize, Mode)> =
                among.iter().map(|&i| (i, self.members[i].mode())).collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, mode)| *mode == Mode::Leader)
                .map(|(i, _)| *i)
                .collect();
            let ready = leaders.len() == 1
                && modes.iter().all(|&(i, mode)| {
                    mode == Mode::Leader || mode == self.members[i].expected_learner_mode()
                });
            if ready {
                return leaders[0];
            }
            if start.elapsed() > limit {
                panic!(
                    "members {:?} did not serve within {limit:?}: modes {modes:?}\n{}",
                    among
                        .iter()
                        .map(|&i| self.members[i].id)
                        .collect::<Vec<_>>(),
                    self.log_tails(30)
                );
            }
            // Polling interval of a bounded wait.
            std::thread::sleep(POLL);
        }
    }

    /// Connects a client of member `i` only, authenticated as `super` with `password`.
    pub async fn super_client_of(&self, i: usize, password: &str) -> zk::Client {
        let auth = format!("super:{password}");
        server::connect(
            self.members[i].addr(),
            zk::Client::connector().with_auth("digest", auth.as_bytes()),
        )
        .await
    }

    /// A connect string of the members `among`, starting with the first of them.
    pub fn connect_string_of(&self, among: &[usize]) -> String {
        among
            .iter()
            .map(|&i| self.members[i].addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

// ---------------------------------------------------------------------------------------
// Replacing a member in place: live migration between Apache ZooKeeper and zkrs.
// ---------------------------------------------------------------------------------------

/// How long a member may take to exit after [`Ensemble::stop`]'s signal before it is
/// killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

impl Ensemble {
    /// Stops member `i` as an operator does: SIGTERM to Apache (what `zkServer.sh stop` and
    /// systemd send), SIGINT to zkrs-server (its graceful shutdown, Ctrl-C); SIGKILL if it
    /// has not exited after [`STOP_GRACE`]. Returns whether it exited on the signal.
    pub fn stop(&mut self, i: usize) -> bool {
        let m = &mut self.members[i];
        assert!(!m.paused, "member {} is paused", m.id);
        let signal = if m.is_apache() { "TERM" } else { "INT" };
        m.signal(signal);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !m.is_alive() {
                // Exited (and reaped by try_wait).
                m.child = None;
                return true;
            }
            // Polling interval of a bounded wait.
            std::thread::sleep(POLL);
        }
        m.kill();
        false
    }

    /// Replaces stopped member `i` in place by a server of `kind`: same `myid`, addresses,
    /// ports and zoo.cfg, and an empty data dir (but `myid`), so it syncs from the leader
    /// with a snapshot. What was in the data dir is moved aside, not deleted, into a new
    /// directory beside it, whose path is returned. Starts the new server; does not wait.
    pub fn replace_in_place(&mut self, i: usize, kind: ServerKind) -> PathBuf {
        let aside = self.move_data_aside(i);
        self.start_as(i, kind);
        aside
    }

    /// Puts a server of `kind` back on stopped member `i` with the data that an earlier
    /// [`Ensemble::replace_in_place`] moved to `aside` (a rollback that keeps the old data):
    /// what is in the data dir now is moved aside in turn (its path is returned), `aside`'s
    /// contents are moved back, and the server starts; does not wait.
    pub fn put_back(&mut self, i: usize, kind: ServerKind, aside: &Path) -> PathBuf {
        let current = self.move_data_aside(i);
        let data = self.members[i].data_dir();
        for entry in fs::read_dir(aside).unwrap_or_else(|e| panic!("{}: {e}", aside.display())) {
            let entry = entry.expect("aside entry");
            let to = data.join(entry.file_name());
            fs::rename(entry.path(), &to)
                .unwrap_or_else(|e| panic!("moving {} back: {e}", entry.path().display()));
        }
        self.start_as(i, kind);
        current
    }

    /// Moves everything in stopped member `i`'s data dir but `myid` into a new directory
    /// `data.aside-<n>` in the member's directory, and returns its path.
    fn move_data_aside(&mut self, i: usize) -> PathBuf {
        let m = &self.members[i];
        assert!(
            m.child.is_none(),
            "member {} must be stopped before its data is moved",
            m.id
        );
        let aside = (1..)
            .map(|n| m.dir.join(format!("data.aside-{n}")))
            .find(|p| !p.exists())
            .expect("a free name");
        fs::create_dir(&aside).unwrap_or_else(|e| panic!("{}: {e}", aside.display()));
        let data = m.data_dir();
        for entry in fs::read_dir(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display())) {
            let entry = entry.expect("data dir entry");
            if entry.file_name() == "myid" {
                continue;
            }
            fs::rename(entry.path(), aside.join(entry.file_name()))
                .unwrap_or_else(|e| panic!("moving {} aside: {e}", entry.path().display()));
        }
        aside
    }

    /// Starts stopped member `i` as a server of `kind` (a voter stays a voter, an observer
    /// an observer).
    fn start_as(&mut self, i: usize, kind: ServerKind) {
        let m = &mut self.members[i];
        m.launch = match m.launch {
            Launch::Observer(_) => Launch::Observer(kind),
            _ => Launch::Server(kind),
        };
        self.spawn(i);
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        let tails = if failing {
            self.log_tails(200)
        } else {
            String::new()
        };
        for m in &mut self.members {
            m.kill();
        }
        if failing {
            eprintln!("{tails}--- end of ensemble logs ---");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServerKind::{Apache as A, Zkrs as Z};

    #[test]
    fn zkrs_ensemble_values_choose_member_kinds() {
        assert_eq!(kinds_from("", 3), vec![Z, Z, Z], "the default is zkrs");
        assert_eq!(kinds_from("apache", 2), vec![A, A]);
        assert_eq!(kinds_from("zkrs", 3), vec![Z, Z, Z]);
        assert_eq!(kinds_from("mixed", 5), vec![A, Z, A, Z, A]);
        assert_eq!(kinds_from("zaa", 4), vec![Z, A, A, Z]);
    }

    #[test]
    fn a_dynamic_ensemble_keeps_its_membership_in_a_dynamic_file() {
        let launches = [Launch::Server(A), Launch::Server(A), Launch::Observer(A)];
        let config = ServerConfig::default().with("reconfigEnabled", "false");
        let ensemble = Ensemble::prepare_dynamic(A, &launches, config);
        let lines: Vec<String> = ensemble
            .members()
            .iter()
            .map(|m| m.server_line(m.is_observer()))
            .collect();
        assert!(lines[2].ends_with(&format!(":observer;{}", ensemble.member(2).addr())));
        assert!(lines[0].contains(":participant;"));
        for m in ensemble.members() {
            let statik = m.static_config();
            assert!(
                !statik.lines().any(|l| l.starts_with("server.")),
                "{statik}"
            );
            let file = m.dynamic_config_file().expect("dynamicConfigFile=");
            assert_eq!(file, m.zoo_cfg_path().with_file_name("zoo.cfg.dynamic"));
            // No version line: Apache refuses one in a dynamic file.
            assert_eq!(
                m.dynamic_files(),
                vec![("zoo.cfg.dynamic".to_string(), lines.join("\n") + "\n")]
            );
            // The later reconfigEnabled wins in Apache's Properties.
            let keys: Vec<&str> = statik
                .lines()
                .filter(|l| l.starts_with("reconfigEnabled="))
                .collect();
            assert_eq!(keys, ["reconfigEnabled=true", "reconfigEnabled=false"]);
            assert_eq!(
                statik.contains("peerType=observer"),
                m.is_observer(),
                "{statik}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "ZKRS_ENSEMBLE must be")]
    fn an_unknown_zkrs_ensemble_value_is_refused() {
        kinds_from("java", 3);
    }
}
