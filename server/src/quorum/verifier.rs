//! The ensemble's membership as a value: Apache's `QuorumMaj` ("quorum verifier").
//!
//! A [`QuorumVerifier`] is the set of members (voters and observers, with their addresses)
//! and the configuration's version, the zxid of the `reconfig` that committed it (0 for a
//! configuration that only came from `zoo.cfg`). It is what `/zookeeper/config` holds, what
//! NEWLEADER and election notifications carry, and what a `reconfig` request is turned into
//! by [`QuorumVerifier::incremental`] or [`QuorumVerifier::bulk`]. Pure: no I/O; the
//! dynamic config files are written by the member from [`QuorumVerifier::dynamic_file_text`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::servers::parse_server_line;
use crate::config::{join_host_port, PeerType, ServerSpec};

/// Why a configuration text or a reconfig request could not be turned into a verifier.
/// Each becomes `BadArguments` for a client, as in Apache's `PrepRequestProcessor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> VerifierError {
    VerifierError::Invalid(msg.into())
}

/// Members and version of one ensemble configuration (majority quorums).
#[derive(Debug, Clone)]
pub struct QuorumVerifier {
    /// The zxid of the reconfig that made it; 0 for a configuration from `zoo.cfg` alone.
    pub version: i64,
    members: BTreeMap<u64, ServerSpec>,
}

impl QuorumVerifier {
    pub fn new(members: impl IntoIterator<Item = ServerSpec>, version: i64) -> QuorumVerifier {
        QuorumVerifier {
            version,
            members: members.into_iter().map(|s| (s.id, s)).collect(),
        }
    }

    /// The membership a config file gave (its `server.N` lines and the dynamic file's
    /// version).
    pub fn from_config(config: &crate::config::Config) -> QuorumVerifier {
        QuorumVerifier::new(config.servers.iter().cloned(), config.config_version)
    }

    /// Parses `server.N=...` lines and an optional `version=<hex>` line, the text of
    /// `/zookeeper/config`, of NEWLEADER's data and of a notification's config
    /// (Apache's `QuorumPeer.configFromString`). Lines may also be separated by commas.
    pub fn parse(text: &str) -> Result<QuorumVerifier, VerifierError> {
        let mut members = BTreeMap::new();
        let mut version = 0;
        for (i, raw) in text.split(['\n', ',']).enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| invalid(format!("expected key=value, got \"{line}\"")))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "version" {
                version = i64::from_str_radix(value, 16).map_err(|_| {
                    invalid(format!("version must be hexadecimal, got \"{value}\""))
                })?;
            } else if let Some(n) = key.strip_prefix("server.") {
                let spec = server_spec(n, i + 1, value)?;
                if members.insert(spec.id, spec).is_some() {
                    return Err(invalid(format!("{key} appears twice")));
                }
            } else if key.starts_with("group.") || key.starts_with("weight.") {
                return Err(invalid(
                    "hierarchical quorums (group.N, weight.N) are not supported",
                ));
            } else {
                return Err(invalid(format!("unexpected key \"{key}\"")));
            }
        }
        Ok(QuorumVerifier { version, members })
    }

    /// The members in id order.
    pub fn members(&self) -> impl Iterator<Item = &ServerSpec> {
        self.members.values()
    }

    pub fn member(&self, id: u64) -> Option<&ServerSpec> {
        self.members.get(&id)
    }

    pub fn voters(&self) -> BTreeSet<u64> {
        self.ids(PeerType::Participant)
    }

    pub fn observers(&self) -> BTreeSet<u64> {
        self.ids(PeerType::Observer)
    }

    fn ids(&self, role: PeerType) -> BTreeSet<u64> {
        self.members
            .values()
            .filter(|s| s.role == role)
            .map(|s| s.id)
            .collect()
    }

    pub fn is_voter(&self, id: u64) -> bool {
        self.members
            .get(&id)
            .is_some_and(|s| s.role == PeerType::Participant)
    }

    /// Whether `ids` hold more than half of the voters (`QuorumMaj.containsQuorum`).
    pub fn contains_quorum(&self, ids: &BTreeSet<u64>) -> bool {
        let voters = self.voters();
        let counted = ids.iter().filter(|id| voters.contains(id)).count();
        counted * 2 > voters.len()
    }

    /// The members without the version line: a `zoo.cfg.dynamic.<version>` file's text.
    pub fn dynamic_file_text(&self) -> String {
        let mut out = String::new();
        for s in self.members.values() {
            out.push_str(&format!("server.{}={}\n", s.id, server_value(s)));
        }
        out
    }

    /// An incremental `reconfig`: `leaving` is a comma-separated list of ids,
    /// `joining` of `server.N=spec` entries (a joining id that exists already replaces
    /// that member: a role or address change). The result has no version yet.
    pub fn incremental(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
    ) -> Result<QuorumVerifier, VerifierError> {
        let mut next = self.members.clone();
        for id in leaving.into_iter().flat_map(|l| l.split(',')) {
            let id = id.trim();
            if id.is_empty() {
                continue;
            }
            let sid: u64 = id
                .parse()
                .map_err(|_| invalid(format!("server id must be a number, got \"{id}\"")))?;
            next.remove(&sid);
        }
        for joiner in joining.into_iter().flat_map(|j| j.split(',')) {
            let joiner = joiner.trim();
            if joiner.is_empty() {
                continue;
            }
            let parts: Vec<&str> = joiner.split('=').collect();
            let [key, value] = parts.as_slice() else {
                return Err(invalid("Wrong format of server string"));
            };
            let n = key.rsplit('.').next().unwrap_or_default();
            let spec = server_spec(n, 0, value)?;
            if spec.client_addr.is_none() {
                return Err(invalid(
                    "Wrong format of server string - each server should have at least 3 ports specified",
                ));
            }
            for other in next.values() {
                if other.id != spec.id && same_address(other, &spec) {
                    return Err(invalid("Reconfiguration failed"));
                }
            }
            next.insert(spec.id, spec);
        }
        Ok(QuorumVerifier {
            version: 0,
            members: next,
        })
    }

    /// A bulk `reconfig` (`newMembers`): the whole membership, lines separated by commas
    /// or newlines. The result has no version yet.
    pub fn bulk(new_members: &str) -> Result<QuorumVerifier, VerifierError> {
        let mut qv = QuorumVerifier::parse(new_members)?;
        qv.version = 0;
        Ok(qv)
    }
}

/// Same version and members (where in a file a member was read does not matter).
impl PartialEq for QuorumVerifier {
    fn eq(&self, other: &QuorumVerifier) -> bool {
        let key = |s: &ServerSpec| {
            (
                s.id,
                s.host.clone(),
                s.peer_port,
                s.election_port,
                s.role,
                s.client_addr,
            )
        };
        self.version == other.version
            && self.members.len() == other.members.len()
            && self
                .members
                .values()
                .zip(other.members.values())
                .all(|(a, b)| key(a) == key(b))
    }
}

impl Eq for QuorumVerifier {}

/// Apache's `QuorumMaj.toString()`: `server.N=host:quorumPort:electionPort:role[;client]`
/// lines in id order, then `version=<hex>`.
impl fmt::Display for QuorumVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dynamic_file_text())?;
        write!(f, "version={:x}", self.version)
    }
}

fn server_spec(n: &str, line: usize, value: &str) -> Result<ServerSpec, VerifierError> {
    let id: u64 = n
        .trim()
        .parse()
        .map_err(|_| invalid(format!("server id must be a number, got \"{n}\"")))?;
    parse_server_line(id, line, value).map_err(VerifierError::Invalid)
}

/// `QuorumServer.toString()`: the client address only when the line gave one.
fn server_value(s: &ServerSpec) -> String {
    let mut v = format!(
        "{}:{}:{}",
        join_host_port(&s.host, s.peer_port),
        s.election_port,
        s.role
    );
    if let Some(c) = s.client_addr {
        v.push(';');
        v.push_str(&join_host_port(&c.ip().to_string(), c.port()));
    }
    v
}

/// Apache's `checkAddressDuplicate`: two members may not share a quorum or election address.
fn same_address(a: &ServerSpec, b: &ServerSpec) -> bool {
    let ends = |s: &ServerSpec| {
        [
            join_host_port(&s.host, s.peer_port),
            join_host_port(&s.host, s.election_port),
        ]
    };
    let (x, y) = (ends(a), ends(b));
    x.iter().any(|e| y.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                         server.2=127.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
                         server.3=127.0.0.3:2888:3888:participant;0.0.0.0:2181\n\
                         version=100000000";

    #[test]
    fn apache_config_strings_round_trip() {
        let qv = QuorumVerifier::parse(THREE).unwrap();
        assert_eq!(qv.version, 0x1_0000_0000);
        assert_eq!(qv.voters(), BTreeSet::from([1, 2, 3]));
        assert_eq!(qv.to_string(), THREE);
        let observer = "server.1=[::1]:2888:3888:participant\nserver.4=h4:2888:3888:observer;127.0.0.4:2181\nversion=0";
        let qv = QuorumVerifier::parse(observer).unwrap();
        assert_eq!(qv.to_string(), observer);
        assert_eq!(qv.observers(), BTreeSet::from([4]));
        assert!(!qv.is_voter(4));
    }

    #[test]
    fn a_dynamic_file_has_no_version_line() {
        let qv = QuorumVerifier::parse(THREE).unwrap();
        assert!(!qv.dynamic_file_text().contains("version"));
        assert_eq!(qv.dynamic_file_text().lines().count(), 3);
    }

    #[test]
    fn majority_of_voters_only() {
        let qv = QuorumVerifier::parse(
            "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2:observer",
        )
        .unwrap();
        assert!(qv.contains_quorum(&BTreeSet::from([1, 2])));
        assert!(!qv.contains_quorum(&BTreeSet::from([1, 4])));
    }

    #[test]
    fn incremental_adds_removes_and_changes_roles() {
        let qv = QuorumVerifier::parse(THREE).unwrap();
        let next = qv
            .incremental(
                Some("server.4=127.0.0.4:2888:3888:participant;2181,server.3=127.0.0.3:2888:3888:observer;2181"),
                Some("1"),
            )
            .unwrap();
        assert_eq!(next.voters(), BTreeSet::from([2, 4]));
        assert_eq!(next.observers(), BTreeSet::from([3]));
        assert_eq!(next.version, 0);
    }

    #[test]
    fn incremental_refuses_what_apache_refuses() {
        let qv = QuorumVerifier::parse(THREE).unwrap();
        let no_client = qv.incremental(Some("server.4=127.0.0.4:2888:3888"), None);
        assert!(no_client
            .unwrap_err()
            .to_string()
            .contains("at least 3 ports"));
        let clash = qv.incremental(Some("server.4=127.0.0.1:2888:3999;2181"), None);
        assert_eq!(
            clash.unwrap_err().to_string(),
            "Reconfiguration failed",
            "a quorum address another member has"
        );
        assert!(qv.incremental(Some("server.4"), None).is_err());
        assert!(qv.incremental(None, Some("x")).is_err());
    }

    #[test]
    fn bulk_takes_commas_or_newlines() {
        let qv = QuorumVerifier::bulk(
            "server.1=127.0.0.1:2888:3888;2181,server.2=127.0.0.2:2888:3888;2181",
        )
        .unwrap();
        assert_eq!(qv.voters(), BTreeSet::from([1, 2]));
        assert!(QuorumVerifier::bulk("group.1=1:2").is_err());
    }
}
