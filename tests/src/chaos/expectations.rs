//! What the servers must do around a fault, checked while the run goes on (the checkers
//! judge the clients' history; these judge the ensemble): while one member's disk is full
//! the others keep serving, once it has room again it serves too, and at the end every
//! member holds the same state (the same last zxid and, in a reconfigurable ensemble, the
//! same `/zookeeper/config`). A failed expectation is an anomaly of the run.

use std::time::{Duration, Instant};

use super::cluster::Cluster;
use super::nemesis::Fault;
use super::workloads;
use crate::ensemble::Mode;

/// How long the other members may take to serve while one's disk is full (an election
/// when it led: Apache's leader exits, zkrs's ends its role).
const SERVICE_LIMIT: Duration = Duration::from_secs(20);

/// How long a member whose disk has room again may take to serve (a JVM restart and a
/// sync with the leader included).
const CATCH_UP_LIMIT: Duration = Duration::from_secs(45);

/// How long the members may take to agree once the clients stopped (sessions of clients
/// that vanished still expire meanwhile).
const CONVERGE_LIMIT: Duration = Duration::from_secs(30);

/// Checks what must hold while `fault` is in force, just before it heals; an anomaly
/// when it does not.
pub fn while_held(fault: &Fault, cluster: &Cluster) -> Option<String> {
    match fault {
        Fault::FullDisk(i) => {
            let others: Vec<usize> = (0..cluster.len()).filter(|j| j != i).collect();
            // Without a majority of members left, nothing is expected to serve.
            if 2 * others.len() <= cluster.len() {
                return None;
            }
            cluster
                .wait_serving_among(&others, SERVICE_LIMIT)
                .err()
                .map(|e| {
                    format!(
                        "while the disk of member {} was full, the others did not serve: {e}",
                        i + 1
                    )
                })
        }
        _ => None,
    }
}

/// Checks what must hold once `fault` healed; an anomaly when it does not.
pub fn after_heal(fault: &Fault, cluster: &Cluster) -> Option<String> {
    match fault {
        Fault::FullDisk(i) => {
            let serves = cluster.wait_serving(CATCH_UP_LIMIT);
            match serves {
                Ok(_) if matches!(cluster.mode(*i), Mode::Leader | Mode::Follower) => None,
                Ok(_) => Some(format!(
                    "member {} did not serve again after its disk had room again",
                    i + 1
                )),
                Err(e) => Some(format!(
                    "after the disk of member {} had room again, the ensemble did not serve: {e}",
                    i + 1
                )),
            }
        }
        _ => None,
    }
}

/// Waits until every member reports the same last zxid and, when `reconfigurable`, holds
/// the same `/zookeeper/config`; the anomalies when they still differ after
/// [`CONVERGE_LIMIT`].
pub async fn converged(cluster: &Cluster, reconfigurable: bool) -> Vec<String> {
    let deadline = Instant::now() + CONVERGE_LIMIT;
    let mut anomalies = Vec::new();
    loop {
        let zxids: Vec<Option<u64>> = tokio::task::block_in_place(|| {
            (0..cluster.len()).map(|i| cluster.last_zxid(i)).collect()
        });
        if zxids[0].is_some() && zxids.iter().all(|z| *z == zxids[0]) {
            break;
        }
        if Instant::now() >= deadline {
            let shown: Vec<String> = zxids
                .iter()
                .enumerate()
                .map(|(i, z)| match z {
                    Some(z) => format!("member {}: {z:#x}", i + 1),
                    None => format!("member {}: no answer", i + 1),
                })
                .collect();
            anomalies.push(format!(
                "the members' last zxids still differ {CONVERGE_LIMIT:?} after the clients \
                 stopped: {}",
                shown.join(", ")
            ));
            break;
        }
        // Polling interval of a bounded wait.
        tokio::time::sleep(crate::POLL * 10).await;
    }
    if reconfigurable {
        anomalies.extend(configs_agree(cluster).await);
    }
    anomalies
}

/// Whether every member's `/zookeeper/config`, read through a session on that member
/// alone after a `sync`, is the same; an anomaly when not.
async fn configs_agree(cluster: &Cluster) -> Option<String> {
    let mut configs = Vec::new();
    for i in 0..cluster.len() {
        let read = async {
            let client = workloads::connect(&cluster.connect_string_of(i)).await?;
            client
                .sync("/zookeeper/config")
                .await
                .map_err(|e| e.to_string())?;
            let (data, _) = client.get_config().await.map_err(|e| e.to_string())?;
            Ok::<String, String>(String::from_utf8_lossy(&data).into_owned())
        };
        match tokio::time::timeout(workloads::OP_LIMIT * 4, read).await {
            Ok(Ok(config)) => configs.push(config),
            Ok(Err(e)) => return Some(format!("member {}'s config could not be read: {e}", i + 1)),
            Err(_) => {
                return Some(format!(
                    "member {}'s config could not be read: timed out",
                    i + 1
                ))
            }
        }
    }
    if configs.iter().all(|c| *c == configs[0]) {
        return None;
    }
    let shown: Vec<String> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| format!("member {}: {:?}", i + 1, c))
        .collect();
    Some(format!(
        "the members' /zookeeper/config differ: {}",
        shown.join("; ")
    ))
}
