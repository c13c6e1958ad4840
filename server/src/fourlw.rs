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
    writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    )?;
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

const SUMMARY_STATS: [&str; 9] = [
    "avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999",
];

/// Values of the fixed keys that come from typed snapshot fields.
fn typed_metric(snap: &ServerSnapshot, name: &str) -> Option<MetricValue> {
    let uint = |v: u64| Some(MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX)));
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
        "quorum_size" => uint(snap.quorum.as_ref().map_or(0, |q| q.quorum_size)),
        "ephemerals_count" => uint(snap.ephemerals_count),
        "num_alive_connections" => uint(snap.num_alive_connections),
        "avg_latency" => Some(MetricValue::Float(snap.latency.avg_ms())),
        "min_latency" => uint(snap.latency.min_printed()),
        "max_latency" => uint(snap.latency.max_ms),
        "outstanding_requests" => uint(snap.outstanding_requests),
        "znode_count" => uint(snap.node_count),
        "global_sessions" => uint(snap.global_sessions),
        "local_sessions" => uint(snap.local_sessions),
        "packets_sent" => uint(snap.packets_sent),
        "packets_received" => uint(snap.packets_received),
        "watch_count" => uint(snap.watch_count),
        "approximate_data_size" => uint(snap.approximate_data_size),
        "open_file_descriptor_count" => uint(snap.open_file_descriptor_count),
        "max_file_descriptor_count" => uint(snap.max_file_descriptor_count),
        "uptime" => uint(snap.uptime_ms),
        "last_proposal_size" => Some(MetricValue::Int(leader().last_proposal_size)),
        "min_proposal_size" => Some(MetricValue::Int(leader().min_proposal_size)),
        "max_proposal_size" => Some(MetricValue::Int(leader().max_proposal_size)),
        "synced_followers" => uint(leader().synced_followers),
        "synced_non_voting_followers" => uint(leader().synced_non_voting_followers),
        "synced_observers" => uint(leader().synced_observers),
        "pending_syncs" => uint(leader().pending_syncs),
        "leader_uptime" => uint(leader().leader_uptime_ms),
        "learners" => uint(leader().learners),
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
    let extras = snap
        .extra_metrics
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain(
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
            let segments: Vec<String> =
                a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
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

#[cfg(test)]
mod tests {
    //! Every answer is checked against captures of a real Apache ZooKeeper 3.8.0 server in
    //! `tests/fixtures/4lw/` (see the README there): byte for byte when the snapshot carries
    //! the captured values, and structurally (numbers and addresses masked) for a snapshot with
    //! zkrs' own values.

    use super::*;

    const APACHE_VERSION: &str = "3.8.0-${mvngit.commit.id}";
    const APACHE_BUILD: &str = "2024-12-29 17:54 UTC";

    fn fixture(path: &str) -> String {
        let full = format!("{}/tests/fixtures/4lw/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn utc_ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn latency(count: u64, sum_ms: u64, min_ms: u64, max_ms: u64) -> LatencyStats {
        LatencyStats {
            count,
            sum_ms,
            min_ms,
            max_ms,
        }
    }

    fn brief(remote: &str, interest_ops: u32, received: u64, sent: u64) -> ConnectionStats {
        ConnectionStats {
            interest_ops,
            received,
            sent,
            ..ConnectionStats::new(addr(remote))
        }
    }

    /// A snapshot with Apache's version strings and the captured standalone state.
    fn apache_standalone() -> ServerSnapshot {
        ServerSnapshot {
            version: APACHE_VERSION.to_string(),
            build_date: APACHE_BUILD.to_string(),
            latency: latency(13, 32, 0, 10),
            packets_received: 15,
            packets_sent: 14,
            num_alive_connections: 3,
            last_zxid: 6,
            node_count: 9,
            ..ServerSnapshot::default()
        }
    }

    fn standalone_sessions() -> [ConnectionStats; 2] {
        [
            ConnectionStats {
                interest_ops: 1,
                received: 8,
                sent: 8,
                session_id: 0x100000d07290000,
                last_op: "GETC".to_string(),
                established_ms: 1795604737805,
                session_timeout_ms: 30000,
                last_cxid: 7,
                last_zxid: 6,
                last_response_ms: 857337,
                last_latency_ms: 1,
                min_latency_ms: 0,
                avg_latency_ms: 3,
                max_latency_ms: 10,
                ..ConnectionStats::new(addr("127.0.0.1:41894"))
            },
            ConnectionStats {
                interest_ops: 1,
                received: 5,
                sent: 5,
                session_id: 0x100000d07290001,
                last_op: "EXIS".to_string(),
                established_ms: 1795604737823,
                session_timeout_ms: 30000,
                last_cxid: 4,
                last_zxid: 6,
                last_response_ms: 857332,
                last_latency_ms: 0,
                min_latency_ms: 0,
                avg_latency_ms: 0,
                max_latency_ms: 1,
                ..ConnectionStats::new(addr("127.0.0.1:41900"))
            },
        ]
    }

    fn apache_environment() -> Environment {
        Environment {
            host_name: "localhost".into(),
            java_version: "17.0.15".into(),
            java_vendor: "Debian".into(),
            java_home: "/usr/lib/jvm/java-17-openjdk-amd64".into(),
            java_class_path: "/srv/zk4lw/conf:/usr/share/java/zookeeper.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/slf4j-log4j12.jar".into(),
            java_library_path: "/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib".into(),
            java_io_tmpdir: "/srv/zk4lw/scratch".into(),
            java_compiler: "<NA>".into(),
            os_name: "Linux".into(),
            os_arch: "amd64".into(),
            os_version: "6.18.44-fc-v657".into(),
            user_name: "root".into(),
            user_home: "/root".into(),
            user_dir: "/srv/zk4lw".into(),
            memory_free_mb: 247,
            memory_max_mb: 256,
            memory_total_mb: 256,
        }
    }

    fn standalone_conf() -> ConfInfo {
        ConfInfo {
            client_port: 50455,
            data_dir: "/srv/zk4lw/run/sa/data/version-2".into(),
            data_log_dir: "/srv/zk4lw/run/sa/log/version-2".into(),
            ..ConfInfo::default()
        }
    }

    fn quorum_conf(election_port: i32, quorum_port: i32) -> QuorumConf {
        QuorumConf {
            init_limit: 5,
            sync_limit: 2,
            election_alg: 3,
            election_port,
            quorum_port,
            peer_type: 0,
            membership: Some(Membership {
                servers: vec![
                    "server.1=127.0.0.1:32925:59249:participant".into(),
                    "server.2=127.0.0.1:44099:47549:participant".into(),
                    "server.3=127.0.0.1:44017:44835:participant;127.0.0.1:56639".into(),
                ],
                version: 0,
            }),
        }
    }

    // ---- word recognition ----------------------------------------------------------------

    #[test]
    fn from_bytes_recognises_every_word() {
        let names = [
            "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "envi", "wchs", "wchc", "wchp",
            "dirs", "isro", "srst", "dump", "gtmk", "stmk", "hash",
        ];
        assert_eq!(names.len(), FourLetterWord::ALL.len());
        for name in names {
            let bytes: [u8; 4] = name.as_bytes().try_into().unwrap();
            let word = FourLetterWord::from_bytes(bytes).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(word.name(), name);
            assert_eq!(word.to_string(), name);
            assert_eq!(FourLetterWord::from_name(name), Some(word));
        }
        assert_eq!(
            FourLetterWord::from_bytes(*b"ruok"),
            Some(FourLetterWord::Ruok)
        );
        assert_eq!(
            FourLetterWord::from_bytes(*b"wchp"),
            Some(FourLetterWord::Wchp)
        );
    }

    #[test]
    fn from_bytes_rejects_anything_else() {
        for b in [
            *b"xyzw",
            *b"RUOK",
            *b"Ruok",
            *b"ruo ",
            *b"\0\0\0\x2c",
            *b"kill",
            *b"reqs",
        ] {
            assert_eq!(FourLetterWord::from_bytes(b), None, "{b:?}");
        }
        assert_eq!(FourLetterWord::from_name("ruok "), None);
        assert_eq!(FourLetterWord::from_name(""), None);
    }

    #[test]
    fn scopes() {
        use FourLetterWord as W;
        assert!(!W::Ruok.needs_snapshot());
        for w in FourLetterWord::ALL.into_iter().filter(|w| *w != W::Ruok) {
            assert!(w.needs_snapshot(), "{w}");
        }
        assert_eq!(W::Isro.scope(), SnapshotScope::Status);
        assert_eq!(W::Srvr.scope(), SnapshotScope::Server);
        assert_eq!(W::Mntr.scope(), SnapshotScope::Server);
        assert_eq!(W::Stat.scope(), SnapshotScope::Connections);
        assert_eq!(W::Cons.scope(), SnapshotScope::Connections);
        assert_eq!(W::Dump.scope(), SnapshotScope::Connections);
        assert_eq!(W::Wchc.scope(), SnapshotScope::Watches);
        assert_eq!(W::Wchp.scope(), SnapshotScope::Watches);
        let effects: Vec<_> = FourLetterWord::ALL
            .into_iter()
            .filter(|w| w.has_side_effect())
            .collect();
        assert_eq!(effects, [W::Crst, W::Srst, W::Stmk]);
    }

    // ---- whitelist -------------------------------------------------------------------------

    #[test]
    fn whitelist_refusal_text_matches_apache() {
        for w in FourLetterWord::ALL {
            if w == FourLetterWord::Srvr {
                continue;
            }
            let captured = fixture(&format!("whitelist/srvr_only/{}.txt", w.name()));
            assert_eq!(not_in_whitelist(w.name()), captured, "{w}");
        }
    }

    #[test]
    fn whitelist_rules_match_apache() {
        // (fixture directory, value of 4lw.commands.whitelist, readonlymode.enabled)
        let cases = [
            ("whitelist/srvr_only", Some("srvr"), false),
            ("whitelist/unset", None, false),
            ("whitelist/ruok_stat", Some(" ruok , stat"), false),
            ("whitelist/ruok_readonly_mode", Some("ruok"), true),
        ];
        for (dir, value, read_only) in cases {
            let wl = Whitelist::parse(value, read_only);
            let mut checked = 0;
            for w in FourLetterWord::ALL {
                let path = format!(
                    "{}/tests/fixtures/4lw/{dir}/{}.txt",
                    env!("CARGO_MANIFEST_DIR"),
                    w.name()
                );
                let Ok(captured) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let refused = captured == not_in_whitelist(w.name());
                assert_eq!(wl.allows(w), !refused, "{dir}: {w}");
                checked += 1;
            }
            assert!(checked >= 4, "{dir}");
        }
        assert_eq!(Whitelist::default(), Whitelist::parse(None, false));
        let all = Whitelist::parse(Some("*"), false);
        assert_eq!(all, Whitelist::all());
        assert!(FourLetterWord::ALL.into_iter().all(|w| all.allows(w)));
        let mixed = Whitelist::parse(Some("stat, *,bogus,,"), false);
        assert_eq!(mixed, Whitelist::all());
        let odd = Whitelist::parse(Some("bogus,MNTR, mntr"), false);
        assert!(odd.allows(FourLetterWord::Mntr) && odd.allows(FourLetterWord::Srvr));
        assert!(!odd.allows(FourLetterWord::Ruok));
    }

    // ---- byte-for-byte reproductions of the captures -----------------------------------------

    #[test]
    fn constant_answers() {
        let snap = apache_standalone();
        for dir in ["standalone", "standalone_empty", "leader", "follower"] {
            for w in [
                FourLetterWord::Ruok,
                FourLetterWord::Crst,
                FourLetterWord::Srst,
                FourLetterWord::Gtmk,
                FourLetterWord::Hash,
                FourLetterWord::Isro,
            ] {
                let expected = fixture(&format!("{dir}/{}.txt", w.name()));
                assert_eq!(render(w, &snap), expected, "{dir}/{w}");
            }
        }
        let mut ro = apache_standalone();
        ro.mode = ServerMode::ReadOnly;
        assert_eq!(
            render(FourLetterWord::Isro, &ro),
            fixture("read_only/isro.txt")
        );
        let stmk = ServerSnapshot {
            trace_mask: 0x1f2,
            ..ServerSnapshot::default()
        };
        assert_eq!(render(FourLetterWord::Stmk, &stmk), "498");
        assert_eq!(
            render(FourLetterWord::Ruok, &ServerSnapshot::default()),
            "imok"
        );
    }

    #[test]
    fn not_serving_answers() {
        let snap = ServerSnapshot {
            serving: false,
            ..apache_standalone()
        };
        for w in FourLetterWord::ALL {
            if matches!(w, FourLetterWord::Envi | FourLetterWord::Stmk) {
                continue; // envi is checked below; stmk was not captured (needs 8 more bytes)
            }
            let expected = fixture(&format!("not_serving/{}.txt", w.name()));
            assert_eq!(render(w, &snap), expected, "{w}");
        }
        let envi = render(FourLetterWord::Envi, &snap);
        assert!(envi.starts_with("Environment:\nzookeeper.version="));
    }

    #[test]
    fn srvr_and_stat_standalone() {
        let snap = apache_standalone();
        assert_eq!(
            render(FourLetterWord::Srvr, &snap),
            fixture("standalone/srvr.txt")
        );
        let [a, b] = standalone_sessions();
        let stat = ServerSnapshot {
            packets_received: 16,
            packets_sent: 15,
            connections: vec![brief("127.0.0.1:41922", 0, 1, 0), a, b],
            ..snap
        };
        assert_eq!(
            render(FourLetterWord::Stat, &stat),
            fixture("standalone/stat.txt")
        );
    }

    #[test]
    fn srvr_stat_cons_after_reset() {
        let [a, b] = standalone_sessions();
        let reset = |c: ConnectionStats| ConnectionStats {
            interest_ops: c.interest_ops,
            session_id: c.session_id,
            established_ms: c.established_ms,
            session_timeout_ms: c.session_timeout_ms,
            ..ConnectionStats::new(c.remote)
        };
        let (a, b) = (reset(a), reset(b));
        let base = ServerSnapshot {
            latency: LatencyStats::default(),
            ..apache_standalone()
        };
        let srvr = ServerSnapshot {
            packets_received: 3,
            packets_sent: 3,
            ..base.clone()
        };
        assert_eq!(
            render(FourLetterWord::Srvr, &srvr),
            fixture("standalone/after_reset/srvr.txt")
        );
        let stat = ServerSnapshot {
            packets_received: 2,
            packets_sent: 2,
            connections: vec![brief("127.0.0.1:42142", 0, 1, 0), a.clone(), b.clone()],
            ..base.clone()
        };
        assert_eq!(
            render(FourLetterWord::Stat, &stat),
            fixture("standalone/after_reset/stat.txt")
        );
        let cons = ServerSnapshot {
            connections: vec![brief("127.0.0.1:42128", 0, 1, 0), a, b],
            ..base
        };
        assert_eq!(
            render(FourLetterWord::Cons, &cons),
            fixture("standalone/after_reset/cons.txt")
        );
    }

    #[test]
    fn cons_standalone() {
        let [a, b] = standalone_sessions();
        let snap = ServerSnapshot {
            connections: vec![brief("127.0.0.1:41956", 0, 1, 0), a, b],
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Cons, &snap),
            fixture("standalone/cons.txt")
        );
        let fresh = ServerSnapshot {
            connections: vec![
                ConnectionStats {
                    interest_ops: 1,
                    received: 1,
                    sent: 1,
                    session_id: 0x1000015481e0000,
                    last_op: "SESS".into(),
                    established_ms: 1795605278837,
                    session_timeout_ms: 30000,
                    last_cxid: 0,
                    last_zxid: 1,
                    last_response_ms: 1398345,
                    last_latency_ms: 6,
                    min_latency_ms: 0,
                    avg_latency_ms: 6,
                    max_latency_ms: 6,
                    ..ConnectionStats::new(addr("127.0.0.1:60342"))
                },
                brief("127.0.0.1:60344", 0, 1, 0),
            ],
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Cons, &fresh),
            fixture("standalone/cons_after_connect.txt")
        );
        let empty = ServerSnapshot {
            connections: vec![brief("127.0.0.1:48252", 0, 1, 0)],
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Cons, &empty),
            fixture("standalone_empty/cons.txt")
        );
    }

    #[test]
    fn leader_srvr_stat_cons() {
        let snap = ServerSnapshot {
            mode: ServerMode::Leader,
            latency: latency(4, 12, 0, 12),
            packets_received: 16,
            packets_sent: 15,
            last_zxid: 0x100000006,
            quorum: Some(QuorumInfo {
                peer_state: "leading - broadcast".into(),
                quorum_size: 3,
                leader: Some(LeaderInfo {
                    last_proposal_size: 91,
                    min_proposal_size: 48,
                    max_proposal_size: 93,
                    ..LeaderInfo::default()
                }),
            }),
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Srvr, &snap),
            fixture("leader/srvr.txt")
        );
        let stat = ServerSnapshot {
            packets_received: 17,
            packets_sent: 16,
            connections: vec![
                brief("127.0.0.1:40380", 0, 1, 0),
                brief("127.0.0.1:40358", 1, 5, 5),
                brief("127.0.0.1:40348", 1, 8, 8),
            ],
            ..snap.clone()
        };
        assert_eq!(
            render(FourLetterWord::Stat, &stat),
            fixture("leader/stat.txt")
        );
        let session =
            |port: &str, sid: i64, lop: &str, est: i64, lcxid: i64, lresp: i64| ConnectionStats {
                interest_ops: 1,
                session_id: sid,
                last_op: lop.into(),
                established_ms: est,
                session_timeout_ms: 30000,
                last_cxid: lcxid,
                last_zxid: 0x100000006,
                last_response_ms: lresp,
                ..ConnectionStats::new(addr(&format!("127.0.0.1:{port}")))
            };
        let cons = ServerSnapshot {
            connections: vec![
                brief("127.0.0.1:40406", 0, 1, 0),
                ConnectionStats {
                    received: 5,
                    sent: 5,
                    avg_latency_ms: 1,
                    max_latency_ms: 3,
                    ..session("40358", 0x300000d8ddd0001, "EXIS", 1795604778260, 4, 897765)
                },
                ConnectionStats {
                    received: 8,
                    sent: 8,
                    avg_latency_ms: 4,
                    max_latency_ms: 12,
                    ..session("40348", 0x300000d8ddd0000, "GETC", 1795604778243, 7, 897766)
                },
            ],
            ..snap.clone()
        };
        assert_eq!(
            render(FourLetterWord::Cons, &cons),
            fixture("leader/cons.txt")
        );
        // Without leader details Apache-style defaults (-1) are printed.
        let bare = ServerSnapshot {
            quorum: None,
            ..snap
        };
        assert!(render(FourLetterWord::Srvr, &bare)
            .ends_with("Proposal sizes last/min/max: -1/-1/-1\n"));
    }

    #[test]
    fn follower_and_read_only_srvr_stat() {
        let follower = ServerSnapshot {
            mode: ServerMode::Follower,
            latency: LatencyStats::default(),
            packets_received: 3,
            packets_sent: 2,
            num_alive_connections: 1,
            last_zxid: 0x100000006,
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Srvr, &follower),
            fixture("follower/srvr.txt")
        );
        let ro = ServerSnapshot {
            mode: ServerMode::ReadOnly,
            latency: LatencyStats::default(),
            packets_received: 2,
            packets_sent: 1,
            num_alive_connections: 1,
            last_zxid: 0,
            node_count: 5,
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Srvr, &ro),
            fixture("read_only/srvr.txt")
        );
        let ro_stat = ServerSnapshot {
            packets_received: 3,
            packets_sent: 2,
            connections: vec![brief("127.0.0.1:37718", 0, 1, 0)],
            ..ro
        };
        assert_eq!(
            render(FourLetterWord::Stat, &ro_stat),
            fixture("read_only/stat.txt")
        );
    }

    #[test]
    fn watches() {
        let (s0, s1) = (0x100000d07290000_i64, 0x100000d07290001_i64);
        let snap = ServerSnapshot {
            watch_summary: WatchSummary {
                connections: 2,
                paths: 4,
                watches: 5,
            },
            watches_by_session: vec![
                (s0, vec!["/app".into(), "/other".into()]),
                (s1, vec!["/missing".into(), "/app".into(), "/app/x".into()]),
            ],
            watches_by_path: vec![
                ("/missing".into(), vec![s1]),
                ("/app".into(), vec![s0, s1]),
                ("/app/x".into(), vec![s1]),
                ("/other".into(), vec![s0]),
            ],
            ..apache_standalone()
        };
        for w in [
            FourLetterWord::Wchs,
            FourLetterWord::Wchc,
            FourLetterWord::Wchp,
        ] {
            assert_eq!(
                render(w, &snap),
                fixture(&format!("standalone/{}.txt", w.name())),
                "{w}"
            );
            assert_eq!(
                render(w, &apache_standalone()),
                fixture(&format!("standalone_empty/{}.txt", w.name())),
                "empty {w}"
            );
        }
    }

    #[test]
    fn conf_and_dirs() {
        let snap = ServerSnapshot {
            conf: standalone_conf(),
            data_dir_size: 67108880,
            data_log_size: 457,
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Conf, &snap),
            fixture("standalone/conf.txt")
        );
        assert_eq!(
            render(FourLetterWord::Dirs, &snap),
            fixture("standalone/dirs.txt")
        );

        let ens = |id: i64, client_port: i32, election: i32, quorum: i32| ServerSnapshot {
            mode: if id == 3 {
                ServerMode::Leader
            } else {
                ServerMode::Follower
            },
            conf: ConfInfo {
                client_port,
                data_dir: format!("/srv/zk4lw/run/ens{id}/data/version-2"),
                data_log_dir: format!("/srv/zk4lw/run/ens{id}/data/version-2"),
                server_id: id,
                quorum: Some(quorum_conf(election, quorum)),
                ..ConfInfo::default()
            },
            data_dir_size: 67109493,
            data_log_size: 67109493,
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Conf, &ens(3, 56639, 44835, 44017)),
            fixture("leader/conf.txt")
        );
        assert_eq!(
            render(FourLetterWord::Conf, &ens(1, 60385, 59249, 32925)),
            fixture("follower/conf.txt")
        );

        let ro = ServerSnapshot {
            mode: ServerMode::ReadOnly,
            conf: ConfInfo {
                client_port: 56677,
                data_dir: "/srv/zk4lw/run/ro/data/version-2".into(),
                data_log_dir: "/srv/zk4lw/run/ro/data/version-2".into(),
                server_id: 1,
                quorum: Some(QuorumConf {
                    election_port: 39397,
                    quorum_port: 55015,
                    membership: None,
                    ..quorum_conf(0, 0)
                }),
                ..ConfInfo::default()
            },
            data_dir_size: 597,
            data_log_size: 597,
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Conf, &ro),
            fixture("read_only/conf.txt")
        );
    }

    #[test]
    fn envi() {
        let snap = ServerSnapshot {
            environment: apache_environment(),
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Envi, &snap),
            fixture("standalone/envi.txt")
        );
    }

    #[test]
    fn dump_standalone_and_leader() {
        let (s0, s1) = (0x100000d07290000_i64, 0x100000d07290001_i64);
        let conn = |a: &str, session_id: i64| DumpConnection {
            remote: addr(a),
            session_id,
        };
        let snap = ServerSnapshot {
            dump: DumpInfo {
                sessions: SessionDump::ExpiryBuckets(vec![ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:08Z"),
                    items: vec![s0, s1],
                }]),
                ephemerals: vec![(s0, vec!["/app/eph".into()])],
                connection_buckets: vec![
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:05:50Z"),
                        items: vec![conn("127.0.0.1:42052", 0)],
                    },
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:10Z"),
                        items: vec![conn("127.0.0.1:41894", s0), conn("127.0.0.1:41900", s1)],
                    },
                ],
            },
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Dump, &snap),
            fixture("standalone/dump.txt")
        );

        let (l0, l1) = (0x300000d8ddd0000_i64, 0x300000d8ddd0001_i64);
        let leader = ServerSnapshot {
            mode: ServerMode::Leader,
            dump: DumpInfo {
                sessions: SessionDump::ExpiryBuckets(vec![
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:48Z"),
                        items: vec![],
                    },
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:50Z"),
                        items: vec![l0, l1],
                    },
                ]),
                ephemerals: vec![(l0, vec!["/app/eph".into()])],
                connection_buckets: vec![
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:30Z"),
                        items: vec![conn("127.0.0.1:40506", 0)],
                    },
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:50Z"),
                        items: vec![conn("127.0.0.1:40358", l1), conn("127.0.0.1:40348", l0)],
                    },
                ],
            },
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Dump, &leader),
            fixture("leader/dump.txt")
        );

        let empty = ServerSnapshot {
            dump: DumpInfo {
                connection_buckets: vec![ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:08:20Z"),
                    items: vec![conn("127.0.0.1:48342", 0)],
                }],
                ..DumpInfo::default()
            },
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Dump, &empty),
            fixture("standalone_empty/dump.txt")
        );
    }

    #[test]
    fn dump_learner_and_read_only() {
        let (l0, l1) = (0x300000d8ddd0000_i64, 0x300000d8ddd0001_i64);
        let conn = |a: &str| DumpConnection {
            remote: addr(a),
            session_id: 0,
        };
        let follower = ServerSnapshot {
            mode: ServerMode::Follower,
            dump: DumpInfo {
                sessions: SessionDump::Global(vec![(l0, 30000), (l1, 30000)]),
                ephemerals: vec![(l0, vec!["/app/eph".into()])],
                connection_buckets: vec![
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:20Z"),
                        items: vec![],
                    },
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T11:06:30Z"),
                        items: vec![conn("127.0.0.1:56606")],
                    },
                ],
            },
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Dump, &follower),
            fixture("follower/dump.txt")
        );
        let ro = ServerSnapshot {
            mode: ServerMode::ReadOnly,
            dump: DumpInfo {
                sessions: SessionDump::Global(vec![]),
                ephemerals: vec![],
                connection_buckets: vec![ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:09:10Z"),
                    items: vec![conn("127.0.0.1:37808")],
                }],
            },
            ..apache_standalone()
        };
        assert_eq!(
            render(FourLetterWord::Dump, &ro),
            fixture("read_only/dump.txt")
        );
    }

    // ---- mntr ------------------------------------------------------------------------------

    fn parse_mntr(text: &str) -> Vec<(String, String)> {
        text.lines()
            .map(|l| {
                let (k, v) = l.split_once('\t').unwrap_or_else(|| panic!("line {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    /// Smallest (count, sum) whose Apache-rounded average is `avg`.
    fn latency_for(avg: f64, min: u64, max: u64) -> LatencyStats {
        if avg == 0.0 && max == 0 {
            return LatencyStats::default();
        }
        for count in 1..100_000u64 {
            let sum = (avg * count as f64).round() as u64;
            if summary_avg(count, sum as f64) == avg {
                return latency(count, sum, min, max);
            }
        }
        panic!("no latency for {avg}");
    }

    fn parse_value(v: &str) -> MetricValue {
        if let Ok(i) = v.parse::<i64>() {
            MetricValue::Int(i)
        } else if let Ok(f) = v.parse::<f64>() {
            MetricValue::Float(f)
        } else {
            MetricValue::Text(v.to_string())
        }
    }

    /// Rebuilds the snapshot an Apache `mntr` capture came from: typed fields for the keys
    /// that have one, `metrics` for the other fixed keys, `extra_metrics` for the rest (in
    /// capture order).
    fn snapshot_from_mntr(text: &str, mode: ServerMode) -> ServerSnapshot {
        let lines = parse_mntr(text);
        let map: BTreeMap<&str, &str> = lines
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let get = |k: &str| -> &str { map.get(k).copied().unwrap_or_else(|| panic!("{k}")) };
        let num = |k: &str| -> u64 { get(k).parse().unwrap() };
        let ival = |k: &str| -> i64 { get(k).parse().unwrap() };
        let (version, build) = get("zk_version").split_once(", built on ").unwrap();
        assert_eq!(get("zk_server_state"), mode.as_str());
        let mut snap = ServerSnapshot {
            mode,
            version: version.into(),
            build_date: build.into(),
            latency: latency_for(
                get("zk_avg_latency").parse().unwrap(),
                num("zk_min_latency"),
                num("zk_max_latency"),
            ),
            packets_received: num("zk_packets_received"),
            packets_sent: num("zk_packets_sent"),
            num_alive_connections: num("zk_num_alive_connections"),
            outstanding_requests: num("zk_outstanding_requests"),
            node_count: num("zk_znode_count"),
            ephemerals_count: num("zk_ephemerals_count"),
            approximate_data_size: num("zk_approximate_data_size"),
            watch_count: num("zk_watch_count"),
            global_sessions: num("zk_global_sessions"),
            local_sessions: num("zk_local_sessions"),
            uptime_ms: num("zk_uptime"),
            open_file_descriptor_count: num("zk_open_file_descriptor_count"),
            max_file_descriptor_count: num("zk_max_file_descriptor_count"),
            ..ServerSnapshot::default()
        };
        if mode.in_quorum() {
            snap.quorum = Some(QuorumInfo {
                peer_state: get("zk_peer_state").into(),
                quorum_size: num("zk_quorum_size"),
                leader: (mode == ServerMode::Leader).then(|| LeaderInfo {
                    last_proposal_size: ival("zk_last_proposal_size"),
                    min_proposal_size: ival("zk_min_proposal_size"),
                    max_proposal_size: ival("zk_max_proposal_size"),
                    synced_followers: num("zk_synced_followers"),
                    synced_non_voting_followers: num("zk_synced_non_voting_followers"),
                    synced_observers: num("zk_synced_observers"),
                    pending_syncs: num("zk_pending_syncs"),
                    leader_uptime_ms: num("zk_leader_uptime"),
                    learners: num("zk_learners"),
                }),
            });
        }
        let summary = |base: &str, advanced: bool| -> SummaryValue {
            let s = |stat: &str| ival(&format!("zk_{stat}_{base}"));
            SummaryValue {
                count: s("cnt") as u64,
                sum: s("sum"),
                min: s("min"),
                max: s("max"),
                percentiles: advanced.then(|| [s("p50"), s("p95"), s("p99"), s("p999")]),
            }
        };
        let mut covered = BTreeSet::new();
        for e in MNTR_TABLE.iter().filter(|e| e.presence.applies(mode)) {
            match e.kind {
                MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
                    let advanced = e.kind == MntrKind::AdvancedSummary;
                    let v = summary(e.name, advanced);
                    if v != SummaryValue::default() || advanced {
                        snap.metrics
                            .insert(e.name.to_string(), MetricValue::Summary(v));
                    }
                    let n = if advanced { 9 } else { 5 };
                    for stat in &SUMMARY_STATS[..n] {
                        covered.insert(format!("zk_{stat}_{}", e.name));
                    }
                }
                _ => {
                    let key = format!("zk_{}", e.name);
                    if typed_metric(&snap, e.name).is_none() {
                        snap.metrics
                            .insert(e.name.to_string(), parse_value(get(&key)));
                    }
                    covered.insert(key);
                }
            }
        }
        // Dynamic summaries, in capture order.
        let rest: Vec<&(String, String)> =
            lines.iter().filter(|(k, _)| !covered.contains(k)).collect();
        let mut i = 0;
        while i < rest.len() {
            let base = rest[i].0.strip_prefix("zk_avg_").expect("dynamic summary");
            let advanced = rest
                .get(i + 5)
                .is_some_and(|(k, _)| *k == format!("zk_p50_{base}"));
            snap.extra_metrics.push((
                base.to_string(),
                MetricValue::Summary(summary(base, advanced)),
            ));
            i += if advanced { 9 } else { 5 };
        }
        snap
    }

    #[test]
    fn mntr_reproduces_captures() {
        let cases = [
            ("standalone/mntr.txt", ServerMode::Standalone),
            ("standalone/after_reset/mntr.txt", ServerMode::Standalone),
            ("standalone_empty/mntr.txt", ServerMode::Standalone),
            ("read_only/mntr.txt", ServerMode::ReadOnly),
            ("follower/mntr.txt", ServerMode::Follower),
        ];
        for (path, mode) in cases {
            let captured = fixture(path);
            let snap = snapshot_from_mntr(&captured, mode);
            let rendered = render(FourLetterWord::Mntr, &snap);
            for (i, (ours, theirs)) in rendered.lines().zip(captured.lines()).enumerate() {
                assert_eq!(ours, theirs, "{path} line {}", i + 1);
            }
            assert_eq!(rendered, captured, "{path}");
        }
    }

    #[test]
    fn mntr_leader() {
        // Apache interleaves the dynamic per-learner entries among the dynamic
        // per-namespace ones; we print all dynamic entries after the fixed keys.
        let captured = fixture("leader/mntr.txt");
        let snap = snapshot_from_mntr(&captured, ServerMode::Leader);
        let rendered = render(FourLetterWord::Mntr, &snap);
        let fixed: BTreeSet<String> = mntr_keys(ServerMode::Leader).into_iter().collect();
        let split = |text: &str| -> (Vec<String>, BTreeSet<String>) {
            let (f, d): (Vec<&str>, Vec<&str>) = text
                .lines()
                .partition(|l| fixed.contains(l.split('\t').next().unwrap()));
            (
                f.into_iter().map(String::from).collect(),
                d.into_iter().map(String::from).collect(),
            )
        };
        let (ours_fixed, ours_dynamic) = split(&rendered);
        let (theirs_fixed, theirs_dynamic) = split(&captured);
        assert_eq!(ours_fixed, theirs_fixed);
        assert_eq!(ours_dynamic, theirs_dynamic);
        assert!(!theirs_dynamic.is_empty());
    }

    #[test]
    fn mntr_key_sets_per_mode() {
        let keys_of = |text: &str| -> Vec<String> {
            parse_mntr(text)
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| !k.contains("per_namespace") && !k.contains("learner_handler"))
                .collect()
        };
        let cases = [
            ("standalone_empty/mntr.txt", ServerMode::Standalone),
            ("standalone/mntr.txt", ServerMode::Standalone),
            ("read_only/mntr.txt", ServerMode::ReadOnly),
            ("follower/mntr.txt", ServerMode::Follower),
            ("leader/mntr.txt", ServerMode::Leader),
        ];
        for (path, mode) in cases {
            assert_eq!(mntr_keys(mode), keys_of(&fixture(path)), "{path}");
            // A default snapshot prints exactly those keys too.
            let snap = ServerSnapshot {
                mode,
                ..ServerSnapshot::default()
            };
            let ours: Vec<String> = parse_mntr(&render(FourLetterWord::Mntr, &snap))
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(ours, mntr_keys(mode), "{path}");
        }
        assert_eq!(mntr_keys(ServerMode::Standalone).len(), 485);
        assert_eq!(mntr_keys(ServerMode::Follower).len(), 487);
        assert_eq!(mntr_keys(ServerMode::Observer).len(), 487);
        assert_eq!(mntr_keys(ServerMode::Leader).len(), 496);
        assert!(!mntr_keys(ServerMode::Leader)
            .iter()
            .any(|k| k.starts_with("zk_jvm_") || k.starts_with("jvm_")));
        assert_eq!(mntr_metrics().count(), MNTR_TABLE.len());
    }

    #[test]
    fn mntr_extra_metrics_and_unknown_names() {
        let mut snap = ServerSnapshot::default();
        snap.metrics
            .insert("packets_sent".into(), MetricValue::Int(99)); // typed field wins
        snap.metrics.insert("fsynctime".into(), MetricValue::Int(5)); // wrong kind: zero summary
        snap.metrics
            .insert("zz_custom".into(), MetricValue::Float(0.5));
        snap.extra_metrics.push((
            "app_read_per_namespace".into(),
            MetricValue::Summary(SummaryValue {
                count: 4,
                sum: 305,
                min: 75,
                max: 77,
                percentiles: None,
            }),
        ));
        let out = render(FourLetterWord::Mntr, &snap);
        assert!(out.contains("zk_packets_sent\t0\n"));
        assert!(out.contains("zk_avg_fsynctime\t0.0\nzk_min_fsynctime\t0\n"));
        assert!(out.ends_with(
            "zk_avg_app_read_per_namespace\t76.25\nzk_min_app_read_per_namespace\t75\n\
             zk_max_app_read_per_namespace\t77\nzk_cnt_app_read_per_namespace\t4\n\
             zk_sum_app_read_per_namespace\t305\nzk_zz_custom\t0.5\n"
        ));
        assert!(out.contains("zk_last_client_response_size\t-1\n"));
        assert!(out.contains("zk_connection_drop_probability\t0.0\n"));
    }

    // ---- structure with zkrs' own values ---------------------------------------------------

    /// Replaces version strings, then every number (decimal or `0x` hex) by `#`.
    fn mask(text: &str, versions: &[&str]) -> String {
        let mut s = text.to_string();
        for v in versions {
            s = s.replace(v, "<VERSION>");
        }
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '0' && chars.get(i + 1) == Some(&'x') {
                out.push_str("0x#");
                i += 2;
                while i < chars.len() && chars[i].is_ascii_hexdigit() {
                    i += 1;
                }
            } else if chars[i].is_ascii_digit() {
                out.push('#');
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    fn zkrs_snapshot() -> ServerSnapshot {
        let mut lat = LatencyStats::default();
        for ms in [1, 2, 2, 7] {
            lat.record(ms);
        }
        let session = |port: u16, sid: i64, lop: &str| ConnectionStats {
            interest_ops: 1,
            received: 12,
            sent: 11,
            session_id: sid,
            last_op: lop.into(),
            established_ms: 1_767_225_600_000,
            session_timeout_ms: 10000,
            last_cxid: 10,
            last_zxid: 0x1f,
            last_response_ms: 123_456,
            last_latency_ms: 1,
            min_latency_ms: 0,
            avg_latency_ms: 2,
            max_latency_ms: 7,
            ..ConnectionStats::new(addr(&format!("10.1.2.3:{port}")))
        };
        let (s0, s1) = (0x7a0000000001_i64, 0x7a0000000002_i64);
        ServerSnapshot {
            version: "3.8.0-zkrs-0.1.0".into(),
            build_date: "2026-01-01 00:00 UTC".into(),
            latency: lat,
            packets_received: 40,
            packets_sent: 39,
            num_alive_connections: 3,
            last_zxid: 0x1f,
            node_count: 12,
            ephemerals_count: 2,
            watch_count: 6,
            watch_summary: WatchSummary {
                connections: 2,
                paths: 4,
                watches: 5,
            },
            conf: ConfInfo {
                client_port: 2181,
                data_dir: "/var/lib/zkrs/data".into(),
                data_log_dir: "/var/lib/zkrs/log".into(),
                ..ConfInfo::default()
            },
            data_dir_size: 4096,
            data_log_size: 8192,
            environment: Environment::from_process(),
            connections: vec![
                brief("[::1]:50000", 0, 1, 0),
                session(50001, s0, "GETC"),
                session(50002, s1, "EXIS"),
            ],
            watches_by_session: vec![
                (s0, vec!["/a".into(), "/b".into()]),
                (s1, vec!["/c".into(), "/a".into(), "/d".into()]),
            ],
            watches_by_path: vec![
                ("/a".into(), vec![s1]),
                ("/b".into(), vec![s0, s1]),
                ("/c".into(), vec![s1]),
                ("/d".into(), vec![s0]),
            ],
            dump: DumpInfo {
                sessions: SessionDump::ExpiryBuckets(vec![ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T09:00:00Z"),
                    items: vec![s0, s1],
                }]),
                ephemerals: vec![(s1, vec!["/e".into()])],
                connection_buckets: vec![
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T09:00:02Z"),
                        items: vec![DumpConnection {
                            remote: addr("10.1.2.3:50000"),
                            session_id: 0,
                        }],
                    },
                    ExpiryBucket {
                        expires_at_ms: utc_ms("2026-11-25T09:00:04Z"),
                        items: vec![
                            DumpConnection {
                                remote: addr("10.1.2.3:50001"),
                                session_id: s0,
                            },
                            DumpConnection {
                                remote: addr("10.1.2.3:50002"),
                                session_id: s1,
                            },
                        ],
                    },
                ],
            },
            ..ServerSnapshot::default()
        }
    }

    #[test]
    fn zkrs_values_have_apache_structure() {
        let snap = zkrs_snapshot();
        let apache_full = format!("{APACHE_VERSION}, built on {APACHE_BUILD}");
        let ours_full = snap.full_version();
        let versions = [apache_full.as_str(), ours_full.as_str()];
        for w in [
            FourLetterWord::Srvr,
            FourLetterWord::Stat,
            FourLetterWord::Cons,
            FourLetterWord::Wchs,
            FourLetterWord::Wchc,
            FourLetterWord::Wchp,
            FourLetterWord::Dirs,
            FourLetterWord::Dump,
            FourLetterWord::Ruok,
            FourLetterWord::Isro,
            FourLetterWord::Crst,
            FourLetterWord::Srst,
            FourLetterWord::Gtmk,
            FourLetterWord::Hash,
        ] {
            let ours = render(w, &snap).replace("/[0:0:0:0:0:0:0:1]:", "/127.0.0.1:");
            let theirs = fixture(&format!("standalone/{}.txt", w.name()));
            // Paths differ in wchc/wchp/dump; compare the shape of those lines only.
            let shape = |t: &str| -> String {
                mask(t, &versions)
                    .lines()
                    .map(|l| {
                        if l.starts_with("\t/") {
                            "\t<path>".to_string()
                        } else if l.starts_with('/') {
                            "<path>".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(shape(&ours), shape(&theirs), "{w}");
        }
        // key=value words: same keys in the same order.
        let keys = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| l.split('=').next().unwrap().to_string())
                .collect()
        };
        for w in [FourLetterWord::Conf, FourLetterWord::Envi] {
            let ours = render(w, &snap);
            let theirs = fixture(&format!("standalone/{}.txt", w.name()));
            assert_eq!(keys(&ours), keys(&theirs), "{w}");
        }
        // mntr: same keys, and every value of the same type.
        let ours = parse_mntr(&render(FourLetterWord::Mntr, &snap));
        let theirs = parse_mntr(&fixture("standalone_empty/mntr.txt"));
        assert_eq!(ours.len(), theirs.len());
        let kind = |v: &str| match parse_value(v) {
            MetricValue::Int(_) => 0,
            MetricValue::Float(_) => 1,
            _ => 2,
        };
        for ((ok, ov), (tk, tv)) in ours.iter().zip(&theirs) {
            assert_eq!(ok, tk);
            assert_eq!(kind(ov), kind(tv), "{ok}: {ov} vs {tv}");
        }
        assert!(ours.contains(&("zk_avg_latency".into(), "3.0".into())));
        assert!(ours.contains(&(
            "zk_version".into(),
            "3.8.0-zkrs-0.1.0, built on 2026-01-01 00:00 UTC".into()
        )));
    }

    #[test]
    fn environment_from_process() {
        let e = Environment::from_process();
        assert!(!e.host_name.is_empty());
        assert!(!e.os_name.is_empty() && !e.os_arch.is_empty());
        assert_eq!(e.java_compiler, "<NA>");
        let snap = ServerSnapshot {
            environment: e,
            ..zkrs_snapshot()
        };
        let out = render(FourLetterWord::Envi, &snap);
        assert_eq!(out.lines().count(), 19);
        assert!(out.ends_with("MB\n"));
        if cfg!(target_os = "linux") {
            assert!(open_file_descriptor_count().unwrap() > 0);
            assert!(max_file_descriptor_count().unwrap() > 0);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    #[test]
    fn last_op_codes_match_capture() {
        let mut seen = 0;
        for line in fixture("cons_lop_codes.txt").lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let op_type: i32 = fields[1].strip_prefix("type=").unwrap().parse().unwrap();
            let Some(lop) = fields.iter().find_map(|f| f.strip_prefix("lop=")) else {
                continue; // the connection was closed
            };
            match op_type {
                100 => assert_eq!(last_op_code(op_type), None), // leaves lop as it was
                999 => assert_eq!(last_op_code(op_type), None),
                _ => assert_eq!(last_op_code(op_type), Some(lop), "{line}"),
            }
            seen += 1;
        }
        assert!(seen > 20);
        assert_eq!(last_op_code(-10), Some("SESS"));
        assert_eq!(last_op_code(13), None);
    }

    #[test]
    fn java_number_formats() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(2.0667), "2.0667");
        assert_eq!(java_double(76.25), "76.25");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0005), "5.0E-4");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(9999999.5), "9999999.5");
        assert_eq!(java_double(12345678.9), "1.23456789E7");
        assert_eq!(summary_avg(0, 0.0), 0.0);
        assert_eq!(summary_avg(12, 1.0), 0.0833);
        assert_eq!(summary_avg(12, 7.0), 0.5833);
        assert_eq!(summary_avg(13, 43.0), 3.3077);
        assert_eq!(summary_avg(3, 25.0), 8.3333);
        // Exact ties round half up (Java BigDecimal HALF_UP): 1/32 = 0.03125.
        assert_eq!(summary_avg(32, 1.0), 0.0313);
        assert_eq!(summary_avg(32, 3.0), 0.0938);
        assert_eq!(summary_avg(2, 1.0), 0.5);
    }

    #[test]
    fn java_address_and_date_formats() {
        assert_eq!(java_socket_addr(&addr("127.0.0.1:2181")), "/127.0.0.1:2181");
        assert_eq!(java_socket_addr(&addr("[::1]:5")), "/[0:0:0:0:0:0:0:1]:5");
        assert_eq!(
            java_socket_addr(&addr("[fe80::1:abcd%1]:5")),
            "/[fe80:0:0:0:0:0:1:abcd%1]:5"
        );
        assert_eq!(
            java_socket_addr(&addr("[::ffff:10.0.0.1]:5")),
            "/10.0.0.1:5"
        );
        assert_eq!(
            java_date(utc_ms("2026-11-25T11:06:08Z")),
            "Wed Nov 25 11:06:08 UTC 2026"
        );
        assert_eq!(
            java_date(utc_ms("2026-01-05T01:02:03Z")),
            "Mon Jan 05 01:02:03 UTC 2026"
        );
    }

    #[test]
    fn latency_stats_record() {
        let mut l = LatencyStats::default();
        assert_eq!(l.avg_ms(), 0.0);
        assert_eq!(l.min_printed(), 0);
        l.record(5);
        l.record(3);
        l.record(10);
        assert_eq!(l, latency(3, 18, 3, 10));
        assert_eq!(l.avg_ms(), 6.0);
    }
}
