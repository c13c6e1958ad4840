//! Sessions and ephemerals: each client opens a session and creates its ephemeral node
//! `/chaos/sessions/e-<session id>`, then keeps checking (after a `sync`, through the
//! session itself) that the node exists, until its session expires (it records that and
//! opens a new one) or the run ends (it closes the session). After recovery, once every
//! session ended, no member may hold any ephemeral.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{connect, synced_client_of, Shared, Workload, OP_LIMIT, SESSION_TIMEOUT};
use crate::chaos::cluster::Cluster;
use crate::chaos::history::{Kind, Op, Recorder};
use crate::zk;

/// Between two checks of one session's ephemeral.
const CHECK_EVERY: Duration = Duration::from_millis(100);

fn path(session: i64) -> String {
    format!("{}/e-{session:016x}", Workload::Sessions.dir())
}

/// One client: sessions one after the other until the run ends.
pub async fn client(hosts: String, shared: Arc<Shared>) {
    while !shared.should_stop() {
        let process = shared.process();
        let h = &shared.history;
        h.invoke(process, Op::OpenSession { session: None });
        let client = match connect(&hosts).await {
            Ok(c) => c,
            Err(e) => {
                // No session to speak of: the client never learnt an id.
                let op = Op::OpenSession { session: None };
                h.record(process, Kind::Fail, op, Some(e));
                tokio::time::sleep(crate::POLL * 5).await;
                continue;
            }
        };
        let session = client.session_id().0;
        let own = path(session);
        let ephemeral = crate::mode(zk::CreateMode::Ephemeral);
        let create = client.create(&own, b"", &ephemeral);
        let opened = Op::OpenSession {
            session: Some(session),
        };
        match tokio::time::timeout(OP_LIMIT, create).await {
            Ok(Ok(_)) => {
                h.record(process, Kind::Ok, opened, None);
            }
            other => {
                // The ephemeral may or may not exist: end this session and start over.
                let error = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timeout".to_string(),
                };
                h.record(process, Kind::Info, opened, Some(error));
                close(h, process, session, client);
                continue;
            }
        };
        watch_own(&shared, process, session, &client).await;
        if shared.should_stop() {
            close(h, process, session, client);
        }
    }
}

/// Checks the session's ephemeral until the session expires or the run ends.
async fn watch_own(shared: &Shared, process: u64, session: i64, client: &zk::Client) {
    let h = &shared.history;
    let own = path(session);
    while !shared.should_stop() {
        let started = Instant::now();
        h.invoke(
            process,
            Op::CheckEphemeral {
                session,
                present: None,
            },
        );
        let check = async {
            client.sync(&own).await?;
            client.check_stat(&own).await
        };
        let asked = Op::CheckEphemeral {
            session,
            present: None,
        };
        match tokio::time::timeout(OP_LIMIT, check).await {
            Ok(Ok(stat)) => {
                let op = Op::CheckEphemeral {
                    session,
                    present: Some(stat.is_some()),
                };
                h.record(process, Kind::Ok, op, None);
            }
            Ok(Err(zk::Error::SessionExpired)) => {
                h.record(process, Kind::Fail, asked, Some("session expired".into()));
                h.invoke(process, Op::SessionExpired { session });
                h.record(process, Kind::Ok, Op::SessionExpired { session }, None);
                return;
            }
            Ok(Err(e)) => {
                h.record(process, Kind::Fail, asked, Some(e.to_string()));
                // A lost connection: the client reconnects; do not spin meanwhile.
                tokio::time::sleep(crate::POLL).await;
            }
            Err(_) => {
                h.record(process, Kind::Fail, asked, Some("timeout".into()));
            }
        }
        let next = started + CHECK_EVERY;
        if next > Instant::now() {
            tokio::time::sleep_until(next.into()).await;
        }
    }
}

/// Closes the session by dropping the client (the crate sends closeSession in the
/// background); recorded as an operation of unknown outcome.
fn close(h: &Recorder, process: u64, session: i64, client: zk::Client) {
    h.invoke(process, Op::CloseSession { session });
    drop(client);
    h.record(process, Kind::Info, Op::CloseSession { session }, None);
}

/// Waits (bounded) until no member holds an ephemeral any more (every session was closed
/// or expires), then records each member's ephemerals.
pub async fn final_reads(cluster: &Cluster, history: &Recorder) -> anyhow::Result<()> {
    let deadline = Instant::now() + SESSION_TIMEOUT * 4;
    let dir = Workload::Sessions.dir();
    let mut clients = Vec::new();
    for i in 0..cluster.len() {
        clients.push(synced_client_of(cluster, i).await?);
    }
    let mut held: Vec<Vec<String>>;
    loop {
        held = Vec::new();
        for c in &clients {
            c.sync("/").await?;
            held.push(super::children(c, &dir).await?);
        }
        if held.iter().all(Vec::is_empty) || Instant::now() >= deadline {
            break;
        }
        // Polling interval of a bounded wait for the sessions to end.
        tokio::time::sleep(crate::POLL * 10).await;
    }
    for (i, names) in held.into_iter().enumerate() {
        let member = i as u32 + 1;
        let process = super::FINAL_READER + i as u64;
        history.invoke(
            process,
            Op::ReadEphemerals {
                member,
                sessions: None,
            },
        );
        let sessions = names
            .iter()
            .map(|n| {
                n.strip_prefix("e-")
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .map(|id| id as i64)
                    .ok_or_else(|| anyhow::anyhow!("member {member}: unexpected node {n}"))
            })
            .collect::<anyhow::Result<Vec<i64>>>()?;
        history.record(
            process,
            Kind::Ok,
            Op::ReadEphemerals {
                member,
                sessions: Some(sessions),
            },
            None,
        );
    }
    Ok(())
}
