//! A counter: `/chaos/counter/value` holds an integer; an increment reads it and commits a
//! multi that sets it to value + 1 with the version read and creates the marker node
//! `/chaos/counter/m-<marker>`, so the counter and the markers change together or not at
//! all. A quarter of the operations read the counter (after a `sync`). After recovery each
//! member's value and markers are read.

use rand::rngs::StdRng;
use rand::Rng as _;

use super::{synced_client_of, Completion, Shared, Workload, OP_LIMIT};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op, Recorder};
use crate::zk;

fn value_path() -> String {
    format!("{}/value", Workload::Counter.dir())
}

pub async fn setup(client: &zk::Client) -> anyhow::Result<()> {
    match client.create(&value_path(), b"0", &crate::open()).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => anyhow::bail!("creating the counter: {e}"),
    }
}

pub fn next_op(rng: &mut StdRng, shared: &Shared) -> Op {
    if rng.gen_range(0..4) == 0 {
        Op::ReadCounter {
            member: None,
            value: None,
            markers: None,
        }
    } else {
        Op::Increment {
            marker: shared.unique(),
        }
    }
}

fn parse(data: &[u8]) -> Result<i64, zk::Error> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| zk::Error::UnexpectedError(format!("the counter holds {data:?}")))
}

pub async fn apply(client: &zk::Client, op: Op) -> Completion {
    let path = value_path();
    match op {
        Op::ReadCounter { .. } => {
            if let Err(e) = client.sync(&path).await {
                return Completion::failed(op, e);
            }
            match client.get_data(&path).await.and_then(|(d, _)| parse(&d)) {
                Ok(v) => Completion::ok(Op::ReadCounter {
                    member: None,
                    value: Some(v),
                    markers: None,
                }),
                Err(e) => Completion::failed(op, e),
            }
        }
        Op::Increment { marker } => {
            let (value, stat) = match client.get_data(&path).await {
                Ok((d, stat)) => match parse(&d) {
                    Ok(v) => (v, stat),
                    Err(e) => return Completion::not_sent(op, e),
                },
                Err(e) => return Completion::not_sent(op, e),
            };
            let mut multi = client.new_multi_writer();
            let marker_path = format!("{}/m-{marker}", Workload::Counter.dir());
            let next = (value + 1).to_string();
            let built = multi
                .add_set_data(&path, next.as_bytes(), Some(stat.version))
                .and_then(|()| multi.add_create(&marker_path, b"", &crate::open()));
            if let Err(e) = built {
                return Completion::not_sent(op, e);
            }
            match multi.commit().await {
                Ok(_) => Completion::ok(op),
                Err(zk::MultiWriteError::OperationFailed { source, .. }) => {
                    Completion::failed(op, source)
                }
                Err(zk::MultiWriteError::RequestFailed { source }) => {
                    Completion::failed(op, source)
                }
            }
        }
        _ => unreachable!("counter ops only"),
    }
}

/// Records each member's value and markers as a `read_counter` by a process of its own.
pub async fn final_reads(cluster: &Cluster, history: &Recorder) -> anyhow::Result<()> {
    for i in 0..cluster.len() {
        let member = i as u32 + 1;
        let process = super::FINAL_READER + i as u64;
        let empty = Op::ReadCounter {
            member: Some(member),
            value: None,
            markers: None,
        };
        history.invoke(process, empty);
        let client = synced_client_of(cluster, i).await?;
        // One multi read: the value and the markers at the same zxid.
        let mut reader = client.new_multi_reader();
        reader.add_get_data(&value_path())?;
        reader.add_get_children(&Workload::Counter.dir())?;
        let results = tokio::time::timeout(OP_LIMIT * 3, reader.commit())
            .await
            .map_err(|_| anyhow::anyhow!("member {member}: reading the counter timed out"))??;
        let value = match &results[0] {
            zk::MultiReadResult::Data { data, .. } => parse(data)?,
            other => anyhow::bail!("member {member}: reading the counter gave {other:?}"),
        };
        let names = match &results[1] {
            zk::MultiReadResult::Children { children } => children.clone(),
            other => anyhow::bail!("member {member}: listing the markers gave {other:?}"),
        };
        let mut markers: Vec<u64> = names
            .iter()
            .filter_map(|n| n.strip_prefix("m-"))
            .map(|n| n.parse::<u64>())
            .collect::<Result<_, _>>()?;
        markers.sort_unstable();
        history.record(
            process,
            Kind::Ok,
            Op::ReadCounter {
                member: Some(member),
                value: Some(value),
                markers: Some(markers),
            },
            None,
        );
    }
    Ok(())
}
