//! The replicated state: the znode tree and the session registry. `apply` is the pure
//! transition `(state, txn) -> (state', result, triggers)`; the same log gives the same tree.

mod acls;
pub mod digest;
#[cfg(test)]
mod replica_tests;
mod store;
mod walk;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use zkrs_proto::path::{basename, parent};
use zkrs_proto::{Acl, ErrorCode, Stat};

use crate::quota::{self, QuotaPaths};
use crate::txn::{owner_kind, CreateKind, OwnerKind, Txn, TxnHeader};

use acls::AclTable;
pub use store::{NodeId, StoredStat};
use store::{NodeStore, ROOT};
pub use walk::FuzzyWalk;

/// A node of the tree, as readers see it: a handle valid while the tree is borrowed.
#[derive(Clone, Copy)]
pub struct NodeRef<'t> {
    tree: &'t DataTree,
    id: NodeId,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("path", &self.path())
            .field("stat", &self.raw_stat())
            .finish()
    }
}

impl<'t> NodeRef<'t> {
    /// `None` for null data (a Java client's `create(path, null, ...)`).
    pub fn data(&self) -> Option<&'t [u8]> {
        self.tree.nodes.data(self.id)
    }

    pub fn data_len(&self) -> usize {
        self.tree.nodes.data_len(self.id)
    }

    /// Shared with every node that has the same ACL.
    pub fn acl(&self) -> &'t Arc<[Acl]> {
        self.tree.acls.get(self.tree.nodes.acl(self.id))
    }

    /// The Stat fields as stored (cversion counts creations; ephemeralOwner keeps the
    /// container and TTL markers).
    pub fn stored(&self) -> StoredStat {
        self.tree.nodes.stat(self.id)
    }

    pub fn child_count(&self) -> usize {
        self.tree.nodes.child_count(self.id)
    }

    pub fn has_children(&self) -> bool {
        self.child_count() > 0
    }

    /// Child names, sorted.
    pub fn child_names(&self) -> Vec<&'t str> {
        let nodes = &self.tree.nodes;
        let mut names: Vec<&str> = nodes
            .children(self.id)
            .iter()
            .map(|&c| nodes.name(c))
            .collect();
        names.sort_unstable();
        names
    }

    pub fn path(&self) -> String {
        self.tree.nodes.path(self.id)
    }

    /// The Stat a client sees. Container and TTL markers in `ephemeralOwner` are internal:
    /// clients see 0 there, as Apache shows them.
    pub fn stat(&self) -> Stat {
        let s = self.stored();
        let owner = match owner_kind(s.ephemeral_owner) {
            OwnerKind::Ephemeral(s) => s,
            _ => 0,
        };
        let num_children = self.child_count() as i32;
        Stat {
            ephemeral_owner: owner,
            // The stored cversion counts child creations (it names sequential children);
            // clients see creations plus deletions, as Apache reports it.
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            ..s.to_stat(self.data_len() as i32, num_children)
        }
    }

    /// The Stat as stored: cversion counts creations, ephemeralOwner keeps its markers.
    pub fn raw_stat(&self) -> Stat {
        self.stored()
            .to_stat(self.data_len() as i32, self.child_count() as i32)
    }
}

/// Rebuilds a tree from a snapshot, node by node as the snapshot is read (no intermediate
/// list of nodes). Snapshots list parents before children, depth first, so each node's
/// parent is found on the stack of the nodes above the last one added; a node whose parent
/// has not come yet waits for the end.
pub struct TreeBuilder {
    tree: Option<DataTree>,
    /// The snapshot's ACL table, and the index each entry got in the tree's table.
    acls: Vec<Vec<Acl>>,
    acl_ids: Vec<Option<u32>>,
    /// Path and id of the last node added and its ancestors.
    ancestors: Vec<(String, NodeId)>,
    waiting: Vec<(String, Option<Vec<u8>>, u32, Stat)>,
    expected: usize,
}

impl TreeBuilder {
    pub fn new(acls: Vec<Vec<Acl>>, expected_nodes: usize) -> Self {
        let n = acls.len();
        TreeBuilder {
            tree: None,
            acls,
            acl_ids: vec![None; n],
            ancestors: Vec::new(),
            waiting: Vec::new(),
            expected: expected_nodes,
        }
    }

    /// Appends an ACL to the snapshot's table (a snapshot that defines ACLs as its nodes
    /// first use them).
    pub fn add_acl(&mut self, acl: Vec<Acl>) {
        self.acls.push(acl);
        self.acl_ids.push(None);
    }

    /// Whether a node at `path` has been placed in the tree (a stream that must list
    /// parents first, as Apache's does, checks each node's parent with it).
    pub fn has_node(&self, path: &str) -> bool {
        self.tree
            .as_ref()
            .is_some_and(|t| t.nodes.lookup(path).is_some())
    }

    /// Adds one node as the snapshot stores it (stored Stat, ACL by table position).
    pub fn add(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl_index: u32,
        stat: Stat,
    ) -> Result<(), String> {
        let Some(acl_list) = self.acls.get(acl_index as usize) else {
            return Err(format!(
                "node {path} names ACL {acl_index}, which is not in the table"
            ));
        };
        let stored = StoredStat::from_stat(&stat);
        let Some(tree) = self.tree.as_mut() else {
            if path != "/" {
                self.waiting
                    .push((path.to_string(), data.map(<[u8]>::to_vec), acl_index, stat));
                return Ok(());
            }
            let mut root = DataTree::with_root(acl_list, data, stored);
            root.nodes.reserve(self.expected);
            self.acl_ids[acl_index as usize] = Some(root.nodes.acl(ROOT));
            self.tree = Some(root);
            self.ancestors.push(("/".to_string(), ROOT));
            return Ok(());
        };
        if path == "/" {
            return Err("the snapshot holds the root twice".into());
        }
        let Some(parent_path) = parent(path) else {
            return Err(format!("{path} is not a valid path"));
        };
        while self.ancestors.last().is_some_and(|(p, _)| p != parent_path) {
            self.ancestors.pop();
        }
        let parent_id = match self.ancestors.last() {
            Some((_, id)) => Some(*id),
            None => tree.nodes.lookup(parent_path),
        };
        let Some(parent_id) = parent_id else {
            self.waiting
                .push((path.to_string(), data.map(<[u8]>::to_vec), acl_index, stat));
            return Ok(());
        };
        let acl = match self.acl_ids[acl_index as usize] {
            Some(i) => {
                tree.acls.retain(i);
                i
            }
            None => {
                let i = tree.acls.acquire(acl_list);
                self.acl_ids[acl_index as usize] = Some(i);
                i
            }
        };
        if tree.nodes.lookup(path).is_some() {
            return Err(format!("{path} appears twice in the snapshot"));
        }
        let id = tree
            .nodes
            .insert(parent_id, path, basename(path), data, acl, stored);
        tree.approximate_data_size += (path.len() + data.map_or(0, <[u8]>::len)) as i64;
        tree.track_owner(path, stat.ephemeral_owner);
        if self.ancestors.is_empty() {
            self.ancestors.push((parent_path.to_string(), parent_id));
        }
        self.ancestors.push((path.to_string(), id));
        Ok(())
    }

    /// The tree, once every node is in. Fails if a node's parent is missing.
    pub fn finish(
        mut self,
        sessions: Vec<(i64, SessionRecord)>,
        last_zxid: i64,
    ) -> Result<DataTree, String> {
        if self.tree.is_none() {
            return Err("the snapshot has no root node".into());
        }
        // Nodes listed before their parent: rounds until none is placed.
        loop {
            let waiting = std::mem::take(&mut self.waiting);
            if waiting.is_empty() {
                break;
            }
            let before = waiting.len();
            for (path, data, acl, stat) in waiting {
                self.ancestors.clear();
                self.add(&path, data.as_deref(), acl, stat)?;
            }
            if self.waiting.len() == before {
                return Err(format!(
                    "{} has no parent in the snapshot",
                    self.waiting[0].0
                ));
            }
        }
        let mut t = self
            .tree
            .take()
            .ok_or("the snapshot has no root node")?
            .with_fresh_digest();
        t.sessions = sessions.into_iter().collect();
        t.last_zxid = last_zxid;
        if let Some(quota_root) = t.nodes.lookup(QUOTA) {
            let limits: Vec<String> = t
                .nodes
                .walk_from(quota_root, QUOTA.to_string())
                .filter_map(|(p, _)| match quota::quota_target(&p) {
                    Some((prefix, quota::LIMIT_NODE)) => Some(prefix.to_string()),
                    _ => None,
                })
                .collect();
            for prefix in limits {
                t.quotas.add(&prefix);
                // The stats are recomputed from the tree, as Apache's `setupQuota` does: a
                // snapshot taken while txns applied may hold them from another moment than
                // the nodes they count, and the replay that follows only counts its own
                // changes.
                let stat_path = quota::stat_path(&prefix);
                if let Some(id) = t.nodes.lookup(&stat_path) {
                    t.quota_node_created(&stat_path, id);
                }
            }
            // A fuzzy snapshot holds each stats node as counted at some moment of its walk,
            // while the log after the snapshot's zxid replays every change since: the
            // figures are recomputed from the loaded subtree, as Apache does on load, so
            // that the replay moves them from what the snapshot holds.
            let stats: Vec<(String, NodeId)> = t
                .nodes
                .walk_from(quota_root, QUOTA.to_string())
                .filter_map(|(p, id)| match quota::quota_target(&p) {
                    Some((prefix, quota::STAT_NODE)) => Some((prefix.to_string(), id)),
                    _ => None,
                })
                .collect();
            for (prefix, id) in stats {
                let (count, bytes) = t.nodes.lookup(&prefix).map_or((0, 0), |n| t.subtree(n));
                let new = quota::format_stats(count, bytes);
                t.approximate_data_size += new.len() as i64 - t.nodes.data_len(id) as i64;
                t.nodes.set_data(id, Some(&new));
            }
        }
        Ok(t)
    }
}

/// A session as every member knows it (liveness is tracked by the leader, not here). Its
/// password is not kept: it is a function of the id ([`crate::session_password`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub timeout_ms: i32,
}

/// What a watch fires on. Triggers come out of `apply` in the order Apache fires them.
/// Each carries the ACL a watcher needs READ on to hear of it (the node's, or the
/// parent's for NodeChildrenChanged), as Apache checks since CVE-2024-23944.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Created(String, Arc<[Acl]>),
    /// A deleted node: its data and child watchers get one NodeDeleted each.
    Deleted(String, Arc<[Acl]>),
    DataChanged(String, Arc<[Acl]>),
    ChildrenChanged(String, Arc<[Acl]>),
}

impl Trigger {
    pub fn acl(&self) -> &[Acl] {
        match self {
            Trigger::Created(_, a)
            | Trigger::Deleted(_, a)
            | Trigger::DataChanged(_, a)
            | Trigger::ChildrenChanged(_, a) => a,
        }
    }
}

/// The outcome of applying one transaction, for the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnResult {
    pub err: i32,
    pub path: Option<String>,
    pub stat: Option<Stat>,
    pub multi: Vec<TxnResult>,
}

impl TxnResult {
    fn error(code: ErrorCode) -> Self {
        TxnResult {
            err: code.code(),
            ..Default::default()
        }
    }
}

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: NodeStore,
    acls: AclTable,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: HashSet<String>,
    ttls: HashSet<String>,
    sessions: HashMap<i64, SessionRecord>,
    last_zxid: i64,
    /// Sum of path and data lengths, for `zk_approximate_data_size`.
    approximate_data_size: i64,
    /// Paths with a quota, whose stats node the tree keeps current.
    quotas: QuotaPaths,
    /// Apache's tree digest: the wrapping sum of every node's digest (see [`digest`]),
    /// kept current by every change so reading it is O(1).
    digest: u64,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    fn with_root(root_acl: &[Acl], root_data: Option<&[u8]>, root_stat: StoredStat) -> Self {
        let mut acls = AclTable::default();
        let acl = acls.acquire(root_acl);
        DataTree {
            nodes: NodeStore::new(acl, root_data, root_stat),
            acls,
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            sessions: HashMap::new(),
            last_zxid: 0,
            approximate_data_size: 1 + root_data.map_or(0, <[u8]>::len) as i64,
            quotas: QuotaPaths::default(),
            digest: 0,
        }
        .with_fresh_digest()
    }

    /// The tree with its digest computed from scratch.
    fn with_fresh_digest(mut self) -> Self {
        self.digest = self.compute_digest() as u64;
        self
    }

    /// The tree every server starts from: `/`, `/zookeeper`, `/zookeeper/quota` and the
    /// read-only `/zookeeper/config`.
    pub fn new() -> Self {
        let mut t = Self::with_root(&Acl::open_unsafe(), Some(b""), StoredStat::default());
        let open = Acl::open_unsafe();
        t.add_node(ZOOKEEPER, Some(b""), &open, StoredStat::default());
        t.add_node(QUOTA, Some(b""), &open, StoredStat::default());
        // Apache's standalone config node: empty, read-only, aclVersion -1.
        t.add_node(
            CONFIG,
            Some(b""),
            &Acl::read_unsafe(),
            StoredStat {
                aversion: -1,
                ..StoredStat::default()
            },
        );
        t
    }

    /// Writes this member's ensemble configuration into `/zookeeper/config`, as Apache's
    /// `ZKDatabase.initConfigInZKDatabase` does on every member when it loads its data (and
    /// a learner again after a SNAP, since the leader's copy is the leader's own): the
    /// config string, version -1, mzxid the config's version. Not a transaction: outside
    /// the digest, which leaves `/zookeeper/` out for this reason.
    pub fn set_config(&mut self, data: &[u8], config_version: i64, time: i64) {
        let Some(id) = self.nodes.lookup(CONFIG) else {
            return;
        };
        let old_len = self.nodes.data(id).map_or(0, <[u8]>::len) as i64;
        self.set_data_and_stat(CONFIG, id, Some(data), |s| {
            s.mtime = time;
            s.mzxid = config_version;
            s.version = -1;
        });
        self.approximate_data_size += data.len() as i64 - old_len;
    }

    /// Files a new node under the sets kept by owner: containers, TTL nodes, each
    /// session's ephemerals.
    fn track_owner(&mut self, path: &str, owner: i64) {
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.insert(path.to_string());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            OwnerKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
            OwnerKind::Persistent => {}
        }
    }

    /// Adds a node whose parent exists (checked by the caller).
    fn add_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: StoredStat,
    ) -> Option<NodeId> {
        let parent_id = self.nodes.lookup(parent(path)?)?;
        let acl = self.acls.acquire(acl);
        self.approximate_data_size += (path.len() + data.map_or(0, <[u8]>::len)) as i64;
        let id = self
            .nodes
            .insert(parent_id, path, basename(path), data, acl, stat);
        self.digest = self.digest.wrapping_add(self.node_digest(path, id));
        Some(id)
    }

    /// Apache's digest of one node as it stands.
    fn node_digest(&self, path: &str, id: NodeId) -> u64 {
        digest::node_digest(path, self.nodes.data(id), &self.nodes.stat(id))
    }

    /// Changes a node's stored Stat, keeping the tree digest current.
    fn update_stat(&mut self, path: &str, id: NodeId, change: impl FnOnce(&mut StoredStat)) {
        let Some(prefix) = digest::prefix(path, self.nodes.data(id)) else {
            self.nodes.update_stat(id, change);
            return;
        };
        let before = digest::finish(prefix.clone(), &self.nodes.stat(id));
        self.nodes.update_stat(id, change);
        let after = digest::finish(prefix, &self.nodes.stat(id));
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
    }

    /// Replaces a node's data and changes its Stat (a setData), keeping the tree digest
    /// current with one digest before and one after (not one per change: a write's CRCs are
    /// a visible share of the core's time).
    fn set_data_and_stat(
        &mut self,
        path: &str,
        id: NodeId,
        data: Option<&[u8]>,
        change: impl FnOnce(&mut StoredStat),
    ) {
        let before = self.node_digest(path, id);
        self.nodes.set_data(id, data);
        self.nodes.update_stat(id, change);
        let after = self.node_digest(path, id);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
    }

    /// Replaces a node's data, keeping the tree digest current.
    fn set_node_data(&mut self, path: &str, id: NodeId, data: Option<&[u8]>) {
        let before = self.node_digest(path, id);
        self.nodes.set_data(id, data);
        let after = self.node_digest(path, id);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
    }

    /// Apache's tree digest (`DataTree.getTreeDigest`), as the leader puts it in each
    /// txn's `TxnDigest`: O(1), kept current by every change.
    pub fn digest(&self) -> i64 {
        self.digest as i64
    }

    /// The tree digest recomputed node by node (what a learner does after loading a
    /// snapshot; tests compare it with the running [`DataTree::digest`]).
    pub fn compute_digest(&self) -> i64 {
        let mut sum = 0u64;
        self.nodes.visit(|path, id| {
            sum = sum.wrapping_add(self.node_digest(path, id));
        });
        sum as i64
    }

    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        self.nodes.lookup(path).map(|id| NodeRef { tree: self, id })
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn approximate_data_size(&self) -> i64 {
        self.approximate_data_size
    }

    pub fn session(&self, id: i64) -> Option<&SessionRecord> {
        self.sessions.get(&id)
    }

    pub fn sessions(&self) -> impl Iterator<Item = (&i64, &SessionRecord)> {
        self.sessions.iter()
    }

    pub fn ephemerals_of(&self, session: i64) -> impl Iterator<Item = &String> {
        self.ephemerals.get(&session).into_iter().flatten()
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub fn containers(&self) -> impl Iterator<Item = &String> {
        self.containers.iter()
    }

    pub fn ttl_nodes(&self) -> impl Iterator<Item = &String> {
        self.ttls.iter()
    }

    /// Calls `f` with every node and its path, parents before children (for snapshots).
    /// Children come in name order, so equal trees give equal snapshots whatever history
    /// built them.
    #[cfg(test)]
    pub fn visit_nodes(&self, mut f: impl FnMut(&str, NodeRef<'_>)) {
        self.nodes
            .visit_sorted(|path, id| f(path, NodeRef { tree: self, id }));
    }

    /// Every node with its path, parents before children.
    pub fn iter_nodes(&self) -> impl Iterator<Item = (String, NodeRef<'_>)> {
        self.nodes
            .walk()
            .map(move |(p, id)| (p, NodeRef { tree: self, id }))
    }

    /// Number of descendants of `path` (`getAllChildrenNumber`); for `/` the system nodes
    /// `/zookeeper` and its children count too, less `/` itself, as Apache counts.
    pub fn all_children_number(&self, path: &str) -> i32 {
        let Some(start) = self.nodes.lookup(path) else {
            return 0;
        };
        let (count, _) = self.subtree(start);
        (count - 1) as i32
    }

    /// Node count (itself included) and data bytes of the subtree at `id`.
    fn subtree(&self, id: NodeId) -> (i64, i64) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            count += 1;
            bytes += self.nodes.data_len(n) as i64;
            stack.extend_from_slice(self.nodes.children(n));
        }
        (count, bytes)
    }

    /// Applies a committed transaction. Never fails: an inconsistency shows up in the result's
    /// error code (which a correct leader never produces for a committed transaction).
    pub fn apply(&mut self, hdr: &TxnHeader, txn: &Txn, triggers: &mut Vec<Trigger>) -> TxnResult {
        let rc = self.apply_one(hdr, txn, triggers);
        if hdr.zxid > self.last_zxid {
            self.last_zxid = hdr.zxid;
        }
        rc
    }

    fn node(&self, id: NodeId) -> NodeRef<'_> {
        NodeRef { tree: self, id }
    }

    fn apply_one(&mut self, hdr: &TxnHeader, txn: &Txn, triggers: &mut Vec<Trigger>) -> TxnResult {
        match txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions.insert(
                    hdr.session_id,
                    SessionRecord {
                        timeout_ms: *timeout_ms,
                    },
                );
                TxnResult::default()
            }
            Txn::CloseSession { ephemerals } => {
                self.sessions.remove(&hdr.session_id);
                // Without a list (an older leader's txn) the ephemerals this member knows
                // of go, as below.
                for p in ephemerals.iter().flatten() {
                    // A path already gone is not an error here (Apache logs and goes on).
                    let _ = self.delete_node(p, hdr.zxid, triggers);
                }
                // Anything the list missed still belongs to a dead session.
                if let Some(rest) = self.ephemerals.remove(&hdr.session_id) {
                    for p in rest {
                        let _ = self.delete_node(&p, hdr.zxid, triggers);
                    }
                }
                TxnResult::default()
            }
            Txn::Create {
                path,
                data,
                acl,
                kind,
                parent_cversion,
            } => match self.create_node(
                hdr,
                path,
                data,
                acl,
                kind.owner(hdr.session_id),
                *parent_cversion,
                triggers,
            ) {
                Ok(stat) => TxnResult {
                    err: 0,
                    path: Some(path.clone()),
                    stat: kind.replies_with_stat().then_some(stat),
                    multi: Vec::new(),
                },
                Err(e) => {
                    // Replaying a create the (fuzzy) snapshot already holds: the node may
                    // have been deleted and re-created meanwhile, so the parent still gets
                    // the cversion and pzxid this create gave it. Apache does this for
                    // `create` (type 1) only, not create2, container or TTL creates.
                    if e == ErrorCode::NodeExists && matches!(kind, CreateKind::Create { .. }) {
                        if let Some(pp) = parent(path) {
                            self.raise_cversion(pp, *parent_cversion, hdr.zxid);
                        }
                    }
                    TxnResult {
                        path: Some(path.clone()),
                        ..TxnResult::error(e)
                    }
                }
            },
            Txn::Delete { path, .. } => match self.delete_node(path, hdr.zxid, triggers) {
                Ok(()) => TxnResult {
                    path: Some(path.clone()),
                    ..Default::default()
                },
                Err(e) => TxnResult::error(e),
            },
            Txn::SetData {
                path,
                data,
                version,
                ..
            } => {
                let Some(id) = self.nodes.lookup(path) else {
                    return TxnResult::error(ErrorCode::NoNode);
                };
                let delta =
                    data.as_ref().map_or(0, Vec::len) as i64 - self.nodes.data_len(id) as i64;
                self.approximate_data_size += delta;
                self.set_data_and_stat(path, id, data.as_deref(), |s| {
                    s.mtime = hdr.time;
                    s.mzxid = hdr.zxid;
                    s.version = *version;
                });
                let node = self.node(id);
                let stat = node.stat();
                triggers.push(Trigger::DataChanged(path.clone(), node.acl().clone()));
                self.count_quota(path, 0, delta);
                TxnResult {
                    path: Some(path.clone()),
                    stat: Some(stat),
                    ..Default::default()
                }
            }
            Txn::SetAcl {
                path,
                acl,
                aversion,
            } => {
                let Some(id) = self.nodes.lookup(path) else {
                    return TxnResult::error(ErrorCode::NoNode);
                };
                let new_acl = self.acls.acquire(acl);
                self.acls.release(self.nodes.acl(id));
                self.nodes.set_acl(id, new_acl);
                self.update_stat(path, id, |s| s.aversion = *aversion);
                TxnResult {
                    path: Some(path.clone()),
                    stat: Some(self.node(id).stat()),
                    ..Default::default()
                }
            }
            Txn::Check { path, .. } => TxnResult {
                path: Some(path.clone()),
                stat: self.get(path).map(|n| n.stat()),
                ..Default::default()
            },
            Txn::Error { err } => TxnResult {
                err: *err,
                ..Default::default()
            },
            Txn::Multi(txns) => {
                // A multi holding an error is a failed one, and then nothing in it applies:
                // Apache's leader keeps the records of the ops before the failing one, and
                // every member turns them into errors (OK before the first error,
                // RuntimeInconsistency after it), as its processTxn does.
                let failed = txns.iter().any(|t| matches!(t, Txn::Error { .. }));
                let mut after_error = false;
                let mut rc = TxnResult::default();
                for t in txns {
                    let sub = match t {
                        Txn::Error { err } => {
                            after_error = true;
                            TxnResult {
                                err: *err,
                                ..Default::default()
                            }
                        }
                        _ if failed => TxnResult {
                            err: if after_error {
                                ErrorCode::RuntimeInconsistency.code()
                            } else {
                                0
                            },
                            ..Default::default()
                        },
                        _ => self.apply_one(hdr, t, triggers),
                    };
                    if sub.err != 0 && rc.err == 0 {
                        rc.err = sub.err;
                    }
                    rc.multi.push(sub);
                }
                rc
            }
        }
    }

    /// A new limits node starts a quota; a new stats node is filled with the subtree's
    /// current figures (Apache's `updateQuotaForPath`).
    fn quota_node_created(&mut self, path: &str, id: NodeId) {
        let Some((prefix, name)) = quota::quota_target(path) else {
            return;
        };
        let prefix = prefix.to_string();
        if name == quota::LIMIT_NODE {
            self.quotas.add(&prefix);
            return;
        }
        let (count, bytes) = self
            .nodes
            .lookup(&prefix)
            .map_or((0, 0), |n| self.subtree(n));
        self.set_node_data(path, id, Some(&quota::format_stats(count, bytes)));
    }

    /// Apache's `setCversionPzxid`: the parent's cversion becomes `cversion` (-1: one more
    /// than now) and its pzxid `zxid`, if that raises the cversion.
    fn raise_cversion(&mut self, path: &str, cversion: i32, zxid: i64) {
        let Some(id) = self.nodes.lookup(path) else {
            return;
        };
        let current = self.nodes.stat(id).cversion;
        let cversion = if cversion == -1 {
            current.wrapping_add(1)
        } else {
            cversion
        };
        if cversion > current {
            self.update_stat(path, id, |s| {
                s.cversion = cversion;
                s.pzxid = zxid;
            });
        }
    }

    /// Adds a change to the stats of the quota that covers `path`, if one does. The stats
    /// node's data changes without a new version, as in Apache.
    fn count_quota(&mut self, path: &str, count: i64, bytes: i64) {
        if self.quotas.is_empty() || path.starts_with(QUOTA) {
            return;
        }
        let Some(prefix) = self.quotas.max_prefix(path) else {
            return;
        };
        let stat_path = quota::stat_path(prefix);
        if let Some(id) = self.nodes.lookup(&stat_path) {
            let (c, b) = quota::parse_stats(self.nodes.data(id).unwrap_or_default());
            let new = quota::format_stats(c + count, b + bytes);
            self.approximate_data_size += new.len() as i64 - self.nodes.data_len(id) as i64;
            self.set_node_data(&stat_path, id, Some(&new));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        hdr: &TxnHeader,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, ErrorCode> {
        let parent_path = parent(path).ok_or(ErrorCode::BadArguments)?;
        if self.nodes.lookup(path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        let parent_id = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let parent_acl = self.node(parent_id).acl().clone();
        self.update_stat(parent_path, parent_id, |ps| {
            // -1 (a version-0 create record) means one more than now. Replaying a create
            // of a node deleted within a fuzzy snapshot's window must not lower them.
            let cversion = if parent_cversion == -1 {
                ps.cversion.wrapping_add(1)
            } else {
                parent_cversion
            };
            if cversion > ps.cversion {
                ps.cversion = cversion;
                ps.pzxid = hdr.zxid;
            }
        });
        let stat = StoredStat {
            czxid: hdr.zxid,
            mzxid: hdr.zxid,
            pzxid: hdr.zxid,
            ctime: hdr.time,
            mtime: hdr.time,
            ephemeral_owner: owner,
            ..StoredStat::default()
        };
        let id = self
            .add_node(path, data.as_deref(), acl, stat)
            .ok_or(ErrorCode::NoNode)?;
        let node = self.node(id);
        let out = node.stat();
        let acl = node.acl().clone();
        self.track_owner(path, owner);
        triggers.push(Trigger::Created(path.to_string(), acl));
        triggers.push(Trigger::ChildrenChanged(
            parent_path.to_string(),
            parent_acl,
        ));
        self.quota_node_created(path, id);
        self.count_quota(path, 1, data.as_ref().map_or(0, Vec::len) as i64);
        Ok(out)
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), ErrorCode> {
        let parent_path = parent(path).ok_or(ErrorCode::BadArguments)?;
        // As Apache's deleteNode: the parent's pzxid moves even when the child is already
        // gone (a fuzzy snapshot may hold the delete's effect on the child only).
        let parent_id = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        self.update_stat(parent_path, parent_id, |ps| {
            if zxid > ps.pzxid {
                ps.pzxid = zxid;
            }
        });
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        if id == ROOT {
            return Err(ErrorCode::BadArguments);
        }
        // A committed delete never names a node with children; if one did, its subtree
        // would be unreachable, so it is refused rather than applied.
        if self.nodes.child_count(id) > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        let acl = self.node(id).acl().clone();
        self.digest = self.digest.wrapping_sub(self.node_digest(path, id));
        let removed = self.nodes.remove(id).ok_or(ErrorCode::NoNode)?;
        self.approximate_data_size -= (path.len() + removed.data_len) as i64;
        let owner = removed.stat.ephemeral_owner;
        let data_len = removed.data_len as i64;
        self.acls.release(removed.acl);
        let parent_acl = self.node(parent_id).acl().clone();
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.remove(path);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            OwnerKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            OwnerKind::Persistent => {}
        }
        if let Some((prefix, quota::LIMIT_NODE)) = quota::quota_target(path) {
            self.quotas.remove(prefix);
        }
        self.count_quota(path, -1, -data_len);
        triggers.push(Trigger::Deleted(path.to_string(), acl));
        triggers.push(Trigger::ChildrenChanged(
            parent_path.to_string(),
            parent_acl,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(zxid: i64) -> TxnHeader {
        TxnHeader {
            session_id: 7,
            cxid: 1,
            zxid,
            time: 1000 + zxid,
        }
    }

    fn create(path: &str, kind: CreateKind, pcv: i32) -> Txn {
        Txn::Create {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: Acl::open_unsafe(),
            kind,
            parent_cversion: pcv,
        }
    }

    const PERSISTENT: CreateKind = CreateKind::Create2 { ephemeral: false };
    const EPHEMERAL: CreateKind = CreateKind::Create2 { ephemeral: true };

    fn delete(path: &str) -> Txn {
        Txn::Delete {
            path: path.into(),
            container: false,
        }
    }

    fn stat(czxid: i64) -> Stat {
        Stat {
            czxid,
            ..Stat::default()
        }
    }

    #[test]
    fn builder_takes_nodes_in_any_order_and_refuses_orphans() {
        let acls = vec![Acl::open_unsafe(), Acl::read_unsafe()];
        let mut b = TreeBuilder::new(acls.clone(), 6);
        b.add("/a/b/c", Some(b"c"), 1, stat(4)).unwrap();
        b.add("/", Some(b""), 0, stat(0)).unwrap();
        b.add("/a", None, 0, stat(1)).unwrap();
        b.add("/a/b", Some(b"b"), 0, stat(2)).unwrap();
        b.add("/x", Some(b"x"), 0, stat(3)).unwrap();
        b.add("/a/d", Some(b"d"), 1, stat(5)).unwrap();
        let t = b.finish(Vec::new(), 9).unwrap();
        assert_eq!(t.node_count(), 6);
        assert_eq!(t.get("/a/b/c").unwrap().data(), Some(&b"c"[..]));
        assert_eq!(t.get("/a").unwrap().data(), None);
        assert_eq!(t.get("/a").unwrap().child_names(), vec!["b", "d"]);
        assert_eq!(&**t.get("/a/d").unwrap().acl(), &Acl::read_unsafe()[..]);
        assert_eq!(t.get("/x").unwrap().stored().czxid, 3);
        assert_eq!(t.last_zxid(), 9);

        let mut b = TreeBuilder::new(acls.clone(), 2);
        b.add("/", Some(b""), 0, stat(0)).unwrap();
        b.add("/lost/child", None, 0, stat(1)).unwrap();
        assert!(b.finish(Vec::new(), 1).is_err());
        let mut b = TreeBuilder::new(acls.clone(), 2);
        b.add("/", Some(b""), 0, stat(0)).unwrap();
        assert!(b.add("/a", None, 7, stat(1)).is_err(), "unknown ACL index");
        b.add("/a", None, 0, stat(1)).unwrap();
        assert!(b.add("/a", None, 0, stat(1)).is_err(), "duplicate path");
        assert!(
            TreeBuilder::new(acls, 0).finish(Vec::new(), 0).is_err(),
            "no root"
        );
    }

    #[test]
    fn initial_tree() {
        let t = DataTree::new();
        assert_eq!(t.get("/").unwrap().stat().num_children, 1);
        assert_eq!(t.get(ZOOKEEPER).unwrap().stat().num_children, 2);
        assert!(t.get(CONFIG).is_some());
        assert_eq!(t.all_children_number("/"), 3);
    }

    #[test]
    fn create_delete_stat_semantics() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        let rc = t.apply(&hdr(1), &create("/a", PERSISTENT, 1), &mut tr);
        assert_eq!(rc.err, 0);
        let s = rc.stat.unwrap();
        assert_eq!((s.czxid, s.mzxid, s.pzxid, s.ctime), (1, 1, 1, 1001));
        assert_eq!(
            tr,
            vec![
                Trigger::Created("/a".into(), Arc::from(Acl::open_unsafe())),
                Trigger::ChildrenChanged("/".into(), Arc::from(Acl::open_unsafe()))
            ]
        );
        t.apply(&hdr(2), &create("/a/b", EPHEMERAL, 1), &mut tr);
        let a = t.get("/a").unwrap().stat();
        assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 2, 1));
        assert_eq!(t.ephemerals_of(7).count(), 1);
        t.apply(&hdr(3), &delete("/a/b"), &mut tr);
        let a = t.get("/a").unwrap().raw_stat();
        // Deleting a child moves pzxid but not the stored cversion (the creation count)...
        assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 3, 0));
        // ...while clients see one change more: a creation and a deletion.
        assert_eq!(t.get("/a").unwrap().stat().cversion, 2);
        assert_eq!(t.ephemerals_of(7).count(), 0);
        assert_eq!(t.last_zxid(), 3);
    }

    /// The replay rules of Apache's processTxn, which make a fuzzy snapshot plus the log
    /// exact: a `create` (type 1) that meets its node still raises the parent's cversion
    /// and pzxid; create2 does not (Apache's own gap); -1 means one more than now; a
    /// delete whose node is gone still moves the parent's pzxid.
    #[test]
    fn replayed_txns_follow_apaches_rules() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        t.apply(&hdr(1), &create("/p", PERSISTENT, 1), &mut tr);
        t.apply(&hdr(2), &create("/p/a", PERSISTENT, 1), &mut tr);
        let plain = CreateKind::Create { ephemeral: false };
        let rc = t.apply(&hdr(5), &create("/p/a", plain, 3), &mut tr);
        assert_eq!(rc.err, ErrorCode::NodeExists.code());
        let p = t.get("/p").unwrap().stored();
        assert_eq!((p.cversion, p.pzxid), (3, 5));
        let rc = t.apply(&hdr(6), &create("/p/a", PERSISTENT, 4), &mut tr);
        assert_eq!(rc.err, ErrorCode::NodeExists.code());
        let p = t.get("/p").unwrap().stored();
        assert_eq!(
            (p.cversion, p.pzxid),
            (3, 5),
            "create2 leaves the parent alone"
        );
        t.apply(&hdr(7), &create("/p/b", plain, -1), &mut tr);
        let p = t.get("/p").unwrap().stored();
        assert_eq!((p.cversion, p.pzxid), (4, 7));
        // A create whose parentCVersion is below the parent's does not lower it.
        t.apply(&hdr(8), &create("/p/c", plain, 2), &mut tr);
        let p = t.get("/p").unwrap().stored();
        assert_eq!((p.cversion, p.pzxid), (4, 7));
        let rc = t.apply(&hdr(9), &delete("/p/gone"), &mut tr);
        assert_eq!(rc.err, ErrorCode::NoNode.code());
        assert_eq!(t.get("/p").unwrap().stored().pzxid, 9);
        assert_eq!(t.digest(), t.compute_digest());
    }

    #[test]
    fn acls_are_shared_and_forgotten_when_unused() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        t.apply(&hdr(1), &create("/a", PERSISTENT, 1), &mut tr);
        t.apply(&hdr(2), &create("/b", PERSISTENT, 2), &mut tr);
        let base = t.acls.len();
        assert!(Arc::ptr_eq(
            t.get("/a").unwrap().acl(),
            t.get("/b").unwrap().acl()
        ));
        let special = Txn::SetAcl {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            aversion: 1,
        };
        t.apply(&hdr(3), &special, &mut tr);
        t.apply(&hdr(4), &delete("/a"), &mut tr);
        assert_eq!(
            t.acls.len(),
            base,
            "the ACL only /a used is gone, /b's stays"
        );
        assert!(Arc::ptr_eq(
            t.get("/b").unwrap().acl(),
            t.get("/").unwrap().acl()
        ));
    }

    #[test]
    fn failed_multi_applies_nothing_and_reports_first_error() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        let m = Txn::Multi(vec![
            Txn::Error { err: 0 },
            Txn::Error { err: -101 },
            Txn::Error { err: -2 },
        ]);
        let rc = t.apply(&hdr(1), &m, &mut tr);
        assert_eq!(rc.err, -101);
        assert_eq!(rc.multi.len(), 3);
        assert!(tr.is_empty());
    }

    #[test]
    fn close_session_deletes_ephemerals_and_tracks_containers() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        t.apply(&hdr(1), &Txn::CreateSession { timeout_ms: 4000 }, &mut tr);
        t.apply(&hdr(2), &create("/c", CreateKind::Container, 1), &mut tr);
        t.apply(&hdr(3), &create("/c/e", EPHEMERAL, 1), &mut tr);
        assert_eq!(t.containers().count(), 1);
        tr.clear();
        t.apply(
            &hdr(4),
            &Txn::CloseSession {
                ephemerals: Some(vec!["/c/e".into()]),
            },
            &mut tr,
        );
        assert!(t.get("/c/e").is_none());
        assert!(t.session(7).is_none());
        assert_eq!(
            tr,
            vec![
                Trigger::Deleted("/c/e".into(), Arc::from(Acl::open_unsafe())),
                Trigger::ChildrenChanged("/c".into(), Arc::from(Acl::open_unsafe()))
            ]
        );
    }
}
