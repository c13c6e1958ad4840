//! Parsing connect strings: `host:port,host:port/chroot`.

use crate::chroot::Chroot;
use crate::error::{Error, Result};

/// The port used when a host names none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string: the servers to try and the chroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// `(host, port)` pairs in the order given; the client tries them in random order.
    pub hosts: Vec<(String, u16)>,
    pub chroot: Chroot,
}

impl ConnectString {
    /// Parses `h1:2181,h2:2181/app`. IPv6 addresses go in brackets (`[::1]:2181`); a missing
    /// port means 2181.
    pub fn parse(s: &str) -> Result<ConnectString> {
        let bad = |why: &str| Error::InvalidConnectString(format!("{s:?}: {why}"));
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (
                &s[..i],
                Chroot::new(&s[i..]).map_err(|e| bad(&e.to_string()))?,
            ),
            None => (s, Chroot::default()),
        };
        let mut hosts = Vec::new();
        for item in hosts_part.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (host, port) = if let Some(rest) = item.strip_prefix('[') {
                let end = rest.find(']').ok_or_else(|| bad("unclosed '['"))?;
                let host = &rest[..end];
                let after = &rest[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
                    None if after.is_empty() => DEFAULT_PORT,
                    None => return Err(bad("junk after ']'")),
                };
                (host, port)
            } else {
                match item.rsplit_once(':') {
                    Some((h, p)) => (h, p.parse().map_err(|_| bad("invalid port"))?),
                    None => (item, DEFAULT_PORT),
                }
            };
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            hosts.push((host.to_string(), port));
        }
        if hosts.is_empty() {
            return Err(bad("no host"));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let c = ConnectString::parse("a:1,b,[::1]:3/app/x").unwrap();
        assert_eq!(
            c.hosts,
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), DEFAULT_PORT),
                ("::1".to_string(), 3)
            ]
        );
        assert_eq!(c.chroot.prefix(), Some("/app/x"));
        let c = ConnectString::parse("127.0.0.1:2181/").unwrap();
        assert_eq!(c.chroot.prefix(), None);
        assert!(ConnectString::parse("").is_err());
        assert!(ConnectString::parse("/app").is_err());
        assert!(ConnectString::parse("a:x").is_err());
        assert!(ConnectString::parse("a:1/app/").is_err());
    }
}
