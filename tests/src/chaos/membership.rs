//! Membership changes during faults: the `reconfig` nemesis removes a random member from
//! the voters with a `reconfig` while (half of the time) another member is killed, and
//! adds it back when the fault heals; `reconfig-partition` does the same while a
//! partition is in force (and half of the time tries the add before the partition heals).
//! Both need a dynamic ensemble (`reconfigEnabled=true` and a super password, which a
//! reconfig requires); `reconfig-partition` one whose links go through the proxies
//! ([`Topology::DynamicRouted`](super::cluster::Topology)).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use super::cluster::Cluster;
use super::nemesis::{Fault, RECONFIG_PARTITIONS};
use super::workloads::connect_with;
use crate::zk;

/// The super user's password in dynamic runs.
pub const SUPER_PASSWORD: &str = "chaos-super";

/// How long one reconfig may take (it waits for the old and the new quorum).
const RECONFIG_LIMIT: Duration = Duration::from_secs(15);

/// How long one attempt to add a member back may take: a `sync`, then a reconfig.
const ADD_LIMIT: Duration = Duration::from_secs(20);

/// How long the heal keeps trying to add the member back.
const READD_LIMIT: Duration = Duration::from_secs(60);

/// A membership change in force.
#[derive(Debug)]
pub struct Change {
    /// The member a reconfig tried to remove.
    pub member: usize,
    /// The member killed meanwhile, if any.
    pub killed: Option<usize>,
    /// Whether links were cut meanwhile.
    pub cut: bool,
    /// Whether the heal tries to add the member back before it heals the links.
    pub add_while_cut: bool,
}

/// The longest wait between a partition and the reconfig that follows it: up to beyond
/// `syncLimit`, so that the reconfig meets a leader that still believes it leads as well
/// as one elected since.
const PARTITION_TO_RECONFIG: Duration = Duration::from_secs(6);

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
    Ok((
        Change {
            member,
            killed,
            cut: false,
            add_while_cut: false,
        },
        what,
    ))
}

/// Starts a change during a partition: cuts the links (random halves, or `leader` cut
/// off), waits a little, then asks the members for the removal of a random member. The
/// description holds the partition's and the reconfig's.
pub async fn start_partitioned(
    rng: &mut StdRng,
    cluster: &mut Cluster,
    leader: Option<usize>,
) -> anyhow::Result<(Change, String)> {
    let family = *RECONFIG_PARTITIONS.choose(rng).expect("choices");
    let Some((Fault::Cut(_), cut)) = family.inject(rng, cluster, leader)? else {
        anyhow::bail!("{family} did not cut links");
    };
    let wait = Duration::from_millis(rng.gen_range(0..=PARTITION_TO_RECONFIG.as_millis() as u64));
    let n = cluster.len();
    let member = rng.gen_range(0..n);
    let add_while_cut = rng.gen_bool(0.5);
    tokio::time::sleep(wait).await;
    let all: Vec<usize> = (0..n).collect();
    let outcome = match super_client(cluster, &all).await {
        Ok(client) => match reconfig(&client, &[], &[member]).await {
            Ok(()) => "done".to_string(),
            Err(e) => format!("failed: {e}"),
        },
        Err(e) => format!("failed: {e}"),
    };
    let what = format!(
        "{cut}; {} ms later reconfig -remove {}: {outcome}",
        wait.as_millis(),
        member + 1
    );
    Ok((
        Change {
            member,
            killed: None,
            cut: true,
            add_while_cut,
        },
        what,
    ))
}

/// Ends a change: heals the links (after one attempt to add the member back through them
/// when `add_while_cut`), restarts the killed member, and adds the removed one back
/// (retrying while the new configuration has no quorum yet, for at most
/// [`READD_LIMIT`]).
pub async fn heal(change: &Change, cluster: &mut Cluster) -> anyhow::Result<String> {
    let line = cluster.server_line(change.member);
    let mut healed = Vec::new();
    if change.cut {
        if change.add_while_cut {
            let outcome = match add_once(cluster, change.member, &line).await {
                Ok(true) => "already a voter".to_string(),
                Ok(false) => "done".to_string(),
                Err(e) => format!("failed: {e}"),
            };
            healed.push(format!(
                "reconfig -add {} before the links heal: {outcome}",
                change.member + 1
            ));
        }
        cluster.cut(Default::default());
        healed.push("heal the network".to_string());
    }
    if let Some(j) = change.killed {
        cluster.restart(j)?;
        healed.push(format!("restart member {}", j + 1));
    }
    let deadline = Instant::now() + READD_LIMIT;
    let mut last = String::new();
    while Instant::now() < deadline {
        match add_once(cluster, change.member, &line).await {
            Ok(_) => {
                healed.push(format!("member {} a voter again", change.member + 1));
                return Ok(healed.join(", "));
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

/// Adds member `i` (its config line `line`) back unless the configuration, as read
/// through any member after a `sync`, already lists it (then true).
/// Bounded by [`ADD_LIMIT`] (a session on a member cut off from the leader may wait for
/// its `sync` until that member gives up).
async fn add_once(cluster: &Cluster, i: usize, line: &str) -> anyhow::Result<bool> {
    let all: Vec<usize> = (0..cluster.len()).collect();
    let attempt = async {
        let client = super_client(cluster, &all).await?;
        if lists(&client, i).await? {
            return Ok(true);
        }
        reconfig(&client, &[line.to_string()], &[])
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(false)
    };
    tokio::time::timeout(ADD_LIMIT, attempt)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))?
}
