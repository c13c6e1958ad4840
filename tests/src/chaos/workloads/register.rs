//! Compare-and-set registers over setData versions, as in Jepsen's ZooKeeper test: keys
//! `/chaos/register/<key>`, each created holding 0 by the first client that uses it.
//! Clients move to a new key every [`OPS_PER_KEY`] operations (all together), so each
//! key's history stays small enough for the linearizability checker, as Jepsen's
//! `independent` keys do.
//!
//! * read: `sync`, then getData. ZooKeeper answers reads from the member a client is
//!   connected to; the sync first makes that member catch up with the leader, which is how
//!   clients get an up-to-date read.
//! * write: setData without a version.
//! * cas(from, to): getData; if the value is not `from`, a definite failure (nothing was
//!   written); else setData of `to` with the version read, which fails with BadVersion if
//!   anything wrote in between.

use std::sync::atomic::Ordering;

use rand::rngs::StdRng;
use rand::Rng as _;

use super::{Completion, Shared, Workload};
use crate::chaos::history::Op;
use crate::zk;

/// Operations on one key before the clients move to the next.
pub const OPS_PER_KEY: u64 = 120;

/// Values written are drawn from 0..VALUES (few values: reads tell writes apart less, and
/// CAS succeed more often, as in Jepsen's register).
const VALUES: i64 = 5;

fn path(key: u64) -> String {
    format!("{}/{key}", Workload::Register.dir())
}

pub fn next_op(rng: &mut StdRng, shared: &Shared) -> Op {
    let key = shared.invoked.load(Ordering::Relaxed) / OPS_PER_KEY;
    match rng.gen_range(0..3) {
        0 => Op::Read { key, value: None },
        1 => Op::Write {
            key,
            value: rng.gen_range(0..VALUES),
        },
        _ => Op::Cas {
            key,
            from: rng.gen_range(0..VALUES),
            to: rng.gen_range(0..VALUES),
        },
    }
}

/// Creates `key`'s node holding 0 unless a client of this run already did. The create is
/// not part of the history: it can only succeed before any write to the key, so the
/// model's register starts at 0.
async fn ensure_key(client: &zk::Client, key: u64, shared: &Shared) -> Result<(), zk::Error> {
    if shared.created_keys.lock().expect("lock").contains(&key) {
        return Ok(());
    }
    match client.create(&path(key), b"0", &crate::open()).await {
        Ok(_) | Err(zk::Error::NodeExists) => {
            shared.created_keys.lock().expect("lock").insert(key);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn parse(data: &[u8]) -> Option<i64> {
    std::str::from_utf8(data).ok()?.parse().ok()
}

pub async fn apply(client: &zk::Client, op: Op, shared: &Shared) -> Completion {
    let key = match op {
        Op::Read { key, .. } | Op::Write { key, .. } | Op::Cas { key, .. } => key,
        _ => unreachable!("register ops only"),
    };
    if let Err(e) = ensure_key(client, key, shared).await {
        return Completion::failed(op, e);
    }
    let p = path(key);
    match op {
        Op::Read { .. } => {
            if let Err(e) = client.sync(&p).await {
                return Completion::failed(op, e);
            }
            match client.get_data(&p).await {
                Ok((data, _)) => match parse(&data) {
                    Some(v) => Completion::ok(Op::Read {
                        key,
                        value: Some(v),
                    }),
                    None => Completion::failed(
                        op,
                        zk::Error::UnexpectedError(format!("register holds {data:?}")),
                    ),
                },
                Err(e) => Completion::failed(op, e),
            }
        }
        Op::Write { value, .. } => match client
            .set_data(&p, value.to_string().as_bytes(), None)
            .await
        {
            Ok(_) => Completion::ok(op),
            Err(e) => Completion::failed(op, e),
        },
        Op::Cas { from, to, .. } => {
            let (data, stat) = match client.get_data(&p).await {
                Ok(got) => got,
                // The setData was never sent: whatever went wrong, nothing was written.
                Err(e) => return Completion::not_sent(op, e),
            };
            if parse(&data) != Some(from) {
                return Completion::refused(op);
            }
            match client
                .set_data(&p, to.to_string().as_bytes(), Some(stat.version))
                .await
            {
                Ok(_) => Completion::ok(op),
                Err(e) => Completion::failed(op, e),
            }
        }
        _ => unreachable!("register ops only"),
    }
}
