//! A grow-only set: each add creates the persistent node `/chaos/set/e-<element>`; after
//! recovery every member's children are read.

use super::{children, synced_client_of, Completion, Workload};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op, Recorder};
use crate::zk;

pub async fn apply(client: &zk::Client, op: Op) -> Completion {
    let Op::Add { element } = op else {
        unreachable!("set ops only")
    };
    let path = format!("{}/e-{element}", Workload::Set.dir());
    match client.create(&path, b"", &crate::open()).await {
        Ok(_) => Completion::ok(op),
        Err(e) => Completion::failed(op, e),
    }
}

/// Records each member's elements as a `read_set` by a process of its own.
pub async fn final_reads(cluster: &Cluster, history: &Recorder) -> anyhow::Result<()> {
    for i in 0..cluster.len() {
        let member = i as u32 + 1;
        let process = super::FINAL_READER + i as u64;
        history.invoke(
            process,
            Op::ReadSet {
                member,
                elements: None,
            },
        );
        let client = synced_client_of(cluster, i).await?;
        let mut elements = Vec::new();
        for name in children(&client, &Workload::Set.dir()).await? {
            let element = name
                .strip_prefix("e-")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| anyhow::anyhow!("member {member}: unexpected node {name}"))?;
            elements.push(element);
        }
        elements.sort_unstable();
        history.record(
            process,
            Kind::Ok,
            Op::ReadSet {
                member,
                elements: Some(elements),
            },
            None,
        );
    }
    Ok(())
}
