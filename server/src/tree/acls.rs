//! One shared copy of each distinct ACL (Apache keeps an ACL cache for the same reason:
//! millions of nodes usually share a handful of ACLs). Nodes hold a 4-byte index; an entry
//! counts the nodes using it and goes when the last one lets go.

use std::collections::HashMap;
use std::sync::Arc;

use zkrs_proto::Acl;

#[derive(Debug, Clone)]
struct Entry {
    acl: Arc<[Acl]>,
    nodes: u64,
}

#[derive(Debug, Default, Clone)]
pub struct AclTable {
    entries: Vec<Option<Entry>>,
    by_acl: HashMap<Arc<[Acl]>, u32>,
    free: Vec<u32>,
}

impl AclTable {
    /// The index of `acl`, counting one more node that uses it.
    pub fn acquire(&mut self, acl: &[Acl]) -> u32 {
        if let Some(&i) = self.by_acl.get(acl) {
            if let Some(Some(e)) = self.entries.get_mut(i as usize) {
                e.nodes += 1;
                return i;
            }
        }
        let acl: Arc<[Acl]> = Arc::from(acl);
        let entry = Some(Entry {
            acl: acl.clone(),
            nodes: 1,
        });
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        self.by_acl.insert(acl, i);
        i
    }

    /// One more node uses entry `i` (an index [`AclTable::acquire`] returned).
    pub fn retain(&mut self, i: u32) {
        if let Some(Some(e)) = self.entries.get_mut(i as usize) {
            e.nodes += 1;
        }
    }

    /// One node fewer uses entry `i`.
    pub fn release(&mut self, i: u32) {
        let Some(slot) = self.entries.get_mut(i as usize) else {
            return;
        };
        let gone = match slot {
            Some(e) => {
                e.nodes = e.nodes.saturating_sub(1);
                e.nodes == 0
            }
            None => false,
        };
        if gone {
            if let Some(e) = slot.take() {
                self.by_acl.remove(&e.acl);
            }
            self.free.push(i);
        }
    }

    /// The ACL at `i`. An index no node holds reads as an empty ACL (no one may do
    /// anything), which only a bug could produce.
    pub fn get(&self, i: u32) -> &Arc<[Acl]> {
        static NONE: std::sync::OnceLock<Arc<[Acl]>> = std::sync::OnceLock::new();
        match self.entries.get(i as usize) {
            Some(Some(e)) => &e.acl,
            _ => NONE.get_or_init(|| Arc::from(Vec::new())),
        }
    }

    /// Every ACL in use with its index.
    #[cfg(test)]
    pub fn live(&self) -> impl Iterator<Item = (u32, &Arc<[Acl]>)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, &e.acl)))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_acl.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_counted_and_reused() {
        let mut t = AclTable::default();
        let a = t.acquire(&Acl::open_unsafe());
        let b = t.acquire(&Acl::open_unsafe());
        assert_eq!(a, b);
        let r = t.acquire(&Acl::read_unsafe());
        assert_ne!(a, r);
        assert_eq!(t.len(), 2);
        t.release(r);
        assert_eq!(t.len(), 1);
        t.release(a);
        assert_eq!(
            &**t.get(b),
            &Acl::open_unsafe()[..],
            "one node still uses it"
        );
        t.release(b);
        assert_eq!(t.len(), 0);
        let again = t.acquire(&Acl::read_unsafe());
        assert!(again == a || again == r, "a freed index is reused");
        assert_eq!(t.live().count(), 1);
    }
}
