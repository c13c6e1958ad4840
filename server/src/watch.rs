//! Watches: which sessions hear about which changes. One-shot data, exist and child watches
//! fire once; persistent watches stay; persistent-recursive watches cover a whole subtree
//! (but, as in Apache, never hear NodeChildrenChanged).

use std::collections::{BTreeSet, HashMap, HashSet};

use zkrs_proto::path::parent;
use zkrs_proto::{EventType, WatcherType};

use crate::tree::Trigger;

pub type SessionId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    /// getData/exists with watch: NodeCreated, NodeDeleted, NodeDataChanged.
    Data,
    /// getChildren with watch: NodeChildrenChanged, NodeDeleted.
    Child,
    /// The data half of a persistent watch. As in Apache, a persistent watch is a data
    /// watch and a child watch that both stay, so `removeWatches` of one type can take one
    /// half away and leave the other.
    PersistentData,
    /// The child half of a persistent watch.
    PersistentChild,
    PersistentRecursive,
    /// Apache files a recursive watch in its child table too, where it never fires (a
    /// recursive watch hears no NodeChildrenChanged) but answers checkWatches and
    /// removeWatches of the Children type and counts in `zk_watch_count`.
    PersistentRecursiveChild,
}

impl WatchKind {
    const ALL: [WatchKind; 6] = [
        WatchKind::Data,
        WatchKind::Child,
        WatchKind::PersistentData,
        WatchKind::PersistentChild,
        WatchKind::PersistentRecursive,
        WatchKind::PersistentRecursiveChild,
    ];

    fn is_recursive(self) -> bool {
        matches!(
            self,
            WatchKind::PersistentRecursive | WatchKind::PersistentRecursiveChild
        )
    }

    fn one_shot(self) -> bool {
        matches!(self, WatchKind::Data | WatchKind::Child)
    }

    /// Whether Apache keeps this kind among its data watches (`wchs`/`wchc`/`wchp` list
    /// those only); the child kinds live apart.
    fn is_data_side(self) -> bool {
        !matches!(
            self,
            WatchKind::Child | WatchKind::PersistentChild | WatchKind::PersistentRecursiveChild
        )
    }
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub session: SessionId,
    pub event: EventType,
    pub path: String,
}

#[derive(Debug, Default)]
pub struct WatchManager {
    by_path: HashMap<WatchKind, HashMap<String, HashSet<SessionId>>>,
    by_session: HashMap<SessionId, BTreeSet<(WatchKind, String)>>,
    recursive_count: usize,
}

impl WatchManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a persistent (non-recursive) watch: both halves.
    pub fn add_persistent(&mut self, path: &str, session: SessionId) {
        self.add(WatchKind::PersistentData, path, session);
        self.add(WatchKind::PersistentChild, path, session);
    }

    /// Adds a persistent-recursive watch (and its child-table shadow).
    pub fn add_recursive(&mut self, path: &str, session: SessionId) {
        self.add(WatchKind::PersistentRecursive, path, session);
        self.add(WatchKind::PersistentRecursiveChild, path, session);
    }

    pub fn add(&mut self, kind: WatchKind, path: &str, session: SessionId) {
        let added = self
            .by_path
            .entry(kind)
            .or_default()
            .entry(path.to_string())
            .or_default()
            .insert(session);
        if added {
            if kind.is_recursive() {
                self.recursive_count += 1;
            }
            self.by_session
                .entry(session)
                .or_default()
                .insert((kind, path.to_string()));
        }
    }

    fn remove(&mut self, kind: WatchKind, path: &str, session: SessionId) -> bool {
        let Some(paths) = self.by_path.get_mut(&kind) else {
            return false;
        };
        let Some(set) = paths.get_mut(path) else {
            return false;
        };
        let removed = set.remove(&session);
        if set.is_empty() {
            paths.remove(path);
        }
        if removed {
            if kind.is_recursive() {
                self.recursive_count -= 1;
            }
            if let Some(s) = self.by_session.get_mut(&session) {
                s.remove(&(kind, path.to_string()));
                if s.is_empty() {
                    self.by_session.remove(&session);
                }
            }
        }
        removed
    }

    fn kinds_for(t: WatcherType) -> &'static [WatchKind] {
        match t {
            WatcherType::Children => &[
                WatchKind::Child,
                WatchKind::PersistentChild,
                WatchKind::PersistentRecursiveChild,
            ],
            // Apache's data watch table holds recursive watches too.
            WatcherType::Data => &[
                WatchKind::Data,
                WatchKind::PersistentData,
                WatchKind::PersistentRecursive,
            ],
            WatcherType::Persistent => &[WatchKind::PersistentData, WatchKind::PersistentChild],
            WatcherType::PersistentRecursive => &[
                WatchKind::PersistentRecursive,
                WatchKind::PersistentRecursiveChild,
            ],
            WatcherType::Any => &WatchKind::ALL,
        }
    }

    /// `removeWatches`: whether anything was removed.
    pub fn remove_watches(&mut self, path: &str, t: WatcherType, session: SessionId) -> bool {
        let mut removed = false;
        for &k in Self::kinds_for(t) {
            removed |= self.remove(k, path, session);
        }
        removed
    }

    /// `checkWatches`: whether the session has such a watch.
    pub fn has_watch(&self, path: &str, t: WatcherType, session: SessionId) -> bool {
        Self::kinds_for(t).iter().any(|k| {
            self.by_path
                .get(k)
                .and_then(|m| m.get(path))
                .is_some_and(|s| s.contains(&session))
        })
    }

    /// Drops every watch of a closed session.
    pub fn remove_session(&mut self, session: SessionId) {
        if let Some(entries) = self.by_session.remove(&session) {
            for (kind, path) in entries {
                if let Some(paths) = self.by_path.get_mut(&kind) {
                    if let Some(set) = paths.get_mut(&path) {
                        set.remove(&session);
                        if set.is_empty() {
                            paths.remove(&path);
                        }
                    }
                }
                if kind.is_recursive() {
                    self.recursive_count -= 1;
                }
            }
        }
    }

    /// Collects (and, for one-shot watches, consumes) the watchers of `kind` at `path`.
    fn take(&mut self, kind: WatchKind, path: &str, out: &mut Vec<SessionId>) {
        let Some(paths) = self.by_path.get_mut(&kind) else {
            return;
        };
        if kind.one_shot() {
            if let Some(set) = paths.remove(path) {
                for s in &set {
                    if let Some(e) = self.by_session.get_mut(s) {
                        e.remove(&(kind, path.to_string()));
                        if e.is_empty() {
                            self.by_session.remove(s);
                        }
                    }
                }
                out.extend(set);
            }
        } else if let Some(set) = paths.get(path) {
            out.extend(set.iter().copied());
        }
    }

    /// Turns a tree trigger into notifications, at most one per session.
    pub fn fire(&mut self, trigger: &Trigger, out: &mut Vec<Notification>) {
        let (path, event, kinds): (&str, EventType, &[WatchKind]) = match trigger {
            Trigger::Created(p, _) => (
                p,
                EventType::NodeCreated,
                &[WatchKind::Data, WatchKind::PersistentData],
            ),
            Trigger::DataChanged(p, _) => (
                p,
                EventType::NodeDataChanged,
                &[WatchKind::Data, WatchKind::PersistentData],
            ),
            Trigger::Deleted(p, _) => (
                p,
                EventType::NodeDeleted,
                &[
                    WatchKind::Data,
                    WatchKind::Child,
                    WatchKind::PersistentData,
                    WatchKind::PersistentChild,
                ],
            ),
            Trigger::ChildrenChanged(p, _) => (
                p,
                EventType::NodeChildrenChanged,
                &[WatchKind::Child, WatchKind::PersistentChild],
            ),
        };
        let mut sessions = Vec::new();
        for &k in kinds {
            self.take(k, path, &mut sessions);
        }
        if self.recursive_count > 0 && event != EventType::NodeChildrenChanged {
            let mut p = Some(path);
            while let Some(cur) = p {
                self.take(WatchKind::PersistentRecursive, cur, &mut sessions);
                // The child-table copy hears deletions (Apache triggers its child table
                // with NodeDeleted too); it matters once the data copy was removed.
                if event == EventType::NodeDeleted {
                    self.take(WatchKind::PersistentRecursiveChild, cur, &mut sessions);
                }
                p = parent(cur);
            }
        }
        let mut seen = HashSet::new();
        for s in sessions {
            if seen.insert(s) {
                out.push(Notification {
                    session: s,
                    event,
                    path: path.to_string(),
                });
            }
        }
    }

    /// Total number of watches (`zk_watch_count`).
    pub fn count(&self) -> usize {
        self.by_session.values().map(|s| s.len()).sum()
    }

    /// Watched paths per session, data watches only, sorted (`wchc`).
    pub fn data_watches_by_session(&self) -> Vec<(SessionId, Vec<String>)> {
        let mut out: Vec<(SessionId, Vec<String>)> = self
            .by_session
            .iter()
            .map(|(s, e)| {
                let paths: BTreeSet<&String> = e
                    .iter()
                    .filter(|(k, _)| k.is_data_side())
                    .map(|(_, p)| p)
                    .collect();
                (*s, paths.into_iter().cloned().collect::<Vec<_>>())
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        out.sort();
        out
    }

    /// Watching sessions per path, data watches only (`wchp`).
    pub fn data_watches_by_path(&self) -> Vec<(String, Vec<SessionId>)> {
        let mut m: std::collections::BTreeMap<String, BTreeSet<SessionId>> = Default::default();
        for (kind, paths) in &self.by_path {
            if !kind.is_data_side() {
                continue;
            }
            for (p, s) in paths {
                m.entry(p.clone()).or_default().extend(s.iter().copied());
            }
        }
        m.into_iter()
            .map(|(p, s)| (p, s.into_iter().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> std::sync::Arc<[zkrs_proto::Acl]> {
        std::sync::Arc::from(zkrs_proto::Acl::open_unsafe())
    }

    fn fire(w: &mut WatchManager, t: Trigger) -> Vec<(SessionId, EventType, String)> {
        let mut out = Vec::new();
        w.fire(&t, &mut out);
        let mut v: Vec<_> = out
            .into_iter()
            .map(|n| (n.session, n.event, n.path))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }

    #[test]
    fn one_shot_fires_once() {
        let mut w = WatchManager::new();
        w.add(WatchKind::Data, "/a", 1);
        assert_eq!(
            fire(&mut w, Trigger::DataChanged("/a".into(), open())),
            vec![(1, EventType::NodeDataChanged, "/a".into())]
        );
        assert!(fire(&mut w, Trigger::DataChanged("/a".into(), open())).is_empty());
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn delete_fires_one_event_per_session() {
        let mut w = WatchManager::new();
        w.add(WatchKind::Data, "/a", 1);
        w.add(WatchKind::Child, "/a", 1);
        w.add(WatchKind::Child, "/a", 2);
        assert_eq!(
            fire(&mut w, Trigger::Deleted("/a".into(), open())),
            vec![
                (1, EventType::NodeDeleted, "/a".into()),
                (2, EventType::NodeDeleted, "/a".into())
            ]
        );
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn persistent_and_recursive() {
        let mut w = WatchManager::new();
        w.add_persistent("/a", 1);
        w.add_recursive("/a", 2);
        assert_eq!(
            fire(&mut w, Trigger::ChildrenChanged("/a".into(), open())),
            vec![(1, EventType::NodeChildrenChanged, "/a".into())]
        );
        assert_eq!(
            fire(&mut w, Trigger::Created("/a/b/c".into(), open())),
            vec![(2, EventType::NodeCreated, "/a/b/c".into())]
        );
        assert_eq!(
            fire(&mut w, Trigger::DataChanged("/a".into(), open())).len(),
            2,
            "both stay registered"
        );
        assert!(w.remove_watches("/a", WatcherType::PersistentRecursive, 2));
        assert!(!w.has_watch("/a", WatcherType::PersistentRecursive, 2));
        w.remove_session(1);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn removing_the_data_half_of_a_persistent_watch_keeps_the_child_half() {
        let mut w = WatchManager::new();
        w.add_persistent("/p", 1);
        assert!(w.has_watch("/p", WatcherType::Data, 1));
        assert!(w.has_watch("/p", WatcherType::Children, 1));
        assert!(w.remove_watches("/p", WatcherType::Data, 1));
        assert!(fire(&mut w, Trigger::DataChanged("/p".into(), open())).is_empty());
        assert_eq!(
            fire(&mut w, Trigger::ChildrenChanged("/p".into(), open())).len(),
            1
        );
        assert!(w.has_watch("/p", WatcherType::Children, 1));
    }
}
