//! A queue: enqueue creates a persistent sequential node `/chaos/queue/q-` holding a
//! unique value; dequeue lists the queue and deletes the lowest node it can, with the
//! version it read (so two clients never both take one node), returning its value. After
//! recovery what is left is read (drained) through one member.

use rand::rngs::StdRng;
use rand::Rng as _;

use super::{children, synced_client_of, Completion, Shared, Workload};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op, Recorder};
use crate::zk;

/// How many of the lowest nodes a dequeue tries before it gives up (others took them).
const ATTEMPTS: usize = 5;

pub fn next_op(rng: &mut StdRng, shared: &Shared) -> Op {
    if rng.gen_bool(0.5) {
        Op::Enqueue {
            value: shared.unique(),
        }
    } else {
        Op::Dequeue { value: None }
    }
}

fn parse(data: &[u8]) -> Result<u64, zk::Error> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| zk::Error::UnexpectedError(format!("a queue node holds {data:?}")))
}

pub async fn apply(client: &zk::Client, op: Op) -> Completion {
    let dir = Workload::Queue.dir();
    match op {
        Op::Enqueue { value } => {
            let sequential = crate::mode(zk::CreateMode::PersistentSequential);
            let prefix = format!("{dir}/q-");
            match client
                .create(&prefix, value.to_string().as_bytes(), &sequential)
                .await
            {
                Ok(_) => Completion::ok(op),
                Err(e) => Completion::failed(op, e),
            }
        }
        Op::Dequeue { .. } => {
            let mut names = match client.list_children(&dir).await {
                Ok(names) => names,
                Err(e) => return Completion::not_sent(op, e),
            };
            names.sort();
            for name in names.iter().take(ATTEMPTS) {
                let path = format!("{dir}/{name}");
                let (data, stat) = match client.get_data(&path).await {
                    Ok(got) => got,
                    Err(zk::Error::NoNode) => continue,
                    Err(e) => return Completion::not_sent(op, e),
                };
                let value = match parse(&data) {
                    Ok(v) => v,
                    Err(e) => return Completion::not_sent(op, e),
                };
                let taking = Op::Dequeue { value: Some(value) };
                match client.delete(&path, Some(stat.version)).await {
                    Ok(()) => return Completion::ok(taking),
                    Err(zk::Error::NoNode) => continue,
                    // Unknown: the value may be taken; the history says which.
                    Err(e) => return Completion::failed(taking, e),
                }
            }
            Completion::refused(op)
        }
        _ => unreachable!("queue ops only"),
    }
}

/// Records what is left in the queue, read through the first member.
pub async fn final_reads(cluster: &Cluster, history: &Recorder) -> anyhow::Result<()> {
    let process = super::FINAL_READER;
    history.invoke(process, Op::Drain { values: None });
    let client = synced_client_of(cluster, 0).await?;
    let dir = Workload::Queue.dir();
    let mut values = Vec::new();
    for name in children(&client, &dir).await? {
        let (data, _) = client.get_data(&format!("{dir}/{name}")).await?;
        values.push(parse(&data)?);
    }
    values.sort_unstable();
    history.record(
        process,
        Kind::Ok,
        Op::Drain {
            values: Some(values),
        },
        None,
    );
    Ok(())
}
