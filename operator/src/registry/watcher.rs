//! Follows the znodes under the base path with one persistent recursive watch and keeps the
//! [`Snapshot`] current: no polling of ZooKeeper.
//!
//! * Start (and every new session): the watch is added first, then the tree is read once,
//!   so nothing that happens in between is missed (its event is applied after the read).
//! * A node event: the node named by the event is read again (or forgotten when deleted).
//!   Events arrive in order with the replies of the same session, so the last read wins.
//! * Reconnected within the session: the client sets the watch again, but the server does
//!   not replay what changed while the gateway was away, so the tree is read again.
//! * The session ended (expired while partitioned away from the ensemble): a new session,
//!   and the same from the start. Meanwhile the last view is served, marked disconnected.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zkrs_client::{AddWatchMode, Client, Error as ZkError, EventType, SessionState};

use super::model::{RawTree, Snapshot};

/// Where and how to follow the registry.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The ensemble's connect string.
    pub connect: String,
    /// The base path, `/registry` by default.
    pub base: String,
    pub session_timeout: Duration,
}

/// Keeps `tx` current forever (until the task is dropped).
pub async fn follow(cfg: Follow, tx: watch::Sender<Arc<Snapshot>>) {
    let mut retry = Duration::from_millis(200);
    loop {
        let client = match Client::builder(&cfg.connect)
            .session_timeout(cfg.session_timeout)
            .connect()
            .await
        {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, connect = %cfg.connect, "cannot reach the ensemble; trying again");
                publish_connected(&tx, false);
                // Backing off between connection attempts, not between reads of the tree.
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        retry = Duration::from_millis(200);
        info!(
            session = format!("{:#x}", client.session_id()),
            "following the registry"
        );
        let ended = session(&client, &cfg.base, &tx).await;
        warn!(error = %ended, "the session ended; starting a new one");
        publish_connected(&tx, false);
        client.close().await;
    }
}

/// Follows the tree for one session; returns why it ended.
async fn session(client: &Client, base: &str, tx: &watch::Sender<Arc<Snapshot>>) -> ZkError {
    let mut events = match client
        .add_watch(base, AddWatchMode::PersistentRecursive)
        .await
    {
        Ok(w) => w,
        Err(e) => return e,
    };
    let mut states = client.state_watcher();
    let mut tree = RawTree::new();
    // Whether the tree must be read in full (at start and after a reconnect).
    let mut stale = true;
    loop {
        if stale && *states.borrow_and_update() == SessionState::SyncConnected {
            match read_all(client, base).await {
                Ok(t) => {
                    tree = t;
                    stale = false;
                    publish(tx, &tree, true);
                }
                Err(e) if e.is_terminal() => return e,
                // Lost the connection while reading: read again once reconnected.
                Err(e) => debug!(error = %e, "reading the registry failed"),
            }
        }
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return client_end(client) };
                if event.is_session_event() || stale {
                    continue;
                }
                match apply_event(client, base, &mut tree, event.event_type, &event.path).await {
                    Ok(true) => publish(tx, &tree, true),
                    Ok(false) => {}
                    Err(e) if e.is_terminal() => return e,
                    Err(e) => {
                        debug!(error = %e, "reading a changed node failed; reading all again");
                        stale = true;
                    }
                }
            }
            changed = states.changed() => {
                if changed.is_err() {
                    return client_end(client);
                }
                let state = *states.borrow();
                if state.is_terminal() {
                    return client_end(client);
                }
                if state != SessionState::SyncConnected {
                    stale = true;
                    publish_connected(tx, false);
                }
            }
        }
    }
}

fn client_end(client: &Client) -> ZkError {
    match client.state() {
        SessionState::Expired => ZkError::SessionExpired,
        _ => ZkError::Closed,
    }
}

/// The path relative to the base, when it is one or two levels below it.
fn relative<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let rel = if base == "/" {
        path.strip_prefix('/')?
    } else {
        path.strip_prefix(base)?.strip_prefix('/')?
    };
    (!rel.is_empty() && rel.split('/').count() <= 2).then_some(rel)
}

/// Applies one node event to `tree`; whether the tree changed.
async fn apply_event(
    client: &Client,
    base: &str,
    tree: &mut RawTree,
    kind: EventType,
    path: &str,
) -> Result<bool, ZkError> {
    if path == base && kind == EventType::NodeDeleted {
        let changed = !tree.is_empty();
        tree.clear();
        return Ok(changed);
    }
    let Some(rel) = relative(base, path) else {
        return Ok(false);
    };
    match kind {
        EventType::NodeCreated | EventType::NodeDataChanged => {
            match client.get_data(path).await {
                Ok((data, _)) => Ok(tree.insert(rel.to_string(), data.clone()) != Some(data)),
                // Deleted again already: its NodeDeleted event follows.
                Err(ZkError::NoNode) => Ok(false),
                Err(ZkError::NoAuth) => {
                    warn!(
                        znode = path,
                        "the gateway may not read this znode; left out"
                    );
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
        EventType::NodeDeleted => {
            let below = format!("{rel}/");
            let before = tree.len();
            tree.retain(|k, _| k != rel && !k.starts_with(&below));
            Ok(tree.len() != before)
        }
        _ => Ok(false),
    }
}

/// Reads the two levels under `base` (nothing when it does not exist). Nodes deleted while
/// this runs are left out; their events come after.
pub async fn read_all(client: &Client, base: &str) -> Result<RawTree, ZkError> {
    let mut tree = RawTree::new();
    let services = match client.get_children(base).await {
        Ok(c) => c,
        Err(ZkError::NoNode) => return Ok(tree),
        Err(e) => return Err(e),
    };
    let join = |parent: &str, child: &str| {
        if parent == "/" {
            format!("/{child}")
        } else {
            format!("{parent}/{child}")
        }
    };
    // The requests of each level are pipelined on the one connection.
    let level1 = join_all(services.iter().map(|s| {
        let path = join(base, s);
        async move {
            let data = client.get_data(&path).await;
            let children = client.get_children(&path).await;
            (s.clone(), path, data, children)
        }
    }))
    .await;
    let mut level2 = Vec::new();
    for (service, path, data, children) in level1 {
        match (data, children) {
            (Ok((data, _)), Ok(children)) => {
                tree.insert(service.clone(), data);
                for child in children {
                    level2.push((format!("{service}/{child}"), join(&path, &child)));
                }
            }
            (Err(ZkError::NoNode), _) | (_, Err(ZkError::NoNode)) => {}
            (Err(ZkError::NoAuth), _) | (_, Err(ZkError::NoAuth)) => {
                warn!(
                    znode = path,
                    "the gateway may not read this znode; left out"
                );
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        }
    }
    let data = join_all(level2.iter().map(|(_, path)| client.get_data(path))).await;
    for ((rel, path), data) in level2.into_iter().zip(data) {
        match data {
            Ok((data, _)) => {
                tree.insert(rel, data);
            }
            Err(ZkError::NoNode) => {}
            // One provider's ACL must not hide the others.
            Err(ZkError::NoAuth) => warn!(
                znode = path,
                "the gateway may not read this znode; left out"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(tree)
}

fn publish(tx: &watch::Sender<Arc<Snapshot>>, tree: &RawTree, connected: bool) {
    tx.send_if_modified(|snap| {
        let next = snap.next(tree, connected);
        let changed = next.index != snap.index || next.connected != snap.connected;
        if next.index != snap.index {
            debug!(
                index = next.index,
                services = next.view.services.len(),
                "registry changed"
            );
        }
        *snap = Arc::new(next);
        changed
    });
}

fn publish_connected(tx: &watch::Sender<Arc<Snapshot>>, connected: bool) {
    tx.send_if_modified(|snap| {
        if snap.connected == connected {
            return false;
        }
        let mut next = Snapshot::clone(snap);
        next.connected = connected;
        *snap = Arc::new(next);
        true
    });
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn only_the_two_levels_under_the_base_count() {
        assert_eq!(relative("/registry", "/registry/a"), Some("a"));
        assert_eq!(relative("/registry", "/registry/a/b"), Some("a/b"));
        assert_eq!(relative("/registry", "/registry/a/b/c"), None);
        assert_eq!(relative("/registry", "/registry"), None);
        assert_eq!(relative("/registry", "/registryx/a"), None);
        assert_eq!(relative("/", "/a/b"), Some("a/b"));
    }
}
