//! Four-letter words ("4lw") of the client port, formatted exactly like Apache ZooKeeper 3.8.
//!
//! A client connects to the client port, sends four ASCII bytes (`ruok`, `srvr`, `mntr`, ...)
//! instead of a connect request, and the server writes a plain-text answer and closes the
//! connection. Monitoring tools (zkServer.sh, Prometheus/Datadog/Nagios checks, ...) parse these
//! answers, so every byte here mirrors what Apache ZooKeeper 3.8 writes. Reference captures of a
//! real 3.8.0 server live in `server/tests/fixtures/4lw/` and the unit tests below reproduce them
//! byte for byte.
//!
//! This module only formats. The core owns the data: the connection edge recognises a word with
//! [`FourLetterWord::from_bytes`], checks it against the [`Whitelist`], asks the core for a
//! [`ServerSnapshot`] (how much of it is needed is told by [`FourLetterWord::scope`]), performs
//! the side effect of `crst`/`srst`/`stmk` itself, and writes [`render`]'s answer before closing.
//!
//! Facts a caller must know (all checked against Apache 3.8.0):
//!
//! * Matching is exact and case-sensitive on the first four bytes of the connection. Anything
//!   else is a normal client connection (Apache reads those bytes as a frame length; for
//!   garbage such as `xyzw` it writes nothing and closes).
//! * `stmk` is followed by 8 more bytes (a big-endian i64, the new trace mask) which the caller
//!   must read before answering; the answer is the new mask. The whitelist check happens before
//!   those 8 bytes are read.
//! * A word that is not whitelisted is answered with [`not_in_whitelist`] (even `ruok`). `srvr`
//!   is always allowed (zkServer.sh needs it); `isro` is also allowed when read-only mode is
//!   enabled. An absent `4lw.commands.whitelist` means "srvr only".
//! * While the server is not serving (no quorum, still loading, ...) most words answer
//!   [`NOT_SERVING`] (`isro` answers `null`; `ruok`, `envi`, `gtmk`, `stmk` answer normally).
//!   Set [`ServerSnapshot::serving`] accordingly.
//! * `ruok`, `isro`, `gtmk`, `stmk` and `hash` answers have no trailing newline; all others end
//!   with one, except `conf` with a membership block, whose last line `version=<hex>` has none.
//! * Apache counts the 4lw connection itself: it is one of `Connections:`/
//!   `zk_num_alive_connections`, its 4 bytes are one of `Received:`, and `stat`/`cons`/`dump`
//!   list it as ` /ip:port[0](queued=0,recved=1,sent=0)` (no session, interest ops 0). Include
//!   it in the snapshot to look the same.
//! * `wchs`/`wchc`/`wchp` cover data watches only (set by getData and exists, including exists
//!   on a missing node); child watches are not listed there. `zk_watch_count` in `mntr` counts
//!   data watches plus child watches.
//! * Orders of connections, sessions and paths are the caller's (Apache prints hash order).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;

/// What Apache answers for most words while it is not serving (followed by a newline, except
/// for `hash`).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The configuration key holding the comma-separated list of allowed words (`*` = all).
pub const WHITELIST_PROPERTY: &str = "4lw.commands.whitelist";

/// Apache's default trace mask, answered by `gtmk` on a fresh server.
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// A four-letter word Apache ZooKeeper 3.8 understands on its client port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FourLetterWord {
    /// `ruok`: "are you ok" — answers `imok`.
    Ruok,
    /// `srvr`: server summary (zkServer.sh status parses its `Mode:` line).
    Srvr,
    /// `stat`: `srvr` plus the brief list of connections.
    Stat,
    /// `mntr`: tab-separated `zk_*` metrics.
    Mntr,
    /// `conf`: serving configuration.
    Conf,
    /// `cons`: full per-connection statistics.
    Cons,
    /// `crst`: reset per-connection statistics.
    Crst,
    /// `envi`: process environment.
    Envi,
    /// `wchs`: watch summary.
    Wchs,
    /// `wchc`: watched paths by session.
    Wchc,
    /// `wchp`: watching sessions by path.
    Wchp,
    /// `dirs`: size of the snapshot and log directories.
    Dirs,
    /// `isro`: `rw` or `ro` (`null` when not serving).
    Isro,
    /// `srst`: reset server statistics.
    Srst,
    /// `dump`: sessions, their expiry, ephemerals and connections.
    Dump,
    /// `gtmk`: the current trace mask, in decimal.
    Gtmk,
    /// `stmk`: set the trace mask (8 more bytes follow the word); answers the new mask.
    Stmk,
    /// `hash`: the digest log (empty when the server keeps none).
    Hash,
}

/// How much server state a word needs; each level includes the previous ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SnapshotScope {
    /// Nothing: `ServerSnapshot::default()` renders it (`ruok`).
    None,
    /// Only `serving`, `mode` and `trace_mask` (`isro`, `crst`, `srst`, `gtmk`, `stmk`, `hash`).
    Status,
    /// Server-wide fields: version, stats, conf, sizes, environment, watch summary, metrics
    /// (`srvr`, `mntr`, `conf`, `envi`, `dirs`, `wchs`).
    Server,
    /// Plus the per-connection list `connections` (`stat`, `cons`) and, for `dump`, `dump`.
    Connections,
    /// Plus the full watch lists `watches_by_session` / `watches_by_path` (`wchc`, `wchp`;
    /// Apache warns these are expensive on big servers).
    Watches,
}

impl FourLetterWord {
    /// Every word, in a fixed order.
    pub const ALL: [FourLetterWord; 18] = [
        FourLetterWord::Ruok,
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Mntr,
        FourLetterWord::Conf,
        FourLetterWord::Cons,
        FourLetterWord::Crst,
        FourLetterWord::Envi,
        FourLetterWord::Wchs,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
        FourLetterWord::Dirs,
        FourLetterWord::Isro,
        FourLetterWord::Srst,
        FourLetterWord::Dump,
        FourLetterWord::Gtmk,
        FourLetterWord::Stmk,
        FourLetterWord::Hash,
    ];

    /// Recognises the first four bytes of a connection (exact, case-sensitive).
    pub fn from_bytes(b: [u8; 4]) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name().as_bytes() == b)
    }

    /// Recognises a word by name (exact, case-sensitive), e.g. from a whitelist.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The four ASCII letters.
    pub fn name(self) -> &'static str {
        match self {
            FourLetterWord::Ruok => "ruok",
            FourLetterWord::Srvr => "srvr",
            FourLetterWord::Stat => "stat",
            FourLetterWord::Mntr => "mntr",
            FourLetterWord::Conf => "conf",
            FourLetterWord::Cons => "cons",
            FourLetterWord::Crst => "crst",
            FourLetterWord::Envi => "envi",
            FourLetterWord::Wchs => "wchs",
            FourLetterWord::Wchc => "wchc",
            FourLetterWord::Wchp => "wchp",
            FourLetterWord::Dirs => "dirs",
            FourLetterWord::Isro => "isro",
            FourLetterWord::Srst => "srst",
            FourLetterWord::Dump => "dump",
            FourLetterWord::Gtmk => "gtmk",
            FourLetterWord::Stmk => "stmk",
            FourLetterWord::Hash => "hash",
        }
    }

    /// How much of a [`ServerSnapshot`] the answer reads.
    pub fn scope(self) -> SnapshotScope {
        match self {
            FourLetterWord::Ruok => SnapshotScope::None,
            FourLetterWord::Isro
            | FourLetterWord::Crst
            | FourLetterWord::Srst
            | FourLetterWord::Gtmk
            | FourLetterWord::Stmk
            | FourLetterWord::Hash => SnapshotScope::Status,
            FourLetterWord::Srvr
            | FourLetterWord::Mntr
            | FourLetterWord::Conf
            | FourLetterWord::Envi
            | FourLetterWord::Dirs
            | FourLetterWord::Wchs => SnapshotScope::Server,
            FourLetterWord::Stat | FourLetterWord::Cons | FourLetterWord::Dump => {
                SnapshotScope::Connections
            }
            FourLetterWord::Wchc | FourLetterWord::Wchp => SnapshotScope::Watches,
        }
    }

    /// Whether answering reads anything from the core (only `ruok` does not).
    pub fn needs_snapshot(self) -> bool {
        self.scope() != SnapshotScope::None
    }

    /// Whether the word asks for a side effect the caller performs before rendering:
    /// `crst` (reset connection stats), `srst` (reset server stats), `stmk` (set trace mask).
    pub fn has_side_effect(self) -> bool {
        matches!(
            self,
            FourLetterWord::Crst | FourLetterWord::Srst | FourLetterWord::Stmk
        )
    }
}

impl fmt::Display for FourLetterWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of words `4lw.commands.whitelist` allows, with Apache's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whitelist {
    allowed: BTreeSet<FourLetterWord>,
}

impl Whitelist {
    /// Parses the value of `4lw.commands.whitelist` (`None` when the key is absent).
    ///
    /// Entries are comma-separated and trimmed; `*` allows everything; unknown or empty
    /// entries are ignored; `srvr` is always allowed. `read_only_mode_enabled` (Apache's
    /// `readonlymode.enabled`) additionally allows `isro`.
    pub fn parse(value: Option<&str>, read_only_mode_enabled: bool) -> Self {
        let mut allowed = BTreeSet::new();
        for entry in value.unwrap_or("").split(',').map(str::trim) {
            if entry == "*" {
                allowed.extend(FourLetterWord::ALL);
            } else if let Some(word) = FourLetterWord::from_name(entry) {
                allowed.insert(word);
            }
        }
        if read_only_mode_enabled {
            allowed.insert(FourLetterWord::Isro);
        }
        allowed.insert(FourLetterWord::Srvr);
        Whitelist { allowed }
    }

    /// Everything allowed (`4lw.commands.whitelist=*`).
    pub fn all() -> Self {
        Whitelist {
            allowed: FourLetterWord::ALL.into_iter().collect(),
        }
    }

    /// Whether `cmd` may be answered; otherwise answer [`not_in_whitelist`].
    pub fn allows(&self, cmd: FourLetterWord) -> bool {
        self.allowed.contains(&cmd)
    }
}

impl Default for Whitelist {
    /// Apache's default when the key is absent: `srvr` only.
    fn default() -> Self {
        Whitelist::parse(None, false)
    }
}

/// The answer to a word that is not whitelisted, e.g.
/// `mntr is not executed because it is not in the whitelist.\n`.
pub fn not_in_whitelist(cmd_name: &str) -> String {
    format!("{cmd_name} is not executed because it is not in the whitelist.\n")
}

/// The `lop=` abbreviation `cons` shows for the last operation of a connection, by request
/// type (opcode). `None` means the request leaves `lop` unchanged (`setAuth` 100, `sasl` 102)
/// or is not a valid client request (Apache answers unknown types with an error and closes
/// the connection). A connection with nothing answered since its last reset shows `NA`.
///
/// Observed on Apache 3.8.0 (fixtures `cons_lop_codes.txt`, `standalone/cons_after_connect.txt`),
/// except `CLOS` (closeSession), which a connection never gets to show.
pub fn last_op_code(op_type: i32) -> Option<&'static str> {
    Some(match op_type {
        1 | 15 | 19 | 21 => "CREA",
        2 => "DELE",
        3 => "EXIS",
        4 => "GETD",
        5 => "SETD",
        6 => "GETA",
        7 => "SETA",
        8 | 12 => "GETC",
        9 => "SYNC",
        11 => "PING",
        14 => "MULT",
        17 => "CHKW",
        18 => "REMW",
        // deleteContainer is internal; a client sending it gets an error and `NA`.
        20 => "NA",
        22 => "MLTR",
        101 => "SETW",
        103 => "GETE",
        104 => "GETACN",
        105 => "STW2",
        106 => "ADDW",
        107 => "HOMI",
        -10 => "SESS",
        -11 => "CLOS",
        _ => return None,
    })
}

/// The server's role, as `Mode:` / `zk_server_state` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerMode {
    /// `standalone`
    #[default]
    Standalone,
    /// `leader`
    Leader,
    /// `follower`
    Follower,
    /// `observer`
    Observer,
    /// `read-only` (a partitioned peer serving read-only clients; `isro` says `ro`)
    ReadOnly,
}

impl ServerMode {
    /// The text Apache prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerMode::Standalone => "standalone",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
        }
    }

    fn in_quorum(self) -> bool {
        matches!(
            self,
            ServerMode::Leader | ServerMode::Follower | ServerMode::Observer
        )
    }
}

/// Server-wide request latency, in milliseconds (reset by `srst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyStats {
    /// Number of requests measured.
    pub count: u64,
    /// Sum of their latencies.
    pub sum_ms: u64,
    /// Smallest latency (ignored while `count` is 0: printed as 0).
    pub min_ms: u64,
    /// Largest latency.
    pub max_ms: u64,
}

impl LatencyStats {
    /// Adds one measurement.
    pub fn record(&mut self, ms: u64) {
        self.min_ms = if self.count == 0 {
            ms
        } else {
            self.min_ms.min(ms)
        };
        self.max_ms = self.max_ms.max(ms);
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    /// The average as Apache computes it: rounded half-up to 4 decimals, 0 when empty.
    pub fn avg_ms(&self) -> f64 {
        summary_avg(self.count, self.sum_ms as f64)
    }

    fn min_printed(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ms
        }
    }
}

/// Per-connection statistics for `stat` (brief form) and `cons` (long form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStats {
    /// The peer address, printed Java-style: `/127.0.0.1:5000`, `/[0:0:0:0:0:0:0:1]:5000`.
    pub remote: SocketAddr,
    /// Java selector interest ops, printed in hex: 0 = none (a 4lw connection),
    /// 1 = read, 4 = write, 5 = read+write.
    pub interest_ops: u32,
    /// Responses queued for sending.
    pub queued: u64,
    /// Packets received on this connection (`recved`; the 4lw word counts as 1).
    pub received: u64,
    /// Packets sent on this connection.
    pub sent: u64,
    /// Session id; 0 = no session (only the brief form is printed, even by `cons`).
    pub session_id: i64,
    /// `lop`: last operation, see [`last_op_code`]; `NA` when none since the last reset.
    pub last_op: String,
    /// `est`: when the connection was established, wall clock, ms since the Unix epoch.
    pub established_ms: i64,
    /// `to`: negotiated session timeout, ms.
    pub session_timeout_ms: i64,
    /// `lcxid`: last client xid answered; negative = none (the field is then omitted).
    pub last_cxid: i64,
    /// `lzxid`: last zxid answered; -1 after a reset (prints `0xffffffffffffffff`).
    pub last_zxid: i64,
    /// `lresp`: time of the last response, ms on a monotonic clock (Apache: elapsed time); 0
    /// when none.
    pub last_response_ms: i64,
    /// `llat`: latency of the last request, ms.
    pub last_latency_ms: i64,
    /// `minlat`: smallest request latency, ms (0 when none).
    pub min_latency_ms: i64,
    /// `avglat`: integer average request latency, ms.
    pub avg_latency_ms: i64,
    /// `maxlat`: largest request latency, ms.
    pub max_latency_ms: i64,
}

impl ConnectionStats {
    /// A connection with no session and no traffic (what Apache shows after `crst`).
    pub fn new(remote: SocketAddr) -> Self {
        ConnectionStats {
            remote,
            interest_ops: 0,
            queued: 0,
            received: 0,
            sent: 0,
            session_id: 0,
            last_op: "NA".to_string(),
            established_ms: 0,
            session_timeout_ms: 0,
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: 0,
            avg_latency_ms: 0,
            max_latency_ms: 0,
        }
    }
}

/// The `wchs` summary (data watches only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Sessions with at least one data watch.
    pub connections: u64,
    /// Distinct watched paths.
    pub paths: u64,
    /// Total (session, path) data watches.
    pub watches: u64,
}

/// Quorum-only configuration printed by `conf` after the standalone keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConf {
    /// `initLimit` (ticks).
    pub init_limit: i32,
    /// `syncLimit` (ticks).
    pub sync_limit: i32,
    /// `electionAlg` (Apache: always 3).
    pub election_alg: i32,
    /// `electionPort` of this server.
    pub election_port: i32,
    /// `quorumPort` of this server.
    pub quorum_port: i32,
    /// `peerType`: 0 = participant, 1 = observer.
    pub peer_type: i32,
    /// The `membership: ` block; Apache omits it on a read-only server.
    pub membership: Option<Membership>,
}

/// The ensemble membership `conf` prints after `membership: `.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// One line per member, e.g. `server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181`.
    pub servers: Vec<String>,
    /// The config version, printed in hex as the final `version=<hex>` line (no newline).
    pub version: i64,
}

/// What `conf` prints (sizes come from [`ServerSnapshot::data_dir_size`] / `data_log_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfInfo {
    /// `clientPort`.
    pub client_port: i32,
    /// `secureClientPort` (-1 when not configured).
    pub secure_client_port: i32,
    /// `dataDir` as printed (Apache prints the snapshot directory, `<dataDir>/version-2`).
    pub data_dir: String,
    /// `dataLogDir` as printed (Apache: `<dataLogDir>/version-2`).
    pub data_log_dir: String,
    /// `tickTime`, ms.
    pub tick_time: i32,
    /// `maxClientCnxns`.
    pub max_client_cnxns: i32,
    /// `minSessionTimeout`, ms (Apache default 2 x tickTime).
    pub min_session_timeout: i32,
    /// `maxSessionTimeout`, ms (Apache default 20 x tickTime).
    pub max_session_timeout: i32,
    /// `clientPortListenBacklog` (-1 = OS default).
    pub client_port_listen_backlog: i32,
    /// `serverId` (0 standalone).
    pub server_id: i64,
    /// Present in quorum mode: `initLimit` ... `membership`.
    pub quorum: Option<QuorumConf>,
}

impl Default for ConfInfo {
    fn default() -> Self {
        ConfInfo {
            client_port: 2181,
            secure_client_port: -1,
            data_dir: String::new(),
            data_log_dir: String::new(),
            tick_time: 2000,
            max_client_cnxns: 60,
            min_session_timeout: 4000,
            max_session_timeout: 40000,
            client_port_listen_backlog: -1,
            server_id: 0,
            quorum: None,
        }
    }
}

/// Leader-only `srvr`/`stat`/`mntr` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderInfo {
    /// Size in bytes of the last proposal (-1 none yet).
    pub last_proposal_size: i64,
    /// Smallest proposal size (-1 none yet).
    pub min_proposal_size: i64,
    /// Largest proposal size (-1 none yet).
    pub max_proposal_size: i64,
    /// `zk_synced_followers`.
    pub synced_followers: u64,
    /// `zk_synced_non_voting_followers`.
    pub synced_non_voting_followers: u64,
    /// `zk_synced_observers`.
    pub synced_observers: u64,
    /// `zk_pending_syncs`.
    pub pending_syncs: u64,
    /// `zk_leader_uptime`, ms since this server became leader.
    pub leader_uptime_ms: u64,
    /// `zk_learners`.
    pub learners: u64,
}

impl Default for LeaderInfo {
    fn default() -> Self {
        LeaderInfo {
            last_proposal_size: -1,
            min_proposal_size: -1,
            max_proposal_size: -1,
            synced_followers: 0,
            synced_non_voting_followers: 0,
            synced_observers: 0,
            pending_syncs: 0,
            leader_uptime_ms: 0,
            learners: 0,
        }
    }
}

/// Quorum-mode `mntr` values (leader, follower, observer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumInfo {
    /// `zk_peer_state`, e.g. `leading - broadcast`, `following - broadcast`. Empty = derived
    /// from the mode (`leading`/`following`/`observing` + ` - broadcast`).
    pub peer_state: String,
    /// `zk_quorum_size`: number of voting members.
    pub quorum_size: u64,
    /// Leader-only values (`Proposal sizes` line, `zk_*_proposal_size`, `zk_synced_*`, ...).
    pub leader: Option<LeaderInfo>,
}

/// `envi` values. Apache prints JVM system properties; we keep the keys and fill them from our
/// process ([`Environment::from_process`]).
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
        let path_string = |p: Option<std::path::PathBuf>| {
            p.map(|p| p.display().to_string()).unwrap_or_default()
        };
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

/// A summary metric: `mntr` expands it into `zk_avg_X`, `zk_min_X`, `zk_max_X`, `zk_cnt_X`,
/// `zk_sum_X` and, for the advanced ones, `zk_p50_X`, `zk_p95_X`, `zk_p99_X`, `zk_p999_X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SummaryValue {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations (the average is derived, rounded like Apache).
    pub sum: i64,
    /// Smallest observation (printed 0 while `count` is 0).
    pub min: i64,
    /// Largest observation (printed 0 while `count` is 0).
    pub max: i64,
    /// p50, p95, p99, p999; printed for advanced summaries (0s when `None`), and for extra
    /// summaries only when present.
    pub percentiles: Option<[i64; 4]>,
}

/// A value for `mntr`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// An integer gauge or counter.
    Int(i64),
    /// A floating gauge, printed like Java's `Double.toString` (`0.0`, `2.0667`).
    Float(f64),
    /// A text value.
    Text(String),
    /// A summary (see [`SummaryValue`]).
    Summary(SummaryValue),
}

/// `dump`: session expiry as the session tracker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionDump {
    /// Standalone and leader: `Session Sets (<buckets>)/(<sessions>):` then one
    /// `<n> expire at <date>:` line per expiry bucket, each session id on a tab line.
    ExpiryBuckets(Vec<ExpiryBucket<i64>>),
    /// Followers, observers, read-only: `Global Sessions(<n>):` then `0x<id>\t<timeout>ms`.
    Global(Vec<(i64, i64)>),
}

impl Default for SessionDump {
    fn default() -> Self {
        SessionDump::ExpiryBuckets(Vec::new())
    }
}

/// Items expiring at the same time (Apache groups expiries in tick-sized buckets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryBucket<T> {
    /// Expiry time, wall clock, ms since the Unix epoch (printed like Java's `Date`, in UTC).
    pub expires_at_ms: i64,
    /// What expires then.
    pub items: Vec<T>,
}

/// A connection in the `dump` connection buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpConnection {
    /// Peer address.
    pub remote: SocketAddr,
    /// Session id, 0 when none.
    pub session_id: i64,
}

/// Everything `dump` prints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpInfo {
    /// Session expiry.
    pub sessions: SessionDump,
    /// Ephemeral nodes by owning session.
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// Connection expiry buckets (`Connections Sets (<buckets>)/(<connections>):`).
    pub connection_buckets: Vec<ExpiryBucket<DumpConnection>>,
}

/// Plain data the core hands over to answer a word. Which fields a word reads is told by
/// [`FourLetterWord::scope`]; the rest may stay at their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSnapshot {
    // ---- status (SnapshotScope::Status) ----
    /// Whether the server is serving requests; when false most words answer [`NOT_SERVING`].
    pub serving: bool,
    /// Role (`Mode:`, `zk_server_state`; `ReadOnly` makes `isro` answer `ro`).
    pub mode: ServerMode,
    /// Trace mask for `gtmk`/`stmk` (Apache default [`DEFAULT_TRACE_MASK`]).
    pub trace_mask: i64,

    // ---- server-wide (SnapshotScope::Server) ----
    /// Version as printed before `, built on` (Apache: `3.8.0-<git hash>`); e.g.
    /// `3.8.0-zkrs-0.1.0`. Keep a leading `x.y.z` that tools parse.
    pub version: String,
    /// Build date as printed after `built on` (Apache: `2024-12-29 17:54 UTC`).
    pub build_date: String,
    /// Server-wide request latency (`Latency min/avg/max`, `zk_*_latency`).
    pub latency: LatencyStats,
    /// `Received:` / `zk_packets_received`.
    pub packets_received: u64,
    /// `Sent:` / `zk_packets_sent`.
    pub packets_sent: u64,
    /// `Connections:` / `zk_num_alive_connections` (including the 4lw connection itself).
    pub num_alive_connections: u64,
    /// `Outstanding:` / `zk_outstanding_requests`.
    pub outstanding_requests: u64,
    /// `Zxid:` — last processed zxid, printed in hex.
    pub last_zxid: i64,
    /// `Node count:` / `zk_znode_count`.
    pub node_count: u64,
    /// `zk_ephemerals_count`.
    pub ephemerals_count: u64,
    /// `zk_approximate_data_size`: bytes of node paths plus data.
    pub approximate_data_size: u64,
    /// `zk_watch_count`: data watches plus child watches.
    pub watch_count: u64,
    /// `wchs`.
    pub watch_summary: WatchSummary,
    /// `zk_global_sessions`.
    pub global_sessions: u64,
    /// `zk_local_sessions`.
    pub local_sessions: u64,
    /// `zk_uptime`, ms since the server started serving.
    pub uptime_ms: u64,
    /// `zk_open_file_descriptor_count` (see [`open_file_descriptor_count`]).
    pub open_file_descriptor_count: u64,
    /// `zk_max_file_descriptor_count` (see [`max_file_descriptor_count`]).
    pub max_file_descriptor_count: u64,
    /// `dataDirSize` (`conf`) and `datadir_size` (`dirs`), bytes.
    pub data_dir_size: u64,
    /// `dataLogSize` (`conf`) and `logdir_size` (`dirs`), bytes.
    pub data_log_size: u64,
    /// `conf`.
    pub conf: ConfInfo,
    /// Quorum-mode values (`zk_peer_state`, `zk_quorum_size`, leader values).
    pub quorum: Option<QuorumInfo>,
    /// `envi`.
    pub environment: Environment,
    /// Values of the other fixed `mntr` keys, by name without the `zk_` prefix (a summary by
    /// its base name, e.g. `fsynctime`); absent keys print as 0 (`-1` for
    /// `*_client_response_size`). See [`mntr_keys`]. Names not among the fixed keys are
    /// printed after `extra_metrics`, in name order.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Dynamic `mntr` entries Apache appends after its fixed keys, printed in this order
    /// (e.g. per-namespace summaries `app_read_per_namespace`, per-learner
    /// `1_learner_handler_qp_size`).
    pub extra_metrics: Vec<(String, MetricValue)>,

    // ---- per connection (SnapshotScope::Connections) ----
    /// `stat` (brief) and `cons` (long) lines, in this order.
    pub connections: Vec<ConnectionStats>,
    /// `dump`.
    pub dump: DumpInfo,

    // ---- full watch lists (SnapshotScope::Watches) ----
    /// `wchc`: for each session, the paths it watches (data watches).
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    /// `wchp`: for each path, the sessions watching it (data watches).
    pub watches_by_path: Vec<(String, Vec<i64>)>,
}

impl Default for ServerSnapshot {
    fn default() -> Self {
        ServerSnapshot {
            serving: true,
            mode: ServerMode::Standalone,
            trace_mask: DEFAULT_TRACE_MASK,
            version: String::new(),
            build_date: String::new(),
            latency: LatencyStats::default(),
            packets_received: 0,
            packets_sent: 0,
            num_alive_connections: 0,
            outstanding_requests: 0,
            last_zxid: 0,
            node_count: 0,
            ephemerals_count: 0,
            approximate_data_size: 0,
            watch_count: 0,
            watch_summary: WatchSummary::default(),
            global_sessions: 0,
            local_sessions: 0,
            uptime_ms: 0,
            open_file_descriptor_count: 0,
            max_file_descriptor_count: 0,
            data_dir_size: 0,
            data_log_size: 0,
            conf: ConfInfo::default(),
            quorum: None,
            environment: Environment::default(),
            metrics: BTreeMap::new(),
            extra_metrics: Vec::new(),
            connections: Vec::new(),
            dump: DumpInfo::default(),
            watches_by_session: Vec::new(),
            watches_by_path: Vec::new(),
        }
    }
}

impl ServerSnapshot {
    /// `<version>, built on <build_date>`, as `srvr`, `envi` and `zk_version` print it.
    pub fn full_version(&self) -> String {
        format!("{}, built on {}", self.version, self.build_date)
    }
}

/// The complete answer to `cmd` (the caller writes it and closes the connection).
pub fn render(cmd: FourLetterWord, snap: &ServerSnapshot) -> String {
    let mut out = String::new();
    render_into(&mut out, cmd, snap).expect("formatting into a String cannot fail");
    out
}

fn render_into(out: &mut String, cmd: FourLetterWord, snap: &ServerSnapshot) -> fmt::Result {
    use FourLetterWord as W;
    match cmd {
        W::Ruok => out.push_str("imok"),
        W::Envi => render_envi(out, snap)?,
        W::Gtmk | W::Stmk => write!(out, "{}", snap.trace_mask)?,
        W::Isro => out.push_str(match (snap.serving, snap.mode) {
            (false, _) => "null",
            (true, ServerMode::ReadOnly) => "ro",
            (true, _) => "rw",
        }),
        W::Hash if !snap.serving => out.push_str(NOT_SERVING),
        // zkrs keeps no digest log: Apache prints nothing in that case either.
        W::Hash => {}
        _ if !snap.serving => writeln!(out, "{NOT_SERVING}")?,
        W::Srvr => render_stat(out, snap, false)?,
        W::Stat => render_stat(out, snap, true)?,
        W::Cons => {
            for c in &snap.connections {
                connection_line(out, c, false)?;
            }
            out.push('\n');
        }
        W::Crst => out.push_str("Connection stats reset.\n"),
        W::Srst => out.push_str("Server stats reset.\n"),
        W::Conf => render_conf(out, snap)?,
        W::Dirs => {
            writeln!(out, "datadir_size: {}", snap.data_dir_size)?;
            writeln!(out, "logdir_size: {}", snap.data_log_size)?;
        }
        W::Wchs => {
            let w = &snap.watch_summary;
            writeln!(
                out,
                "{} connections watching {} paths",
                w.connections, w.paths
            )?;
            writeln!(out, "Total watches:{}", w.watches)?;
        }
        W::Wchc => {
            for (session, paths) in &snap.watches_by_session {
                writeln!(out, "0x{session:x}")?;
                for p in paths {
                    writeln!(out, "\t{p}")?;
                }
            }
            out.push('\n');
        }
        W::Wchp => {
            for (path, sessions) in &snap.watches_by_path {
                writeln!(out, "{path}")?;
                for s in sessions {
                    writeln!(out, "\t0x{s:x}")?;
                }
            }
            out.push('\n');
        }
        W::Mntr => render_mntr(out, snap)?,
        W::Dump => render_dump(out, snap)?,
    }
    Ok(())
}

fn render_stat(out: &mut String, snap: &ServerSnapshot, with_clients: bool) -> fmt::Result {
    writeln!(out, "Zookeeper version: {}", snap.full_version())?;
    if snap.mode == ServerMode::ReadOnly {
        writeln!(out, "READ-ONLY mode; serving only read-only clients")?;
    }
    if with_clients {
        writeln!(out, "Clients:")?;
        for c in &snap.connections {
            connection_line(out, c, true)?;
        }
        out.push('\n');
    }
    let l = &snap.latency;
    writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        l.min_printed(),
        java_double(l.avg_ms()),
        l.max_ms
    )?;
    writeln!(out, "Received: {}", snap.packets_received)?;
    writeln!(out, "Sent: {}", snap.packets_sent)?;
    writeln!(out, "Connections: {}", snap.num_alive_connections)?;
    writeln!(out, "Outstanding: {}", snap.outstanding_requests)?;
    writeln!(out, "Zxid: 0x{:x}", snap.last_zxid)?;
    writeln!(out, "Mode: {}", snap.mode.as_str())?;
    writeln!(out, "Node count: {}", snap.node_count)?;
    if snap.mode == ServerMode::Leader {
        let leader = leader_info(snap);
        writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            leader.last_proposal_size, leader.min_proposal_size, leader.max_proposal_size
        )?;
    }
    Ok(())
}

fn leader_info(snap: &ServerSnapshot) -> LeaderInfo {
    snap.quorum
        .as_ref()
        .and_then(|q| q.leader)
        .unwrap_or_default()
}

fn connection_line(out: &mut String, c: &ConnectionStats, brief: bool) -> fmt::Result {
    write!(
        out,
        " {}[{:x}](queued={},recved={},sent={}",
        java_socket_addr(&c.remote),
        c.interest_ops,
        c.queued,
        c.received,
        c.sent
    )?;
    if !brief && c.session_id != 0 {
        write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session_id, c.last_op, c.established_ms, c.session_timeout_ms
        )?;
        if c.last_cxid >= 0 {
            write!(out, ",lcxid=0x{:x}", c.last_cxid)?;
        }
        write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.last_zxid,
            c.last_response_ms,
            c.last_latency_ms,
            c.min_latency_ms,
            c.avg_latency_ms,
            c.max_latency_ms
        )?;
    }
    out.push_str(")\n");
    Ok(())
}

fn render_conf(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    let c = &snap.conf;
    writeln!(out, "clientPort={}", c.client_port)?;
    writeln!(out, "secureClientPort={}", c.secure_client_port)?;
    writeln!(out, "dataDir={}", c.data_dir)?;
    writeln!(out, "dataDirSize={}", snap.data_dir_size)?;
    writeln!(out, "dataLogDir={}", c.data_log_dir)?;
    writeln!(out, "dataLogSize={}", snap.data_log_size)?;
    writeln!(out, "tickTime={}", c.tick_time)?;
    writeln!(out, "maxClientCnxns={}", c.max_client_cnxns)?;
    writeln!(out, "minSessionTimeout={}", c.min_session_timeout)?;
    writeln!(out, "maxSessionTimeout={}", c.max_session_timeout)?;
    writeln!(out, "clientPortListenBacklog={}", c.client_port_listen_backlog)?;
    writeln!(out, "serverId={}", c.server_id)?;
    if let Some(q) = &c.quorum {
        writeln!(out, "initLimit={}", q.init_limit)?;
        writeln!(out, "syncLimit={}", q.sync_limit)?;
        writeln!(out, "electionAlg={}", q.election_alg)?;
        writeln!(out, "electionPort={}", q.election_port)?;
        writeln!(out, "quorumPort={}", q.quorum_port)?;
        writeln!(out, "peerType={}", q.peer_type)?;
        if let Some(m) = &q.membership {
            writeln!(out, "membership: ")?;
            for line in &m.servers {
                writeln!(out, "{line}")?;
            }
            write!(out, "version={:x}", m.version)?;
        }
    }
    Ok(())
}

fn render_envi(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
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

fn render_dump(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    let d = &snap.dump;
    writeln!(out, "SessionTracker dump:")?;
    match &d.sessions {
        SessionDump::ExpiryBuckets(buckets) => {
            let total: usize = buckets.iter().map(|b| b.items.len()).sum();
            writeln!(out, "Session Sets ({})/({}):", buckets.len(), total)?;
            for b in buckets {
                writeln!(
                    out,
                    "{} expire at {}:",
                    b.items.len(),
                    java_date(b.expires_at_ms)
                )?;
                for s in &b.items {
                    writeln!(out, "\t0x{s:x}")?;
                }
            }
        }
        SessionDump::Global(sessions) => {
            writeln!(out, "Global Sessions({}):", sessions.len())?;
            for (s, timeout) in sessions {
                writeln!(out, "0x{s:x}\t{timeout}ms")?;
            }
        }
    }
    writeln!(out, "ephemeral nodes dump:")?;
    writeln!(out, "Sessions with Ephemerals ({}):", d.ephemerals.len())?;
    for (s, paths) in &d.ephemerals {
        writeln!(out, "0x{s:x}:")?;
        for p in paths {
            writeln!(out, "\t{p}")?;
        }
    }
    writeln!(out, "Connections dump:")?;
    let total: usize = d.connection_buckets.iter().map(|b| b.items.len()).sum();
    writeln!(
        out,
        "Connections Sets ({})/({}):",
        d.connection_buckets.len(),
        total
    )?;
    for b in &d.connection_buckets {
        writeln!(
            out,
            "{} expire at {}:",
            b.items.len(),
            java_date(b.expires_at_ms)
        )?;
        for c in &b.items {
            writeln!(
                out,
                "\tip: {} sessionId: 0x{:x}",
                java_socket_addr(&c.remote),
                c.session_id
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// mntr

/// Kind of a fixed `mntr` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MntrKind {
    /// Integer gauge or counter.
    Int,
    /// Floating gauge (Java `Double.toString` format).
    Float,
    /// Text.
    Text,
    /// Summary: `avg`, `min`, `max`, `cnt`, `sum` keys.
    BasicSummary,
    /// Summary with percentiles: plus `p50`, `p95`, `p99`, `p999` keys.
    AdvancedSummary,
}

/// Which servers emit a fixed `mntr` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MntrPresence {
    /// Every mode (standalone, read-only, quorum).
    Always,
    /// Leader, follower and observer.
    Quorum,
    /// Leader only.
    Leader,
}

impl MntrPresence {
    fn applies(self, mode: ServerMode) -> bool {
        match self {
            MntrPresence::Always => true,
            MntrPresence::Quorum => mode.in_quorum(),
            MntrPresence::Leader => mode == ServerMode::Leader,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct MntrEntry {
    name: &'static str,
    kind: MntrKind,
    presence: MntrPresence,
}

const fn entry(name: &'static str, kind: MntrKind, presence: MntrPresence) -> MntrEntry {
    MntrEntry {
        name,
        kind,
        presence,
    }
}
const fn text(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Text, MntrPresence::Always)
}
const fn quorum_text(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Text, MntrPresence::Quorum)
}
const fn float(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Float, MntrPresence::Always)
}
const fn int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Always)
}
const fn quorum_int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Quorum)
}
const fn leader_int(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::Int, MntrPresence::Leader)
}
const fn basic_summary(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::BasicSummary, MntrPresence::Always)
}
const fn advanced_summary(name: &'static str) -> MntrEntry {
    entry(name, MntrKind::AdvancedSummary, MntrPresence::Always)
}

/// Apache 3.8's fixed `mntr` entries in its output order (a stable hash order: the same for
/// every mode, entries missing in a mode are skipped). Names are without the `zk_` prefix;
/// summaries are listed by base name.
const MNTR_TABLE: &[MntrEntry] = &[
    text("version"),
    text("server_state"),
    quorum_text("peer_state"),
    int("ephemerals_count"),
    int("num_alive_connections"),
    float("avg_latency"),
    leader_int("min_proposal_size"),
    int("outstanding_requests"),
    int("znode_count"),
    int("global_sessions"),
    int("non_mtls_remote_conn_count"),
    int("last_client_response_size"),
    int("packets_sent"),
    int("packets_received"),
    leader_int("max_proposal_size"),
    int("max_client_response_size"),
    leader_int("synced_followers"),
    float("connection_drop_probability"),
    int("watch_count"),
    leader_int("synced_non_voting_followers"),
    leader_int("synced_observers"),
    int("auth_failed_count"),
    int("min_latency"),
    int("max_file_descriptor_count"),
    int("approximate_data_size"),
    int("open_file_descriptor_count"),
    leader_int("last_proposal_size"),
    leader_int("pending_syncs"),
    leader_int("leader_uptime"),
    int("local_sessions"),
    int("uptime"),
    int("max_latency"),
    int("outstanding_tls_handshake"),
    leader_int("learners"),
    int("min_client_response_size"),
    int("non_mtls_local_conn_count"),
    quorum_int("quorum_size"),
    int("proposal_count"),
    int("watch_bytes"),
    int("outstanding_changes_removed"),
    int("throttled_ops"),
    int("stale_requests_dropped"),
    int("large_requests_rejected"),
    int("insecure_admin_count"),
    int("connection_rejected"),
    int("cnxn_closed_without_zk_server_running"),
    int("sessionless_connections_expired"),
    int("looking_count"),
    int("dead_watchers_queued"),
    int("stale_requests"),
    int("connection_drop_count"),
    int("learner_proposal_received_count"),
    int("digest_mismatches_count"),
    int("dead_watchers_cleared"),
    int("response_packet_cache_hits"),
    int("bytes_received_count"),
    int("add_dead_watcher_stall_time"),
    int("request_throttle_wait_count"),
    int("requests_not_forwarded_to_commit_processor"),
    int("response_packet_cache_misses"),
    int("ensemble_auth_success"),
    int("prep_processor_request_queued"),
    int("learner_commit_received_count"),
    int("stale_replies"),
    int("connection_request_count"),
    int("response_bytes"),
    int("ensemble_auth_fail"),
    int("diff_count"),
    int("response_packet_get_children_cache_misses"),
    int("connection_revalidate_count"),
    int("quit_leading_due_to_disloyal_voter"),
    int("snap_count"),
    int("unrecoverable_error_count"),
    int("unsuccessful_handshake"),
    int("commit_count"),
    int("stale_sessions_expired"),
    int("response_packet_get_children_cache_hits"),
    int("sync_processor_request_queued"),
    int("outstanding_changes_queued"),
    int("request_commit_queued"),
    int("ensemble_auth_skip"),
    int("skip_learner_request_to_next_processor_count"),
    int("tls_handshake_exceeded"),
    int("revalidate_count"),
    basic_summary("socket_closing_time"),
    basic_summary("proposal_process_time"),
    basic_summary("leader_unavailable_time"),
    basic_summary("node_created_watch_count"),
    basic_summary("session_queues_drained"),
    basic_summary("write_commit_proc_req_queued"),
    basic_summary("connection_token_deficit"),
    basic_summary("read_commit_proc_req_queued"),
    basic_summary("node_deleted_watch_count"),
    basic_summary("startup_txns_load_time"),
    basic_summary("sync_processor_queue_size"),
    basic_summary("follower_sync_time"),
    basic_summary("prep_processor_queue_size"),
    basic_summary("fsynctime"),
    basic_summary("inflight_snap_count"),
    basic_summary("reads_issued_from_session_queue"),
    basic_summary("learner_request_processor_queue_size"),
    basic_summary("snapshottime"),
    basic_summary("unavailable_time"),
    basic_summary("startup_txns_loaded"),
    basic_summary("reads_after_write_in_session_queue"),
    basic_summary("requests_in_session_queue"),
    basic_summary("write_commit_proc_issued"),
    basic_summary("prep_process_time"),
    basic_summary("pending_session_queue_size"),
    basic_summary("time_waiting_empty_pool_in_commit_processor_read_ms"),
    basic_summary("commit_process_time"),
    basic_summary("dbinittime"),
    basic_summary("inflight_diff_count"),
    basic_summary("netty_queued_buffer_capacity"),
    basic_summary("election_time"),
    basic_summary("commit_commit_proc_req_queued"),
    basic_summary("sync_processor_batch_size"),
    basic_summary("node_children_watch_count"),
    basic_summary("write_batch_time_in_commit_processor"),
    basic_summary("read_commit_proc_issued"),
    basic_summary("concurrent_request_processing_in_commit_processor"),
    basic_summary("observer_sync_time"),
    basic_summary("node_changed_watch_count"),
    basic_summary("sync_process_time"),
    basic_summary("startup_snap_load_time"),
    advanced_summary("prep_processor_queue_time_ms"),
    advanced_summary("jvm_pause_time_ms"),
    advanced_summary("close_session_prep_time"),
    advanced_summary("read_commitproc_time_ms"),
    advanced_summary("updatelatency"),
    advanced_summary("local_write_committed_time_ms"),
    advanced_summary("request_throttle_queue_time_ms"),
    advanced_summary("readlatency"),
    advanced_summary("quorum_ack_latency"),
    advanced_summary("om_commit_process_time_ms"),
    advanced_summary("read_final_proc_time_ms"),
    advanced_summary("commit_propagation_latency"),
    advanced_summary("dead_watchers_cleaner_latency"),
    advanced_summary("write_final_proc_time_ms"),
    advanced_summary("proposal_ack_creation_latency"),
    advanced_summary("proposal_latency"),
    advanced_summary("om_proposal_process_time_ms"),
    advanced_summary("sync_processor_queue_and_flush_time_ms"),
    advanced_summary("propagation_latency"),
    advanced_summary("server_write_committed_time_ms"),
    advanced_summary("sync_processor_queue_time_ms"),
    advanced_summary("sync_processor_queue_flush_time_ms"),
    advanced_summary("write_commitproc_time_ms"),
];

/// The fixed `mntr` metric names Apache 3.8 emits (without `zk_`, summaries by base name),
/// with their kind and presence, in output order.
pub fn mntr_metrics() -> impl Iterator<Item = (&'static str, MntrKind, MntrPresence)> {
    MNTR_TABLE.iter().map(|e| (e.name, e.kind, e.presence))
}

/// The full list of fixed `mntr` keys (with `zk_`, summaries expanded) a server in `mode`
/// prints, in order; dynamic extra entries come after them.
pub fn mntr_keys(mode: ServerMode) -> Vec<String> {
    let mut keys = Vec::new();
    for e in MNTR_TABLE.iter().filter(|e| e.presence.applies(mode)) {
        match e.kind {
            MntrKind::Int | MntrKind::Float | MntrKind::Text => keys.push(format!("zk_{}", e.name)),
            MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
                let stats: &[&str] = if e.kind == MntrKind::AdvancedSummary {
                    &SUMMARY_STATS
                } else {
                    &SUMMARY_STATS[..5]
                };
                keys.extend(stats.iter().map(|s| format!("zk_{s}_{}", e.name)));
            }
        }
    }
    keys
}

const SUMMARY_STATS: [&str; 9] = ["avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"];

/// Values of the fixed keys that come from typed snapshot fields.
fn typed_metric(snap: &ServerSnapshot, name: &str) -> Option<MetricValue> {
    let int = |v: u64| Some(MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX)));
    let leader = || leader_info(snap);
    match name {
        "version" => Some(MetricValue::Text(snap.full_version())),
        "server_state" => Some(MetricValue::Text(snap.mode.as_str().to_string())),
        "peer_state" => {
            let given = snap.quorum.as_ref().map(|q| q.peer_state.as_str());
            let state = match given {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => match snap.mode {
                    ServerMode::Leader => "leading - broadcast".to_string(),
                    ServerMode::Follower => "following - broadcast".to_string(),
                    ServerMode::Observer => "observing - broadcast".to_string(),
                    _ => "looking".to_string(),
                },
            };
            Some(MetricValue::Text(state))
        }
        "quorum_size" => int(snap.quorum.as_ref().map_or(0, |q| q.quorum_size)),
        "ephemerals_count" => int(snap.ephemerals_count),
        "num_alive_connections" => int(snap.num_alive_connections),
        "avg_latency" => Some(MetricValue::Float(snap.latency.avg_ms())),
        "min_latency" => int(snap.latency.min_printed()),
        "max_latency" => int(snap.latency.max_ms),
        "outstanding_requests" => int(snap.outstanding_requests),
        "znode_count" => int(snap.node_count),
        "global_sessions" => int(snap.global_sessions),
        "local_sessions" => int(snap.local_sessions),
        "packets_sent" => int(snap.packets_sent),
        "packets_received" => int(snap.packets_received),
        "watch_count" => int(snap.watch_count),
        "approximate_data_size" => int(snap.approximate_data_size),
        "open_file_descriptor_count" => int(snap.open_file_descriptor_count),
        "max_file_descriptor_count" => int(snap.max_file_descriptor_count),
        "uptime" => int(snap.uptime_ms),
        "last_proposal_size" => Some(MetricValue::Int(leader().last_proposal_size)),
        "min_proposal_size" => Some(MetricValue::Int(leader().min_proposal_size)),
        "max_proposal_size" => Some(MetricValue::Int(leader().max_proposal_size)),
        "synced_followers" => int(leader().synced_followers),
        "synced_non_voting_followers" => int(leader().synced_non_voting_followers),
        "synced_observers" => int(leader().synced_observers),
        "pending_syncs" => int(leader().pending_syncs),
        "leader_uptime" => int(leader().leader_uptime_ms),
        "learners" => int(leader().learners),
        _ => None,
    }
}

fn default_metric(e: &MntrEntry) -> MetricValue {
    match e.kind {
        MntrKind::Text => MetricValue::Text(String::new()),
        MntrKind::Float => MetricValue::Float(0.0),
        // Apache's response-size stats start (and reset) at -1.
        MntrKind::Int if e.name.ends_with("_client_response_size") => MetricValue::Int(-1),
        MntrKind::Int => MetricValue::Int(0),
        MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
            MetricValue::Summary(SummaryValue::default())
        }
    }
}

fn render_mntr(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    for e in MNTR_TABLE.iter().filter(|e| e.presence.applies(snap.mode)) {
        let value = typed_metric(snap, e.name)
            .or_else(|| snap.metrics.get(e.name).cloned())
            .unwrap_or_else(|| default_metric(e));
        match (e.kind, value) {
            (MntrKind::BasicSummary | MntrKind::AdvancedSummary, MetricValue::Summary(s)) => {
                summary_lines(out, e.name, &s, e.kind == MntrKind::AdvancedSummary)?
            }
            (MntrKind::BasicSummary | MntrKind::AdvancedSummary, _) => summary_lines(
                out,
                e.name,
                &SummaryValue::default(),
                e.kind == MntrKind::AdvancedSummary,
            )?,
            (_, MetricValue::Summary(_)) => metric_line(out, e.name, &default_metric(e))?,
            (_, v) => metric_line(out, e.name, &v)?,
        }
    }
    let fixed: BTreeSet<&str> = MNTR_TABLE.iter().map(|e| e.name).collect();
    let extras = snap.extra_metrics.iter().map(|(k, v)| (k.as_str(), v)).chain(
        snap.metrics
            .iter()
            .filter(|(k, _)| !fixed.contains(k.as_str()))
            .map(|(k, v)| (k.as_str(), v)),
    );
    for (name, value) in extras {
        match value {
            MetricValue::Summary(s) => summary_lines(out, name, s, s.percentiles.is_some())?,
            v => metric_line(out, name, v)?,
        }
    }
    Ok(())
}

fn metric_line(out: &mut String, name: &str, v: &MetricValue) -> fmt::Result {
    match v {
        MetricValue::Int(i) => writeln!(out, "zk_{name}\t{i}"),
        MetricValue::Float(f) => writeln!(out, "zk_{name}\t{}", java_double(*f)),
        MetricValue::Text(t) => writeln!(out, "zk_{name}\t{t}"),
        MetricValue::Summary(s) => summary_lines(out, name, s, s.percentiles.is_some()),
    }
}

fn summary_lines(out: &mut String, name: &str, s: &SummaryValue, advanced: bool) -> fmt::Result {
    let (min, max) = if s.count == 0 { (0, 0) } else { (s.min, s.max) };
    writeln!(
        out,
        "zk_avg_{name}\t{}",
        java_double(summary_avg(s.count, s.sum as f64))
    )?;
    writeln!(out, "zk_min_{name}\t{min}")?;
    writeln!(out, "zk_max_{name}\t{max}")?;
    writeln!(out, "zk_cnt_{name}\t{}", s.count)?;
    writeln!(out, "zk_sum_{name}\t{}", s.sum)?;
    if advanced {
        let p = s.percentiles.unwrap_or_default();
        for (label, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
            writeln!(out, "zk_{label}_{name}\t{v}")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Java-compatible number, address and date formatting

/// Average of a summary as Apache computes it: `sum / count` as a double, rounded half-up to
/// four decimals; 0 when `count` is 0.
fn summary_avg(count: u64, sum: f64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    round4_half_up(sum / count as f64)
}

/// Rounds the exact binary value of `v` to four decimals, ties away from zero (like Java's
/// `BigDecimal(v).setScale(4, HALF_UP)`), and returns the nearest double.
fn round4_half_up(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    // Correct rounding of the exact value, ties to even.
    let rounded: f64 = format!("{v:.4}").parse().unwrap_or(v);
    // An exact tie at the fifth decimal needs v = k/32 (100000 = 2^5 * 5^5); only then can
    // ties-to-even and half-up differ.
    let scaled = v * 10000.0;
    if (v * 32.0).fract() == 0.0 && scaled.abs().fract() == 0.5 {
        let away = scaled.trunc() + scaled.signum();
        return away / 10000.0;
    }
    rounded
}

/// Formats like Java's `Double.toString`: `0.0`, `2.0667`, `1.0E7`, `5.0E-4`.
fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    if (1e-3..1e7).contains(&v.abs()) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exponent}")
        } else {
            format!("{mantissa}.0E{exponent}")
        }
    }
}

/// Formats like Java's `InetSocketAddress.toString` for an unresolved peer:
/// `/127.0.0.1:2181`, `/[0:0:0:0:0:0:0:1]:2181` (IPv4-mapped IPv6 prints as IPv4).
fn java_socket_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            if let Some(v4) = a.ip().to_ipv4_mapped() {
                return format!("/{}:{}", v4, a.port());
            }
            let segments: Vec<String> = a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
            let scope = if a.scope_id() != 0 {
                format!("%{}", a.scope_id())
            } else {
                String::new()
            };
            format!("/[{}{}]:{}", segments.join(":"), scope, a.port())
        }
    }
}

/// Formats like Java's `Date.toString` in UTC: `Wed Nov 25 11:06:08 UTC 2026`.
fn java_date(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%a %b %d %H:%M:%S UTC %Y").to_string(),
        None => ms.to_string(),
    }
}
