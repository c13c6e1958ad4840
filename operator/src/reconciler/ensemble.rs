//! Asking the ensemble itself: the committed `/zookeeper/config` (through zkrs-client), each
//! pod's member's `srvr` Mode line, and changing the membership with `reconfig` as the
//! super user.
//!
//! A trait, so the reconciler's tests answer for the ensemble.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::addresses::MemberAddresses;
use crate::crd::Member;
use crate::planner::{EnsembleView, MemberMode, Reconfig};
use crate::validate::Cluster;

/// Why the ensemble could not be asked or did not do what was asked. Not fatal: the status
/// keeps its last answer and the next reconcile looks again.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error("connecting to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("reading /zookeeper/config: {0}")]
    Config(String),
    #[error("reconfig {what}: {message}")]
    Reconfig { what: String, message: String },
}

/// Something that can tell what the ensemble of a cluster looks like, and change it.
pub trait Ensemble: Send + Sync {
    /// The committed configuration and the modes of the members of pods `1..=pods`.
    fn observe<'a>(
        &'a self,
        cluster: &'a Cluster,
        pods: u32,
    ) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>>;

    /// Sends `change` as the super user with `password`; returns the new configuration's
    /// version (hex).
    fn reconfig<'a>(
        &'a self,
        cluster: &'a Cluster,
        pods: u32,
        change: Reconfig,
        password: &'a str,
    ) -> BoxFuture<'a, Result<String, EnsembleError>>;
}

/// The real ensemble, over the network.
pub struct ZkEnsemble {
    /// Per connection and per `srvr`.
    pub timeout: Duration,
    pub addresses: Arc<dyn MemberAddresses>,
}

impl ZkEnsemble {
    fn connect_string(&self, c: &Cluster, pods: u32) -> String {
        let ids = 1..=u64::from(pods.max(1));
        let all: Vec<String> = ids.map(|id| self.addresses.client_address(c, id)).collect();
        all.join(",")
    }

    async fn client(
        &self,
        connect: &str,
        password: Option<&str>,
    ) -> Result<zkrs_client::Client, EnsembleError> {
        let mut builder = zkrs_client::Client::builder(connect)
            .connect_timeout(self.timeout)
            .session_timeout(Duration::from_secs(10));
        if let Some(p) = password {
            builder = builder.auth("digest", format!("super:{p}").as_bytes());
        }
        builder.connect().await.map_err(|e| EnsembleError::Connect {
            target: connect.to_string(),
            message: e.to_string(),
        })
    }
}

impl Ensemble for ZkEnsemble {
    fn observe<'a>(
        &'a self,
        c: &'a Cluster,
        pods: u32,
    ) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>> {
        Box::pin(async move {
            let connect = self.connect_string(c, pods);
            let client = self.client(&connect, None).await?;
            let config = client.get_config().await;
            client.close().await;
            let (data, _stat) = config.map_err(|e| EnsembleError::Config(e.to_string()))?;
            let (members, config_version) = parse_config(&String::from_utf8_lossy(&data));
            // Every member at once: a member that hangs costs one timeout, not one each.
            let probes = (1..=u64::from(pods)).map(|id| {
                let address = self.addresses.client_address(c, id);
                async move {
                    let mode = match srvr(&address, self.timeout).await {
                        Ok(text) => member_mode(&text),
                        Err(_) => MemberMode::NotServing,
                    };
                    (id, mode)
                }
            });
            let modes: BTreeMap<u64, MemberMode> = futures::future::join_all(probes)
                .await
                .into_iter()
                .collect();
            let leader = modes
                .iter()
                .find(|(_, m)| **m == MemberMode::Leader)
                .map(|(id, _)| format!("{}-{}", c.name, id - 1));
            Ok(EnsembleView {
                members,
                leader,
                config_version,
                modes,
            })
        })
    }

    fn reconfig<'a>(
        &'a self,
        c: &'a Cluster,
        pods: u32,
        change: Reconfig,
        password: &'a str,
    ) -> BoxFuture<'a, Result<String, EnsembleError>> {
        Box::pin(async move {
            let connect = self.connect_string(c, pods);
            let client = self.client(&connect, Some(password)).await?;
            let (joining, leaving, version, what) = match change {
                Reconfig::Add { id, version } => {
                    let line = self.addresses.server_line(c, id);
                    (Some(line.clone()), None, version, format!("-add {line}"))
                }
                Reconfig::Remove { id, version } => {
                    (None, Some(id.to_string()), version, format!("-remove {id}"))
                }
            };
            // The committed version this step was planned from: the leader refuses a
            // reconfig from any other (BadVersion), so a stale plan never applies twice.
            let result = client
                .reconfig(joining.as_deref(), leaving.as_deref(), None, Some(version))
                .await;
            client.close().await;
            let (data, _) = result.map_err(|e| EnsembleError::Reconfig {
                what,
                message: e.to_string(),
            })?;
            let (_, new_version) = parse_config(&String::from_utf8_lossy(&data));
            Ok(new_version.unwrap_or_default())
        })
    }
}

/// `srvr` on `address` (`host:port`): the whole answer.
async fn srvr(address: &str, timeout: Duration) -> std::io::Result<String> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(address).await?;
        s.write_all(b"srvr").await?;
        let mut out = Vec::new();
        // The answer is a few hundred bytes; the cap keeps a confused peer from feeding us.
        s.take(64 * 1024).read_to_end(&mut out).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "srvr timed out"))?
}

/// The `Mode:` of a `srvr` answer (`leader`, `follower`, `observer`, `standalone`).
pub fn mode(srvr: &str) -> Option<&str> {
    srvr.lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(str::trim)
}

/// The member's mode from a `srvr` answer.
pub fn member_mode(srvr: &str) -> MemberMode {
    match mode(srvr) {
        Some("leader") | Some("standalone") => MemberMode::Leader,
        Some("follower") => MemberMode::Follower,
        Some("observer") => MemberMode::Observer,
        _ => MemberMode::NotServing,
    }
}

/// The members and version of `/zookeeper/config`'s text:
/// `server.N=host:peer:election[:role][;client]` lines and `version=HEX`.
pub fn parse_config(text: &str) -> (Vec<Member>, Option<String>) {
    let mut members = Vec::new();
    let mut version = None;
    for line in text.lines().map(str::trim) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key == "version" {
            version = Some(value.trim().to_string());
        } else if let Some(id) = key.strip_prefix("server.").and_then(|n| n.parse().ok()) {
            let quorum = value.split(';').next().unwrap_or_default();
            let (host, rest) = match quorum.strip_prefix('[') {
                Some(v6) => v6.split_once(']').unwrap_or((v6, "")),
                None => quorum.split_once(':').unwrap_or((quorum, "")),
            };
            let role = if rest.ends_with(":observer") {
                "observer"
            } else {
                "participant"
            };
            members.push(Member {
                id,
                host: host.to_string(),
                role: role.to_string(),
            });
        }
    }
    members.sort_by_key(|m| m.id);
    (members, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_config_gives_members_and_version() {
        let text = "server.2=zk-1.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n\
                    server.1=zk-0.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n\
                    server.3=[::1]:2888:3888:observer;2181\nversion=100000000\n";
        let (members, version) = parse_config(text);
        assert_eq!(version.as_deref(), Some("100000000"));
        let got: Vec<(u64, &str, &str)> = members
            .iter()
            .map(|m| (m.id, m.host.as_str(), m.role.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "zk-0.zk-hs.ns.svc.cluster.local", "participant"),
                (2, "zk-1.zk-hs.ns.svc.cluster.local", "participant"),
                (3, "::1", "observer"),
            ]
        );
    }

    #[test]
    fn the_mode_line_of_srvr_is_found() {
        let text =
            "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n";
        assert_eq!(mode(text), Some("leader"));
        assert_eq!(
            mode("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }
}
