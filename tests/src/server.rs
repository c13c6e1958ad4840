//! Starting and stopping the server under test: a standalone server, or with
//! `ZKRS_TEST_ENSEMBLE=N` an ensemble of N members of the same kind ([`ensemble_size`]).

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::addr::{LoopbackAddr, CLIENT_PORT};
use crate::ensemble::Ensemble;
use crate::frame::read_frame_blocking;
use crate::{digest_id, zk, WAIT};

/// How long a server may take to start answering (a JVM on a busy two-core machine is slow).
pub(crate) const STARTUP: Duration = Duration::from_secs(60);

/// Which server implementation the tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `zkrs-server`: `ZKRS_SERVER_BIN`, or `zkrs-server` next to the test's target directory.
    Zkrs,
    /// Apache ZooKeeper's `ZooKeeperServerMain`, run with `java`.
    Apache,
}

impl ServerKind {
    /// The kind chosen by the environment variable `ZKRS_TEST_SERVER` (`zkrs`, the default,
    /// or `apache`).
    pub fn from_env() -> ServerKind {
        match std::env::var("ZKRS_TEST_SERVER").as_deref() {
            Err(_) | Ok("") | Ok("zkrs") => ServerKind::Zkrs,
            Ok("apache") => ServerKind::Apache,
            Ok(other) => panic!("ZKRS_TEST_SERVER must be `zkrs` or `apache`, not {other:?}"),
        }
    }
}

/// `ZKRS_TEST_ENSEMBLE` (the variable the Python suites read too): unset or empty for a
/// standalone server, else the number of members (at least 2) of the ensemble that
/// [`ServerUnderTest::start`] and its siblings start instead.
pub fn ensemble_size() -> Option<usize> {
    let raw = std::env::var("ZKRS_TEST_ENSEMBLE").unwrap_or_default();
    ensemble_size_from(raw.trim())
}

/// [`ensemble_size`] for a value of the variable.
pub fn ensemble_size_from(value: &str) -> Option<usize> {
    if value.is_empty() {
        return None;
    }
    match value.parse::<usize>() {
        Ok(n) if n >= 2 => Some(n),
        _ => panic!(
            "ZKRS_TEST_ENSEMBLE must be unset (standalone) or a member count >= 2, not {value:?}"
        ),
    }
}

/// What goes into the generated `zoo.cfg` (and, for Apache, into the matching system
/// properties).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `tickTime` in milliseconds. Session timeouts are bounded by 2 and 20 ticks by default.
    pub tick_time_ms: u32,
    /// `znode.container.checkIntervalMs`: how often containers and TTL nodes are reaped.
    pub container_check_interval_ms: u32,
    /// `extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
    /// `DigestAuthenticationProvider.superDigest`, as `super:base64(sha1(super:password))`.
    pub super_digest: Option<String>,
    /// Further `key=value` lines, e.g. `maxClientCnxns=2`.
    pub extra: Vec<(String, String)>,
    /// A program (and its arguments) the server process is run under, e.g.
    /// `["prlimit", "--fsize=49152"]`; read at every (re)start of a process.
    pub wrapper: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time_ms: 500,
            container_check_interval_ms: 100,
            extended_types: true,
            super_digest: None,
            extra: Vec::new(),
            wrapper: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Adds a `key=value` line to zoo.cfg.
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    /// Lets `super` with `password` (digest scheme) pass every ACL check.
    pub fn with_super_password(mut self, password: &str) -> Self {
        self.super_digest = Some(digest_id("super", password));
        self
    }

    pub fn with_extended_types(mut self, enabled: bool) -> Self {
        self.extended_types = enabled;
        self
    }

    /// The `zoo.cfg` of a server with its data in `data_dir`, serving clients on `client`.
    pub(crate) fn zoo_cfg(&self, data_dir: &Path, client: SocketAddr) -> String {
        let mut cfg = String::new();
        let _ = writeln!(cfg, "tickTime={}", self.tick_time_ms);
        let _ = writeln!(cfg, "dataDir={}", data_dir.display());
        let _ = writeln!(cfg, "clientPort={}", client.port());
        let _ = writeln!(cfg, "clientPortAddress={}", client.ip());
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        let _ = writeln!(cfg, "extendedTypesEnabled={}", self.extended_types);
        let _ = writeln!(cfg, "admin.enableServer=false");
        let _ = writeln!(
            cfg,
            "znode.container.checkIntervalMs={}",
            self.container_check_interval_ms
        );
        if let Some(digest) = &self.super_digest {
            let _ = writeln!(cfg, "DigestAuthenticationProvider.superDigest={digest}");
        }
        for (k, v) in &self.extra {
            let _ = writeln!(cfg, "{k}={v}");
        }
        cfg
    }

    /// Apache reads some settings only as Java system properties.
    pub(crate) fn java_properties(&self) -> Vec<String> {
        let mut props = vec![
            format!(
                "-Dznode.container.checkIntervalMs={}",
                self.container_check_interval_ms
            ),
            format!("-Dzookeeper.extendedTypesEnabled={}", self.extended_types),
            "-Dzookeeper.admin.enableServer=false".to_string(),
        ];
        if let Some(digest) = &self.super_digest {
            props.push(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={digest}"
            ));
        }
        props
    }
}

/// The server of one test: a standalone process, or (with `ZKRS_TEST_ENSEMBLE=N`, see
/// [`ensemble_size`]) an ensemble of N member processes of the same kind. Killed (by PID)
/// and reaped on drop; if the test is failing, the tail of the log (of every member) is
/// printed then.
///
/// In an ensemble, clients from [`client`](Self::client), [`connect`](Self::connect) and
/// [`try_connect`](Self::try_connect) get a connect string naming every member (the client
/// picks one at random), while [`addr`](Self::addr) is one member, a follower when the
/// ensemble formed, for what talks to a single address (raw sessions, proxies, four-letter
/// words). A session then sees its own writes at once but another session's only after a
/// `sync` ([`crate::synced`]): that is ZooKeeper's guarantee, per session.
pub struct ServerUnderTest {
    kind: ServerKind,
    config: ServerConfig,
    backend: Backend,
}

enum Backend {
    Standalone(Standalone),
    Ensemble {
        ensemble: Ensemble,
        /// The member behind [`ServerUnderTest::addr`].
        member: usize,
    },
}

/// A standalone server process and its files.
struct Standalone {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    // Dropped after the process is killed: zoo.cfg, the data dir and the log, and the
    // address reservation.
    dir: TempDir,
    _ip: LoopbackAddr,
}

impl ServerUnderTest {
    /// Starts the server chosen by `ZKRS_TEST_SERVER` (and `ZKRS_TEST_ENSEMBLE`) with the
    /// default configuration.
    pub fn start() -> ServerUnderTest {
        Self::start_with(ServerConfig::default())
    }

    /// Starts the server chosen by `ZKRS_TEST_SERVER` (and `ZKRS_TEST_ENSEMBLE`) with
    /// `config`.
    pub fn start_with(config: ServerConfig) -> ServerUnderTest {
        Self::start_kind(ServerKind::from_env(), config)
    }

    /// Starts a server of `kind` on its own loopback address (see [`crate::addr`]), port
    /// [`CLIENT_PORT`]; with `ZKRS_TEST_ENSEMBLE=N`, N members of `kind`, each on its own
    /// address. [`start_standalone`](Self::start_standalone) ignores the variable.
    pub fn start_kind(kind: ServerKind, config: ServerConfig) -> ServerUnderTest {
        match ensemble_size() {
            Some(n) => Self::start_ensemble(kind, n, config),
            None => Self::start_standalone(kind, config),
        }
    }

    /// Starts one standalone server of `kind`, whatever `ZKRS_TEST_ENSEMBLE` says.
    pub fn start_standalone(kind: ServerKind, config: ServerConfig) -> ServerUnderTest {
        Self::try_start(kind, config)
            .unwrap_or_else(|e| panic!("could not start the {kind:?} server: {e}"))
    }

    /// Starts `n` members of `kind` and waits until one leads, the others follow, and each
    /// completes a session handshake.
    pub fn start_ensemble(kind: ServerKind, n: usize, config: ServerConfig) -> ServerUnderTest {
        let ensemble = Ensemble::start(kind, n, config.clone());
        let mut server = ServerUnderTest {
            kind,
            config,
            backend: Backend::Ensemble {
                ensemble,
                member: 0,
            },
        };
        let member = server
            .wait_ready()
            .unwrap_or_else(|e| panic!("the {kind:?} ensemble of {n} did not serve: {e}"));
        if let Backend::Ensemble { member: m, .. } = &mut server.backend {
            *m = member;
        }
        server
    }

    fn try_start(kind: ServerKind, config: ServerConfig) -> Result<ServerUnderTest, String> {
        let ip = LoopbackAddr::allocate();
        let addr = ip.at(CLIENT_PORT);
        let dir = tempfile::Builder::new()
            .prefix("zkrs-itest-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let data_dir = dir.path().join("data");
        fs::create_dir(&data_dir).map_err(|e| format!("data dir: {e}"))?;
        let cfg_path = dir.path().join("zoo.cfg");
        fs::write(&cfg_path, config.zoo_cfg(&data_dir, addr)).map_err(|e| e.to_string())?;
        let log_path = dir.path().join("server.log");
        let child = spawn(
            kind,
            Role::Standalone,
            &config,
            &cfg_path,
            dir.path(),
            &log_path,
        )?;
        let mut server = ServerUnderTest {
            kind,
            config,
            backend: Backend::Standalone(Standalone {
                child,
                addr,
                log_path,
                dir,
                _ip: ip,
            }),
        };
        match server.wait_ready() {
            Ok(_) => Ok(server),
            Err(e) => {
                let tail = server.log_tail(40);
                server.kill();
                Err(format!("{e}\n--- server log tail ---\n{tail}"))
            }
        }
    }

    /// Polls until the server completes a real session handshake (bounded by [`STARTUP`]).
    /// An ensemble: until one member leads and the others follow (each probed with a
    /// handshake as a standalone server is); returns the index of the first follower, the
    /// member behind [`addr`](Self::addr) (0 for a standalone server).
    fn wait_ready(&mut self) -> Result<usize, String> {
        match &mut self.backend {
            Backend::Standalone(s) => wait_until_serving(&mut s.child, s.addr).map(|()| 0),
            Backend::Ensemble { ensemble, .. } => {
                let leader = ensemble.wait_for_leader(STARTUP);
                for m in ensemble.members() {
                    probe_handshake(m.addr(), STARTUP)
                        .map_err(|e| format!("member {}: the first handshake failed: {e}", m.id))?;
                }
                Ok((0..ensemble.members().len())
                    .find(|&i| i != leader)
                    .unwrap_or(leader))
            }
        }
    }

    /// Kills the server with SIGKILL (no chance to flush or clean up), then starts it again
    /// on the same port with the same data dir and waits until it serves. The log keeps
    /// both runs. An ensemble: every member, at once.
    pub fn kill9_and_restart(&mut self) -> Result<(), String> {
        self.kill9();
        self.restart()
    }

    /// Kills the server (every member of an ensemble) with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        self.kill();
    }

    /// Starts the (killed) server again on the same port and data dir, and waits until it
    /// serves. An ensemble: every member, then waits until they elect a leader and serve.
    pub fn restart(&mut self) -> Result<(), String> {
        match &mut self.backend {
            Backend::Standalone(s) => {
                let cfg_path = s.dir.path().join("zoo.cfg");
                s.child = spawn(
                    self.kind,
                    Role::Standalone,
                    &self.config,
                    &cfg_path,
                    s.dir.path(),
                    &s.log_path,
                )?;
            }
            Backend::Ensemble { ensemble, .. } => {
                for i in 0..ensemble.members().len() {
                    if !ensemble.member(i).is_running() {
                        ensemble.restart(i);
                    }
                }
            }
        }
        self.wait_ready().map(|_| ())
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    pub fn is_apache(&self) -> bool {
        self.kind == ServerKind::Apache
    }

    /// Whether this is an ensemble (`ZKRS_TEST_ENSEMBLE`) rather than a standalone server.
    pub fn is_ensemble(&self) -> bool {
        matches!(self.backend, Backend::Ensemble { .. })
    }

    /// The ensemble, when this is one.
    pub fn ensemble(&self) -> Option<&Ensemble> {
        match &self.backend {
            Backend::Ensemble { ensemble, .. } => Some(ensemble),
            Backend::Standalone(_) => None,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The configuration for the next [`restart`](Self::restart) of a standalone server;
    /// zoo.cfg is not rewritten, so only process-level fields (such as
    /// [`ServerConfig::wrapper`]) take effect.
    pub fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }

    /// The client address of the standalone server, or of one member of an ensemble (a
    /// follower when it formed).
    pub fn addr(&self) -> SocketAddr {
        match &self.backend {
            Backend::Standalone(s) => s.addr,
            Backend::Ensemble { ensemble, member } => ensemble.member(*member).addr(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// `<address>:<port>` (of every member of an ensemble, comma-separated), for
    /// `zookeeper_client`.
    pub fn connect_string(&self) -> String {
        match &self.backend {
            Backend::Standalone(s) => s.addr.to_string(),
            Backend::Ensemble { ensemble, .. } => ensemble.connect_string(),
        }
    }

    /// PID of the server process (of the member at [`addr`](Self::addr)).
    pub fn pid(&self) -> u32 {
        match &self.backend {
            Backend::Standalone(s) => s.child.id(),
            Backend::Ensemble { ensemble, member } => ensemble
                .member(*member)
                .pid()
                .expect("the member is running"),
        }
    }

    /// The server's temp dir (zoo.cfg, data dir, log); the member at [`addr`](Self::addr)'s
    /// for an ensemble.
    pub fn dir(&self) -> &Path {
        match &self.backend {
            Backend::Standalone(s) => s.dir.path(),
            Backend::Ensemble { ensemble, member } => ensemble.member_dir(*member),
        }
    }

    /// Connects a client with default options (to any member of an ensemble).
    pub async fn client(&self) -> zk::Client {
        self.connect(zk::Client::connector()).await
    }

    /// Connects a client built by `connector` (to any member of an ensemble), failing the
    /// test after [`WAIT`].
    pub async fn connect(&self, connector: zk::Connector) -> zk::Client {
        let hosts = self.connect_string();
        try_connect_to(&hosts, connector)
            .await
            .unwrap_or_else(|e| panic!("connecting to {hosts}: {e}"))
    }

    /// Connects a client built by `connector` (to any member of an ensemble) and returns
    /// what the connection attempt gave.
    pub async fn try_connect(&self, connector: zk::Connector) -> Result<zk::Client, zk::Error> {
        try_connect_to(&self.connect_string(), connector).await
    }

    /// Connects a client built by `connector` to [`addr`](Self::addr) only (the same member
    /// as raw sessions), failing the test after [`WAIT`].
    pub async fn connect_one(&self, connector: zk::Connector) -> zk::Client {
        connect(self.addr(), connector).await
    }

    /// Like [`connect_one`](Self::connect_one), returning what the attempt gave.
    pub async fn try_connect_one(&self, connector: zk::Connector) -> Result<zk::Client, zk::Error> {
        try_connect(self.addr(), connector).await
    }

    /// Sends a four-letter word (to the member at [`addr`](Self::addr)) and returns the
    /// whole answer.
    pub fn four_letter_word(&self, word: &str) -> std::io::Result<String> {
        four_letter_word(self.addr(), word, WAIT)
    }

    /// The last `lines` lines of the server log (of each member's log, for an ensemble).
    pub fn log_tail(&self, lines: usize) -> String {
        match &self.backend {
            Backend::Standalone(s) => {
                let text = fs::read_to_string(&s.log_path).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Backend::Ensemble { ensemble, .. } => ensemble.log_tails(lines),
        }
    }

    fn kill(&mut self) {
        match &mut self.backend {
            Backend::Standalone(s) => {
                // `Child::kill` sends SIGKILL to exactly the PID we spawned; `wait` reaps it.
                let _ = s.child.kill();
                let _ = s.child.wait();
            }
            Backend::Ensemble { ensemble, .. } => {
                for i in ensemble.running() {
                    ensemble.kill9(i);
                }
            }
        }
    }
}

impl Drop for ServerUnderTest {
    fn drop(&mut self) {
        // An ensemble kills its members and prints their logs itself when it is dropped.
        if !self.is_ensemble() {
            self.kill();
            if std::thread::panicking() {
                eprintln!(
                    "--- {:?} server log tail (pid {}, {}) ---\n{}\n--- end of server log ---",
                    self.kind,
                    self.pid(),
                    self.addr(),
                    self.log_tail(60)
                );
            }
        }
    }
}

/// How a server process is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A single server (`ZooKeeperServerMain` for Apache).
    Standalone,
    /// A member of an ensemble (`QuorumPeerMain` for Apache, which reads `server.N` and
    /// `myid`).
    Member,
    /// zkrs-server's `elect` subcommand: only leader election, a line per decision.
    Elect,
}

/// Starts the server process, appending its output to `log_path`.
pub(crate) fn spawn(
    kind: ServerKind,
    role: Role,
    config: &ServerConfig,
    cfg_path: &Path,
    dir: &Path,
    log_path: &Path,
) -> Result<Child, String> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let program = match kind {
        ServerKind::Zkrs => zkrs_binary(),
        ServerKind::Apache => std::env::var_os("JAVA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("java")),
    };
    let mut cmd = match config.wrapper.split_first() {
        Some((wrapper, args)) => {
            let mut cmd = Command::new(wrapper);
            cmd.args(args).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    match kind {
        ServerKind::Zkrs => {
            if role == Role::Elect {
                cmd.arg("elect");
            }
            cmd.arg(cfg_path);
        }
        ServerKind::Apache => {
            cmd.args([
                if role == Role::Member {
                    "-Xmx256m"
                } else {
                    "-Xmx512m"
                },
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.jmx.log4j.disable=true",
            ]);
            cmd.args(config.java_properties());
            cmd.arg("-cp").arg(apache_classpath());
            cmd.arg(match role {
                Role::Standalone => "org.apache.zookeeper.server.ZooKeeperServerMain",
                Role::Member | Role::Elect => "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            });
            cmd.arg(cfg_path);
        }
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    cmd.spawn().map_err(|e| format!("spawning {cmd:?}: {e}"))
}

/// Waits until the server at `addr` serves (bounded by [`STARTUP`]), or `child` exits.
///
/// First polls `srvr` (always allowed, in Apache too) until it reports a mode: it creates
/// no session, so an attempt may be given up at any time (Apache sometimes accepts a
/// connection while it is still starting and never answers it). Then exactly one real
/// handshake, waited for to the end, opens and closes a session: so every server starts a
/// test with the same two transactions behind it (tests compare absolute zxids), never with
/// a session of an abandoned attempt that was created after all.
pub(crate) fn wait_until_serving(child: &mut Child, addr: SocketAddr) -> Result<(), String> {
    let start = Instant::now();
    let mut last: String;
    let mut reply_timeout = Duration::from_millis(250);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited during startup with {status}"));
        }
        match four_letter_word(addr, "srvr", reply_timeout) {
            Ok(answer) if answer.contains("\nMode: ") => break,
            Ok(answer) => last = format!("srvr: {answer:?}"),
            Err(e) => {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    reply_timeout = (reply_timeout * 2).min(Duration::from_secs(4));
                }
                last = format!("srvr: {e}");
            }
        }
        if start.elapsed() > STARTUP {
            return Err(format!(
                "server did not serve within {STARTUP:?}; last answer: {last}"
            ));
        }
        // Polling interval of a bounded wait, not a hope that something happened.
        std::thread::sleep(Duration::from_millis(25));
    }
    let remaining = STARTUP.saturating_sub(start.elapsed()).max(WAIT);
    probe_handshake(addr, remaining).map_err(|e| format!("the first handshake failed: {e}"))
}

/// Connects a client built by `connector` to `addr`, failing the test after [`WAIT`].
pub(crate) async fn connect(addr: SocketAddr, connector: zk::Connector) -> zk::Client {
    try_connect(addr, connector)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"))
}

/// Connects a client built by `connector` to `addr` and returns what the attempt gave.
pub(crate) async fn try_connect(
    addr: SocketAddr,
    connector: zk::Connector,
) -> Result<zk::Client, zk::Error> {
    try_connect_to(&addr.to_string(), connector).await
}

/// Connects a client built by `connector` to the connect string `hosts` and returns what
/// the attempt gave.
async fn try_connect_to(hosts: &str, connector: zk::Connector) -> Result<zk::Client, zk::Error> {
    crate::within(WAIT, "a client connection", async {
        connector.with_fail_eagerly().connect(hosts).await
    })
    .await
}

/// Sends a four-letter word to `addr` and returns the whole answer; `limit` bounds the
/// connect and each read.
pub fn four_letter_word(addr: SocketAddr, word: &str, limit: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.write_all(word.as_bytes())?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

/// Opens a session with a raw handshake, closes it, and reads until the server hangs up;
/// each step may take up to `limit`.
fn probe_handshake(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, limit).map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(limit))
        .map_err(|e| fail("set timeout", e))?;
    stream
        .write_all(&crate::raw::connect_frame(0, 10_000, 0, &[0; 16]))
        .map_err(|e| fail("send connect", e))?;
    let body = read_frame_blocking(&mut stream).map_err(|e| fail("read connect reply", e))?;
    let session_id = match body.get(8..16) {
        Some(b) => i64::from_be_bytes(b.try_into().expect("8 bytes")),
        None => return Err("short connect reply".into()),
    };
    if session_id == 0 {
        return Err("server answered the handshake with session id 0".into());
    }
    // closeSession, then read to EOF so the server has dropped the connection from its books
    // (it matters to the maxClientCnxns test) before the test starts.
    stream
        .write_all(&crate::raw::request_frame(1, -11, &[]))
        .map_err(|e| fail("send close", e))?;
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    Ok(())
}

/// `ZKRS_SERVER_BIN`, else `zkrs-server` in the target profile directory of this test binary
/// (`target/<profile>/deps/<test>-<hash>` -> `target/<profile>/zkrs-server`).
pub fn zkrs_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ZKRS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("zkrs-server{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        panic!(
            "{} does not exist: build it first (`cargo build -p zkrs-server`, same profile), \
             or set ZKRS_SERVER_BIN, or run against Apache with ZKRS_TEST_SERVER=apache",
            bin.display()
        );
    }
    bin
}

/// `ZKRS_APACHE_CLASSPATH`, else the jars of `ZOOKEEPER_HOME` (an unpacked Apache release:
/// `*.jar` and `lib/*.jar`), else Debian's `zookeeper` package layout.
pub fn apache_classpath() -> String {
    if let Ok(cp) = std::env::var("ZKRS_APACHE_CLASSPATH") {
        return cp;
    }
    if let Some(home) = std::env::var_os("ZOOKEEPER_HOME") {
        let home = PathBuf::from(home);
        let mut jars = Vec::new();
        for dir in [home.clone(), home.join("lib")] {
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "jar") {
                        jars.push(p.display().to_string());
                    }
                }
            }
        }
        jars.sort();
        return jars.join(":");
    }
    // Debian: zookeeper.jar's manifest names its dependencies; slf4j-simple makes the server
    // log to stderr (our log file) instead of nowhere.
    let mut cp = vec!["/usr/share/java/zookeeper.jar".to_string()];
    let simple = "/usr/share/java/slf4j-simple.jar";
    if Path::new(simple).exists() {
        cp.push(simple.to_string());
    }
    cp.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zkrs_test_ensemble_values() {
        assert_eq!(ensemble_size_from(""), None, "unset or empty: standalone");
        assert_eq!(ensemble_size_from("3"), Some(3));
        assert_eq!(ensemble_size_from("5"), Some(5));
    }

    #[test]
    #[should_panic(expected = "ZKRS_TEST_ENSEMBLE must be")]
    fn a_one_member_ensemble_is_refused() {
        ensemble_size_from("1");
    }

    #[test]
    #[should_panic(expected = "ZKRS_TEST_ENSEMBLE must be")]
    fn a_non_number_is_refused() {
        ensemble_size_from("three");
    }
}
