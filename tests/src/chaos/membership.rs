//! Membership changes during faults: the `reconfig` nemesis removes a random member from
//! the voters with a `reconfig` while (half of the time) another member is killed, and
//! adds it back when the fault heals. It needs a dynamic ensemble (`Cluster::start` with
//! `dynamic`: `reconfigEnabled=true` and a super password, which a reconfig requires).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng as _;

use super::cluster::Cluster;
use super::workloads::connect_with;
use crate::zk;

/// The super user's password in dynamic runs.
pub const SUPER_PASSWORD: &str = "chaos-super";

/// How long one reconfig may take (it waits for the old and the new quorum).
const RECONFIG_LIMIT: Duration = Duration::from_secs(15);

/// How long the heal keeps trying to add the member back.
const READD_LIMIT: Duration = Duration::from_secs(60);

/// A membership change in force.
#[derive(Debug)]
pub struct Change {
    /// The member a reconfig tried to remove.
    pub member: usize,
    /// The member killed meanwhile, if any.
    pub killed: Option<usize>,
}

async fn super_client(cluster: &Cluster, among: &[usize]) -> anyhow::Result<zk::Client> {
    let hosts = among
        .iter()
        .map(|&i| cluster.connect_string_of(i))
        .collect::<Vec<_>>()
        .join(",");
    let auth = format!("super:{SUPER_PASSWORD}");
    connect_with(
        &hosts,
        zk::Client::connector().with_auth("digest", auth.as_bytes()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("a super session on {hosts}: {e}"))
}

async fn reconfig(
    client: &zk::Client,
    joining: &[String],
    leaving: &[usize],
) -> Result<(), String> {
    let leaving: Vec<String> = leaving.iter().map(|i| (i + 1).to_string()).collect();
    let update = zk::EnsembleUpdate::Incremental {
        joinings: joining.iter().map(String::as_str),
        leavings: leaving.iter().map(String::as_str),
    };
    match tokio::time::timeout(RECONFIG_LIMIT, client.update_ensemble(update, None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_string()),
    }
}

/// Whether `/zookeeper/config` (as `client` reads it after a sync) lists member `i`.
async fn lists(client: &zk::Client, i: usize) -> anyhow::Result<bool> {
    client.sync("/zookeeper/config").await?;
    let (data, _) = client.get_config().await?;
    let prefix = format!("server.{}=", i + 1);
    Ok(String::from_utf8_lossy(&data)
        .lines()
        .any(|l| l.trim().starts_with(&prefix)))
}

/// Starts a change: maybe kills one member, then asks the others to remove another.
pub async fn start(rng: &mut StdRng, cluster: &mut Cluster) -> anyhow::Result<(Change, String)> {
    let n = cluster.len();
    let member = rng.gen_range(0..n);
    let killed = rng
        .gen_bool(0.5)
        .then(|| (member + rng.gen_range(1..n)) % n);
    if let Some(j) = killed {
        cluster.kill9(j);
    }
    let alive: Vec<usize> = (0..n).filter(|&i| Some(i) != killed).collect();
    let client = super_client(cluster, &alive).await?;
    let outcome = match reconfig(&client, &[], &[member]).await {
        Ok(()) => "done".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    let during = killed.map_or(String::new(), |j| {
        format!(" while member {} is killed", j + 1)
    });
    let what = format!("reconfig -remove {}{during}: {outcome}", member + 1);
    Ok((Change { member, killed }, what))
}

/// Ends a change: restarts the killed member, and adds the removed one back (retrying
/// while the new configuration has no quorum yet, for at most [`READD_LIMIT`]).
pub async fn heal(change: &Change, cluster: &mut Cluster) -> anyhow::Result<String> {
    if let Some(j) = change.killed {
        cluster.restart(j)?;
    }
    let all: Vec<usize> = (0..cluster.len()).collect();
    let line = cluster.server_line(change.member);
    let deadline = Instant::now() + READD_LIMIT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let attempt = async {
            let client = super_client(cluster, &all).await?;
            if lists(&client, change.member).await? {
                return Ok::<bool, anyhow::Error>(true);
            }
            reconfig(&client, std::slice::from_ref(&line), &[])
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            Ok(true)
        };
        match attempt.await {
            Ok(_) => {
                let restarted = change
                    .killed
                    .map_or(String::new(), |j| format!("restart member {}, ", j + 1));
                return Ok(format!(
                    "{restarted}member {} a voter again",
                    change.member + 1
                ));
            }
            Err(e) => last = e.to_string(),
        }
        // Polling interval of a bounded retry.
        tokio::time::sleep(crate::POLL * 25).await;
    }
    anyhow::bail!(
        "member {} could not be added back within {READD_LIMIT:?}: {last}",
        change.member + 1
    )
}
