//! The ensemble configuration as `/zookeeper/config` holds it, and the client's server list
//! built from it.
//!
//! The text is what Apache's `QuorumVerifier.toString()` writes (and zkrs-server the same):
//! one line per server, `server.<id>=<host>:<quorum port>:<election port>[:<role>][;<client>]`
//! where the role is `participant` (the default) or `observer` and the client part is
//! `[<host>:]<port>`, then `version=<hex>`, the zxid of the transaction that committed it.
//! Dynamic config files have the same server lines (without `version=`). Weights and groups
//! (`weight.N=`, `group.N=`) belong to hierarchical quorums and are kept aside.

use std::fmt;

use crate::error::{Error, Result};

/// What a server does in the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    /// A voting member.
    Participant,
    /// A non-voting member that serves reads and forwards writes.
    Observer,
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerRole::Participant => "participant",
            ServerRole::Observer => "observer",
        })
    }
}

/// One `server.N=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// `N`, the server's `myid`.
    pub id: u64,
    /// The host of the quorum and election addresses.
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub role: ServerRole,
    /// Where clients connect, `(host, port)`: the host is `0.0.0.0` when the line names
    /// only a port (the server listens on every address).
    pub client: Option<(String, u16)>,
}

impl ServerEntry {
    /// `host:port` a client connects to, if the server takes clients. A wildcard client
    /// host (`0.0.0.0`, `::`) is replaced by the server's own host, which is reachable.
    pub fn client_address(&self) -> Option<String> {
        let (host, port) = self.client.as_ref()?;
        let host = if matches!(host.as_str(), "0.0.0.0" | "::" | "[::]" | "0:0:0:0:0:0:0:0") {
            self.host.as_str()
        } else {
            host.as_str()
        };
        Some(if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        })
    }
}

/// A parsed ensemble configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsembleConfig {
    /// The servers, sorted by id.
    pub servers: Vec<ServerEntry>,
    /// `version=`, if the text has one (dynamic config files do not).
    pub version: Option<i64>,
    /// Other `key=value` lines (`weight.N`, `group.N`), as given.
    pub other: Vec<(String, String)>,
}

impl EnsembleConfig {
    /// Parses the text of `/zookeeper/config` or of a dynamic config file. Blank lines and
    /// `#` comments are skipped; entries may also be separated by commas, as in a reconfig's
    /// member list.
    pub fn parse(text: &str) -> Result<EnsembleConfig> {
        let mut config = EnsembleConfig::default();
        for entry in text
            .split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let bad = |why: &str| Error::InvalidArgument(format!("config entry {entry:?}: {why}"));
            let (key, value) = entry.split_once('=').ok_or_else(|| bad("no `=`"))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "version" {
                let v = i64::from_str_radix(value, 16).map_err(|_| bad("version is not hex"))?;
                config.version = Some(v);
            } else if let Some(id) = key.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| bad("server id is not a number"))?;
                if config.servers.iter().any(|s| s.id == id) {
                    return Err(bad("server listed twice"));
                }
                config
                    .servers
                    .push(parse_server(id, value).map_err(|why| bad(&why))?);
            } else {
                config.other.push((key.to_string(), value.to_string()));
            }
        }
        config.servers.sort_by_key(|s| s.id);
        Ok(config)
    }

    /// The server with `id`.
    pub fn server(&self, id: u64) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Ids of the voting members.
    pub fn participants(&self) -> Vec<u64> {
        self.ids(ServerRole::Participant)
    }

    /// Ids of the observers.
    pub fn observers(&self) -> Vec<u64> {
        self.ids(ServerRole::Observer)
    }

    fn ids(&self, role: ServerRole) -> Vec<u64> {
        self.servers
            .iter()
            .filter(|s| s.role == role)
            .map(|s| s.id)
            .collect()
    }

    /// A connect string of every server's client address (participants and observers, in
    /// id order), with `chroot` appended if given. Servers without a client part are left
    /// out. Fails if no server takes clients.
    pub fn connect_string(&self, chroot: Option<&str>) -> Result<String> {
        let hosts: Vec<String> = self
            .servers
            .iter()
            .filter_map(ServerEntry::client_address)
            .collect();
        if hosts.is_empty() {
            return Err(Error::InvalidArgument(
                "the configuration names no client address".into(),
            ));
        }
        Ok(format!("{}{}", hosts.join(","), chroot.unwrap_or("")))
    }
}

/// `host:quorum:election[:role][;client]`.
fn parse_server(id: u64, value: &str) -> std::result::Result<ServerEntry, String> {
    let (peer, client) = match value.split_once(';') {
        Some((p, c)) => (p.trim(), Some(c.trim())),
        None => (value, None),
    };
    let (host, rest) = split_host(peer)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let port = |s: &str| s.parse::<u16>().map_err(|_| format!("invalid port {s:?}"));
    let (quorum_port, election_port, role) = match parts.as_slice() {
        [q, e] => (port(q)?, port(e)?, ServerRole::Participant),
        [q, e, r] => (
            port(q)?,
            port(e)?,
            match r.to_ascii_lowercase().as_str() {
                "participant" => ServerRole::Participant,
                "observer" => ServerRole::Observer,
                other => return Err(format!("unknown role {other:?}")),
            },
        ),
        _ => return Err("expected host:quorumPort:electionPort[:role]".into()),
    };
    let client = match client {
        None | Some("") => None,
        Some(c) => Some(match c.parse::<u16>() {
            Ok(p) => ("0.0.0.0".to_string(), p),
            Err(_) => {
                let (h, p) = split_host(c)?;
                (h, port(p)?)
            }
        }),
    };
    Ok(ServerEntry {
        id,
        host,
        quorum_port,
        election_port,
        role,
        client,
    })
}

/// Splits `host:rest` (`[v6]:rest` for IPv6) at the host's end.
fn split_host(s: &str) -> std::result::Result<(String, &str), String> {
    if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']').ok_or("unclosed '['")?;
        let rest = inner[end + 1..]
            .strip_prefix(':')
            .ok_or("expected ':' after ']'")?;
        return Ok((inner[..end].to_string(), rest));
    }
    let (host, rest) = s.split_once(':').ok_or("expected host:port")?;
    if host.is_empty() {
        return Err("empty host".into());
    }
    Ok((host.to_string(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Apache 3.8 wrote `/zookeeper/config` for a test ensemble.
    const APACHE: &str = "server.1=127.1.0.1:2888:3888:participant;127.1.0.1:2181\n\
                          server.2=127.1.0.2:2888:3888:participant;127.1.0.2:2181\n\
                          server.3=127.1.0.3:2888:3888:observer;127.1.0.3:2182\n\
                          version=10000000b";

    #[test]
    fn parses_servers_roles_client_parts_and_the_hex_version() {
        let c = EnsembleConfig::parse(APACHE).unwrap();
        assert_eq!(c.version, Some(0x1_0000_000b));
        assert_eq!(c.participants(), vec![1, 2]);
        assert_eq!(c.observers(), vec![3]);
        let s3 = c.server(3).unwrap();
        assert_eq!(
            (s3.host.as_str(), s3.quorum_port, s3.election_port),
            ("127.1.0.3", 2888, 3888)
        );
        assert_eq!(s3.client, Some(("127.1.0.3".to_string(), 2182)));
        assert_eq!(
            c.connect_string(None).unwrap(),
            "127.1.0.1:2181,127.1.0.2:2181,127.1.0.3:2182"
        );
        assert_eq!(
            c.connect_string(Some("/app")).unwrap(),
            "127.1.0.1:2181,127.1.0.2:2181,127.1.0.3:2182/app"
        );
    }

    #[test]
    fn parses_the_other_forms_of_a_server_line() {
        let c = EnsembleConfig::parse(
            "# a dynamic file\nserver.2 = zk2:2888:3888;2181\n\nserver.1=[::1]:2888:3888:OBSERVER;[::1]:2181\n\
             server.3=zk3:2888:3888\nweight.1=1",
        )
        .unwrap();
        assert_eq!(c.version, None, "dynamic files have no version line");
        assert_eq!(
            c.servers.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(c.server(1).unwrap().role, ServerRole::Observer);
        assert_eq!(c.server(1).unwrap().host, "::1");
        // A port alone means every address; the client connects to the server's host.
        assert_eq!(
            c.server(2).unwrap().client,
            Some(("0.0.0.0".to_string(), 2181))
        );
        assert_eq!(c.server(3).unwrap().client, None);
        assert_eq!(c.other, vec![("weight.1".to_string(), "1".to_string())]);
        assert_eq!(c.connect_string(None).unwrap(), "[::1]:2181,zk2:2181");
        // Comma-separated, as a reconfig's member list.
        let c = EnsembleConfig::parse("server.1=a:1:2;3,server.2=b:1:2;3").unwrap();
        assert_eq!(c.connect_string(None).unwrap(), "a:3,b:3");
    }

    #[test]
    fn refuses_what_is_not_a_config() {
        for bad in [
            "server.x=a:1:2;3",
            "server.1=a:1;3",
            "server.1=a:1:2:voter;3",
            "server.1=a:1:2;b:x",
            "server.1=:1:2",
            "version=xyz",
            "server.1=a:1:2\nserver.1=b:1:2",
            "just text",
        ] {
            assert!(EnsembleConfig::parse(bad).is_err(), "{bad:?}");
        }
        let none = EnsembleConfig::parse("server.1=a:1:2\nversion=1").unwrap();
        assert!(none.connect_string(None).is_err());
    }
}

/// The server list following a reconfig, against a real dynamic ensemble of the kinds
/// `ZKRS_ENSEMBLE` chooses (these belong with the client's integration tests; they live
/// here beside the code they exercise).
#[cfg(test)]
mod against_an_ensemble {
    use std::time::{Duration, Instant};

    use zkrs_tests::reconfig::{config, SUPER_PASSWORD};
    use zkrs_tests::{zk, Ensemble};

    use crate::{Client, CreateMode, Error};

    const LIMIT: Duration = Duration::from_secs(120);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_survives_the_removal_of_its_server() {
        let mut ensemble =
            tokio::task::block_in_place(|| Ensemble::from_env_dynamic(3, 0, config()));
        let leader = ensemble.leader().expect("a leader");
        let doomed = (leader + 1) % 3;
        let doomed_addr = ensemble.member(doomed).addr();
        // The client starts with only the member that will be removed.
        let client = Client::builder(&doomed_addr.to_string())
            .session_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect");
        let session = client.session_id();
        let config = client
            .update_server_list_from_config()
            .await
            .expect("the server list from the config");
        assert_eq!(config.participants(), vec![1, 2, 3]);
        let follower = client.follow_config();
        let (_, before, watcher) = client.get_config_and_watch().await.expect("getConfig");

        let admin = ensemble.super_client_of(leader, SUPER_PASSWORD).await;
        let id = ensemble.member(doomed).id.to_string();
        let update = zk::EnsembleUpdate::Incremental {
            joinings: [""].into_iter(),
            leavings: [id.as_str()].into_iter(),
        };
        tokio::time::timeout(LIMIT, admin.update_ensemble(update, None))
            .await
            .expect("the reconfig in time")
            .expect("the reconfig");

        let event = tokio::time::timeout(LIMIT, watcher)
            .await
            .expect("the config watch fires");
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (crate::EventType::NodeDataChanged, crate::CONFIG_NODE)
        );
        // The session may be moving off the removed member (follow_config) right now.
        let start = Instant::now();
        let after = loop {
            match client.get_config().await {
                Ok((_, stat)) => break stat,
                Err(Error::ConnectionLoss) if start.elapsed() < LIMIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("getConfig: {e}"),
            }
        };
        assert!(
            after.mzxid > before.mzxid,
            "the config's version is its zxid"
        );
        // The config watch moves the session off the removed member, which may then stop.
        let start = Instant::now();
        while client.connected_server() == Some(doomed_addr) {
            assert!(
                start.elapsed() < LIMIT,
                "the session stayed on the removed member"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ensemble.kill9(doomed);
        let start = Instant::now();
        loop {
            match client.create("/after", b"x", CreateMode::Persistent).await {
                Ok(_) | Err(Error::NodeExists) => break,
                Err(Error::ConnectionLoss) if start.elapsed() < LIMIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("create after the removal: {e}"),
            }
        }
        assert_eq!(client.session_id(), session, "the same session");
        assert_ne!(client.connected_server(), Some(doomed_addr));
        let (data, _) = client.get_data("/after").await.expect("read back");
        assert_eq!(data, b"x");
        follower.abort();
        client.close().await;
    }
}
