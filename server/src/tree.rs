//! The replicated state: the znode tree and the session registry. `apply` is the pure
//! transition `(state, txn) -> (state', result, triggers)`; the same log gives the same tree.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use zkrs_proto::path::{basename, join, parent};
use zkrs_proto::{Acl, ErrorCode, Stat};

use crate::quota::{self, QuotaPaths};
use crate::txn::{owner_kind, CreateKind, OwnerKind, Txn, TxnHeader};

/// One znode. `stat.data_length` and `stat.num_children` are derived when read.
#[derive(Debug, Clone)]
pub struct Node {
    /// `None` for null data (a Java client's `create(path, null, ...)`).
    pub data: Option<Box<[u8]>>,
    /// Shared with every node that has the same ACL (see `AclCache`).
    pub acl: Arc<[Acl]>,
    pub stat: Stat,
    pub children: Children,
}

/// A node's child names. Most nodes are leaves, so an empty set costs one pointer (an
/// unboxed `BTreeSet` would cost three words in every node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::box_collection)]
pub struct Children(Option<Box<BTreeSet<Box<str>>>>);

impl Children {
    pub fn insert(&mut self, name: Box<str>) {
        self.0.get_or_insert_with(Default::default).insert(name);
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(set) = &mut self.0 {
            set.remove(name);
            if set.is_empty() {
                self.0 = None;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len())
    }

    fn from_names(mut names: Vec<Box<str>>) -> Self {
        if names.is_empty() {
            return Children(None);
        }
        names.sort_unstable();
        Children(Some(Box::new(names.into_iter().collect())))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Names in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|s| s.iter().map(|n| &**n))
    }
}

impl Node {
    fn new(data: Option<Vec<u8>>, acl: Arc<[Acl]>, stat: Stat) -> Self {
        Node {
            data: data.map(Vec::into_boxed_slice),
            acl,
            stat,
            children: Children::default(),
        }
    }

    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }

    /// The Stat a client sees. Container and TTL markers in `ephemeralOwner` are internal:
    /// clients see 0 there, as Apache shows them.
    pub fn stat(&self) -> Stat {
        let owner = match owner_kind(self.stat.ephemeral_owner) {
            OwnerKind::Ephemeral(s) => s,
            _ => 0,
        };
        let num_children = self.children.len() as i32;
        Stat {
            data_length: self.data_len() as i32,
            num_children,
            ephemeral_owner: owner,
            // The stored cversion counts child creations (it names sequential children);
            // clients see creations plus deletions, as Apache reports it.
            cversion: self
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            ..self.stat
        }
    }

    /// The Stat as stored: cversion counts creations, ephemeralOwner keeps its markers.
    pub fn raw_stat(&self) -> Stat {
        Stat {
            data_length: self.data_len() as i32,
            num_children: self.children.len() as i32,
            ..self.stat
        }
    }
}

/// A node as a snapshot holds it: path, data, ACL and stored Stat.
/// A node as a snapshot holds it: path, data, index into the snapshot's ACL table, and
/// stored Stat.
pub type SnapshotNode = (String, Option<Vec<u8>>, u32, Stat);

/// A session as every member knows it (liveness is tracked by the leader, not here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub timeout_ms: i32,
    pub passwd: Vec<u8>,
}

/// What a watch fires on. Triggers come out of `apply` in the order Apache fires them.
#[derive(Debug, Clone, PartialEq, Eq)]
/// Each carries the ACL a watcher needs READ on to hear of it (the node's, or the
/// parent's for NodeChildrenChanged), as Apache checks since CVE-2024-23944.
pub enum Trigger {
    Created(String, Arc<[Acl]>),
    /// A deleted node: its data and child watchers get one NodeDeleted each.
    Deleted(String, Arc<[Acl]>),
    DataChanged(String, Arc<[Acl]>),
    ChildrenChanged(String, Arc<[Acl]>),
}

impl Trigger {
    pub fn path(&self) -> &str {
        match self {
            Trigger::Created(p, _)
            | Trigger::Deleted(p, _)
            | Trigger::DataChanged(p, _)
            | Trigger::ChildrenChanged(p, _) => p,
        }
    }

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

/// One shared copy of each distinct ACL (Apache keeps an ACL cache for the same reason:
/// millions of nodes usually share a handful of ACLs). Entries go when no node uses them.
#[derive(Debug, Default)]
struct AclCache {
    acls: HashSet<Arc<[Acl]>>,
    releases: u64,
}

impl AclCache {
    fn intern(&mut self, acl: &[Acl]) -> Arc<[Acl]> {
        if let Some(a) = self.acls.get(acl) {
            return a.clone();
        }
        let a: Arc<[Acl]> = Arc::from(acl);
        self.acls.insert(a.clone());
        a
    }

    /// Takes back the handle of a node that no longer uses it. Unused entries are swept
    /// now and then rather than at once, since a watch trigger may still hold the handle.
    fn release(&mut self, acl: Arc<[Acl]>) {
        drop(acl);
        self.releases += 1;
        if self.releases.is_multiple_of(1024) {
            self.sweep();
        }
    }

    /// Forgets ACLs that only the cache holds.
    fn sweep(&mut self) {
        self.acls.retain(|a| Arc::strong_count(a) > 1);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.acls.len()
    }
}

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

#[derive(Debug)]
pub struct DataTree {
    /// Boxed: the map's table is sized in powers of two and often half empty, so its
    /// slots hold a pointer rather than a whole node.
    nodes: HashMap<Box<str>, Box<Node>>,
    acls: AclCache,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: HashSet<String>,
    ttls: HashSet<String>,
    sessions: HashMap<i64, SessionRecord>,
    last_zxid: i64,
    /// Sum of path and data lengths, for `zk_approximate_data_size`.
    approximate_data_size: i64,
    /// Paths with a quota, whose stats node the tree keeps current.
    quotas: QuotaPaths,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// The tree every server starts from: `/`, `/zookeeper`, `/zookeeper/quota` and the
    /// read-only `/zookeeper/config`.
    pub fn new() -> Self {
        let mut acls = AclCache::default();
        let open = acls.intern(&Acl::open_unsafe());
        let read_only = acls.intern(&Acl::read_unsafe());
        let mut t = DataTree {
            nodes: HashMap::new(),
            acls,
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            sessions: HashMap::new(),
            last_zxid: 0,
            approximate_data_size: 0,
            quotas: QuotaPaths::default(),
        };
        let mut root = Node::new(Some(Vec::new()), open.clone(), Stat::default());
        root.children.insert("zookeeper".into());
        let mut zk = Node::new(Some(Vec::new()), open.clone(), Stat::default());
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        t.insert_node("/".into(), root);
        t.insert_node(ZOOKEEPER.into(), zk);
        t.insert_node(
            QUOTA.into(),
            Node::new(Some(Vec::new()), open, Stat::default()),
        );
        // Apache's standalone config node: empty, read-only, aclVersion -1.
        t.insert_node(
            CONFIG.into(),
            Node::new(
                Some(Vec::new()),
                read_only,
                Stat {
                    aversion: -1,
                    ..Stat::default()
                },
            ),
        );
        t
    }

    fn insert_node(&mut self, path: String, node: Node) {
        self.approximate_data_size += (path.len() + node.data_len()) as i64;
        self.nodes.insert(path.into_boxed_str(), Box::new(node));
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path).map(|n| &**n)
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

    /// Every distinct ACL in use, each once (for snapshots; nodes point into this table).
    pub fn acl_table(&self) -> Vec<Arc<[Acl]>> {
        self.acls.acls.iter().cloned().collect()
    }

    /// Every node with its path, in no particular order (for snapshots).
    pub fn iter_nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Rebuilds a tree from a snapshot's nodes (stored Stats, children derived from the
    /// paths) and sessions. Fails if a node's parent is missing.
    pub fn from_parts(
        acls: Vec<Vec<Acl>>,
        nodes: Vec<SnapshotNode>,
        sessions: Vec<(i64, SessionRecord)>,
        last_zxid: i64,
    ) -> Result<DataTree, String> {
        let mut t = DataTree {
            nodes: HashMap::with_capacity(nodes.len()),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            sessions: sessions.into_iter().collect(),
            last_zxid,
            approximate_data_size: 0,
            quotas: QuotaPaths::default(),
        };
        let table: Vec<Arc<[Acl]>> = acls.iter().map(|a| t.acls.intern(a)).collect();
        // Child names per parent, gathered before the paths move into the map.
        let mut links: Vec<(usize, usize)> = Vec::with_capacity(nodes.len());
        let mut paths_in_order: Vec<Box<str>> = Vec::with_capacity(nodes.len());
        for (path, data, acl_index, stat) in nodes {
            let acl = table.get(acl_index as usize).cloned().ok_or_else(|| {
                format!("node {path} names ACL {acl_index}, which is not in the table")
            })?;
            match owner_kind(stat.ephemeral_owner) {
                OwnerKind::Container => {
                    t.containers.insert(path.clone());
                }
                OwnerKind::Ttl(_) => {
                    t.ttls.insert(path.clone());
                }
                OwnerKind::Ephemeral(s) => {
                    t.ephemerals.entry(s).or_default().insert(path.clone());
                }
                OwnerKind::Persistent => {}
            }
            if path != "/" {
                let slash = path.rfind('/').unwrap_or(0);
                links.push((paths_in_order.len(), slash));
            }
            paths_in_order.push(path.as_str().into());
            t.insert_node(path, Node::new(data, acl, stat));
        }
        // Group the names by parent and build each child set in one go from sorted names
        // (much faster than inserting a million names one by one).
        let mut by_parent: HashMap<&str, Vec<Box<str>>> = HashMap::new();
        for (i, slash) in links {
            let p = &paths_in_order[i];
            let parent_path = if slash == 0 { "/" } else { &p[..slash] };
            by_parent
                .entry(parent_path)
                .or_default()
                .push(p[slash + 1..].into());
        }
        for (parent_path, names) in by_parent {
            match t.nodes.get_mut(parent_path) {
                Some(n) => n.children = Children::from_names(names),
                None => {
                    return Err(format!(
                        "{parent_path} has children but is not in the snapshot"
                    ))
                }
            }
        }
        if !t.nodes.contains_key("/") {
            return Err("the snapshot has no root node".into());
        }
        let limits: Vec<String> = t
            .nodes
            .keys()
            .filter_map(|p| match quota::quota_target(p) {
                Some((prefix, quota::LIMIT_NODE)) => Some(prefix.to_string()),
                _ => None,
            })
            .collect();
        for prefix in limits {
            t.quotas.add(&prefix);
        }
        Ok(t)
    }

    /// Number of descendants of `path` (`getAllChildrenNumber`); for `/` the system nodes
    /// `/zookeeper` and its children count too, less `/` itself, as Apache counts.
    pub fn all_children_number(&self, path: &str) -> i32 {
        let mut count = 0i32;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(p.as_str()) {
                for c in n.children.iter() {
                    count += 1;
                    stack.push(join(&p, c));
                }
            }
        }
        count
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

    fn apply_one(&mut self, hdr: &TxnHeader, txn: &Txn, triggers: &mut Vec<Trigger>) -> TxnResult {
        match txn {
            Txn::CreateSession { timeout_ms, passwd } => {
                self.sessions.insert(
                    hdr.session_id,
                    SessionRecord {
                        timeout_ms: *timeout_ms,
                        passwd: passwd.clone(),
                    },
                );
                TxnResult::default()
            }
            Txn::CloseSession { ephemerals } => {
                self.sessions.remove(&hdr.session_id);
                for p in ephemerals {
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
                ephemeral_owner,
                parent_cversion,
                kind,
            } => match self.create_node(
                hdr,
                path,
                data,
                acl,
                *ephemeral_owner,
                *parent_cversion,
                triggers,
            ) {
                Ok(stat) => TxnResult {
                    err: 0,
                    path: Some(path.clone()),
                    stat: (*kind == CreateKind::WithStat).then_some(stat),
                    multi: Vec::new(),
                },
                Err(e) => TxnResult {
                    path: Some(path.clone()),
                    ..TxnResult::error(e)
                },
            },
            Txn::Delete { path } => match self.delete_node(path, hdr.zxid, triggers) {
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
            } => {
                let Some(node) = self.nodes.get_mut(path.as_str()) else {
                    return TxnResult::error(ErrorCode::NoNode);
                };
                let delta = data.as_ref().map_or(0, Vec::len) as i64 - node.data_len() as i64;
                self.approximate_data_size += delta;
                node.data = data.as_deref().map(Box::from);
                node.stat.mtime = hdr.time;
                node.stat.mzxid = hdr.zxid;
                node.stat.version = *version;
                let stat = node.stat();
                triggers.push(Trigger::DataChanged(path.clone(), node.acl.clone()));
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
                if !self.nodes.contains_key(path.as_str()) {
                    return TxnResult::error(ErrorCode::NoNode);
                }
                let new_acl = self.acls.intern(acl);
                let Some(node) = self.nodes.get_mut(path.as_str()) else {
                    return TxnResult::error(ErrorCode::NoNode);
                };
                let old = std::mem::replace(&mut node.acl, new_acl);
                self.acls.release(old);
                let node = self.nodes.get_mut(path.as_str()).expect("checked above");
                node.stat.aversion = *aversion;
                TxnResult {
                    path: Some(path.clone()),
                    stat: Some(node.stat()),
                    ..Default::default()
                }
            }
            Txn::Check { path } => TxnResult {
                path: Some(path.clone()),
                stat: self.get(path).map(Node::stat),
                ..Default::default()
            },
            Txn::Error { err } => TxnResult {
                err: *err,
                ..Default::default()
            },
            Txn::Multi(txns) => {
                let mut rc = TxnResult::default();
                for t in txns {
                    let sub = self.apply_one(hdr, t, triggers);
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
    fn quota_node_created(&mut self, path: &str) {
        let Some((prefix, name)) = quota::quota_target(path) else {
            return;
        };
        let prefix = prefix.to_string();
        if name == quota::LIMIT_NODE {
            self.quotas.add(&prefix);
            return;
        }
        let (count, bytes) = self.subtree_figures(&prefix);
        if let Some(n) = self.nodes.get_mut(path) {
            n.data = Some(quota::format_stats(count, bytes).into_boxed_slice());
        }
    }

    /// Node count and data bytes of the subtree at `path`, itself included.
    fn subtree_figures(&self, path: &str) -> (i64, i64) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(p.as_str()) {
                count += 1;
                bytes += n.data_len() as i64;
                for c in n.children.iter() {
                    stack.push(join(&p, c));
                }
            }
        }
        (count, bytes)
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
        if let Some(n) = self.nodes.get_mut(stat_path.as_str()) {
            let (c, b) = quota::parse_stats(n.data.as_deref().unwrap_or_default());
            let new = quota::format_stats(c + count, b + bytes);
            self.approximate_data_size += new.len() as i64 - n.data_len() as i64;
            n.data = Some(new.into_boxed_slice());
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
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let acl = self.acls.intern(acl);
        let parent_node = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        let parent_acl = parent_node.acl.clone();
        if parent_cversion > parent_node.stat.cversion {
            parent_node.stat.cversion = parent_cversion;
            parent_node.stat.pzxid = hdr.zxid;
        }
        parent_node.children.insert(basename(path).into());
        let stat = Stat {
            czxid: hdr.zxid,
            mzxid: hdr.zxid,
            pzxid: hdr.zxid,
            ctime: hdr.time,
            mtime: hdr.time,
            ephemeral_owner: owner,
            ..Stat::default()
        };
        let node = Node::new(data.clone(), acl.clone(), stat);
        let out = node.stat();
        self.insert_node(path.to_string(), node);
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
        triggers.push(Trigger::Created(path.to_string(), acl));
        triggers.push(Trigger::ChildrenChanged(
            parent_path.to_string(),
            parent_acl,
        ));
        self.quota_node_created(path);
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
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.approximate_data_size -= (path.len() + node.data_len()) as i64;
        let owner = node.stat.ephemeral_owner;
        let data_len = node.data_len() as i64;
        let acl = node.acl.clone();
        // The node is gone: its ACL handle goes back to the cache.
        self.acls.release(node.acl);
        let mut parent_acl = None;
        if let Some(p) = self.nodes.get_mut(parent_path) {
            p.children.remove(basename(path));
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
            parent_acl = Some(p.acl.clone());
        }
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
        if let Some(parent_acl) = parent_acl {
            triggers.push(Trigger::ChildrenChanged(
                parent_path.to_string(),
                parent_acl,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::CONTAINER_OWNER;

    fn hdr(zxid: i64) -> TxnHeader {
        TxnHeader {
            session_id: 7,
            cxid: 1,
            zxid,
            time: 1000 + zxid,
        }
    }

    fn create(path: &str, owner: i64, pcv: i32) -> Txn {
        Txn::Create {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral_owner: owner,
            parent_cversion: pcv,
            kind: CreateKind::WithStat,
        }
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
        let rc = t.apply(&hdr(1), &create("/a", 0, 1), &mut tr);
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
        t.apply(&hdr(2), &create("/a/b", 7, 1), &mut tr);
        let a = t.get("/a").unwrap().stat();
        assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 2, 1));
        assert_eq!(t.ephemerals_of(7).count(), 1);
        t.apply(
            &hdr(3),
            &Txn::Delete {
                path: "/a/b".into(),
            },
            &mut tr,
        );
        let a = t.get("/a").unwrap().raw_stat();
        // Deleting a child moves pzxid but not the stored cversion (the creation count)...
        assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 3, 0));
        // ...while clients see one change more: a creation and a deletion.
        assert_eq!(t.get("/a").unwrap().stat().cversion, 2);
        assert_eq!(t.ephemerals_of(7).count(), 0);
        assert_eq!(t.last_zxid(), 3);
    }

    #[test]
    fn acls_are_shared_and_forgotten_when_unused() {
        let mut t = DataTree::new();
        let mut tr = Vec::new();
        t.apply(&hdr(1), &create("/a", 0, 1), &mut tr);
        t.apply(&hdr(2), &create("/b", 0, 2), &mut tr);
        let base = t.acls.len();
        assert!(Arc::ptr_eq(
            &t.get("/a").unwrap().acl,
            &t.get("/b").unwrap().acl
        ));
        let special = Txn::SetAcl {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            aversion: 1,
        };
        t.apply(&hdr(3), &special, &mut tr);
        t.apply(&hdr(4), &Txn::Delete { path: "/a".into() }, &mut tr);
        assert_eq!(
            t.acls.len(),
            base,
            "the ACL only /a used is gone, /b's stays"
        );
        assert!(Arc::ptr_eq(
            &t.get("/b").unwrap().acl,
            &t.get("/").unwrap().acl
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
        t.apply(
            &hdr(1),
            &Txn::CreateSession {
                timeout_ms: 4000,
                passwd: vec![1; 16],
            },
            &mut tr,
        );
        t.apply(&hdr(2), &create("/c", CONTAINER_OWNER, 1), &mut tr);
        t.apply(&hdr(3), &create("/c/e", 7, 1), &mut tr);
        assert_eq!(t.containers().count(), 1);
        tr.clear();
        t.apply(
            &hdr(4),
            &Txn::CloseSession {
                ephemerals: vec!["/c/e".into()],
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
