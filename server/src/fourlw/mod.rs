//! Four-letter words ("4lw") of the client port, formatted exactly like Apache ZooKeeper 3.8.
//!
//! A client connects to the client port, sends four ASCII bytes (`ruok`, `srvr`, `mntr`, ...)
//! instead of a connect request, and the server writes a plain-text answer and closes the
//! connection. Monitoring tools (zkServer.sh, Prometheus/Datadog/Nagios checks, ...) parse these
//! answers, so every byte here mirrors what Apache ZooKeeper 3.8 writes. Reference captures of a
//! real 3.8.0 server live in `server/tests/fixtures/4lw/` and the unit tests reproduce them
//! byte for byte.
//!
//! Apache has one class per word in `server/command/`; here the words are one enum and the
//! renderers are grouped by what they show, each with the part of the view it reads:
//!
//! * this file: the words, how much state each needs ([`SnapshotScope`]), and [`render`];
//! * `whitelist.rs`: `4lw.commands.whitelist` ([`Whitelist`]), the one check before any
//!   answer;
//! * `state.rs`: [`ServerSnapshot`], the one view every word renders from, and `collect.rs`,
//!   the one place it is filled from the core, the config and the [`Role`];
//! * `role.rs`: the server's place in the ensemble ([`Role`]: serving, mode, peer state,
//!   quorum and leader values), which the replication layer publishes;
//! * renderers: `stat.rs` (`srvr`, `stat`), `mntr.rs` (its table of keys), `conf.rs`
//!   (`conf`, `dirs`), `envi.rs`, `connections.rs` (`cons` and the client lines of `stat`),
//!   `watches.rs` (`wchs`, `wchc`, `wchp`), `dump.rs`; `java.rs` formats numbers, addresses
//!   and dates the way Java prints them, and `process.rs` reads this process's figures from
//!   the OS;
//! * `dir_sizes.rs` measures the data and log directories (`dirs`, `conf`), `trace_mask.rs`
//!   keeps the mask `stmk` sets and `gtmk` reads.
//!
//! The module only formats and never talks to the core: the connection edge recognises a word
//! with [`FourLetterWord::from_bytes`], checks it against the [`Whitelist`], gathers a
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
//!   Set [`Role::serving`] accordingly.
//! * `ruok`, `isro`, `gtmk`, `stmk` and `hash` answers have no trailing newline; all others end
//!   with one, except `conf` with a membership block, whose last line `version=<hex>` has none.
//! * Apache counts the 4lw connection itself: it is one of `Connections:`/
//!   `zk_num_alive_connections`, its 4 bytes are one of `Received:`, and `stat`/`cons`/`dump`
//!   list it as ` /ip:port[0](queued=0,recved=1,sent=0)` (no session, interest ops 0).
//!   [`ServerSnapshot::count_asking_connection`] adds it.
//! * `wchs`/`wchc`/`wchp` cover data watches only (set by getData and exists, including exists
//!   on a missing node); child watches are not listed there. `zk_watch_count` in `mntr` counts
//!   data watches plus child watches.
//! * Orders of connections, sessions and paths are the caller's (Apache prints hash order).

mod collect;
mod conf;
mod connections;
mod dir_sizes;
mod dump;
mod envi;
mod java;
pub(crate) use java::java_double;
mod mntr;
mod process;
mod role;
mod stat;
mod state;
mod trace_mask;
mod watches;
mod whitelist;

#[cfg(test)]
mod tests;

use std::fmt::{self, Write as _};

pub use conf::Membership;
pub use dir_sizes::DirSizes;
pub use mntr::{MetricValue, SummaryValue};
pub use role::{MetricsSource, QuorumInfo, Role, ServerMode, SyncMode, ZabPhase};
pub use state::ServerSnapshot;
pub use trace_mask::TraceMask;
pub use whitelist::{not_in_whitelist, Whitelist, WHITELIST_PROPERTY};

// What the tests of each group of words build their input from.
#[cfg(test)]
pub use {
    conf::{ConfInfo, QuorumConf},
    connections::{last_op_code, ConnectionStats},
    dump::{DumpConnection, DumpInfo, ExpiryBucket, SessionDump},
    envi::Environment,
    mntr::{mntr_keys, mntr_metrics, MntrKind},
    role::LeaderInfo,
    state::LatencyStats,
    watches::WatchSummary,
};

/// What Apache answers for most words while it is not serving (followed by a newline, except
/// for `hash`).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

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
    /// Only `role` and `trace_mask` (`isro`, `crst`, `srst`, `gtmk`, `stmk`, `hash`).
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

    /// Whether the answer prints the data and log directories' sizes ([`DirSizes`], which
    /// reads the disk).
    pub fn prints_dir_sizes(self) -> bool {
        matches!(self, FourLetterWord::Conf | FourLetterWord::Dirs)
    }
}

impl fmt::Display for FourLetterWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The complete answer to `cmd` (the caller writes it and closes the connection).
pub fn render(cmd: FourLetterWord, snap: &ServerSnapshot) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, so there is no error to pass on.
    let _ = render_into(&mut out, cmd, snap);
    out
}

/// Which renderer answers which word, and the answers that do not depend on any state.
fn render_into(out: &mut String, cmd: FourLetterWord, snap: &ServerSnapshot) -> fmt::Result {
    use FourLetterWord as W;
    let role = &snap.role;
    match cmd {
        W::Ruok => out.push_str("imok"),
        W::Envi => envi::render(out, snap)?,
        W::Gtmk | W::Stmk => write!(out, "{}", snap.trace_mask)?,
        W::Isro => out.push_str(match (role.serving, role.mode) {
            (false, _) => "null",
            (true, ServerMode::ReadOnly) => "ro",
            (true, _) => "rw",
        }),
        W::Hash if !role.serving => out.push_str(NOT_SERVING),
        // zkrs keeps no digest log: Apache prints nothing in that case either.
        W::Hash => {}
        _ if !role.serving => writeln!(out, "{NOT_SERVING}")?,
        W::Srvr => stat::render(out, snap, false)?,
        W::Stat => stat::render(out, snap, true)?,
        W::Cons => connections::render_cons(out, snap)?,
        W::Crst => out.push_str("Connection stats reset.\n"),
        W::Srst => out.push_str("Server stats reset.\n"),
        W::Conf => conf::render_conf(out, snap)?,
        W::Dirs => conf::render_dirs(out, snap)?,
        W::Wchs => watches::render_wchs(out, snap)?,
        W::Wchc => watches::render_wchc(out, snap)?,
        W::Wchp => watches::render_wchp(out, snap)?,
        W::Mntr => mntr::render(out, snap)?,
        W::Dump => dump::render(out, snap)?,
    }
    Ok(())
}
