//! zoo.cfg: the server's configuration file, read the way Apache ZooKeeper reads it.
//!
//! `zkrs-server zoo.cfg` must accept the files people already run Apache with, so key
//! names, defaults and value syntax follow Apache's documented ones. Where we differ it is
//! to be stricter with typos: a bad value is an error naming the file, line and key rather
//! than a silent fallback, and a key we do not know is a warning (Apache would quietly turn
//! it into a Java system property) so the operator sees it in the log.

pub mod hostname_myid;
mod properties;
pub mod render;
pub(crate) mod servers;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::IntErrorKind;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::fourlw::{Whitelist, WHITELIST_PROPERTY};
use properties::Property;

/// Everything zoo.cfg (and its dynamic config file and `myid`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `tickTime`: the basic time unit in milliseconds; heartbeats and the session timeout
    /// bounds are multiples of it. Default 2000.
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to connect and sync to the leader. Default 10.
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may lag behind the leader. Default 5.
    pub sync_limit: u32,
    /// `dataDir`: where snapshots (and `myid`) live. Required in a file.
    pub data_dir: PathBuf,
    /// `dataLogDir`: where the transaction log lives. Defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`: the port clients connect to. Default 2181; 0 lets the OS pick one,
    /// which tests use.
    pub client_port: u16,
    /// `clientPortAddress`: the interface clients connect on. Default `0.0.0.0` in a file,
    /// as in Apache; [`Config::standalone_default`] uses `127.0.0.1`.
    pub client_port_address: IpAddr,
    /// `secureClientPort`: parsed so that a file using it loads, but TLS is not supported
    /// and nothing listens on it (a warning says so).
    pub secure_client_port: Option<u16>,
    /// `maxClientCnxns`: connections allowed from one client IP; 0 means unlimited.
    /// Default 60.
    pub max_client_cnxns: u32,
    /// `minSessionTimeout` in ms; `None` (or -1 in the file) means 2 ticks. Read it with
    /// [`Config::min_session_timeout_ms`].
    pub min_session_timeout: Option<u32>,
    /// `maxSessionTimeout` in ms; `None` (or -1 in the file) means 20 ticks. Read it with
    /// [`Config::max_session_timeout_ms`].
    pub max_session_timeout: Option<u32>,
    /// `autopurge.snapRetainCount`: snapshots (and their logs) kept by the purge task.
    /// Default 3, which is also the minimum.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`: hours between purges; 0 disables purging (the default).
    pub autopurge_purge_interval_hours: u32,
    /// `4lw.commands.whitelist`: the four-letter words the server answers. Default `srvr`
    /// only, as in Apache, whose rules [`Whitelist`] implements.
    pub four_letter_words: Whitelist,
    /// `extendedTypesEnabled`: allows TTL nodes (the server id is then limited to 254 in
    /// Apache because extended types take bits of the session id). Default false.
    pub extended_types_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest` (also accepted with Apache's system
    /// property prefix `zookeeper.`): `user:base64(sha1(user:password))`. A client that
    /// authenticates as this digest identity bypasses ACLs.
    pub super_digest: Option<String>,
    /// `superUser`: the SASL principal treated as super user.
    pub super_user: Option<String>,
    /// `admin.enableServer`: whether the HTTP admin server runs. Default true.
    pub admin_enable_server: bool,
    /// `admin.serverAddress`: the admin server's interface. Default `0.0.0.0`.
    pub admin_server_address: IpAddr,
    /// `admin.serverPort`: the admin server's port. Default 8080.
    pub admin_server_port: u16,
    /// `snapCount`: transactions between snapshots. Default 100000.
    pub snap_count: u32,
    /// `forceSync`: fsync the transaction log before acknowledging a write. Default true.
    pub force_sync: bool,
    /// `jute.maxbuffer`: the largest frame (and znode payload) in bytes. Default 0xfffff.
    pub jute_max_buffer: u32,
    /// `preAllocSize`: transaction log files grow by this many KiB at a time. Default 65536.
    pub pre_alloc_size_kb: u64,
    /// `standaloneEnabled`: with a single `server.N` line, run standalone rather than as a
    /// one-member ensemble. Default true.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`: allow the `reconfig` operation. Default false.
    pub reconfig_enabled: bool,
    /// `dynamicConfigFile`: a file holding the `server.N` (and `group.N`/`weight.N`) lines;
    /// [`Config::from_file`] loads it.
    pub dynamic_config_file: Option<PathBuf>,
    /// The version of the membership: the hex suffix of the dynamic config file's name
    /// (`zoo.cfg.dynamic.100000000`), as Apache reads it; 0 without one.
    pub config_version: i64,
    /// The file this config was read from (a reconfig rewrites it, as Apache does).
    pub config_file: Option<PathBuf>,
    /// `globalOutstandingLimit`: queued requests before the server stops reading from
    /// clients. Default 1000.
    pub global_outstanding_limit: u32,
    /// `maxCnxns`: total client connections; 0 means unlimited (the default).
    pub max_cnxns: u32,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes
    /// are looked for. Default 60000.
    pub container_check_interval_ms: u32,
    /// `znode.container.maxPerMinute`: the most containers deleted per minute. Default 10000.
    pub container_max_per_minute: u32,
    /// `localSessionsEnabled`: sessions that live only on the server they connected to.
    /// Default false.
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled`: a local session becomes global when it creates an
    /// ephemeral node. Default false.
    pub local_sessions_upgrading_enabled: bool,
    /// `quorumListenOnAllIPs`: listen for peers on all interfaces rather than the address
    /// in this server's `server.N` line. Default false.
    pub quorum_listen_on_all_ips: bool,
    /// `readonlymode.enabled` (a JVM system property for Apache; a zoo.cfg key here): an
    /// ensemble member cut off from its quorum serves reads to clients that accept a
    /// read-only session. Default false.
    pub read_only_mode_enabled: bool,
    /// `electionPortBindRetry` (Apache's system property `zookeeper.electionPortBindRetry`):
    /// how many times binding the election port is retried before the server gives up; 0
    /// retries forever. Default 3. A negative value means the default, as in Apache.
    pub election_port_bind_retry: u32,
    /// `leaderServes` (`zookeeper.leaderServes`): whether the leader accepts client
    /// connections. Default true; Apache turns it off only for the value `no`.
    pub leader_serves: bool,
    /// `syncEnabled`: whether observers log transactions and take snapshots like
    /// followers. Default true.
    pub sync_enabled: bool,
    // `sslQuorum` and `quorum.auth.enableSasl` / `serverRequireSasl` /
    // `learnerRequireSasl` have no field: they are accepted only as false (Apache's default),
    // since TLS and SASL between servers are not supported and a member that silently
    // talked in the clear to peers expecting TLS or SASL would never join.
    /// `electionAlg`: only 3 (fast leader election) exists in current Apache.
    pub election_alg: u32,
    /// `peerType`: whether this server votes. Default participant.
    pub peer_type: PeerType,
    /// `metricsProvider.className`: Apache's `PrometheusMetricsProvider` turns `/metrics`
    /// on; any other class is kept for the record (zkrs has no other provider).
    pub metrics_provider_class_name: Option<String>,
    /// `metricsProvider.httpHost`: the host `/metrics` listens on (a name or an address,
    /// resolved when the listener starts). Apache's default is `0.0.0.0`.
    pub metrics_provider_http_host: Option<String>,
    /// `metricsProvider.httpPort`: the port `/metrics` listens on (Apache's default 7000).
    pub metrics_provider_http_port: Option<u16>,
    /// The `server.N` lines, sorted by id.
    pub servers: Vec<ServerSpec>,
    /// `group.N=id:id:...`: hierarchical quorum groups. Parsed so that a standalone file with
    /// stray lines loads (as in Apache); an ensemble with them is refused, because votes
    /// would be counted differently from what the file asks.
    pub groups: BTreeMap<u64, Vec<u64>>,
    /// `weight.N=w`: hierarchical quorum weights by server id; see `groups`.
    pub weights: BTreeMap<u64, u64>,
    /// This server's id, from `dataDir/myid`; set by [`Config::from_file`] when there are
    /// server lines, `None` otherwise.
    pub my_id: Option<u64>,
}

/// One `server.N=host:peerPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// N, the server id (`myid`): 1..=i64::MAX.
    pub id: u64,
    /// The peer host as written: a name, an IPv4 address, or an IPv6 address (written in
    /// brackets in the file, stored without them).
    pub host: String,
    /// The port followers connect to the leader on.
    pub peer_port: u16,
    /// The port used for leader election.
    pub election_port: u16,
    /// Participant (votes) or observer.
    pub role: PeerType,
    /// The client address after `;`, if any. A bare port means all interfaces (`0.0.0.0`).
    pub client_addr: Option<SocketAddr>,
    /// The line of the file the entry was read from, for later messages about it.
    pub line: usize,
}

impl ServerSpec {
    /// `host:port` for the peer port, with brackets around an IPv6 host.
    pub fn peer_addr(&self) -> String {
        join_host_port(&self.host, self.peer_port)
    }

    /// `host:port` for the election port, with brackets around an IPv6 host.
    pub fn election_addr(&self) -> String {
        join_host_port(&self.host, self.election_port)
    }
}

pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Whether a server votes in elections and writes, or only follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerType {
    #[default]
    Participant,
    Observer,
}

impl fmt::Display for PeerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerType::Participant => "participant",
            PeerType::Observer => "observer",
        })
    }
}

/// With extended types (TTL nodes) a session's owner field marks the node type in its top
/// byte, where a session id normally carries the server id; 0xff is that marker, so server
/// ids must stay below it, as Apache requires.
pub const MAX_EXTENDED_TYPES_SERVER_ID: u64 = 254;

/// The simple name of Apache's Prometheus metrics provider class: a
/// `metricsProvider.className` ending in it turns `/metrics` on (Apache loads the class
/// by its full name; any package is accepted here).
pub const PROMETHEUS_PROVIDER: &str = "PrometheusMetricsProvider";

/// Why a config could not be loaded. Each names the file (or the source name given to
/// [`Config::parse`]) and, where there is one, the line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value (or a line) that cannot be used.
    #[error("{file} line {line}: {key}: {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    /// A required key is absent.
    #[error("{file}: {key} is not set")]
    Missing { file: String, key: String },
    /// The config file, dynamic config file or `myid` could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        file: String,
        kind: io::ErrorKind,
        message: String,
    },
    /// `dataDir/myid` is missing, malformed, or names no server.
    #[error("{file}: {message}")]
    MyId { file: String, message: String },
}

impl ConfigError {
    fn io(path: &Path, e: &io::Error) -> Self {
        ConfigError::Io {
            file: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Config {
    /// Apache's defaults with `dataDir` set; the address is `0.0.0.0:2181` as in a file.
    fn file_defaults(data_dir: PathBuf) -> Config {
        Config {
            tick_time_ms: 2000,
            init_limit: 10,
            sync_limit: 5,
            data_log_dir: data_dir.clone(),
            data_dir,
            client_port: 2181,
            client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            secure_client_port: None,
            max_client_cnxns: 60,
            min_session_timeout: None,
            max_session_timeout: None,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            four_letter_words: Whitelist::default(),
            extended_types_enabled: false,
            super_digest: None,
            super_user: None,
            admin_enable_server: true,
            admin_server_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            admin_server_port: 8080,
            snap_count: 100_000,
            force_sync: true,
            jute_max_buffer: 0xfffff,
            pre_alloc_size_kb: 65536,
            standalone_enabled: true,
            reconfig_enabled: false,
            dynamic_config_file: None,
            config_version: 0,
            config_file: None,
            global_outstanding_limit: 1000,
            max_cnxns: 0,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            quorum_listen_on_all_ips: false,
            read_only_mode_enabled: false,
            election_port_bind_retry: 3,
            leader_serves: true,
            sync_enabled: true,
            election_alg: 3,
            peer_type: PeerType::Participant,
            metrics_provider_class_name: None,
            metrics_provider_http_host: None,
            metrics_provider_http_port: None,
            servers: Vec::new(),
            groups: BTreeMap::new(),
            weights: BTreeMap::new(),
            my_id: None,
        }
    }

    /// A single server for development and tests: Apache's defaults, but listening on
    /// `127.0.0.1:2181` (and the admin server on `127.0.0.1`) so that running without a
    /// config file exposes nothing to the network.
    pub fn standalone_default(data_dir: PathBuf) -> Config {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Config {
            client_port_address: loopback,
            admin_server_address: loopback,
            ..Config::file_defaults(data_dir)
        }
    }

    /// Parses zoo.cfg text. `source` names it in errors and warnings (usually the path).
    ///
    /// Pure: reads no files, so `dynamicConfigFile` is only recorded and `my_id` stays
    /// `None`; [`Config::from_file`] does both. Returns the config and the warnings (unknown
    /// keys, unsupported features, adjusted values) for the caller to log.
    pub fn parse(text: &str, source: &str) -> Result<(Config, Vec<String>), ConfigError> {
        Config::parse_noting(text, source).map(|(cfg, warnings, _)| (cfg, warnings))
    }

    /// [`Config::parse`], also telling which keys the file set explicitly, which
    /// [`Config::from_file`] needs to judge conflicts with the `server.N` lines.
    fn parse_noting(
        text: &str,
        source: &str,
    ) -> Result<(Config, Vec<String>, Explicit), ConfigError> {
        let mut explicit = Explicit::default();
        let mut loader = Loader::new(source);
        let mut cfg = Config::file_defaults(PathBuf::new());
        let mut data_dir_set = false;
        let mut data_log_dir_set = false;
        let mut min_line = None;
        let mut max_line = None;
        for p in loader.properties(text)? {
            match canonical_key(&p.key) {
                "dataDir" => data_dir_set = true,
                "dataLogDir" => data_log_dir_set = true,
                "minSessionTimeout" => min_line = Some(p.line),
                "maxSessionTimeout" => max_line = Some(p.line),
                "clientPort" => explicit.client_port = Some(p.line),
                "standaloneEnabled" => explicit.standalone_enabled = Some(p.line),
                _ => {}
            }
            loader.apply(&mut cfg, &p)?;
        }
        if !data_dir_set {
            return Err(ConfigError::Missing {
                file: source.to_string(),
                key: "dataDir".to_string(),
            });
        }
        if !data_log_dir_set {
            cfg.data_log_dir = cfg.data_dir.clone();
        }
        let (min, max) = (cfg.min_session_timeout_ms(), cfg.max_session_timeout_ms());
        if min > max {
            // Blame whichever of the two the file set last.
            let (key, line) = match (min_line, max_line) {
                (Some(a), Some(b)) if a > b => ("minSessionTimeout", a),
                (_, Some(b)) => ("maxSessionTimeout", b),
                (Some(a), None) => ("minSessionTimeout", a),
                // Both defaults: 2 ticks <= 20 ticks, so this cannot happen; be safe anyway.
                (None, None) => ("minSessionTimeout", 0),
            };
            return Err(loader.invalid(
                line,
                key,
                format!("minSessionTimeout ({min} ms) is larger than maxSessionTimeout ({max} ms)"),
            ));
        }
        explicit.hierarchy = loader.hierarchy.take();
        if cfg.dynamic_config_file.is_none() {
            // With a dynamic file the members are only known once it is read.
            check_ensemble(
                &cfg,
                source,
                explicit
                    .hierarchy
                    .as_ref()
                    .map(|(l, k)| (source, *l, k.as_str())),
                explicit.standalone_enabled.map(|l| (source, l)),
                &mut loader.warnings,
            )?;
        }
        Ok((cfg, loader.warnings, explicit))
    }

    /// Loads a zoo.cfg file, then its `dynamicConfigFile` if it names one, then (when there
    /// are server lines) `dataDir/myid`.
    ///
    /// Relative `dataDir`, `dataLogDir` and `dynamicConfigFile` paths are resolved against
    /// the process's working directory, not the config file's directory, as Apache does.
    pub fn from_file(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        let source = path.display().to_string();
        let (mut cfg, mut warnings, explicit) = Config::parse_noting(&text, &source)?;
        // The file the server.N lines came from, for messages about them.
        let mut members_source = source.clone();

        cfg.config_file = Some(absolute(path)?);
        cfg.data_dir = absolute(&cfg.data_dir)?;
        cfg.data_log_dir = absolute(&cfg.data_log_dir)?;

        if let Some(dynamic) = cfg.dynamic_config_file.clone() {
            let dynamic = absolute(&dynamic)?;
            let dyn_text =
                std::fs::read_to_string(&dynamic).map_err(|e| ConfigError::io(&dynamic, &e))?;
            let dyn_source = dynamic.display().to_string();
            let mut loader = Loader::new(&dyn_source);
            let props = loader.properties(&dyn_text)?;
            if !cfg.servers.is_empty() {
                if let Some(p) = props.iter().find(|p| p.key.starts_with("server.")) {
                    // Two lists of members would leave it unclear which is the ensemble.
                    return Err(loader.invalid(
                        p.line,
                        &p.key,
                        format!(
                            "server lines appear both here and in {source}; keep them in one file"
                        ),
                    ));
                }
            }
            for p in &props {
                loader.apply_dynamic(&mut cfg, p)?;
            }
            if props.iter().any(|p| p.key.starts_with("server.")) {
                members_source = dyn_source.clone();
            }
            let hierarchy = match (&explicit.hierarchy, &loader.hierarchy) {
                (Some((l, k)), _) => Some((source.as_str(), *l, k.as_str())),
                (None, Some((l, k))) => Some((dyn_source.as_str(), *l, k.as_str())),
                (None, None) => None,
            };
            check_ensemble(
                &cfg,
                &members_source,
                hierarchy,
                explicit.standalone_enabled.map(|l| (source.as_str(), l)),
                &mut loader.warnings,
            )?;
            warnings.append(&mut loader.warnings);
            if let Some(v) = version_from_file_name(&dynamic) {
                cfg.config_version = v;
            }
            cfg.dynamic_config_file = Some(dynamic);
        }

        if !cfg.servers.is_empty() {
            let myid_file = cfg.data_dir.join("myid");
            let myid_path = myid_file.display().to_string();
            let standalone = cfg.is_standalone();
            if standalone && !myid_file.exists() {
                // Apache runs a file with a single server line standalone without a myid
                // (HBase writes such files); only an ensemble member must know its id.
                return Ok((cfg, warnings));
            }
            let id = read_myid(&cfg.data_dir)?;
            let ids: Vec<String> = cfg.servers.iter().map(|s| s.id.to_string()).collect();
            let not_listed = format!(
                "myid is {id}, which is not among the server ids in {members_source} ({})",
                ids.join(", ")
            );
            let me = match cfg.server(id).cloned() {
                Some(me) => me,
                None if standalone => {
                    // Apache ignores the id of a standalone server; so do we, loudly.
                    warnings.push(format!("{myid_path}: {not_listed}; running standalone"));
                    return Ok((cfg, warnings));
                }
                None => {
                    return Err(ConfigError::MyId {
                        file: myid_path,
                        message: not_listed,
                    })
                }
            };
            if cfg.extended_types_enabled && id > MAX_EXTENDED_TYPES_SERVER_ID {
                return Err(ConfigError::Invalid {
                    file: members_source,
                    line: me.line,
                    key: format!("server.{id}"),
                    message: format!(
                        "with extendedTypesEnabled this server's id must be at most {MAX_EXTENDED_TYPES_SERVER_ID}, got {id}"
                    ),
                });
            }
            if me.role != cfg.peer_type {
                // The server line is what the other members see, so it decides (Apache:
                // "Peer type from servers list doesn't match peerType. Defaulting to servers
                // list.").
                warnings.push(format!(
                    "{members_source} line {}: server.{id} says {} but peerType is {}; using {}, as the server list says",
                    me.line, me.role, cfg.peer_type, me.role
                ));
                cfg.peer_type = me.role;
            }
            if let (Some(addr), Some(line)) = (me.client_addr, explicit.client_port) {
                // Apache's rule: a wildcard clientPortAddress must agree on the port, a
                // specific one on the whole address; otherwise it refuses to start.
                let configured = SocketAddr::new(cfg.client_port_address, cfg.client_port);
                let differs = if configured.ip().is_unspecified() {
                    configured.port() != addr.port()
                } else {
                    configured != addr
                };
                if differs {
                    return Err(ConfigError::Invalid {
                        file: source,
                        line,
                        key: "clientPort".to_string(),
                        message: format!(
                            "clientPort/clientPortAddress say {configured}, but server.{id} ({members_source} line {}) gives client address {addr}; make them agree or drop one",
                            me.line
                        ),
                    });
                }
            }
            cfg.my_id = Some(id);
        }
        Ok((cfg, warnings))
    }

    /// The smallest session timeout a client may negotiate, in ms: `minSessionTimeout`, or
    /// 2 ticks. Capped at `i32::MAX` because the wire carries timeouts as i32.
    pub fn min_session_timeout_ms(&self) -> u32 {
        self.min_session_timeout
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(2))
            .min(i32::MAX as u32)
    }

    /// The largest session timeout a client may negotiate, in ms: `maxSessionTimeout`, or
    /// 20 ticks. Capped at `i32::MAX` because the wire carries timeouts as i32.
    pub fn max_session_timeout_ms(&self) -> u32 {
        self.max_session_timeout
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(20))
            .min(i32::MAX as u32)
    }

    /// True when this server runs alone: no `server.N` lines, or exactly one and
    /// `standaloneEnabled` (Apache's rule).
    pub fn is_standalone(&self) -> bool {
        self.servers.is_empty() || (self.servers.len() == 1 && self.standalone_enabled)
    }

    /// The address to listen for clients on: this server's client address from its
    /// `server.N` line if it has one, else `clientPortAddress:clientPort`.
    pub fn client_addr(&self) -> SocketAddr {
        self.my_server()
            .and_then(|s| s.client_addr)
            .unwrap_or_else(|| SocketAddr::new(self.client_port_address, self.client_port))
    }

    /// The `server.N` line with this id.
    pub fn server(&self, id: u64) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// This server's own `server.N` line, once `my_id` is known.
    pub fn my_server(&self) -> Option<&ServerSpec> {
        self.my_id.and_then(|id| self.server(id))
    }
}

/// What a file set explicitly, where a default and an explicit value mean different things.
#[derive(Debug, Default)]
struct Explicit {
    /// The last line setting `clientPort`.
    client_port: Option<usize>,
    /// The first `group.N` or `weight.N` line (line, key).
    hierarchy: Option<(usize, String)>,
    /// The last line setting `standaloneEnabled`.
    standalone_enabled: Option<usize>,
}

/// `p` made absolute against the working directory, which is only asked for when needed.
fn absolute(p: &Path) -> Result<PathBuf, ConfigError> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| ConfigError::io(Path::new("."), &e))?;
    Ok(cwd.join(p))
}

/// Reads `dir/myid`: one server id, surrounding whitespace ignored.
fn read_myid(dir: &Path) -> Result<u64, ConfigError> {
    let path = dir.join("myid");
    let file = path.display().to_string();
    let text = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::MyId {
                file,
                message: "myid file is missing; with server.N lines it must hold this server's id"
                    .to_string(),
            })
        }
        Err(e) => return Err(ConfigError::io(&path, &e)),
    };
    let text = String::from_utf8_lossy(&text);
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(id) if (1..=i64::MAX as u64).contains(&id) => Ok(id),
        _ => Err(ConfigError::MyId {
            file,
            message: format!(
                "expected a server id (a positive integer), got \"{}\"",
                shorten(t)
            ),
        }),
    }
}

/// Apache's system-property spelling `zookeeper.X` means the same as `X` for the keys
/// that are not membership lines.
fn canonical_key(key: &str) -> &str {
    match key.strip_prefix("zookeeper.") {
        Some(rest) if !is_membership_key(rest) => rest,
        _ => key,
    }
}

fn is_membership_key(key: &str) -> bool {
    key.starts_with("server.") || key.starts_with("group.") || key.starts_with("weight.")
}

/// Keys Apache has for features we lack: accepted with a warning naming the feature,
/// rather than the generic "unknown key" one, so an Apache config loads.
fn unsupported_feature(key: &str) -> Option<&'static str> {
    const PREFIXES: &[(&str, &str)] = &[
        ("ssl.", "TLS"),
        ("ssl.quorum.", "TLS between servers"),
        ("sslQuorum", "TLS between servers"),
        ("secureClientPortAddress", "TLS"),
        ("serverCnxnFactory", "choosing the connection factory"),
        ("clientCnxnSocket", "choosing the connection factory"),
        ("authProvider.", "pluggable authentication providers"),
        ("quorum.auth.", "SASL between servers"),
        ("sessionRequireClientSASLAuth", "SASL"),
        ("enforce.auth.", "enforced authentication"),
        ("portUnification", "TLS"),
        ("audit.enable", "audit logging"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| key.starts_with(p))
        .map(|(_, what)| *what)
}

/// Cuts a value for quoting in a message, so a huge line does not make a huge error.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Parsing state for one file: its name for messages, the warnings so far, and the line
/// each plain key was last set on (for duplicate warnings).
struct Loader<'a> {
    source: &'a str,
    warnings: Vec<String>,
    seen: HashMap<String, usize>,
    /// The first `group.N` or `weight.N` line (line, key), for the message refusing them.
    hierarchy: Option<(usize, String)>,
}

impl<'a> Loader<'a> {
    fn new(source: &'a str) -> Self {
        Loader {
            source,
            warnings: Vec::new(),
            seen: HashMap::new(),
            hierarchy: None,
        }
    }

    fn properties(&self, text: &str) -> Result<Vec<Property>, ConfigError> {
        properties::parse(text).map_err(|e| self.invalid(e.line, &e.key, e.message))
    }

    fn invalid(&self, line: usize, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.source.to_string(),
            line,
            key: shorten(key),
            message,
        }
    }

    fn warn(&mut self, line: usize, message: String) {
        self.warnings
            .push(format!("{} line {line}: {message}", self.source));
    }

    /// The error for a value that is not what `what` describes. A `#` in the value is
    /// usually a trailing comment, which properties files do not have: say so.
    fn bad_value(&self, p: &Property, what: &str) -> ConfigError {
        let hint = if p.value.contains('#') {
            " (comments must be on a line of their own)"
        } else {
            ""
        };
        self.invalid(
            p.line,
            &p.key,
            format!("expected {what}, got \"{}\"{hint}", shorten(&p.value)),
        )
    }

    /// An integer in `min..=max`, in decimal (or hex with `0x`, which Java's
    /// `Integer.decode` accepts for the system-property spellings).
    fn int<T: TryFrom<i64>>(&self, p: &Property, min: i64, max: i64) -> Result<T, ConfigError> {
        let what = match min {
            1 => "a positive integer",
            0 => "a non-negative integer",
            _ => "an integer",
        };
        let v = &p.value;
        let (neg, digits) = match v.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, v.strip_prefix('+').unwrap_or(v)),
        };
        let parsed = match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(hex) if !hex.starts_with(['+', '-']) => i64::from_str_radix(hex, 16),
            Some(_) => return Err(self.bad_value(p, what)),
            None if digits.starts_with(['+', '-']) => return Err(self.bad_value(p, what)),
            None => digits.parse::<i64>(),
        };
        let n = match parsed {
            Ok(n) if neg => -n,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
                ) =>
            {
                return Err(self.out_of_range(p, min, max))
            }
            Err(_) => return Err(self.bad_value(p, what)),
        };
        if n < min || n > max {
            return Err(self.out_of_range(p, min, max));
        }
        T::try_from(n).map_err(|_| self.out_of_range(p, min, max))
    }

    fn out_of_range(&self, p: &Property, min: i64, max: i64) -> ConfigError {
        self.invalid(
            p.line,
            &p.key,
            format!(
                "expected an integer between {min} and {max}, got \"{}\"",
                shorten(&p.value)
            ),
        )
    }

    fn port(&self, p: &Property, min: i64) -> Result<u16, ConfigError> {
        self.int(p, min, i64::from(u16::MAX))
    }

    fn boolean(&self, p: &Property) -> Result<bool, ConfigError> {
        match p.value.to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(true),
            "false" | "no" => Ok(false),
            _ => Err(self.bad_value(p, "true, false, yes or no")),
        }
    }

    /// A boolean that may only be false: `what` is not supported, and a member that
    /// ignored the setting could not talk to peers that honour it.
    fn refuse_if_true(&self, p: &Property, what: &str) -> Result<(), ConfigError> {
        if self.boolean(p)? {
            return Err(self.invalid(
                p.line,
                &p.key,
                format!("{what} is not supported; remove the line or set it to false"),
            ));
        }
        Ok(())
    }

    fn ip(&self, p: &Property) -> Result<IpAddr, ConfigError> {
        servers::parse_ip(&p.value)
            .ok_or_else(|| self.bad_value(p, "an IP address (host names are not resolved)"))
    }

    fn path(&self, p: &Property) -> Result<PathBuf, ConfigError> {
        if p.value.is_empty() {
            return Err(self.bad_value(p, "a path"));
        }
        Ok(PathBuf::from(&p.value))
    }

    fn string(&self, p: &Property) -> Result<String, ConfigError> {
        if p.value.is_empty() {
            return Err(self.bad_value(p, "a value"));
        }
        Ok(p.value.clone())
    }

    /// A session timeout: -1 for the default, else a positive number of ms.
    fn timeout(&self, p: &Property) -> Result<Option<u32>, ConfigError> {
        let v: i64 = self.int(p, -1, i64::from(i32::MAX))?;
        match v {
            -1 => Ok(None),
            0 => Err(self.bad_value(p, "a positive number of milliseconds, or -1")),
            // The range check above keeps this within u32.
            v => Ok(Some(u32::try_from(v).unwrap_or(u32::MAX))),
        }
    }

    /// Applies one entry of zoo.cfg to `cfg`.
    fn apply(&mut self, cfg: &mut Config, p: &Property) -> Result<(), ConfigError> {
        let key = canonical_key(&p.key);
        if self.apply_membership(cfg, p)? {
            return Ok(());
        }
        if let Some(prev) = self.seen.insert(key.to_string(), p.line) {
            self.warn(
                p.line,
                format!("{key} was already set on line {prev}; the last value wins"),
            );
        }
        const MAX_I32: i64 = i32::MAX as i64;
        match key {
            "tickTime" => cfg.tick_time_ms = self.int(p, 1, MAX_I32)?,
            "initLimit" => cfg.init_limit = self.int(p, 1, MAX_I32)?,
            "syncLimit" => cfg.sync_limit = self.int(p, 1, MAX_I32)?,
            "dataDir" => cfg.data_dir = self.path(p)?,
            "dataLogDir" => cfg.data_log_dir = self.path(p)?,
            "clientPort" => cfg.client_port = self.port(p, 0)?,
            "clientPortAddress" => cfg.client_port_address = self.ip(p)?,
            "secureClientPort" => {
                cfg.secure_client_port = Some(self.port(p, 1)?);
                self.warn(
                    p.line,
                    "secureClientPort: TLS is not supported; nothing will listen on this port"
                        .to_string(),
                );
            }
            "maxClientCnxns" => cfg.max_client_cnxns = self.int(p, 0, MAX_I32)?,
            "minSessionTimeout" => cfg.min_session_timeout = self.timeout(p)?,
            "maxSessionTimeout" => cfg.max_session_timeout = self.timeout(p)?,
            "autopurge.snapRetainCount" => {
                let n: i64 = self.int(p, i64::from(i32::MIN), MAX_I32)?;
                cfg.autopurge_snap_retain_count = if n < 3 {
                    // Apache raises it rather than failing, so a file that worked there
                    // keeps working; but say so.
                    self.warn(
                        p.line,
                        format!("autopurge.snapRetainCount {n} is below the minimum; using 3"),
                    );
                    3
                } else {
                    u32::try_from(n).unwrap_or(u32::MAX)
                };
            }
            "autopurge.purgeInterval" => {
                // Any value below 1 disables purging, as in Apache.
                let n: i64 = self.int(p, i64::from(i32::MIN), MAX_I32)?;
                cfg.autopurge_purge_interval_hours = u32::try_from(n.max(0)).unwrap_or(0);
            }
            WHITELIST_PROPERTY => cfg.four_letter_words = self.four_letter_words(p),
            "extendedTypesEnabled" => cfg.extended_types_enabled = self.boolean(p)?,
            "DigestAuthenticationProvider.superDigest" => {
                cfg.super_digest = Some(self.super_digest(p)?)
            }
            "superUser" => cfg.super_user = Some(self.string(p)?),
            "admin.enableServer" => cfg.admin_enable_server = self.boolean(p)?,
            "admin.serverAddress" => cfg.admin_server_address = self.ip(p)?,
            "admin.serverPort" => cfg.admin_server_port = self.port(p, 1)?,
            "snapCount" => cfg.snap_count = self.int(p, 1, MAX_I32)?,
            "forceSync" => cfg.force_sync = self.boolean(p)?,
            "jute.maxbuffer" => cfg.jute_max_buffer = self.int(p, 1, MAX_I32)?,
            "preAllocSize" => cfg.pre_alloc_size_kb = self.int(p, 1, i64::MAX)?,
            "standaloneEnabled" => cfg.standalone_enabled = self.boolean(p)?,
            "reconfigEnabled" => cfg.reconfig_enabled = self.boolean(p)?,
            "dynamicConfigFile" => cfg.dynamic_config_file = Some(self.path(p)?),
            "globalOutstandingLimit" => cfg.global_outstanding_limit = self.int(p, 1, MAX_I32)?,
            "maxCnxns" => cfg.max_cnxns = self.int(p, 0, MAX_I32)?,
            "znode.container.checkIntervalMs" => {
                cfg.container_check_interval_ms = self.int(p, 1, MAX_I32)?
            }
            "znode.container.maxPerMinute" => {
                cfg.container_max_per_minute = self.int(p, 1, MAX_I32)?
            }
            "localSessionsEnabled" => cfg.local_sessions_enabled = self.boolean(p)?,
            "localSessionsUpgradingEnabled" => {
                cfg.local_sessions_upgrading_enabled = self.boolean(p)?
            }
            "quorumListenOnAllIPs" => cfg.quorum_listen_on_all_ips = self.boolean(p)?,
            "readonlymode.enabled" => cfg.read_only_mode_enabled = self.boolean(p)?,
            "electionPortBindRetry" => {
                let n: i64 = self.int(p, i64::from(i32::MIN), MAX_I32)?;
                cfg.election_port_bind_retry = if n < 0 {
                    // Apache falls back to its default; say so.
                    self.warn(
                        p.line,
                        format!("electionPortBindRetry {n} must be >= 0; using 3"),
                    );
                    3
                } else {
                    u32::try_from(n).unwrap_or(u32::MAX)
                };
            }
            "leaderServes" => cfg.leader_serves = self.boolean(p)?,
            "syncEnabled" => cfg.sync_enabled = self.boolean(p)?,
            "sslQuorum" => self.refuse_if_true(p, "TLS between servers")?,
            "quorum.auth.enableSasl"
            | "quorum.auth.serverRequireSasl"
            | "quorum.auth.learnerRequireSasl" => {
                self.refuse_if_true(p, "SASL authentication between servers")?
            }
            "electionAlg" => {
                let n: u32 = self.int(p, 0, MAX_I32)?;
                if n != 3 {
                    // Apache removed the other algorithms in 3.6.
                    return Err(self.invalid(
                        p.line,
                        &p.key,
                        format!("only 3 (fast leader election) is supported, got {n}"),
                    ));
                }
                cfg.election_alg = n;
            }
            "peerType" => {
                cfg.peer_type = match p.value.to_ascii_lowercase().as_str() {
                    "participant" => PeerType::Participant,
                    "observer" => PeerType::Observer,
                    _ => return Err(self.bad_value(p, "participant or observer")),
                }
            }
            "metricsProvider.className" => {
                let class = self.string(p)?;
                if !class.ends_with(PROMETHEUS_PROVIDER) {
                    self.warn(
                        p.line,
                        format!("metricsProvider.className: only Apache's {PROMETHEUS_PROVIDER} is served (/metrics); with {} nothing listens", shorten(&class)),
                    );
                }
                cfg.metrics_provider_class_name = Some(class);
            }
            "metricsProvider.httpHost" => cfg.metrics_provider_http_host = Some(self.string(p)?),
            "metricsProvider.httpPort" => cfg.metrics_provider_http_port = Some(self.port(p, 1)?),
            _ if key.starts_with("metricsProvider.") => self.warn(
                p.line,
                format!(
                    "{} tunes Apache's metrics provider in its JVM; zkrs's /metrics has no such setting; ignored",
                    shorten(&p.key)
                ),
            ),
            _ => match unsupported_feature(key) {
                Some(what) => self.warn(
                    p.line,
                    format!("{} is for {what}, which is not supported; ignored", p.key),
                ),
                None => self.warn(p.line, format!("unknown key {} ignored", shorten(&p.key))),
            },
        }
        Ok(())
    }

    /// Applies one entry of a dynamic config file, which holds only membership lines and
    /// the config `version`.
    fn apply_dynamic(&mut self, cfg: &mut Config, p: &Property) -> Result<(), ConfigError> {
        if self.apply_membership(cfg, p)? {
            return Ok(());
        }
        if p.key == "version" {
            // The version is the file name's suffix; a second source could disagree with
            // it. Apache refuses the line too ("dynamic file shouldn't have version inside").
            return Err(self.invalid(
                p.line,
                &p.key,
                "a dynamic config file holds no version line: its version is the suffix of its name (zoo.cfg.dynamic.<hex version>)".to_string(),
            ));
        }
        Err(self.invalid(
            p.line,
            &p.key,
            "a dynamic config file may only hold server.N, group.N and weight.N lines".to_string(),
        ))
    }

    /// `server.N`, `group.N` and `weight.N`. Returns false for any other key.
    fn apply_membership(&mut self, cfg: &mut Config, p: &Property) -> Result<bool, ConfigError> {
        if let Some(n) = p.key.strip_prefix("server.") {
            let id = self.id_suffix(p, n)?;
            let spec = servers::parse_server_line(id, p.line, &p.value)
                .map_err(|m| self.invalid(p.line, &p.key, m))?;
            self.add_server(cfg, spec, p)?;
        } else if let Some(n) = p.key.strip_prefix("group.") {
            let gid = self.id_suffix(p, n)?;
            self.hierarchy.get_or_insert((p.line, p.key.clone()));
            let mut members = Vec::new();
            for m in p.value.split(':') {
                let m = m.trim();
                match m.parse::<u64>() {
                    Ok(id) if (1..=i64::MAX as u64).contains(&id) => members.push(id),
                    _ => {
                        return Err(self.invalid(
                            p.line,
                            &p.key,
                            format!(
                                "expected server ids separated by ':', got \"{}\"",
                                shorten(&p.value)
                            ),
                        ))
                    }
                }
            }
            if cfg.groups.insert(gid, members).is_some() {
                self.warn(
                    p.line,
                    format!("{} is set again; the last value wins", p.key),
                );
            }
        } else if let Some(n) = p.key.strip_prefix("weight.") {
            let sid = self.id_suffix(p, n)?;
            let w: u64 = self.int(p, 0, i64::MAX)?;
            self.hierarchy.get_or_insert((p.line, p.key.clone()));
            if cfg.weights.insert(sid, w).is_some() {
                self.warn(
                    p.line,
                    format!("{} is set again; the last value wins", p.key),
                );
            }
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The N of `server.N`, `group.N` or `weight.N`: 1..=i64::MAX (Apache's ids are longs).
    fn id_suffix(&self, p: &Property, n: &str) -> Result<u64, ConfigError> {
        match n.parse::<u64>() {
            Ok(id) if (1..=i64::MAX as u64).contains(&id) && !n.starts_with('+') => Ok(id),
            _ => Err(self.invalid(
                p.line,
                &p.key,
                format!(
                    "the id after the dot must be a positive integer, got \"{}\"",
                    shorten(n)
                ),
            )),
        }
    }

    /// Adds a server, refusing a repeated id or an address another server already has.
    fn add_server(
        &mut self,
        cfg: &mut Config,
        spec: ServerSpec,
        p: &Property,
    ) -> Result<(), ConfigError> {
        for other in &cfg.servers {
            if other.id == spec.id {
                return Err(self.invalid(
                    p.line,
                    &p.key,
                    format!(
                        "server id {} is already defined on line {}",
                        spec.id, other.line
                    ),
                ));
            }
            if let (Some(a), Some(b)) = (spec.client_addr, other.client_addr) {
                // A wildcard client address is on the member's own host: it clashes with
                // any address of that host, a specific one only with itself.
                let clash = a.port() == b.port()
                    && if a.ip().is_unspecified() || b.ip().is_unspecified() {
                        same_host(&other.host, &spec.host)
                    } else {
                        a.ip() == b.ip()
                    };
                if clash {
                    return Err(self.invalid(
                        p.line,
                        &p.key,
                        format!(
                            "client address {a} is already used by server.{} (line {})",
                            other.id, other.line
                        ),
                    ));
                }
            }
            if !same_host(&other.host, &spec.host) {
                continue;
            }
            for (what, port) in [("peer", spec.peer_port), ("election", spec.election_port)] {
                if port == other.peer_port || port == other.election_port {
                    return Err(self.invalid(
                        p.line,
                        &p.key,
                        format!(
                            "{what} address {} is already used by server.{} (line {})",
                            join_host_port(&spec.host, port),
                            other.id,
                            other.line
                        ),
                    ));
                }
            }
        }
        let at = cfg.servers.partition_point(|s| s.id < spec.id);
        cfg.servers.insert(at, spec);
        Ok(())
    }

    /// Apache adds `isro` to the whitelist only from its JVM property `readonlymode.enabled`;
    /// here the word is listed like any other.
    fn four_letter_words(&mut self, p: &Property) -> Whitelist {
        for w in Whitelist::unknown_entries(&p.value) {
            self.warn(
                p.line,
                format!(
                    "4lw.commands.whitelist: unknown four-letter word \"{}\"",
                    shorten(w)
                ),
            );
        }
        Whitelist::parse(Some(&p.value), false)
    }

    /// `user:base64digest`. A digest that does not decode to a SHA-1 is probably a
    /// password pasted by mistake: warn, since nobody could authenticate against it.
    fn super_digest(&mut self, p: &Property) -> Result<String, ConfigError> {
        let (user, digest) = match p.value.split_once(':') {
            Some((u, d)) if !u.is_empty() && !d.is_empty() => (u, d),
            _ => return Err(self.bad_value(p, "user:base64digest")),
        };
        let ok = base64::engine::general_purpose::STANDARD
            .decode(digest)
            .map(|b| b.len() == 20)
            .unwrap_or(false);
        if !ok {
            self.warn(
                p.line,
                format!(
                    "{}: the digest for {} is not a base64 SHA-1 hash; nobody will match it",
                    p.key,
                    shorten(user)
                ),
            );
        }
        Ok(p.value.clone())
    }
}

/// Apache's rules for the membership (`QuorumPeerConfig.parseDynamicConfig`), and the
/// refusal of hierarchical quorums in an ensemble. `source` is the file with the server
/// lines, `hierarchy` the first `group.N`/`weight.N` line (file, line, key), and
/// `standalone_line` where `standaloneEnabled` was set (file, line).
fn check_ensemble(
    cfg: &Config,
    source: &str,
    hierarchy: Option<(&str, usize, &str)>,
    standalone_line: Option<(&str, usize)>,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let invalid = |file: &str, line: usize, key: &str, message: String| ConfigError::Invalid {
        file: file.to_string(),
        line,
        key: key.to_string(),
        message,
    };
    if let Some((file, line, key)) = hierarchy {
        if cfg.is_standalone() {
            warnings.push(format!(
                "{file} line {line}: {key}: hierarchical quorums are not supported; ignored by a standalone server"
            ));
        } else {
            // Counting one vote per participant where the file asks for groups and weights
            // would commit writes Apache would not (or the reverse): refuse.
            return Err(invalid(
                file,
                line,
                key,
                "hierarchical quorums (group.N, weight.N) are not supported; every participant would have one vote, not what these lines ask for. Remove the group.N and weight.N lines".to_string(),
            ));
        }
    }
    let participants: Vec<&ServerSpec> = cfg
        .servers
        .iter()
        .filter(|s| s.role == PeerType::Participant)
        .collect();
    let first_observer = cfg.servers.iter().find(|s| s.role == PeerType::Observer);
    let n = participants.len();
    match (n, first_observer) {
        (0, _) if !cfg.standalone_enabled => {
            let (file, line) = standalone_line.unwrap_or((source, 0));
            Err(invalid(
                file,
                line,
                "standaloneEnabled",
                "standaloneEnabled is false, so at least one participant server.N line is needed".to_string(),
            ))
        }
        (0, Some(o)) => Err(invalid(
            source,
            o.line,
            &format!("server.{}", o.id),
            "every server is an observer; at least one must be a participant".to_string(),
        )),
        (0, None) => Ok(()),
        (1, Some(o)) if cfg.standalone_enabled => Err(invalid(
            source,
            o.line,
            &format!("server.{}", o.id),
            "observers need a quorum, but with one participant and standaloneEnabled (the default) the server runs standalone".to_string(),
        )),
        (1, None) if cfg.standalone_enabled => {
            let p = participants[0];
            warnings.push(format!(
                "{source} line {}: server.{}: only one server, so it runs standalone (set standaloneEnabled=false for a one-member ensemble)",
                p.line, p.id
            ));
            Ok(())
        }
        _ => {
            let lines: Vec<String> = participants
                .iter()
                .map(|s| format!("server.{} (line {})", s.id, s.line))
                .collect();
            let lines = lines.join(", ");
            let tolerated = (n - 1) / 2;
            if n <= 2 {
                warnings.push(format!(
                    "{source}: {n} participant(s) [{lines}]: no failure is tolerated, since a quorum is all of them; 3 tolerate one"
                ));
            } else if n.is_multiple_of(2) {
                warnings.push(format!(
                    "{source}: an even number of participants, {n} [{lines}]: they tolerate {tolerated} failure(s), as {} would; {} would tolerate {}",
                    n - 1,
                    n + 1,
                    tolerated + 1
                ));
            }
            Ok(())
        }
    }
}

/// Host names compare case-insensitively; IP literals by value, so `::1` and
/// `0:0:0:0:0:0:0:1` are the same host.
fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Apache's `getVersionFromFilename`: the hex number after the last `.` of a dynamic
/// config file's name (`zoo.cfg.dynamic.100000000`), if there is one.
fn version_from_file_name(path: &Path) -> Option<i64> {
    path.file_name()?
        .to_string_lossy()
        .rsplit_once('.')
        .and_then(|(_, v)| i64::from_str_radix(v, 16).ok())
}

#[cfg(test)]
mod tests;
