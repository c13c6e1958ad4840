//! What a provider wrote into its znode, read as a network endpoint.
//!
//! Two layouts are understood:
//! * the course's: the data is an address, `rmi://host:port/Name`, `http(s)://host[:port]/...`,
//!   any `scheme://host:port...`, or a bare `host:port` (`[v6]:port` for IPv6);
//! * Curator's service discovery: the data is a JSON `ServiceInstance` whose `address` and
//!   `port` (or `sslPort` when there is no plain port) say where the instance listens.
//!
//! Anything else is an [`AddressError`]: the registry skips that member and reports it;
//! data from the network never stops the gateway.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use serde_json::Value;

/// The data is JSON when its first non-blank byte opens an object.
pub fn is_json(data: &[u8]) -> bool {
    data.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// How a host was written, which is also the EndpointSlice `addressType` it goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum HostKind {
    IPv4,
    IPv6,
    #[serde(rename = "FQDN")]
    Fqdn,
}

/// Where a provider listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// `rmi`, `http`, ...; none for a bare `host:port` or a Curator instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The host as written (an IPv6 address without its brackets).
    pub host: String,
    pub kind: HostKind,
    pub port: u16,
    /// What follows the authority: the RMI name, the URL path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// What a Curator `ServiceInstance` says besides its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratorInstance {
    pub endpoint: Endpoint,
    /// The instance's `name` field (its service's name).
    pub name: Option<String>,
    /// The instance's `id` field.
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the data is empty")]
    Empty,
    #[error("the data is not UTF-8")]
    NotUtf8,
    #[error("no port in {0:?} and none implied by its scheme")]
    MissingPort(String),
    #[error("bad port {port:?} in {address:?}")]
    BadPort { address: String, port: String },
    #[error("bad host {host:?} in {address:?}")]
    BadHost { address: String, host: String },
    #[error("not a Curator service instance: {0}")]
    BadJson(String),
}

/// The ports schemes imply when an address names none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "rmi" => Some(1099),
        _ => None,
    }
}

/// Reads a course-style address (`rmi://host:port/Name`, `host:port`, ...).
pub fn parse_address(data: &[u8]) -> Result<Endpoint, AddressError> {
    let text = std::str::from_utf8(data).map_err(|_| AddressError::NotUtf8)?;
    let address = text.trim();
    if address.is_empty() {
        return Err(AddressError::Empty);
    }
    let (scheme, rest) = match address.split_once("://") {
        Some((s, rest)) if is_scheme(s) => (Some(s.to_string()), rest),
        _ => (None, address),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // user:password@host:port
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(address, authority)?;
    let port = match port {
        Some(p) => parse_port(address, p)?,
        None => scheme
            .as_deref()
            .and_then(default_port)
            .ok_or_else(|| AddressError::MissingPort(address.to_string()))?,
    };
    let kind = host_kind(address, host)?;
    let path = tail.trim_start_matches('/');
    Ok(Endpoint {
        scheme,
        host: host.to_string(),
        kind,
        port,
        path: (!path.is_empty()).then(|| path.to_string()),
    })
}

/// Reads a Curator `ServiceInstance` (`JsonInstanceSerializer`'s format).
pub fn parse_curator(data: &[u8]) -> Result<CuratorInstance, AddressError> {
    let value: Value =
        serde_json::from_slice(data).map_err(|e| AddressError::BadJson(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| AddressError::BadJson("not a JSON object".to_string()))?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    let address = text("address")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| AddressError::BadJson("no \"address\"".to_string()))?;
    let port = ["port", "sslPort"]
        .iter()
        .find_map(|key| object.get(*key).filter(|v| !v.is_null()))
        .ok_or_else(|| AddressError::MissingPort(address.clone()))?;
    let port = port
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| AddressError::BadPort {
            address: address.clone(),
            port: port.to_string(),
        })?;
    // Curator writes IPv6 addresses bare; brackets are tolerated.
    let host = address.trim_start_matches('[').trim_end_matches(']');
    let kind = host_kind(&address, host)?;
    Ok(CuratorInstance {
        endpoint: Endpoint {
            scheme: None,
            host: host.to_string(),
            kind,
            port,
            path: None,
        },
        name: text("name"),
        id: text("id"),
    })
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `host:port`, `[v6]:port`, `[v6]`, `host`; an unbracketed IPv6 address has no port.
fn split_host_port<'a>(
    address: &str,
    authority: &'a str,
) -> Result<(&'a str, Option<&'a str>), AddressError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| AddressError::BadHost {
            address: address.to_string(),
            host: authority.to_string(),
        })?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(AddressError::BadHost {
                    address: address.to_string(),
                    host: authority.to_string(),
                }),
            },
        };
    }
    if authority.matches(':').count() > 1 {
        return Ok((authority, None));
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn parse_port(address: &str, port: &str) -> Result<u16, AddressError> {
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| AddressError::BadPort {
            address: address.to_string(),
            port: port.to_string(),
        })
}

fn host_kind(address: &str, host: &str) -> Result<HostKind, AddressError> {
    if host.parse::<Ipv4Addr>().is_ok() {
        Ok(HostKind::IPv4)
    } else if host.parse::<Ipv6Addr>().is_ok() {
        Ok(HostKind::IPv6)
    } else if is_hostname(host) {
        Ok(HostKind::Fqdn)
    } else {
        Err(AddressError::BadHost {
            address: address.to_string(),
            host: host.to_string(),
        })
    }
}

/// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
fn is_hostname(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(data: &str) -> Endpoint {
        parse_address(data.as_bytes()).unwrap_or_else(|e| panic!("{data:?}: {e}"))
    }

    #[test]
    fn the_courses_rmi_address_gives_host_port_and_name() {
        let e = ok("rmi://10.0.0.7:1099/HelloService");
        assert_eq!(e.scheme.as_deref(), Some("rmi"));
        assert_eq!(
            (e.host.as_str(), e.port, e.kind),
            ("10.0.0.7", 1099, HostKind::IPv4)
        );
        assert_eq!(e.path.as_deref(), Some("HelloService"));
        assert_eq!(ok("rmi://box.example/Hello").port, 1099);
    }

    #[test]
    fn urls_and_bare_addresses_are_read() {
        let e = ok("http://svc.ns.svc.cluster.local:8080/api/v1?x=1");
        assert_eq!(
            (e.host.as_str(), e.port, e.kind),
            ("svc.ns.svc.cluster.local", 8080, HostKind::Fqdn)
        );
        assert_eq!(e.path.as_deref(), Some("api/v1?x=1"));
        assert_eq!(ok("https://user:pw@example.com/").port, 443);
        assert_eq!(ok("http://example.com").port, 80);
        let e = ok(" 127.0.0.1:9000\n");
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (None, "127.0.0.1", 9000)
        );
        let e = ok("[fd00::1]:8443");
        assert_eq!(
            (e.host.as_str(), e.port, e.kind),
            ("fd00::1", 8443, HostKind::IPv6)
        );
        let e = ok("grpc://[::1]:50051/pkg.Svc");
        assert_eq!(
            (e.host.as_str(), e.port, e.kind),
            ("::1", 50051, HostKind::IPv6)
        );
    }

    #[test]
    fn bad_addresses_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"\xff\xfe",
            b"host-only",
            b"tcp://host/no-port",
            b"10.0.0.1:0",
            b"10.0.0.1:65536",
            b"10.0.0.1:http",
            b"bad_host!:80",
            b"[::1",
            b"[::1]x",
            b"::1",
            b"-lead.example:80",
            b"a..b:80",
            b"://:",
            b":80",
        ];
        for data in cases {
            assert!(
                parse_address(data).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// Arbitrary bytes, and mutations of good addresses and instances, give a value or an
    /// error: never a panic. Seeded, so a failure replays.
    #[test]
    fn no_input_makes_the_parsers_panic() {
        let seeds: &[&[u8]] = &[
            b"rmi://10.0.0.7:1099/HelloService",
            b"[fd00::1]:8443",
            br#"{"address":"10.1.2.3","port":8080,"sslPort":null}"#,
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let mut data = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 6) {
                let at = (next() as usize) % (data.len() + 1);
                match next() % 3 {
                    0 => data.insert(at, next() as u8),
                    1 if at < data.len() => {
                        data.remove(at);
                    }
                    _ if at < data.len() => {
                        const SPECIAL: &[u8] = b":/[]{}\"0.%@";
                        data[at] = SPECIAL[(next() as usize) % SPECIAL.len()];
                    }
                    _ => {}
                }
            }
            let _ = parse_address(&data);
            let _ = parse_curator(&data);
        }
    }

    #[test]
    fn a_curator_instance_gives_address_and_port() {
        let json = br#"{"name":"billing","id":"6f1e","address":"10.1.2.3","port":8080,
            "sslPort":null,"payload":null,"registrationTimeUTC":1700000000000,
            "serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true}]}}"#;
        assert!(is_json(json));
        let i = parse_curator(json).unwrap();
        assert_eq!(
            (i.endpoint.host.as_str(), i.endpoint.port),
            ("10.1.2.3", 8080)
        );
        assert_eq!(
            (i.name.as_deref(), i.id.as_deref()),
            (Some("billing"), Some("6f1e"))
        );
        let ssl = parse_curator(br#"{"address":"fd00::2","port":null,"sslPort":8443}"#).unwrap();
        assert_eq!(
            (ssl.endpoint.kind, ssl.endpoint.port),
            (HostKind::IPv6, 8443)
        );
    }

    #[test]
    fn bad_curator_instances_are_errors() {
        let cases: &[&[u8]] = &[
            b"{",
            b"[1,2]",
            b"{}",
            br#"{"address":"10.0.0.1"}"#,
            br#"{"address":"10.0.0.1","port":null}"#,
            br#"{"address":"10.0.0.1","port":70000}"#,
            br#"{"address":"10.0.0.1","port":-1}"#,
            br#"{"address":"10.0.0.1","port":"80"}"#,
            br#"{"address":"","port":80}"#,
            br#"{"address":"no spaces","port":80}"#,
            br#"{"address":17,"port":80}"#,
        ];
        for data in cases {
            assert!(
                parse_curator(data).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(data)
            );
        }
    }
}
