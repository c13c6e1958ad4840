//! Leader election.
//!
//! Each candidate creates an ephemeral sequential node `<dir>/candidate-<seq>` holding its
//! data (e.g. its address). The lowest sequence number is the leader. A follower watches only
//! its predecessor; when that node goes, it looks again (it becomes leader only if it is now
//! the lowest). A background task publishes the candidate's [`Leadership`]: leadership is
//! lost as soon as the connection is lost (the session may be expiring, and another candidate
//! may take over once it does), and ends for good when the session ends or the candidate's
//! node is deleted.
//!
//! ```no_run
//! # async fn demo(client: zkrs_client::Client) -> zkrs_client::Result<()> {
//! use zkrs_client::recipes::election::{Candidate, Leadership};
//! let mut me = Candidate::join(&client, "/election/scheduler", b"host-1:8080").await?;
//! me.wait_until_leader().await?;
//! // ... lead, until:
//! let _ = me.changed().await; // Follower (connection lost) or Ended
//! # Ok(()) }
//! ```

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::debug;
use zkrs_proto::path::{basename, join, validate_path};
use zkrs_proto::CreateMode;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::recipes::lock::{sequence, spawn_detached};
use crate::types::SessionState;

const PREFIX: &str = "candidate-";

/// A candidate's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leadership {
    /// Not the leader (waiting its turn, or the connection is lost).
    Follower,
    /// The leader.
    Leader,
    /// Out of the election: resigned, its node was deleted, or the session ended.
    Ended,
}

/// A participant in an election; see the module docs. Dropping it resigns.
#[derive(Debug)]
pub struct Candidate {
    client: Client,
    path: String,
    state: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Candidate {
    /// Joins the election under `dir` (created if missing) with `data` (what
    /// [`Candidate::current_leader`] returns for this candidate).
    pub async fn join(client: &Client, dir: &str, data: &[u8]) -> Result<Candidate> {
        validate_path(dir, false)?;
        let prefix = join(dir, PREFIX);
        let path = match client
            .create(&prefix, data, CreateMode::EphemeralSequential)
            .await
        {
            Err(Error::NoNode) => {
                client.ensure_path(dir).await?;
                client
                    .create(&prefix, data, CreateMode::EphemeralSequential)
                    .await?
            }
            r => r?,
        };
        debug!(path, "joined election");
        let (tx, rx) = watch::channel(Leadership::Follower);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(watch_standing(
            client.clone(),
            dir.to_string(),
            basename(&path).to_string(),
            tx,
            stop_rx,
        ));
        Ok(Candidate {
            client: client.clone(),
            path,
            state: rx,
            stop: Some(stop_tx),
            task,
        })
    }

    /// This candidate's node.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current standing.
    pub fn leadership(&self) -> Leadership {
        *self.state.borrow()
    }

    pub fn is_leader(&self) -> bool {
        self.leadership() == Leadership::Leader
    }

    /// A receiver of every change of standing.
    pub fn subscribe(&self) -> watch::Receiver<Leadership> {
        self.state.clone()
    }

    /// Waits for the standing to change and returns the new one (`Ended` stays `Ended`).
    pub async fn changed(&mut self) -> Leadership {
        if self.state.changed().await.is_err() {
            return Leadership::Ended;
        }
        *self.state.borrow_and_update()
    }

    /// Waits until this candidate leads; fails if it leaves the election first.
    pub async fn wait_until_leader(&mut self) -> Result<()> {
        let r = self
            .state
            .wait_for(|l| matches!(l, Leadership::Leader | Leadership::Ended))
            .await
            .map(|l| *l);
        match r {
            Ok(Leadership::Leader) => Ok(()),
            _ => Err(match self.client.state() {
                s if s.is_terminal() => self.client.shared.terminal_error(),
                _ => Error::NoNode,
            }),
        }
    }

    /// Leaves the election: stops watching and deletes the node.
    pub async fn resign(mut self) -> Result<()> {
        self.stop_task();
        let path = std::mem::take(&mut self.path);
        match self.client.delete(&path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) if e.is_terminal() => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn stop_task(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }

    /// The current leader of the election under `dir`: its node path and data, or `None`
    /// if there is no candidate.
    pub async fn current_leader(client: &Client, dir: &str) -> Result<Option<(String, Vec<u8>)>> {
        // Bounded: each round either answers or saw the lowest node vanish meanwhile.
        for _ in 0..16 {
            let children = match client.get_children(dir).await {
                Ok(c) => c,
                Err(Error::NoNode) => return Ok(None),
                Err(e) => return Err(e),
            };
            let Some(first) = ordered(&children).first().map(|n| join(dir, n)) else {
                return Ok(None);
            };
            match client.get_data(&first).await {
                Ok((data, _)) => return Ok(Some((first, data))),
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::ConnectionLoss)
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        self.stop_task();
        if !self.path.is_empty() {
            let client = self.client.clone();
            let path = std::mem::take(&mut self.path);
            spawn_detached(async move {
                let _ = client.delete(&path, None).await;
            });
        }
    }
}

/// The candidates' names in sequence order.
fn ordered(children: &[String]) -> Vec<&str> {
    let mut v: Vec<(i64, &str)> = children
        .iter()
        .filter(|n| n.starts_with(PREFIX))
        .filter_map(|n| sequence(n).map(|s| (s, n.as_str())))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// Keeps `tx` up to date with the candidate's standing until it ends.
async fn watch_standing(
    client: Client,
    dir: String,
    name: String,
    tx: watch::Sender<Leadership>,
    mut stop: oneshot::Receiver<()>,
) {
    let publish = |l: Leadership| {
        tx.send_if_modified(|cur| {
            if *cur == l {
                false
            } else {
                debug!(node = name, ?l, "leadership");
                *cur = l;
                true
            }
        });
    };
    let mut states = client.state_watcher();
    loop {
        let state = *states.borrow_and_update();
        if state.is_terminal() {
            break;
        }
        if state != SessionState::SyncConnected {
            // Connection lost: we cannot know whether we still lead.
            publish(Leadership::Follower);
            tokio::select! {
                _ = states.changed() => continue,
                _ = &mut stop => return,
            }
        }
        let children = match client.get_children(&dir).await {
            Ok(c) => c,
            Err(Error::ConnectionLoss) => continue,
            Err(_) => break,
        };
        let queue = ordered(&children);
        let Some(idx) = queue.iter().position(|n| *n == name) else {
            break;
        };
        // The leader watches its own node (deleted: out), a follower its predecessor.
        let target = join(&dir, queue[idx.saturating_sub(1)]);
        let watcher = match client.exists_and_watch(&target).await {
            Ok((Some(_), w)) => w,
            Ok((None, _)) => continue,
            Err(Error::ConnectionLoss) => continue,
            Err(_) => break,
        };
        publish(if idx == 0 {
            Leadership::Leader
        } else {
            Leadership::Follower
        });
        tokio::select! {
            _ = watcher => {}
            _ = states.changed() => {}
            _ = &mut stop => return,
        }
    }
    publish(Leadership::Ended);
}
