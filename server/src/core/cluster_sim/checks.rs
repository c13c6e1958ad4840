//! The invariants, checked after every step, and the end-of-run convergence checks.

use crate::quorum::election::Sid;
use crate::storage::snapshot;
use crate::tree::DataTree;
use crate::txn::{owner_kind, OwnerKind, Txn};

use super::world::{Role, Sim, TICK_MS};

/// An ephemeral node whose session is gone, if the tree has one.
fn orphaned_ephemeral(sid: Sid, tree: &DataTree) -> Option<String> {
    tree.iter_nodes().find_map(
        |(path, node)| match owner_kind(node.stored().ephemeral_owner) {
            OwnerKind::Ephemeral(owner) if tree.session(owner).is_none() => Some(format!(
                "member {sid}: {path} outlived its session {owner:#x}"
            )),
            _ => None,
        },
    )
}

impl Sim {
    pub(super) fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "seed {} step {} ({} members, {} voting): {what}\n  {}\n(replay: ZKRS_CLUSTER_SIM_SEED={} \
             ZKRS_CLUSTER_SIM_TRACE=1 cargo nextest run -p zkrs-server cluster_sim)",
            self.seed,
            self.step,
            self.n,
            self.voters,
            self.state(),
            self.seed
        )
    }

    /// The transactions `sid` serves from must continue the committed sequence: the same
    /// transaction at every position, new ones only after the last committed zxid, and a
    /// session's close at most once.
    pub(super) fn check_served(&mut self, sid: Sid) {
        let m = &self.members[sid as usize - 1];
        let Some(last) = m.served_last() else {
            return;
        };
        if m.log_failed {
            // A follower applies what the quorum committed before its own log has it (as
            // Apache's does); when its log fails those are not on its disk. Its role is
            // ending: it syncs again from what its disk holds.
            return;
        }
        let mut i = m.verified;
        let mut problem = None;
        let mut new = Vec::new();
        while let Some(e) = m.logged_at(i).filter(|e| e.hdr.zxid <= last) {
            match self.committed.get(i) {
                Some(c) if c.hdr == e.hdr && c.txn == e.txn => {}
                Some(c) => {
                    problem = Some(format!(
                        "member {sid} serves {:#x} {:?} where {:#x} {:?} was committed",
                        e.hdr.zxid, e.txn, c.hdr.zxid, c.txn
                    ));
                    break;
                }
                None => {
                    if self
                        .committed
                        .last()
                        .is_some_and(|c| c.hdr.zxid >= e.hdr.zxid)
                    {
                        problem = Some(format!(
                            "member {sid} commits {:#x} out of order",
                            e.hdr.zxid
                        ));
                        break;
                    }
                    if matches!(*e.txn, Txn::CloseSession { .. })
                        && !self.closed.insert(e.hdr.session_id)
                    {
                        problem = Some(format!(
                            "session {:#x} closed twice (at {:#x})",
                            e.hdr.session_id, e.hdr.zxid
                        ));
                        break;
                    }
                    self.committed.push(e.clone());
                    new.push(e.clone());
                }
            }
            i += 1;
        }
        if problem.is_none() {
            let reached = i
                .checked_sub(1)
                .and_then(|j| m.logged_at(j))
                .map_or(0, |e| e.hdr.zxid);
            if reached != last {
                problem = Some(format!(
                    "member {sid}'s tree is at {last:#x} but its log reaches {reached:#x} there"
                ));
            }
        }
        if problem.is_none() {
            problem = orphaned_ephemeral(sid, &m.harness_ref().expect("a serving core").core.tree);
        }
        if let Some(p) = problem {
            self.fail(p);
        }
        self.members[sid as usize - 1].verified = i;
        for e in &new {
            self.check_commit_quorum(e);
            self.note_committed(e);
        }
    }

    pub(super) fn check_all(&mut self) {
        for sid in 1..=self.n as Sid {
            self.check_served(sid);
        }
    }

    /// Every member holds the same tree, which is the committed sequence replayed.
    pub(super) fn check_converged(&mut self) {
        let mut replica = DataTree::new();
        for e in &self.committed {
            replica.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        // `/zookeeper/config` is each member's own (written outside transactions, with
        // its own mtime): compared apart, by `check_configs_converged`.
        let reconfig = self.reconfig;
        let serialize = |t: &DataTree| {
            if reconfig {
                let mut t = t.clone();
                t.set_config(b"", 0, 0);
                snapshot::serialize(&t)
            } else {
                snapshot::serialize(t)
            }
        };
        let want = serialize(&replica);
        for m in &self.members {
            let Some(h) = m.harness_ref() else {
                self.fail(format!("member {} has no role at the end", m.sid));
            };
            let tree = &h.core.tree;
            if tree.last_zxid() != replica.last_zxid()
                || tree.digest() != replica.digest()
                || serialize(tree) != want
            {
                self.fail(format!(
                    "member {}'s tree at {:#x} differs from the committed sequence at {:#x}",
                    m.sid,
                    tree.last_zxid(),
                    replica.last_zxid()
                ));
            }
            let mismatches = h.core.inspect().quorum.map_or(0, |q| q.digest_mismatches);
            if mismatches != 0 {
                self.fail(format!("member {}: {mismatches} digest mismatches", m.sid));
            }
            let disk = m.disk.history();
            if disk.windows(2).any(|w| w[0].hdr.zxid >= w[1].hdr.zxid) {
                self.fail(format!("member {}'s disk is out of zxid order", m.sid));
            }
        }
    }

    /// Every client leaves; the sessions time out and the leader expires each once.
    pub(super) fn expire_everything(&mut self) {
        self.disconnect_all();
        // Longer than the longest session timeout.
        for _ in 0..(30_000 / TICK_MS) {
            self.settle_round();
            self.advance(TICK_MS);
            self.check_all();
        }
    }

    pub(super) fn check_sessions_gone(&mut self) {
        for m in &self.members {
            if let Role::Leading { h, .. } | Role::Following { h, .. } = &m.role {
                let left = h.core.tree.sessions().count();
                if left != 0 || h.core.tree.ephemeral_count() != 0 {
                    self.fail(format!(
                        "member {}: {left} sessions left after expiry",
                        m.sid
                    ));
                }
            }
        }
        let created = self
            .committed
            .iter()
            .filter(|e| matches!(*e.txn, Txn::CreateSession { .. }))
            .count();
        if created != self.closed.len() {
            self.fail(format!(
                "{created} sessions created, {} closed",
                self.closed.len()
            ));
        }
    }
}
