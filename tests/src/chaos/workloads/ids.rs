//! Unique ids: each operation creates a persistent sequential node `/chaos/unique-ids/id-`
//! and returns the name the server gave it; after recovery every member's children are
//! read.

use super::{children, synced_client_of, Completion, Workload};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op, Recorder};
use crate::zk;

pub async fn apply(client: &zk::Client, op: Op) -> Completion {
    let prefix = format!("{}/id-", Workload::UniqueIds.dir());
    let sequential = crate::mode(zk::CreateMode::PersistentSequential);
    match client.create(&prefix, b"", &sequential).await {
        Ok((_, sequence)) => Completion::ok(Op::GenerateId {
            name: Some(format!("id-{sequence}")),
        }),
        Err(e) => Completion::failed(op, e),
    }
}

/// Records each member's names as a `read_ids` by a process of its own.
pub async fn final_reads(cluster: &Cluster, history: &Recorder) -> anyhow::Result<()> {
    for i in 0..cluster.len() {
        let member = i as u32 + 1;
        let process = super::FINAL_READER + i as u64;
        history.invoke(
            process,
            Op::ReadIds {
                member,
                names: None,
            },
        );
        let client = synced_client_of(cluster, i).await?;
        let mut names = children(&client, &Workload::UniqueIds.dir()).await?;
        names.sort();
        history.record(
            process,
            Kind::Ok,
            Op::ReadIds {
                member,
                names: Some(names),
            },
            None,
        );
    }
    Ok(())
}
