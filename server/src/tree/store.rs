//! Where the znodes live, laid out for memory: a tree of a million small nodes is mostly
//! per-node overhead, so each node is one fixed-size slot in an arena (no allocation of its
//! own), plus one allocation holding its name and data together. Paths are not stored: the
//! path index is a hash table of slot numbers that compares a path against a node by walking
//! up its parents, and a node's path is rebuilt from the names on the way to the root.
//! Children are slot numbers in a list kept per parent (only nodes with children have one),
//! and each node knows its place in that list, so adding and removing a child is O(1).

use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use zkrs_proto::Stat;

/// A node's place in the arena.
pub type NodeId = u32;

/// The root is always the first slot.
pub const ROOT: NodeId = 0;

const NO_PARENT: NodeId = NodeId::MAX;

/// Set in `Slot::name_len` when the node's data is null (a Java client's
/// `create(path, null, ...)`), which is not the same as empty data. Names are shorter than
/// 2^31 bytes: a request frame's length is an i32.
const NULL_DATA: u32 = 1 << 31;

/// The Stat fields a node stores; `dataLength` and `numChildren` are derived when read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    /// Session id of an ephemeral, or the container/TTL markers (see `txn::owner_kind`).
    pub ephemeral_owner: i64,
    pub version: i32,
    /// Child creations (names sequential children); clients see creations + deletions.
    pub cversion: i32,
    pub aversion: i32,
}

impl StoredStat {
    pub fn from_stat(s: &Stat) -> Self {
        StoredStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            pzxid: s.pzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            ephemeral_owner: s.ephemeral_owner,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
        }
    }

    pub fn to_stat(self, data_length: i32, num_children: i32) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// The 64-bit Stat fields; the 32-bit ones sit in the slot next to its other 32-bit fields,
/// which keeps the slot at 96 bytes (a `StoredStat` inside it would be padded to 64).
#[derive(Debug, Clone, Copy)]
struct WideStat {
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    ephemeral_owner: i64,
}

/// One node: 96 bytes, and one allocation for name and data.
#[derive(Debug, Clone)]
struct Slot {
    wide: WideStat,
    version: i32,
    cversion: i32,
    aversion: i32,
    /// The name's bytes, then the data's.
    blob: Box<[u8]>,
    /// Index into the tree's ACL table.
    acl: u32,
    parent: NodeId,
    /// Where this node is in its parent's child list.
    pos_in_parent: u32,
    /// The path's hash (its low half), kept so the index can grow without rebuilding paths.
    hash: u32,
    /// Length of the name in `blob`, with `NULL_DATA` set for null data.
    name_len: u32,
}

impl Slot {
    fn stat(&self) -> StoredStat {
        let w = &self.wide;
        StoredStat {
            czxid: w.czxid,
            mzxid: w.mzxid,
            pzxid: w.pzxid,
            ctime: w.ctime,
            mtime: w.mtime,
            ephemeral_owner: w.ephemeral_owner,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
        }
    }

    fn set_stat(&mut self, s: StoredStat) {
        self.wide = WideStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            pzxid: s.pzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            ephemeral_owner: s.ephemeral_owner,
        };
        self.version = s.version;
        self.cversion = s.cversion;
        self.aversion = s.aversion;
    }

    fn new(stat: StoredStat, blob: Box<[u8]>, name_len: u32, acl: u32, parent: NodeId) -> Self {
        let mut s = Slot {
            wide: WideStat {
                czxid: 0,
                mzxid: 0,
                pzxid: 0,
                ctime: 0,
                mtime: 0,
                ephemeral_owner: 0,
            },
            version: 0,
            cversion: 0,
            aversion: 0,
            blob,
            acl,
            parent,
            pos_in_parent: 0,
            hash: 0,
            name_len,
        };
        s.set_stat(stat);
        s
    }

    fn name_len(&self) -> usize {
        (self.name_len & !NULL_DATA) as usize
    }

    fn name(&self) -> &str {
        // The blob starts with the bytes of a `&str`, cut at its end: always UTF-8.
        std::str::from_utf8(&self.blob[..self.name_len()]).unwrap_or("")
    }

    fn data(&self) -> Option<&[u8]> {
        if self.name_len & NULL_DATA != 0 {
            None
        } else {
            Some(&self.blob[self.name_len()..])
        }
    }

    fn data_len(&self) -> usize {
        self.blob.len() - self.name_len()
    }
}

fn blob(name: &str, data: Option<&[u8]>) -> (Box<[u8]>, u32) {
    let data_bytes = data.unwrap_or_default();
    let mut b = Vec::with_capacity(name.len() + data_bytes.len());
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(data_bytes);
    let mut len = name.len() as u32;
    if data.is_none() {
        len |= NULL_DATA;
    }
    (b.into_boxed_slice(), len)
}

/// What a removed node held.
#[derive(Debug)]
pub struct Removed {
    pub acl: u32,
    pub stat: StoredStat,
    pub data_len: usize,
}

/// The arena, the path index and the child lists.
#[derive(Debug, Clone)]
pub struct NodeStore {
    slots: Vec<Option<Slot>>,
    free: Vec<NodeId>,
    index: HashTable<NodeId>,
    children: HashMap<NodeId, Vec<NodeId>, DefaultHashBuilder>,
    hasher: DefaultHashBuilder,
    len: usize,
}

impl NodeStore {
    /// A store holding only the root.
    pub fn new(root_acl: u32, root_data: Option<&[u8]>, root_stat: StoredStat) -> Self {
        let hasher = DefaultHashBuilder::default();
        let mut s = NodeStore {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            children: HashMap::default(),
            hasher,
            len: 0,
        };
        let (blob, name_len) = blob("", root_data);
        let hash = s.hash("/");
        let mut root = Slot::new(root_stat, blob, name_len, root_acl, NO_PARENT);
        root.hash = hash;
        s.slots.push(Some(root));
        s.index
            .insert_unique(table_hash(hash), ROOT, |_| table_hash(hash));
        s.len = 1;
        s
    }

    /// Room for `n` more nodes without growing.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        let hasher = &self.hasher;
        let slots = &self.slots;
        self.index.reserve(n, |&id| slot_hash(slots, id, hasher));
    }

    fn hash(&self, path: &str) -> u32 {
        self.hasher.hash_one(path) as u32
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn slot(&self, id: NodeId) -> &Slot {
        match self.slots.get(id as usize) {
            Some(Some(s)) => s,
            _ => panic!("node {id} is not in the store"),
        }
    }

    fn slot_mut(&mut self, id: NodeId) -> &mut Slot {
        match self.slots.get_mut(id as usize) {
            Some(Some(s)) => s,
            _ => panic!("node {id} is not in the store"),
        }
    }

    /// The node at `path` (which must be normalized: `/` or `/a/b`, no trailing slash).
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        if path == "/" {
            return Some(ROOT);
        }
        let hash = self.hash(path);
        self.index
            .find(table_hash(hash), |&id| {
                let s = self.slot(id);
                s.hash == hash && self.path_is(id, path)
            })
            .copied()
    }

    /// Whether `id`'s path is `path`, comparing names from the node up (as bytes: a name is
    /// the UTF-8 of a `&str`, so no text checks are needed).
    fn path_is(&self, mut id: NodeId, path: &str) -> bool {
        let mut rest = path.as_bytes();
        while id != ROOT {
            let s = self.slot(id);
            let Some(r) = rest.strip_suffix(&s.blob[..s.name_len()]) else {
                return false;
            };
            let Some(r) = r.strip_suffix(b"/") else {
                return false;
            };
            rest = r;
            id = s.parent;
        }
        rest.is_empty()
    }

    /// The node's full path.
    pub fn path(&self, id: NodeId) -> String {
        if id == ROOT {
            return "/".into();
        }
        let mut names = Vec::new();
        let mut at = id;
        while at != ROOT {
            let s = self.slot(at);
            names.push(s.name());
            at = s.parent;
        }
        let mut p = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        for n in names.iter().rev() {
            p.push('/');
            p.push_str(n);
        }
        p
    }

    /// Adds a node named `name` under `parent`; `path` is its full path (for the index).
    pub fn insert(
        &mut self,
        parent: NodeId,
        path: &str,
        name: &str,
        data: Option<&[u8]>,
        acl: u32,
        stat: StoredStat,
    ) -> NodeId {
        let hash = self.hash(path);
        let (blob, name_len) = blob(name, data);
        let list = self.children.entry(parent).or_default();
        let pos_in_parent = list.len() as u32;
        let mut slot = Slot::new(stat, blob, name_len, acl, parent);
        slot.pos_in_parent = pos_in_parent;
        slot.hash = hash;
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as NodeId
            }
        };
        list.push(id);
        let hasher = &self.hasher;
        let slots = &self.slots;
        self.index
            .insert_unique(table_hash(hash), id, |&i| slot_hash(slots, i, hasher));
        self.len += 1;
        id
    }

    /// Removes a node (which must have no children) and returns what it held; `None` if
    /// `id` holds no node.
    pub fn remove(&mut self, id: NodeId) -> Option<Removed> {
        let slot = self.slots.get_mut(id as usize)?.take()?;
        let (hash, parent, pos) = (slot.hash, slot.parent, slot.pos_in_parent as usize);
        if let Ok(entry) = self.index.find_entry(table_hash(hash), |&i| i == id) {
            entry.remove();
        }
        if let Some(list) = self.children.get_mut(&parent) {
            list.swap_remove(pos);
            if let Some(&moved) = list.get(pos) {
                if let Some(Some(m)) = self.slots.get_mut(moved as usize) {
                    m.pos_in_parent = pos as u32;
                }
            }
            if list.is_empty() {
                self.children.remove(&parent);
            } else if list.capacity() > 4 * list.len() {
                list.shrink_to(2 * list.len());
            }
        }
        self.children.remove(&id);
        self.free.push(id);
        self.len -= 1;
        Some(Removed {
            acl: slot.acl,
            stat: slot.stat(),
            data_len: slot.data_len(),
        })
    }

    /// Whether `id` holds a node (a walk that spans changes checks before reading a slot).
    pub fn contains(&self, id: NodeId) -> bool {
        matches!(self.slots.get(id as usize), Some(Some(_)))
    }

    pub fn name(&self, id: NodeId) -> &str {
        self.slot(id).name()
    }

    /// The name's bytes (byte order is the order of the names as strings).
    pub fn name_bytes(&self, id: NodeId) -> &[u8] {
        let s = self.slot(id);
        &s.blob[..s.name_len()]
    }

    pub fn data(&self, id: NodeId) -> Option<&[u8]> {
        self.slot(id).data()
    }

    pub fn data_len(&self, id: NodeId) -> usize {
        self.slot(id).data_len()
    }

    pub fn set_data(&mut self, id: NodeId, data: Option<&[u8]>) {
        let s = self.slot_mut(id);
        let name = s.name().to_string();
        let (blob, name_len) = blob(&name, data);
        s.blob = blob;
        s.name_len = name_len;
    }

    pub fn acl(&self, id: NodeId) -> u32 {
        self.slot(id).acl
    }

    pub fn set_acl(&mut self, id: NodeId, acl: u32) {
        self.slot_mut(id).acl = acl;
    }

    pub fn stat(&self, id: NodeId) -> StoredStat {
        self.slot(id).stat()
    }

    /// Changes the node's stored Stat.
    pub fn update_stat(&mut self, id: NodeId, change: impl FnOnce(&mut StoredStat)) {
        let slot = self.slot_mut(id);
        let mut s = slot.stat();
        change(&mut s);
        slot.set_stat(s);
    }

    /// The node's children, in no particular order.
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        self.children.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn child_count(&self, id: NodeId) -> usize {
        self.children.get(&id).map_or(0, Vec::len)
    }

    /// Every node with its path, parents before their children.
    pub fn walk(&self) -> Walk<'_> {
        self.walk_from(ROOT, "/".to_string())
    }

    /// Calls `f` with every node's path, parents before their children, building each
    /// path in one reused buffer (a walk over a million nodes allocates nothing per node).
    pub fn visit(&self, f: impl FnMut(&str, NodeId)) {
        self.visit_in(false, f)
    }

    /// As [`NodeStore::visit`], with each node's children in name order: the order no
    /// longer depends on the history that built the tree, so equal trees are visited
    /// alike (snapshots of equal trees are equal bytes).
    #[cfg(test)]
    pub fn visit_sorted(&self, f: impl FnMut(&str, NodeId)) {
        self.visit_in(true, f)
    }

    fn visit_in(&self, sorted: bool, mut f: impl FnMut(&str, NodeId)) {
        let mut path = String::new();
        let mut stack: Vec<(NodeId, usize)> = vec![(ROOT, 0)];
        while let Some((id, parent_len)) = stack.pop() {
            path.truncate(parent_len);
            if id == ROOT {
                path.push('/');
            } else {
                if parent_len > 1 {
                    path.push('/');
                }
                path.push_str(self.name(id));
            }
            f(&path, id);
            let len = path.len();
            let start = stack.len();
            stack.extend(self.children(id).iter().map(|&c| (c, len)));
            if sorted {
                // Popped from the end: descending here is ascending when visited.
                stack[start..]
                    .sort_unstable_by(|a, b| self.name_bytes(b.0).cmp(self.name_bytes(a.0)));
            }
        }
    }

    /// The subtree at `id` (whose path is `path`), parents before their children.
    pub fn walk_from(&self, id: NodeId, path: String) -> Walk<'_> {
        Walk {
            store: self,
            stack: vec![(id, path)],
        }
    }
}

/// The index's 64-bit hash from a slot's 32-bit one. The table takes its bucket from the
/// low bits and a 7-bit tag, checked before any slot is looked at, from the top bits: a
/// plain widening would leave every tag 0 and make each probe read slots (cache misses).
fn table_hash(h: u32) -> u64 {
    (h as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn slot_hash(slots: &[Option<Slot>], id: NodeId, _: &DefaultHashBuilder) -> u64 {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .map_or(0, |s| table_hash(s.hash))
}

/// Depth-first walk of the tree; see [`NodeStore::walk`].
pub struct Walk<'a> {
    store: &'a NodeStore,
    stack: Vec<(NodeId, String)>,
}

impl Iterator for Walk<'_> {
    type Item = (String, NodeId);

    fn next(&mut self) -> Option<Self::Item> {
        let (id, path) = self.stack.pop()?;
        for &c in self.store.children(id) {
            let name = self.store.name(c);
            let mut p = String::with_capacity(path.len() + 1 + name.len());
            p.push_str(&path);
            if path != "/" {
                p.push('/');
            }
            p.push_str(name);
            self.stack.push((c, p));
        }
        Some((path, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_small() {
        assert_eq!(std::mem::size_of::<Option<Slot>>(), 96);
    }

    #[test]
    fn insert_lookup_remove_and_paths() {
        let mut s = NodeStore::new(0, Some(b""), StoredStat::default());
        let a = s.insert(ROOT, "/a", "a", Some(b"x"), 1, StoredStat::default());
        let b = s.insert(a, "/a/b", "b", None, 1, StoredStat::default());
        let ab = s.insert(ROOT, "/ab", "ab", Some(b"yy"), 1, StoredStat::default());
        assert_eq!(s.lookup("/a"), Some(a));
        assert_eq!(s.lookup("/a/b"), Some(b));
        assert_eq!(s.lookup("/ab"), Some(ab));
        assert_eq!(s.lookup("/b"), None);
        assert_eq!(s.lookup("/a/b/c"), None);
        assert_eq!(s.lookup("/"), Some(ROOT));
        assert_eq!(s.path(b), "/a/b");
        assert_eq!(s.data(b), None);
        assert_eq!(s.data(ab), Some(&b"yy"[..]));
        assert_eq!(s.name(ab), "ab");
        assert_eq!(s.child_count(ROOT), 2);
        s.set_data(a, Some(b"longer data"));
        assert_eq!(s.data(a), Some(&b"longer data"[..]));
        assert_eq!(s.name(a), "a");

        let removed = s.remove(b).unwrap();
        assert_eq!(removed.data_len, 0);
        assert!(s.remove(b).is_none(), "removed twice");
        assert_eq!(s.lookup("/a/b"), None);
        assert_eq!(s.child_count(a), 0);
        // The freed slot is reused; the moved sibling keeps a correct place in its list.
        let c = s.insert(ROOT, "/c", "c", Some(b""), 1, StoredStat::default());
        assert_eq!(c, b);
        s.remove(a);
        assert_eq!(s.child_count(ROOT), 2);
        s.remove(c);
        assert_eq!(s.children(ROOT), &[ab]);
        assert_eq!(s.len(), 2);
        let walked: Vec<String> = s.walk().map(|(p, _)| p).collect();
        assert_eq!(walked, vec!["/", "/ab"]);
        let d = s.insert(ab, "/ab/d", "d", None, 1, StoredStat::default());
        s.insert(d, "/ab/d/e", "e", None, 1, StoredStat::default());
        let mut visited = Vec::new();
        s.visit(|p, id| visited.push((p.to_string(), id)));
        let walked: Vec<(String, NodeId)> = s.walk().collect();
        assert_eq!(visited, walked);
        assert_eq!(visited.last().unwrap().0, "/ab/d/e");
    }

    #[test]
    fn many_nodes_survive_growth_and_churn() {
        let mut s = NodeStore::new(0, Some(b""), StoredStat::default());
        let mut ids = Vec::new();
        for i in 0..2000 {
            let p = format!("/n{i}");
            ids.push(s.insert(ROOT, &p, &p[1..], Some(b"d"), 0, StoredStat::default()));
        }
        for i in (0..2000).step_by(3) {
            s.remove(ids[i]);
        }
        for i in 0..2000 {
            let found = s.lookup(&format!("/n{i}"));
            assert_eq!(found.is_some(), i % 3 != 0, "/n{i}");
            if let Some(id) = found {
                assert_eq!(s.path(id), format!("/n{i}"));
            }
        }
        let mut listed: Vec<&str> = s.children(ROOT).iter().map(|&c| s.name(c)).collect();
        listed.sort();
        assert_eq!(listed.len(), 2000 - 667);
        assert_eq!(s.walk().count(), s.len());
    }
}
