//! `dump`: the session tracker, ephemeral nodes and connection expiry, as Apache prints them.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use super::java::{java_date, java_socket_addr};
use super::state::ServerSnapshot;

/// `dump`: session expiry as the session tracker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionDump {
    /// Standalone and leader: `Session Sets (<buckets>)/(<sessions>):` then one
    /// `<n> expire at <date>:` line per expiry bucket, each session id on a tab line.
    ExpiryBuckets(Vec<ExpiryBucket<i64>>),
    /// Followers, observers, read-only: `Global Sessions(<n>):` then `0x<id>\t<timeout>ms`.
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "the session figures `dump` prints are not collected yet"
        )
    )]
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

/// `dump`: session expiry, ephemeral nodes by session, connection expiry.
pub(super) fn render(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
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
