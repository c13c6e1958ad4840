//! Watches on the client side: the user's handles ([`OneshotWatcher`], [`PersistentWatcher`])
//! and the registry the session task keeps so it can dispatch notifications and re-register
//! every outstanding watch after a reconnect.
//!
//! The registry is keyed by server paths (with the chroot); the events handed to the user
//! carry client paths. A watch is registered only when the server has answered the request
//! that set it, exactly as the server does, so the two always agree.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use zkrs_proto::path::parent;
use zkrs_proto::request::SetWatchesRequest;
use zkrs_proto::{AddWatchMode, EventType, WatcherType};

use crate::types::{SessionState, WatchedEvent};

/// Setting watches again after a reconnect is split into requests of at most this many bytes
/// of paths, like the Java client, so that a huge watch set never exceeds the frame limit.
const SET_WATCHES_MAX_BYTES: usize = 128 * 1024;

/// A one-shot watch: resolves once, with the event that triggered it.
///
/// Await it (it is a `Future`) or call [`OneshotWatcher::changed`]. If the session ends
/// first it resolves with a session event (`EventType::None`, state `Expired`, `Closed` or
/// `AuthFailed`). A watch survives reconnects: the client sets it again on the new
/// connection, and the server reports a change that happened while the client was away.
/// Dropping the watcher just discards its event.
#[derive(Debug)]
pub struct OneshotWatcher {
    rx: oneshot::Receiver<WatchedEvent>,
}

impl OneshotWatcher {
    pub(crate) fn new() -> (OneshotWatcher, oneshot::Sender<WatchedEvent>) {
        let (tx, rx) = oneshot::channel();
        (OneshotWatcher { rx }, tx)
    }

    /// Waits for the event.
    pub async fn changed(self) -> WatchedEvent {
        self.await
    }
}

impl Future for OneshotWatcher {
    type Output = WatchedEvent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| WatchedEvent::session(SessionState::Closed)))
    }
}

/// A persistent watch (`addWatch`): a stream of events that stays registered until removed
/// with `remove_watches` or until the session ends.
///
/// Besides node events it yields session events: `Disconnected` when the connection is lost
/// and `SyncConnected` when it is back (persistent watches are set again then, but changes
/// made in between are not replayed by the server: re-read what matters). After a final
/// `Expired`, `Closed`, `AuthFailed` or `PersistentWatchRemoved` event the stream ends.
#[derive(Debug)]
pub struct PersistentWatcher {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
    path: String,
    mode: AddWatchMode,
}

impl PersistentWatcher {
    pub(crate) fn new(
        path: String,
        mode: AddWatchMode,
    ) -> (PersistentWatcher, mpsc::UnboundedSender<WatchedEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (PersistentWatcher { rx, path, mode }, tx)
    }

    /// The next event, or `None` once the watch is gone.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }

    /// The next node event, skipping `Disconnected`/`SyncConnected` session events; `None`
    /// once the watch is gone.
    pub async fn next_node_event(&mut self) -> Option<WatchedEvent> {
        loop {
            let event = self.rx.recv().await?;
            if !event.is_session_event() {
                return Some(event);
            }
        }
    }

    /// An event that is already queued, without waiting.
    pub fn try_next(&mut self) -> Option<WatchedEvent> {
        self.rx.try_recv().ok()
    }

    /// The watched path (relative to the chroot).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn mode(&self) -> AddWatchMode {
        self.mode
    }
}

/// What a request registers once the server has answered it successfully.
#[derive(Debug)]
pub(crate) enum Registration {
    /// `getData` with watch: a data watch.
    Data(String, oneshot::Sender<WatchedEvent>),
    /// `exists` with watch: a data watch if the node exists, an exist watch if not.
    Exists(String, oneshot::Sender<WatchedEvent>),
    /// `getChildren` with watch.
    Child(String, oneshot::Sender<WatchedEvent>),
    /// `addWatch`.
    Persistent(String, AddWatchMode, mpsc::UnboundedSender<WatchedEvent>),
    /// `removeWatches`: drop the local watches too, telling their owners.
    Remove(String, WatcherType),
}

type Oneshots = HashMap<String, Vec<oneshot::Sender<WatchedEvent>>>;
type Streams = HashMap<String, Vec<mpsc::UnboundedSender<WatchedEvent>>>;

/// The watches this session holds, keyed by server path.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    data: Oneshots,
    exist: Oneshots,
    child: Oneshots,
    persistent: Streams,
    recursive: Streams,
}

impl WatchRegistry {
    /// Records a watch after the server's successful answer (`no_node` for an `exists` that
    /// answered NoNode, which sets an exist watch).
    pub fn register(&mut self, reg: Registration, no_node: bool) {
        match reg {
            Registration::Data(p, tx) => self.data.entry(p).or_default().push(tx),
            Registration::Exists(p, tx) if no_node => self.exist.entry(p).or_default().push(tx),
            Registration::Exists(p, tx) => self.data.entry(p).or_default().push(tx),
            Registration::Child(p, tx) => self.child.entry(p).or_default().push(tx),
            Registration::Persistent(p, AddWatchMode::Persistent, tx) => {
                self.persistent.entry(p).or_default().push(tx)
            }
            Registration::Persistent(p, AddWatchMode::PersistentRecursive, tx) => {
                self.recursive.entry(p).or_default().push(tx)
            }
            Registration::Remove(..) => {}
        }
    }

    /// Delivers a node event for `server_path` to every watcher it triggers. One-shot
    /// watchers are consumed. `event` carries the client path.
    pub fn dispatch(&mut self, server_path: &str, event: WatchedEvent) {
        let mut oneshots = Vec::new();
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                oneshots.extend(self.data.remove(server_path).unwrap_or_default());
                oneshots.extend(self.exist.remove(server_path).unwrap_or_default());
            }
            EventType::NodeChildrenChanged => {
                oneshots.extend(self.child.remove(server_path).unwrap_or_default());
            }
            EventType::NodeDeleted => {
                oneshots.extend(self.data.remove(server_path).unwrap_or_default());
                oneshots.extend(self.exist.remove(server_path).unwrap_or_default());
                oneshots.extend(self.child.remove(server_path).unwrap_or_default());
            }
            _ => {}
        }
        for tx in oneshots {
            let _ = tx.send(event.clone());
        }
        send_all(self.persistent.get_mut(server_path), &event);
        if event.event_type == EventType::NodeChildrenChanged {
            // Recursive watches do not report child lists (they report each child's event).
            return;
        }
        let mut p = Some(server_path);
        while let Some(path) = p {
            send_all(self.recursive.get_mut(path), &event);
            p = parent(path);
        }
        self.persistent.retain(|_, v| !v.is_empty());
        self.recursive.retain(|_, v| !v.is_empty());
    }

    /// Drops the local watches a successful `removeWatches(server_path, kind)` removed; each
    /// owner gets the matching `...WatchRemoved` event (with `client_path`).
    pub fn remove(&mut self, server_path: &str, kind: WatcherType, client_path: &str) {
        let event = |t| WatchedEvent {
            event_type: t,
            state: zkrs_proto::KeeperState::SyncConnected,
            path: client_path.to_string(),
        };
        let data = matches!(kind, WatcherType::Data | WatcherType::Any);
        let child = matches!(kind, WatcherType::Children | WatcherType::Any);
        let persistent = matches!(kind, WatcherType::Persistent | WatcherType::Any);
        let recursive = matches!(kind, WatcherType::PersistentRecursive | WatcherType::Any);
        if data {
            for map in [&mut self.data, &mut self.exist] {
                for tx in map.remove(server_path).unwrap_or_default() {
                    let _ = tx.send(event(EventType::DataWatchRemoved));
                }
            }
        }
        if child {
            for tx in self.child.remove(server_path).unwrap_or_default() {
                let _ = tx.send(event(EventType::ChildWatchRemoved));
            }
        }
        for (on, map) in [
            (persistent, &mut self.persistent),
            (recursive, &mut self.recursive),
        ] {
            if on {
                for tx in map.remove(server_path).unwrap_or_default() {
                    let _ = tx.send(event(EventType::PersistentWatchRemoved));
                }
            }
        }
    }

    /// Tells the watchers about a session state change. Persistent watchers hear every
    /// change; a terminal state also ends every watch.
    pub fn session_event(&mut self, state: SessionState) {
        let event = WatchedEvent::session(state);
        if state.is_terminal() {
            for map in [&mut self.data, &mut self.exist, &mut self.child] {
                for (_, txs) in map.drain() {
                    for tx in txs {
                        let _ = tx.send(event.clone());
                    }
                }
            }
            for map in [&mut self.persistent, &mut self.recursive] {
                for (_, txs) in map.drain() {
                    for tx in txs {
                        let _ = tx.send(event.clone());
                    }
                }
            }
        } else {
            for map in [&mut self.persistent, &mut self.recursive] {
                for txs in map.values_mut() {
                    txs.retain(|tx| tx.send(event.clone()).is_ok());
                }
                map.retain(|_, v| !v.is_empty());
            }
        }
    }

    /// The `setWatches2` requests that set every outstanding watch again on a new
    /// connection. Watches whose owners are gone are forgotten first.
    pub fn set_watches_requests(&mut self, relative_zxid: i64) -> Vec<SetWatchesRequest> {
        for map in [&mut self.data, &mut self.exist, &mut self.child] {
            for txs in map.values_mut() {
                txs.retain(|tx| !tx.is_closed());
            }
            map.retain(|_, v| !v.is_empty());
        }
        for map in [&mut self.persistent, &mut self.recursive] {
            for txs in map.values_mut() {
                txs.retain(|tx| !tx.is_closed());
            }
            map.retain(|_, v| !v.is_empty());
        }
        let mut out = Vec::new();
        let mut cur = SetWatchesRequest {
            relative_zxid,
            ..Default::default()
        };
        let mut bytes = 0;
        let lists: [(usize, Vec<&String>); 5] = [
            (0, sorted_keys(&self.data)),
            (1, sorted_keys(&self.exist)),
            (2, sorted_keys(&self.child)),
            (3, sorted_keys(&self.persistent)),
            (4, sorted_keys(&self.recursive)),
        ];
        for (which, paths) in lists {
            for path in paths {
                if bytes + path.len() > SET_WATCHES_MAX_BYTES && bytes > 0 {
                    out.push(std::mem::replace(
                        &mut cur,
                        SetWatchesRequest {
                            relative_zxid,
                            ..Default::default()
                        },
                    ));
                    bytes = 0;
                }
                bytes += path.len();
                let list = match which {
                    0 => &mut cur.data_watches,
                    1 => &mut cur.exist_watches,
                    2 => &mut cur.child_watches,
                    3 => &mut cur.persistent_watches,
                    _ => &mut cur.persistent_recursive_watches,
                };
                list.push(path.clone());
            }
        }
        if bytes > 0 {
            out.push(cur);
        }
        out
    }
}

fn sorted_keys<V>(map: &HashMap<String, V>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys
}

fn send_all(sinks: Option<&mut Vec<mpsc::UnboundedSender<WatchedEvent>>>, event: &WatchedEvent) {
    if let Some(sinks) = sinks {
        sinks.retain(|tx| tx.send(event.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkrs_proto::KeeperState;

    fn node_event(t: EventType, path: &str) -> WatchedEvent {
        WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: path.to_string(),
        }
    }

    #[test]
    fn dispatch_follows_java_rules() {
        let mut reg = WatchRegistry::default();
        let (mut d, dtx) = OneshotWatcher::new();
        let (mut c, ctx) = OneshotWatcher::new();
        let (mut rw, rtx) = PersistentWatcher::new("/".into(), AddWatchMode::PersistentRecursive);
        reg.register(Registration::Data("/a".into(), dtx), false);
        reg.register(Registration::Child("/a".into(), ctx), false);
        reg.register(
            Registration::Persistent("/".into(), AddWatchMode::PersistentRecursive, rtx),
            false,
        );
        reg.dispatch("/a", node_event(EventType::NodeChildrenChanged, "/a"));
        assert!(d.rx.try_recv().is_err());
        assert_eq!(
            c.rx.try_recv().unwrap().event_type,
            EventType::NodeChildrenChanged
        );
        // Recursive watches do not see NodeChildrenChanged.
        assert!(rw.try_next().is_none());
        reg.dispatch("/a/b", node_event(EventType::NodeCreated, "/a/b"));
        assert_eq!(rw.try_next().unwrap().path, "/a/b");
        reg.dispatch("/a", node_event(EventType::NodeDeleted, "/a"));
        assert_eq!(d.rx.try_recv().unwrap().event_type, EventType::NodeDeleted);
        assert_eq!(rw.try_next().unwrap().event_type, EventType::NodeDeleted);
    }

    #[test]
    fn set_watches_lists_everything_and_splits() {
        let mut reg = WatchRegistry::default();
        let mut keep = Vec::new();
        for i in 0..3000 {
            let (w, tx) = OneshotWatcher::new();
            keep.push(w);
            reg.register(Registration::Exists(format!("/{i:0100}"), tx), true);
        }
        let (_p, ptx) = PersistentWatcher::new("/p".into(), AddWatchMode::Persistent);
        reg.register(
            Registration::Persistent("/p".into(), AddWatchMode::Persistent, ptx),
            false,
        );
        let (dropped, tx) = OneshotWatcher::new();
        reg.register(Registration::Data("/gone".into(), tx), false);
        drop(dropped);
        let reqs = reg.set_watches_requests(7);
        assert!(reqs.len() >= 2);
        let exist: usize = reqs.iter().map(|r| r.exist_watches.len()).sum();
        assert_eq!(exist, 3000);
        assert!(reqs.iter().all(|r| r.relative_zxid == 7));
        assert!(reqs.iter().all(|r| r.data_watches.is_empty()));
        assert_eq!(reqs.last().unwrap().persistent_watches, vec!["/p"]);
    }
}
