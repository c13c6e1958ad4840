//! Watches: client 0 writes increasing values to `/chaos/watches/node`; every other client
//! sets a persistent watch on it and, each time the watch fires, reads the node and
//! records the value. Across a reconnect the client library re-registers the watch
//! (SetWatches with the last zxid it saw), and the server owes it an event for any change
//! it missed. After recovery one more value is written; every watcher whose session lived
//! must then observe it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{connect, Completion, Shared, Workload, OP_LIMIT};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op};
use crate::zk;

/// How long the watchers get to observe the final write.
const CATCH_UP: Duration = Duration::from_secs(30);

fn node() -> String {
    format!("{}/node", Workload::Watches.dir())
}

pub async fn setup(client: &zk::Client) -> anyhow::Result<()> {
    match client.create(&node(), b"0", &crate::open()).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => anyhow::bail!("creating the watched node: {e}"),
    }
}

pub async fn apply(client: &zk::Client, op: Op) -> Completion {
    let Op::WatchedWrite { value } = op else {
        unreachable!("watch writes only")
    };
    match client
        .set_data(&node(), value.to_string().as_bytes(), None)
        .await
    {
        Ok(_) => Completion::ok(op),
        Err(e) => Completion::failed(op, e),
    }
}

fn parse(data: &[u8]) -> Option<i64> {
    std::str::from_utf8(data).ok()?.parse().ok()
}

/// Reads the node and records what it holds as observed by `process`.
async fn observe(shared: &Shared, process: u64, client: &zk::Client) -> bool {
    let h = &shared.history;
    h.invoke(process, Op::Observed { value: None });
    match tokio::time::timeout(OP_LIMIT, client.get_data(&node())).await {
        Ok(Ok((data, _))) => {
            let value = parse(&data);
            h.record(process, Kind::Ok, Op::Observed { value }, None);
            shared.watchers.lock().expect("lock").insert(process, value);
            true
        }
        Ok(Err(e)) => {
            h.record(
                process,
                Kind::Fail,
                Op::Observed { value: None },
                Some(e.to_string()),
            );
            false
        }
        Err(_) => {
            let error = Some("timeout".to_string());
            h.record(process, Kind::Fail, Op::Observed { value: None }, error);
            false
        }
    }
}

/// A watcher: sessions one after the other (a new one after an expiry) until the runner
/// says the watchers are done. Odd `index`es use a persistent watch, even ones a one-shot
/// data watch set again after each event.
///
/// The client library (zookeeper-client 0.11.2) re-registers one-shot watches when it
/// reconnects (setWatches with the last zxid it saw, so the server fires at once for a
/// change it missed) but not persistent ones (it never sends setWatches2). So a persistent
/// watcher adds its watch again after every reconnect and reads the node; setWatches2
/// itself is tested with a raw session in tests/watches.rs.
pub async fn watcher(index: usize, hosts: String, shared: Arc<Shared>) {
    let done = || shared.watchers_done.load(Ordering::Acquire);
    while !done() {
        let Ok(client) = connect(&hosts).await else {
            tokio::time::sleep(crate::POLL * 5).await;
            continue;
        };
        let process = shared.process();
        let ended = if index % 2 == 1 {
            persistent(&shared, process, &client, &done).await
        } else {
            one_shot(&shared, process, &client, &done).await
        };
        let last = shared.watchers.lock().expect("lock").remove(&process);
        if !ended {
            let sentinel = shared.sentinel.load(Ordering::Acquire);
            let h = &shared.history;
            let asked = Op::WatchEnded {
                last: None,
                sentinel,
            };
            h.invoke(process, asked);
            let op = Op::WatchEnded {
                last: last.flatten(),
                sentinel,
            };
            h.record(process, Kind::Ok, op, None);
        }
    }
}

/// How often a waiting watcher looks at the done flag.
const LOOK: Duration = Duration::from_millis(200);

/// Watches with a persistent watch until the session ends (true) or the watchers are done
/// (false).
async fn persistent(
    shared: &Shared,
    process: u64,
    client: &zk::Client,
    done: &impl Fn() -> bool,
) -> bool {
    let mut watcher = None;
    while !done() {
        let Some(w) = watcher.as_mut() else {
            let watch = client.watch(&node(), zk::AddWatchMode::Persistent);
            match tokio::time::timeout(OP_LIMIT, watch).await {
                Ok(Ok(w)) => watcher = Some(w),
                Ok(Err(zk::Error::SessionExpired)) => return true,
                _ => tokio::time::sleep(crate::POLL).await,
            }
            if watcher.is_some() {
                observe(shared, process, client).await;
            }
            continue;
        };
        let Ok(event) = tokio::time::timeout(LOOK, w.changed()).await else {
            continue;
        };
        match event.event_type {
            // A failed read loses nothing: the next event reads again, and the final
            // write brings one more.
            zk::EventType::NodeDataChanged => {
                observe(shared, process, client).await;
            }
            zk::EventType::Session if event.session_state.is_terminated() => return true,
            // Reconnected: the library did not re-register the watch; add it again.
            zk::EventType::Session if event.session_state == zk::SessionState::SyncConnected => {
                watcher = None;
            }
            _ => {}
        }
    }
    false
}

/// Watches with one-shot data watches (getData with a watch, again after each event) until
/// the session ends (true) or the watchers are done (false).
async fn one_shot(
    shared: &Shared,
    process: u64,
    client: &zk::Client,
    done: &impl Fn() -> bool,
) -> bool {
    let h = &shared.history;
    while !done() {
        h.invoke(process, Op::Observed { value: None });
        let read = tokio::time::timeout(OP_LIMIT, client.get_and_watch_data(&node())).await;
        let watcher = match read {
            Ok(Ok((data, _, watcher))) => {
                let value = parse(&data);
                h.record(process, Kind::Ok, Op::Observed { value }, None);
                shared.watchers.lock().expect("lock").insert(process, value);
                watcher
            }
            Ok(Err(e)) => {
                let expired = e == zk::Error::SessionExpired;
                h.record(
                    process,
                    Kind::Fail,
                    Op::Observed { value: None },
                    Some(e.to_string()),
                );
                if expired {
                    return true;
                }
                tokio::time::sleep(crate::POLL).await;
                continue;
            }
            Err(_) => {
                let error = Some("timeout".to_string());
                h.record(process, Kind::Fail, Op::Observed { value: None }, error);
                continue;
            }
        };
        let fired = watcher.changed();
        tokio::pin!(fired);
        let event = loop {
            tokio::select! {
                event = &mut fired => break Some(event),
                _ = tokio::time::sleep(LOOK) => if done() { break None },
            }
        };
        match event {
            None => return false,
            Some(e)
                if e.event_type == zk::EventType::Session && e.session_state.is_terminated() =>
            {
                return true
            }
            // Changed (or the library gave up on the watch): read and watch again.
            Some(_) => {}
        }
    }
    false
}

/// After recovery: writes one more value and waits (bounded) until every live watcher
/// observed it.
pub async fn final_writes(cluster: &Cluster, shared: &Shared) -> anyhow::Result<()> {
    let client = connect(&cluster.connect_string_from(0))
        .await
        .map_err(|e| anyhow::anyhow!("the final writer: {e}"))?;
    let value = shared.unique() as i64 + 1;
    let process = super::FINAL_READER;
    let h = &shared.history;
    h.invoke(process, Op::WatchedWrite { value });
    let done = apply(&client, Op::WatchedWrite { value }).await;
    let error = done.error.as_ref().map(ToString::to_string);
    h.record(process, done.kind, done.op, error);
    if done.kind != Kind::Ok {
        anyhow::bail!("the final write failed");
    }
    shared.sentinel.store(value, Ordering::Release);
    let deadline = Instant::now() + CATCH_UP;
    while Instant::now() < deadline {
        let behind = shared
            .watchers
            .lock()
            .expect("lock")
            .values()
            .any(|v| *v != Some(value));
        if !behind {
            break;
        }
        // Polling interval of a bounded wait for the watchers.
        tokio::time::sleep(crate::POLL * 5).await;
    }
    Ok(())
}
