//! Asking the ensemble itself who its members and leader are: the committed
//! `/zookeeper/config` (through zkrs-client) and each member's `srvr` Mode line.
//!
//! A trait, so the reconciler's tests answer for the ensemble.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::crd::Member;
use crate::planner::EnsembleView;
use crate::validate::Cluster;
use crate::zoo_cfg::{member_host, Layout, CLIENT_PORT};

/// Why the ensemble could not be asked. Not fatal: the status keeps its last answer.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error("connecting to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("reading /zookeeper/config: {0}")]
    Config(String),
}

/// Something that can tell what the ensemble of a cluster looks like.
pub trait Ensemble: Send + Sync {
    fn observe<'a>(
        &'a self,
        cluster: &'a Cluster,
    ) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>>;
}

/// The real ensemble, over the network.
pub struct ZkEnsemble {
    /// Per connection and per `srvr`.
    pub timeout: Duration,
}

impl Ensemble for ZkEnsemble {
    fn observe<'a>(&'a self, c: &'a Cluster) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>> {
        Box::pin(async move {
            let layout = Layout {
                name: &c.name,
                namespace: &c.namespace,
                cluster_domain: &c.cluster_domain,
                replicas: c.replicas,
                metrics_port: c.metrics_port,
            };
            let hosts: Vec<String> = (0..c.replicas).map(|i| member_host(&layout, i)).collect();
            let connect: Vec<String> = hosts.iter().map(|h| format!("{h}:{CLIENT_PORT}")).collect();
            let connect = connect.join(",");
            let client = zkrs_client::Client::builder(&connect)
                .connect_timeout(self.timeout)
                .session_timeout(Duration::from_secs(10))
                .connect()
                .await
                .map_err(|e| EnsembleError::Connect {
                    target: connect.clone(),
                    message: e.to_string(),
                })?;
            let config = client.get_config().await;
            client.close().await;
            let (data, _stat) = config.map_err(|e| EnsembleError::Config(e.to_string()))?;
            let (members, config_version) = parse_config(&String::from_utf8_lossy(&data));
            let mut leader = None;
            for host in &hosts {
                if let Ok(text) = srvr(host, self.timeout).await {
                    if mode(&text) == Some("leader") {
                        leader = host.split('.').next().map(str::to_string);
                        break;
                    }
                }
            }
            Ok(EnsembleView {
                members,
                leader,
                config_version,
            })
        })
    }
}

/// `srvr` on `host`'s client port: the whole answer.
async fn srvr(host: &str, timeout: Duration) -> std::io::Result<String> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect((host, CLIENT_PORT)).await?;
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
