//! The election port's connection handshake and message framing (Apache's
//! `QuorumCnxManager`).
//!
//! The dialing peer sends one initial message and nothing comes back:
//! `long protocolVersion, long sid, int n, n bytes of "host:port"` (version 2 joins several
//! addresses with `|`). A peer older than 3.5 sends only its sid, which is non-negative, so
//! the first long tells the two apart. After that, every election message on the connection
//! is `[int len][len bytes]` with `0 < len <= ELECTION_PACKET_MAX`.

use std::fmt;
use std::net::IpAddr;

use super::cursor::Cursor;
use super::WireError;

/// The initial message's version when one election address is sent: what Apache writes
/// unless `zookeeper.multiAddress.enabled` is set, and what every 3.5+ peer understands.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// The version with `|`-separated addresses (multi-address mode only).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// Apache's bound on the initial message's address bytes (`QuorumCnxManager.maxBuffer`).
/// It also bounds how many addresses one message can carry.
pub const MAX_ADDRESS_BYTES: usize = 2048;
/// The sid an observer without one of its own sends (`QuorumPeer.OBSERVER_ID`); Apache's
/// receiver gives such a connection a made-up negative id.
pub const OBSERVER_ID: i64 = i64::MAX;
/// Apache's bound on one election message (`QuorumCnxManager.PACKETMAXSIZE`, 512 KiB).
pub const ELECTION_PACKET_MAX: usize = 512 * 1024;

/// One election address as a peer advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionAddr {
    /// A host name or an IP literal, without brackets.
    pub host: String,
    pub port: u16,
}

impl ElectionAddr {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ElectionAddr {
            host: host.into(),
            port,
        }
    }

    /// Whether the host is a literal wildcard (`0.0.0.0`, `::`). Apache drops those when
    /// it reads an initial message, since nobody can dial back to them. Apache asks its
    /// resolver, so a *name* that resolves to a wildcard is also dropped there; resolving is
    /// I/O, which this module does not do.
    pub fn is_wildcard(&self) -> bool {
        self.host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
    }
}

impl fmt::Display for ElectionAddr {
    /// As Apache's `NetUtils.formatInetAddr` writes it: an IPv6 literal in brackets. A host
    /// starting with `[` (no real host does) is bracketed too, so that it reads back as
    /// itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') || self.host.starts_with('[') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a dialing peer sends first on the election port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialMessage {
    /// A pre-3.5 peer: only its sid (a non-negative long).
    SidOnly { sid: i64 },
    /// The 3.5+ form.
    Versioned {
        /// [`PROTOCOL_VERSION_V1`] or [`PROTOCOL_VERSION_V2`].
        protocol_version: i64,
        sid: i64,
        /// The dialer's election addresses, wildcards dropped as Apache drops them. May be
        /// empty, in which case the receiver dials back to the address in its config.
        addresses: Vec<ElectionAddr>,
    },
}

impl InitialMessage {
    /// The message Apache 3.8/3.9 sends by default: version 1, one address.
    pub fn v1(sid: i64, addr: ElectionAddr) -> Self {
        InitialMessage::Versioned {
            protocol_version: PROTOCOL_VERSION_V1,
            sid,
            addresses: vec![addr],
        }
    }

    pub fn sid(&self) -> i64 {
        match self {
            InitialMessage::SidOnly { sid } | InitialMessage::Versioned { sid, .. } => *sid,
        }
    }

    /// Decodes the initial message at the front of `buf`; returns it and the bytes it took.
    ///
    /// The checks are Apache's (`QuorumCnxManager.handleConnection`, `InitialMessage.parse`):
    /// a first long >= 0 is a bare sid; another negative value than the two versions, an
    /// address length outside `1..=2048`, an address without exactly a host and a port, or a
    /// port that is not a number is refused. A port outside `0..=65535` is refused too (Java
    /// would throw from `InetSocketAddress`). [`WireError::Truncated`] means more bytes are
    /// needed.
    pub fn decode(buf: &[u8]) -> Result<(InitialMessage, usize), WireError> {
        let mut c = Cursor::new(buf);
        let first = c.i64()?;
        if first >= 0 {
            return Ok((InitialMessage::SidOnly { sid: first }, c.position()));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(WireError::UnknownProtocolVersion(first));
        }
        let sid = c.i64()?;
        let n = c.i32()?;
        if n <= 0 || n as usize > MAX_ADDRESS_BYTES {
            return Err(WireError::AddressLength(n));
        }
        let raw = c.take(n as usize)?;
        // Java decodes with replacement characters, so invalid UTF-8 is not an error by
        // itself; it only fails later if it breaks the host:port shape.
        let text = String::from_utf8_lossy(raw);
        let mut addresses = Vec::new();
        // Both versions are parsed the same way: Apache splits on '|' regardless of version.
        for part in java_split(&text, '|') {
            let addr = parse_host_port(part)?;
            if !addr.is_wildcard() {
                addresses.push(addr);
            }
        }
        Ok((
            InitialMessage::Versioned {
                protocol_version: first,
                sid,
                addresses,
            },
            c.position(),
        ))
    }

    /// The bytes as Apache 3.8 writes them (`QuorumCnxManager.startConnection`): version,
    /// sid, then the addresses joined by `|` with an int length. A message that would not
    /// fit Apache's 2048-byte limit is still written; the receiver would refuse it, which
    /// is the caller's configuration error to avoid, not something to hide here; so is an
    /// empty address list, which Apache refuses as a zero length.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            InitialMessage::SidOnly { sid } => sid.to_be_bytes().to_vec(),
            InitialMessage::Versioned {
                protocol_version,
                sid,
                addresses,
            } => {
                let joined = addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("|");
                let mut out = Vec::with_capacity(20 + joined.len());
                out.extend_from_slice(&protocol_version.to_be_bytes());
                out.extend_from_slice(&sid.to_be_bytes());
                out.extend_from_slice(&(joined.len() as i32).to_be_bytes());
                out.extend_from_slice(joined.as_bytes());
                out
            }
        }
    }
}

/// Java's `String.split` for a one-character pattern: no match gives the whole string
/// (even when empty); otherwise trailing empty pieces are dropped. Apache's address parsing
/// depends on exactly this (`"h:1|"` is one address, `"h:1:"` is a host and a port).
fn java_split(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Apache's `ConfigUtils.getHostAndPort` followed by `InitialMessage.parse`'s checks.
fn parse_host_port(s: &str) -> Result<ElectionAddr, WireError> {
    let bad = || WireError::BadAddress(s.to_string());
    let (host, rest): (&str, Vec<&str>) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(bad)?;
        let host = &inner[..close];
        // Apache skips the one character after ']' without looking at it, and a string
        // that ends right there ("[h]:") has no port.
        let after = &inner[close + 1..];
        let mut chars = after.chars();
        if chars.next().is_none() || chars.as_str().is_empty() {
            return Err(bad());
        }
        (host, java_split(chars.as_str(), ':'))
    } else {
        let mut parts = java_split(s, ':');
        if parts.is_empty() {
            return Err(bad());
        }
        let host = parts.remove(0);
        (host, parts)
    };
    if rest.len() != 1 {
        return Err(bad());
    }
    let port = parse_java_int(rest[0])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| WireError::BadPort(rest[0].to_string()))?;
    Ok(ElectionAddr::new(host, port as u16))
}

/// `Integer.parseInt` for ASCII input: an optional sign, then decimal digits, in `i32`.
fn parse_java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// Finds the first election message in `buf`: `Ok(Some(range))` is the message body's
/// range, `Ok(None)` means more bytes are needed, and an error means Apache would drop the
/// connection (a length outside `1..=ELECTION_PACKET_MAX`).
pub fn election_frame(buf: &[u8]) -> Result<Option<std::ops::Range<usize>>, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if len <= 0 || len as usize > ELECTION_PACKET_MAX {
        return Err(WireError::ElectionFrameLength(len));
    }
    let end = 4 + len as usize;
    Ok((buf.len() >= end).then_some(4..end))
}

/// Prefixes an election message with its length, as Apache's `SendWorker` does.
pub fn frame_election_message(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + msg.len());
    out.extend_from_slice(&(msg.len() as i32).to_be_bytes());
    out.extend_from_slice(msg);
    out
}
