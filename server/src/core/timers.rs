//! What the core does on its own, on timer ticks from the edges: expiring sessions and
//! reaping empty containers and expired TTL nodes, both through the write pipeline.

use crate::acl::AuthInfo;
use crate::prep::PrepContext;
use crate::txn::{owner_kind, OwnerKind};

use super::Core;

impl Core {
    pub(super) fn expire_sessions(&mut self) {
        if self.mode.is_read_only() {
            // Read-only sessions live here alone: they end without a transaction.
            for sid in self.sessions.expired(self.now.mono) {
                tracing::info!(
                    session = format_args!("{sid:#x}"),
                    "read-only session expired"
                );
                self.watches.remove_session(sid);
                if let Some(live) = self.sessions.remove(sid) {
                    if let Some(conn) = live.conn {
                        self.close_conn(conn);
                    }
                }
            }
            return;
        }
        // Only the leader (or a standalone server) expires sessions; followers report
        // their clients' activity to it.
        if !self.mode.decides() || !self.serving() {
            return;
        }
        for sid in self.sessions.expired(self.now.mono) {
            tracing::info!(session = format_args!("{sid:#x}"), "session expired");
            self.close_session(sid, 0);
        }
    }

    /// Deletes empty containers that once had children and childless TTL nodes past their
    /// TTL, through the same pipeline as client writes.
    pub(super) fn reap_containers_and_ttls(&mut self) {
        if self.log_failed.is_some() || !self.mode.decides() || !self.serving() {
            return;
        }
        let now = self.now.wall_ms;
        let mut candidates: Vec<String> = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.get(p) {
                if n.stored().cversion > 0 && !n.has_children() {
                    candidates.push(p.clone());
                }
            }
        }
        for p in self.tree.ttl_nodes() {
            if let Some(n) = self.tree.get(p) {
                if let OwnerKind::Ttl(ttl) = owner_kind(n.stored().ephemeral_owner) {
                    if !n.has_children() && now - n.stored().mtime > ttl {
                        candidates.push(p.clone());
                    }
                }
            }
        }
        candidates.sort();
        let nobody = AuthInfo { ids: Vec::new() };
        for path in candidates {
            let Ok(next) = self.broadcast.next_zxid() else {
                return;
            };
            let ctx = PrepContext {
                tree: &self.tree,
                auth: &nobody,
                session_id: 0,
                zxid: next.raw(),
                ensemble: None,
            };
            // A child created meanwhile (even one still in flight) makes this NotEmpty.
            if let Ok(txn) = self.prep.prepare_delete_container(&ctx, &path) {
                self.propose(0, 0, txn);
            }
        }
    }
}
