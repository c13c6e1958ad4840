//! Watch and session events, printed as zkCli's default watcher prints them.
//!
//! In zkCli every watch a command sets (`get -w`, `ls -w`, `stat -w`, `config -w`,
//! `addWatch`) and every session change goes to one default watcher, which prints
//! `WATCHER::` and the event. The Java client delivers a notification once per watcher, so a
//! change that fires several watches of the session (a data and a child watch, a persistent
//! watch, the same watch set twice) prints once.
//!
//! Here each watch is a handle of the library (a future or a stream). The [`Hub`] holds them
//! all and polls them together: when the session task dispatches a notification it completes
//! every matching handle at once, and the runtime is single-threaded, so one pass over the
//! handles sees all the copies of a notification and prints it once.
//!
//! Events are printed as soon as they arrive (a background task polls the hub), and the shell
//! drains the hub before it prints a command's output, so that an event that arrived before a
//! command's reply is printed before that command's output, as zkCli usually shows it.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::broadcast;
use zkrs_client::{
    Client, EventType, KeeperState, OneshotWatcher, PersistentWatcher, SessionState,
};

use super::format::{event_string, watcher_block};

enum Source {
    Oneshot(OneshotWatcher),
    Persistent(PersistentWatcher),
    State(broadcast::Receiver<SessionState>),
}

/// One event taken from a source during a drain.
enum Taken {
    Node(u64, EventType, String),
    Session(KeeperState),
}

struct Inner {
    next_id: u64,
    sources: Vec<(u64, Source)>,
    /// Session events to print that no source reports (the first connection, a close while
    /// connecting).
    pending: Vec<KeeperState>,
    waker: Option<Waker>,
    print: bool,
}

/// Where events are written: stdout, or rustyline's external printer while a line is being
/// edited on a terminal.
pub type ExternalPrinter = Box<dyn rustyline::ExternalPrinter + Send>;

/// The shell's default watcher.
pub struct Hub {
    inner: Mutex<Inner>,
    printer: Mutex<Option<ExternalPrinter>>,
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            inner: Mutex::new(Inner {
                next_id: 0,
                sources: Vec::new(),
                pending: Vec::new(),
                waker: None,
                print: true,
            }),
            printer: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends events to rustyline's printer from now on (terminal mode).
    pub fn set_printer(&self, printer: ExternalPrinter) {
        if let Ok(mut p) = self.printer.lock() {
            *p = Some(printer);
        }
    }

    /// `printwatches on|off`. Events that arrive while off are dropped, as in zkCli.
    pub fn set_print(&self, on: bool) {
        self.lock().print = on;
    }

    pub fn print_enabled(&self) -> bool {
        self.lock().print
    }

    fn add(&self, source: Source) {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.sources.push((id, source));
        if let Some(w) = &inner.waker {
            w.wake_by_ref();
        }
    }

    pub fn add_oneshot(&self, w: OneshotWatcher) {
        self.add(Source::Oneshot(w));
    }

    pub fn add_persistent(&self, w: PersistentWatcher) {
        self.add(Source::Persistent(w));
    }

    /// Queues a session event that no source will report.
    pub fn push_session_event(&self, state: KeeperState) {
        let mut inner = self.lock();
        inner.pending.push(state);
        if let Some(w) = &inner.waker {
            w.wake_by_ref();
        }
    }

    /// Follows the session events of a newly connected client. Its first `SyncConnected`
    /// happened before the client was handed out, so it is announced here.
    pub fn attach(self: &Arc<Self>, client: &Client) {
        self.push_session_event(KeeperState::SyncConnected);
        self.add(Source::State(client.state_events()));
        // Wakes the hub when a state event is published (the hub takes it with try_recv).
        let mut rx = client.state_events();
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            while let Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) = rx.recv().await {
                hub.drain();
            }
        });
    }

    /// Runs forever, printing events as they arrive.
    pub async fn run(self: Arc<Self>) {
        std::future::poll_fn(|cx: &mut Context<'_>| {
            self.lock().waker = Some(cx.waker().clone());
            self.drain();
            Poll::<()>::Pending
        })
        .await
    }

    /// Prints every event that has arrived, each notification once.
    pub fn drain(&self) {
        let (taken, print) = {
            let mut inner = self.lock();
            let waker = inner.waker.clone().unwrap_or_else(|| Waker::noop().clone());
            let mut cx = Context::from_waker(&waker);
            let mut taken: Vec<Taken> = inner.pending.drain(..).map(Taken::Session).collect();
            inner
                .sources
                .retain_mut(|(id, source)| poll_source(*id, source, &mut cx, &mut taken));
            (taken, inner.print)
        };
        if taken.is_empty() || !print {
            return;
        }
        let text: String = order_batch(dedup_batch(taken))
            .into_iter()
            .map(|e| match e {
                Printed::Session(state) => {
                    watcher_block(&event_string(state, EventType::None, None))
                }
                Printed::Node(ty, path) => {
                    watcher_block(&event_string(KeeperState::SyncConnected, ty, Some(&path)))
                }
            })
            .collect();
        self.write(text);
    }

    fn write(&self, text: String) {
        if text.is_empty() {
            return;
        }
        if let Ok(mut printer) = self.printer.lock() {
            if let Some(p) = printer.as_mut() {
                let msg = text.trim_end_matches('\n').to_string();
                if p.print(msg).is_ok() {
                    return;
                }
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// An event to print.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Printed {
    Session(KeeperState),
    Node(EventType, String),
}

/// One print per notification: a notification that fired several watches of the session
/// reached each of their handles; the copies of a (type, path) seen by one handle are
/// distinct notifications, copies across handles are the same one.
///
/// Session events are polled apart from node events: a batch that ends connected (the first
/// connection, a reconnection) starts with them; one that ends disconnected or closed (the
/// notifications a session gets while it closes come before its end) ends with them.
fn dedup_batch(taken: Vec<Taken>) -> Vec<Printed> {
    let mut printed: HashMap<(EventType, String), usize> = HashMap::new();
    let mut seen: HashMap<(u64, EventType, String), usize> = HashMap::new();
    let mut sessions = Vec::new();
    let mut out = Vec::new();
    for t in taken {
        match t {
            Taken::Session(state) => sessions.push(Printed::Session(state)),
            Taken::Node(id, ty, path) => {
                let n = seen.entry((id, ty, path.clone())).or_insert(0);
                *n += 1;
                let p = printed.entry((ty, path.clone())).or_insert(0);
                if *n > *p {
                    *p += 1;
                    out.push(Printed::Node(ty, path));
                }
            }
        }
    }
    if sessions.last() == Some(&Printed::Session(KeeperState::SyncConnected)) {
        sessions.extend(out);
        sessions
    } else {
        out.extend(sessions);
        out
    }
}

/// The handles of a batch are polled one after the other, which loses the order between
/// notifications that reached different handles. The server reports a node's creation or
/// deletion before the change of its parent's children, so a `NodeChildrenChanged` moves
/// after the events on its children.
fn order_batch(mut events: Vec<Printed>) -> Vec<Printed> {
    let is_child_event = |e: &Printed, parent: &str| match e {
        Printed::Node(EventType::NodeCreated | EventType::NodeDeleted, p) => {
            zkrs_client::proto::path::parent(p) == Some(parent)
        }
        _ => false,
    };
    let mut i = 0;
    while i < events.len() {
        if let Printed::Node(EventType::NodeChildrenChanged, parent) = &events[i] {
            let parent = parent.clone();
            if let Some(j) = (i + 1..events.len())
                .rev()
                .find(|&j| is_child_event(&events[j], &parent))
            {
                let e = events.remove(i);
                events.insert(j, e);
                continue;
            }
        }
        i += 1;
    }
    events
}

/// Takes what `source` has ready; returns whether to keep it.
fn poll_source(id: u64, source: &mut Source, cx: &mut Context<'_>, out: &mut Vec<Taken>) -> bool {
    match source {
        Source::Oneshot(w) => match Pin::new(w).poll(cx) {
            Poll::Ready(ev) => {
                if !ev.is_session_event() {
                    out.push(Taken::Node(id, ev.event_type, ev.path));
                }
                false
            }
            Poll::Pending => true,
        },
        Source::Persistent(w) => loop {
            let next = w.next();
            let mut next = std::pin::pin!(next);
            match next.as_mut().poll(cx) {
                Poll::Ready(Some(ev)) => {
                    if !ev.is_session_event() {
                        out.push(Taken::Node(id, ev.event_type, ev.path));
                    }
                }
                Poll::Ready(None) => return false,
                Poll::Pending => return true,
            }
        },
        Source::State(rx) => loop {
            match rx.try_recv() {
                Ok(state) => {
                    // The Java client reports reconnects as SyncConnected and ends with
                    // Expired, AuthFailed or Closed; it never reports "Disconnected" twice.
                    out.push(Taken::Session(state.keeper_state()));
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(broadcast::error::TryRecvError::Empty) => return true,
                Err(broadcast::error::TryRecvError::Closed) => return false,
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, ty: EventType, p: &str) -> Taken {
        Taken::Node(id, ty, p.to_string())
    }

    fn printed(ty: EventType, p: &str) -> Printed {
        Printed::Node(ty, p.to_string())
    }

    #[test]
    fn one_print_per_notification() {
        use EventType::*;
        // A data watch, a child watch and a recursive watch all see /a deleted: one print.
        let batch = vec![
            node(1, NodeDeleted, "/a"),
            node(2, NodeDeleted, "/a"),
            node(3, NodeDeleted, "/a"),
        ];
        assert_eq!(dedup_batch(batch), [printed(NodeDeleted, "/a")]);
        // One persistent watch seeing two changes of /a: two notifications.
        let batch = vec![
            node(1, NodeDataChanged, "/a"),
            node(1, NodeDataChanged, "/a"),
            node(2, NodeDataChanged, "/a"),
        ];
        assert_eq!(
            dedup_batch(batch),
            [
                printed(NodeDataChanged, "/a"),
                printed(NodeDataChanged, "/a")
            ]
        );
        let batch = vec![
            Taken::Session(KeeperState::Closed),
            node(4, NodeCreated, "/x"),
        ];
        assert_eq!(
            dedup_batch(batch),
            [
                printed(NodeCreated, "/x"),
                Printed::Session(KeeperState::Closed)
            ]
        );
        let batch = vec![
            Taken::Session(KeeperState::SyncConnected),
            node(4, NodeDeleted, "/x"),
        ];
        assert_eq!(
            dedup_batch(batch),
            [
                Printed::Session(KeeperState::SyncConnected),
                printed(NodeDeleted, "/x")
            ]
        );
    }

    #[test]
    fn children_changes_follow_child_events() {
        use EventType::*;
        let batch = vec![
            printed(NodeChildrenChanged, "/a"),
            printed(NodeDataChanged, "/z"),
            printed(NodeDeleted, "/a/b"),
        ];
        assert_eq!(
            order_batch(batch),
            [
                printed(NodeDataChanged, "/z"),
                printed(NodeDeleted, "/a/b"),
                printed(NodeChildrenChanged, "/a")
            ]
        );
        let batch = vec![
            printed(NodeCreated, "/x"),
            printed(NodeChildrenChanged, "/"),
        ];
        assert_eq!(order_batch(batch.clone()), batch);
    }
}
