//! A walk over the tree that may be spread over many short slices while transactions are
//! applied between them (a fuzzy snapshot, as Apache takes them): the core serializes a few
//! thousand nodes, goes back to its other work, and resumes, so a snapshot of a million
//! nodes never pauses it for more than a slice.
//!
//! What the walk guarantees, with `Z` the last applied zxid when it started:
//! - every node that existed at `Z` and still exists when the walk reaches it is visited,
//!   in whatever state it has then;
//! - no node created after `Z` is visited (its creation is in the log after `Z`, and
//!   replaying it builds it), so nothing is visited twice and no visited node lacks its
//!   parent;
//! - parents come before their children.
//!
//! Replaying the log after `Z` over what was visited then gives the live tree, provided
//! applying a transaction twice is harmless (a node visited after a change already has it).
//!
//! How: a node's children are copied (their slot numbers, in name order) when the node is
//! visited, so a child list reordered later by a removal cannot make the walk skip a child. When a copied
//! child is reached, its slot may have been freed and reused by a node created since; such
//! a node has `czxid > Z` and is passed over. A slot holding a node with `czxid <= Z` holds
//! the very child that was copied: nodes never move between slots, and no node created
//! later can have a czxid at or below `Z`.

use super::store::{NodeId, ROOT};
use super::{DataTree, NodeRef};

/// See the module documentation.
#[derive(Debug)]
pub struct FuzzyWalk {
    start_zxid: i64,
    /// Children still to visit, per level of the path being walked.
    frames: Vec<Frame>,
    /// The path of the node last visited, cut back to a frame's parent path as the walk
    /// moves (so a path is built without an allocation per node).
    path: String,
    started: bool,
}

#[derive(Debug)]
struct Frame {
    parent_len: usize,
    ids: Vec<NodeId>,
    next: usize,
}

impl FuzzyWalk {
    /// A walk of `tree` as of its last applied zxid.
    pub fn new(tree: &DataTree) -> Self {
        FuzzyWalk {
            start_zxid: tree.last_zxid(),
            frames: Vec::new(),
            path: String::new(),
            started: false,
        }
    }

    /// The last applied zxid when the walk started: the log must be replayed after it.
    pub fn start_zxid(&self) -> i64 {
        self.start_zxid
    }

    pub fn is_done(&self) -> bool {
        self.started && self.frames.is_empty()
    }

    /// Visits up to `budget` more nodes of `tree` (at least one), passing each with its
    /// path to `f`. Returns true once every node has been visited.
    pub fn step(
        &mut self,
        tree: &DataTree,
        budget: usize,
        mut f: impl FnMut(&str, NodeRef<'_>),
    ) -> bool {
        let nodes = &tree.nodes;
        let mut left = budget.max(1);
        if !self.started {
            self.started = true;
            self.path.push('/');
            f(&self.path, NodeRef { tree, id: ROOT });
            self.push_children(tree, ROOT, 0);
            left -= 1;
        }
        while left > 0 {
            let Some(frame) = self.frames.last_mut() else {
                return true;
            };
            let Some(&id) = frame.ids.get(frame.next) else {
                self.frames.pop();
                continue;
            };
            frame.next += 1;
            left -= 1;
            let parent_len = frame.parent_len;
            if !nodes.contains(id) || nodes.stat(id).czxid > self.start_zxid {
                // Removed since its parent was visited (its slot maybe reused by a newer
                // node): the log after the start zxid accounts for both.
                continue;
            }
            self.path.truncate(parent_len);
            self.path.push('/');
            self.path.push_str(nodes.name(id));
            f(&self.path, NodeRef { tree, id });
            let len = self.path.len();
            self.push_children(tree, id, len);
        }
        self.is_done()
    }

    fn push_children(&mut self, tree: &DataTree, id: NodeId, parent_len: usize) {
        let children = tree.nodes.children(id);
        if !children.is_empty() {
            // In name order, not the child list's (which depends on the history of removals),
            // so that equal trees give equal snapshot bytes on every member.
            let mut ids = children.to_vec();
            let nodes = &tree.nodes;
            ids.sort_unstable_by(|&a, &b| nodes.name_bytes(a).cmp(nodes.name_bytes(b)));
            self.frames.push(Frame {
                parent_len,
                ids,
                next: 0,
            });
        }
    }
}
