//! The value of a `server.N` line:
//! `host:peerPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{PeerType, ServerSpec};

/// Parses the value of `server.<id>`. The error is the message part only; the caller adds
/// source, line and key.
pub(crate) fn parse_server_line(id: u64, line: usize, value: &str) -> Result<ServerSpec, String> {
    let (quorum_part, client_part) = match value.split_once(';') {
        Some((q, c)) => (q.trim(), Some(c.trim())),
        None => (value.trim(), None),
    };
    if quorum_part.contains('|') {
        // Apache 3.6 lets a server list several addresses separated by `|` for failover
        // between networks; we have one peer address per server.
        return Err(format!(
            "several addresses separated by '|' are not supported, got \"{value}\""
        ));
    }
    let (host, rest) = split_host(quorum_part).ok_or_else(|| {
        format!("expected host:peerPort:electionPort[:participant|:observer], got \"{value}\"")
    })?;
    let fields: Vec<&str> = rest.split(':').collect();
    let (peer, election, role) = match fields.as_slice() {
        [p, e] => (*p, *e, None),
        [p, e, r] => (*p, *e, Some(*r)),
        _ => {
            return Err(format!(
                "expected host:peerPort:electionPort[:participant|:observer], got \"{value}\""
            ))
        }
    };
    let peer_port = parse_port(peer.trim()).ok_or_else(|| {
        format!("peer port must be an integer between 1 and 65535, got \"{peer}\"")
    })?;
    let election_port = parse_port(election.trim()).ok_or_else(|| {
        format!("election port must be an integer between 1 and 65535, got \"{election}\"")
    })?;
    if peer_port == election_port {
        return Err(format!(
            "peer port and election port must differ, both are {peer_port}"
        ));
    }
    let role = match role.map(str::trim) {
        None => PeerType::Participant,
        Some(r) if r.eq_ignore_ascii_case("participant") => PeerType::Participant,
        Some(r) if r.eq_ignore_ascii_case("observer") => PeerType::Observer,
        Some(r) => {
            return Err(format!(
                "server type must be participant or observer, got \"{r}\""
            ))
        }
    };
    let client_addr = match client_part {
        None => None,
        Some(c) => Some(parse_client_addr(c).ok_or_else(|| {
            format!("client address must be [address:]port with a port between 1 and 65535 and an IP address, got \"{c}\"")
        })?),
    };
    Ok(ServerSpec {
        id,
        host: host.to_string(),
        peer_port,
        election_port,
        role,
        client_addr,
        line,
    })
}

/// Splits `host:rest` or `[v6]:rest`; the host comes back without brackets. A bracketed
/// host must be an IPv6 literal, an unbracketed one a plain name or IPv4 address.
fn split_host(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        let rest = rest.strip_prefix(':')?;
        return Some((host, rest));
    }
    let (host, rest) = s.split_once(':')?;
    let host = host.trim();
    if host.is_empty() || !host.chars().all(is_host_char) {
        return None;
    }
    Some((host, rest))
}

/// Characters of a DNS name or IPv4 address. Anything else (blanks, brackets, slashes) is a
/// typo we would rather report now than as a failed lookup at election time.
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// A TCP port we can listen on or dial: 1..=65535.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(p) => Some(p),
    }
}

/// An IP literal, or `localhost`. Host names are not resolved while parsing: a config
/// parser that did DNS would be slow, flaky and hard to test.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `port`, `ip:port` or `[v6]:port`; a bare port listens on all interfaces, as in Apache.
fn parse_client_addr(s: &str) -> Option<SocketAddr> {
    if let Some(port) = parse_port(s) {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    let (host, port) = s.rsplit_once(':')?;
    let ip = parse_ip(host)?;
    // An unbracketed IPv6 address would split at its last colon; require brackets so that
    // `::1:2181` is not silently read as host `::1`, port 2181.
    if ip.is_ipv6() && !host.trim().starts_with('[') {
        return None;
    }
    Some(SocketAddr::new(ip, parse_port(port.trim())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: &str) -> Result<ServerSpec, String> {
        parse_server_line(1, 1, v)
    }

    #[test]
    fn plain() {
        let s = spec("zoo1.example.com:2888:3888").unwrap();
        assert_eq!(s.host, "zoo1.example.com");
        assert_eq!((s.peer_port, s.election_port), (2888, 3888));
        assert_eq!(s.role, PeerType::Participant);
        assert_eq!(s.client_addr, None);
    }

    #[test]
    fn roles_and_client_addresses() {
        let s = spec("10.0.0.1:2888:3888:observer;2181").unwrap();
        assert_eq!(s.role, PeerType::Observer);
        assert_eq!(s.client_addr, Some("0.0.0.0:2181".parse().unwrap()));
        let s = spec("h:2888:3888:PARTICIPANT;127.0.0.1:2182").unwrap();
        assert_eq!(s.role, PeerType::Participant);
        assert_eq!(s.client_addr, Some("127.0.0.1:2182".parse().unwrap()));
        let s = spec("h:2888:3888 ; [::1]:2183").unwrap();
        assert_eq!(s.client_addr, Some("[::1]:2183".parse().unwrap()));
        let s = spec("h:2888:3888;localhost:2184").unwrap();
        assert_eq!(s.client_addr, Some("127.0.0.1:2184".parse().unwrap()));
    }

    #[test]
    fn ipv6() {
        let s = spec("[::1]:2888:3888").unwrap();
        assert_eq!(s.host, "::1");
        let s = spec("[fe80::1:2]:2888:3888:observer;[fe80::1:2]:2181").unwrap();
        assert_eq!(s.host, "fe80::1:2");
        assert_eq!(s.role, PeerType::Observer);
        assert!(spec("::1:2888:3888").is_err());
        assert!(spec("[::1:2888:3888").is_err());
        assert!(spec("[zoo1]:2888:3888").is_err());
        assert!(spec("[::1]2888:3888").is_err());
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "host",
            "host:2888",
            "host:2888:3888:observer:extra",
            ":2888:3888",
            "ho st:2888:3888",
            "host:0:3888",
            "host:2888:65536",
            "host:x:3888",
            "host:-1:3888",
            "host:2888:2888",
            "host:2888:3888:leader",
            "host:2888:3888;",
            "host:2888:3888;0",
            "host:2888:3888;zoo1:2181",
            "host:2888:3888;::1:2181",
            "host:2888:3888|host2:2888:3888",
        ] {
            assert!(spec(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            spec("host:x:3888").unwrap_err(),
            "peer port must be an integer between 1 and 65535, got \"x\""
        );
    }
}
