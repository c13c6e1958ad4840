//! The write pipeline: prepare → propose → durable → commit → apply → reply.
//!
//! A write is prepared against the tree plus the changes already proposed (so its checks
//! are exact), proposed through the [`Broadcast`](super::broadcast::Broadcast) seam (which
//! assigns the zxid and asks the edges for a log append), committed once durable on a
//! quorum (standalone: on this server's own fsync), applied to the tree in zxid order, and
//! answered where its session waits. A failed log answers what is in flight with an error
//! and refuses writes from then on.

use std::sync::Arc;

use zkrs_proto::{ConnectResponse, ErrorCode, MultiResult, Request, Response};

use crate::acl::AuthInfo;
use crate::ids::Zxid;
use crate::prep::{EnsembleView, PrepContext};
use crate::reply::{connect_frame, error_frame, reply_frame};
use crate::session_password;
use crate::storage::writer::LogEntry;
use crate::tree::{Trigger, TxnResult};
use crate::txn::{Txn, TxnHeader};

use super::broadcast::Quorum;
use super::order::{Awaiting, Committed, Slot};
use super::peer::Mode;
use super::{ConnId, Core, Effect};

impl Core {
    pub(super) fn on_write(
        &mut self,
        sid: i64,
        conn_id: ConnId,
        xid: i32,
        req: Request,
        received: std::time::Instant,
    ) {
        let last_zxid = self.tree.last_zxid();
        match (&self.log_failed, self.broadcast.next_zxid()) {
            (None, Ok(_)) => {}
            _ => {
                let frame = error_frame(xid, last_zxid, ErrorCode::SystemError.code());
                self.enqueue_ready(sid, conn_id, frame, false, Some(received));
                return;
            }
        }
        let Some(auth) = self.conns.get(&conn_id).map(|c| c.auth.clone()) else {
            return;
        };
        let Some(txn) = self.prepare_write(sid, &auth, &req) else {
            return;
        };
        let op = req.op();
        if self.propose(sid, xid, txn).is_none() {
            let frame = error_frame(xid, last_zxid, ErrorCode::SystemError.code());
            self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            return;
        }
        if let Some(l) = self.sessions.get_mut(sid) {
            l.queue.push(Slot::Write {
                cxid: xid,
                conn: conn_id,
                awaiting: Awaiting::Reply { op },
                received: Some(received),
            });
        }
    }

    /// Prepares a write of `session_id` against the tree plus the changes already proposed.
    /// `None` when no zxid can be had.
    pub(super) fn prepare_write(
        &mut self,
        session_id: i64,
        auth: &AuthInfo,
        req: &Request,
    ) -> Option<Txn> {
        let next = self.broadcast.next_zxid().ok()?;
        let view = match &self.mode {
            Mode::Leading(l) => {
                let (committed, last_seen) = l.configs();
                Some(EnsembleView {
                    committed,
                    last_seen,
                    synced: l.synced_members(self.settings.server_id as u64),
                    standalone_enabled: self.settings.prep.standalone_enabled,
                })
            }
            _ => None,
        };
        let ctx = PrepContext {
            tree: &self.tree,
            auth,
            session_id,
            zxid: next.raw(),
            ensemble: view.as_ref(),
        };
        // A write that fails preparation is still a transaction, as in Apache: an error
        // (or a multi of errors) takes the next zxid, goes through the log, and is answered
        // when it commits. So zxids match Apache's, and the reply keeps its place.
        Some(match self.prep.prepare(&ctx, req) {
            Ok(txn) => txn,
            Err(e) => Txn::Error { err: e.code() },
        })
    }

    /// Proposes a prepared transaction; `None` when no zxid can be had (the epoch's counter
    /// is used up), in which case nothing was proposed.
    pub(super) fn propose(&mut self, session_id: i64, cxid: i32, txn: Txn) -> Option<Zxid> {
        let entry = LogEntry {
            hdr: TxnHeader {
                session_id,
                cxid,
                zxid: 0,
                time: self.now.wall_ms,
            },
            txn: Arc::new(txn),
        };
        let reconfig = match self.mode {
            Mode::Leading(_) => super::reconfig::committed_config(&entry),
            _ => None,
        };
        let proposed = match &reconfig {
            Some(next) => self
                .broadcast
                .propose_reconfig(entry, Quorum::majority(next.voters())),
            None => self.broadcast.propose(entry),
        };
        if let (Ok(_), Some(next)) = (&proposed, &reconfig) {
            self.reconfig_proposed(next);
        }
        match proposed {
            Ok(zxid) => {
                for a in self.broadcast.take_appends() {
                    self.send_proposal(&a.0);
                    self.effects.push(Effect::Append(a.0));
                }
                Some(zxid)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot propose");
                None
            }
        }
    }

    /// Proposes the close of a session (a client's close or an expiry). False when it
    /// cannot be proposed (the log failed).
    pub(super) fn close_session(&mut self, sid: i64, cxid: i32) -> bool {
        // Closing first: with a failed log the close cannot be logged, and the session must
        // not be retried on every tick.
        if let Some(l) = self.sessions.get_mut(sid) {
            l.closing = true;
        }
        if self.log_failed.is_some() {
            return false;
        }
        let Ok(next) = self.broadcast.next_zxid() else {
            return false;
        };
        let ctx = PrepContext {
            tree: &self.tree,
            auth: &AuthInfo::default(),
            session_id: sid,
            zxid: next.raw(),
            ensemble: None,
        };
        let txn = self.prep.prepare_close_session(&ctx);
        self.propose(sid, cxid, txn).is_some()
    }

    pub(super) fn on_durable(&mut self, zxid: Zxid) {
        if self.mode.is_follower() {
            self.follower_durable(zxid);
            return;
        }
        self.broadcast.durable(zxid);
        self.commit_ready();
    }

    /// Applies every proposal that may commit now, in zxid order (on a leader, also telling
    /// the learners).
    pub(super) fn commit_ready(&mut self) {
        let mut applied = false;
        while let Some((entry, acks)) = self.broadcast.next_commit_acked() {
            self.tell_learners_committed(&entry, &acks);
            self.apply(entry);
            // A learner's `sync` is answered right after the COMMIT it waited for, before
            // any later one: the learner completes its syncs and writes in that order.
            self.answer_learner_syncs();
            applied = true;
        }
        if let (true, Some(s)) = (applied, &mut self.snapshots) {
            s.after_commits(&self.tree);
        }
    }

    /// Applies a committed transaction, fires its watches, and answers the write that
    /// waits for it, if this server has one (matched by session id and cxid).
    pub(super) fn apply(&mut self, entry: LogEntry) {
        let LogEntry { hdr, txn } = entry;
        let sid = hdr.session_id;
        let mut triggers = Vec::new();
        let rc = self.tree.apply(&hdr, &txn, &mut triggers);
        if let Txn::CreateSession { timeout_ms } = &*txn {
            // Created through another member: known here from now on (for a reattach, and
            // on the leader for expiry).
            self.learn_session(sid, *timeout_ms);
        }
        self.prep.applied(hdr.zxid);
        if let Some(s) = &mut self.snapshots {
            s.applied(&self.tree);
        }
        for t in &triggers {
            let mut notes = Vec::new();
            self.watches.fire(t, &mut notes);
            self.count_write(t);
            self.deliver_readable(&notes, t.acl());
        }
        let pending = self
            .sessions
            .get_mut(sid)
            .and_then(|l| l.queue.commit(hdr.cxid));
        if let Some(place) = pending {
            let (frame, is_reply) = match place.awaiting {
                Awaiting::Reply { .. } => (write_reply(hdr.cxid, hdr.zxid, &txn, &rc), true),
                Awaiting::NewSession { .. } if !matches!(&*txn, Txn::CreateSession { .. }) => {
                    // The leader refused the session (an error transaction in its place).
                    tracing::warn!(
                        session = format_args!("{sid:#x}"),
                        err = rc.err,
                        "the leader refused to create the session"
                    );
                    self.sessions.remove(sid);
                    self.close_conn(place.conn);
                    return;
                }
                Awaiting::NewSession {
                    timeout_ms,
                    read_only,
                } => (self.session_created(sid, timeout_ms, read_only), false),
            };
            self.answer(sid, place, frame, is_reply);
        }
        if let Txn::CloseSession { .. } = &*txn {
            // Its watches went on until now: Apache tells a closing session of the deletion
            // of its own ephemerals, before the reply to its close.
            self.watches.remove_session(sid);
            if let Some(live) = self.sessions.remove(sid) {
                if let Some(conn) = live.conn {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.session = None;
                    }
                    self.close_conn(conn);
                }
            }
        }
    }

    /// Puts the answer to a committed (or failed) write in its place, and sends what may go.
    pub(super) fn answer(&mut self, sid: i64, place: Committed, frame: Vec<u8>, is_reply: bool) {
        if let Some(l) = self.sessions.get_mut(sid) {
            l.queue.fill(place, frame, is_reply);
        }
        self.drain(sid);
    }

    fn session_created(&self, sid: i64, timeout_ms: i32, read_only: Option<bool>) -> Vec<u8> {
        let passwd = session_password::session_password(sid).to_vec();
        tracing::debug!(
            session = format_args!("{sid:#x}"),
            timeout_ms,
            "session established"
        );
        connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: sid,
            passwd,
            read_only: read_only.map(|_| false),
        })
    }

    /// Per-namespace write bytes, as Apache counts them: a create or data change counts the
    /// node's data, a delete counts 0.
    fn count_write(&mut self, t: &Trigger) {
        match t {
            Trigger::Created(p, _) | Trigger::DataChanged(p, _) => {
                let bytes = self.tree.get(p).map_or(0, |n| n.data_len());
                self.namespaces.write(p, bytes);
            }
            Trigger::Deleted(p, _) => self.namespaces.write(p, 0),
            Trigger::ChildrenChanged(..) => {}
        }
    }

    pub(super) fn on_log_failed(&mut self, first_zxid: Zxid, error: String) {
        tracing::error!(
            first_zxid = %first_zxid,
            %error,
            "the transaction log failed: refusing writes from now on, reads continue"
        );
        if !matches!(self.mode, super::peer::Mode::Standalone) {
            // An ensemble member that cannot log can neither acknowledge proposals nor
            // commit its own: it leaves its role (the others go on without it), and its
            // clients move to other members.
            self.effects
                .push(Effect::Peer(super::peer::PeerOut::Ended(format!(
                    "the transaction log failed: {error}"
                ))));
        }
        self.log_failed = Some(error);
        self.prep.forget_outstanding();
        // Proposals that never became durable are answered with an error, never applied.
        for entry in self.broadcast.abandon() {
            let sid = entry.hdr.session_id;
            let cxid = entry.hdr.cxid;
            let pending = self
                .sessions
                .get_mut(sid)
                .and_then(|l| l.queue.commit(cxid));
            let Some(place) = pending else {
                continue;
            };
            match place.awaiting {
                Awaiting::Reply { .. } => {
                    let frame =
                        error_frame(cxid, self.tree.last_zxid(), ErrorCode::SystemError.code());
                    self.answer(sid, place, frame, true);
                }
                Awaiting::NewSession { .. } => {
                    self.sessions.remove(sid);
                    self.close_conn(place.conn);
                }
            }
        }
    }
}

/// Builds the reply to an applied write.
fn write_reply(xid: i32, zxid: i64, txn: &Txn, rc: &TxnResult) -> Vec<u8> {
    if rc.err != 0 && !matches!(txn, Txn::Multi(_)) {
        return error_frame(xid, zxid, rc.err);
    }
    let body = match txn {
        Txn::Create { kind, .. } => {
            let path = rc.path.clone().unwrap_or_default();
            if kind.replies_with_stat() {
                Response::Create2(path, rc.stat.unwrap_or_default())
            } else {
                Response::Create(path)
            }
        }
        // A reconfig answers with the new configuration and its Stat, as getConfig does.
        Txn::SetData {
            reconfig: true,
            data,
            ..
        } => Response::GetData(data.clone(), rc.stat.unwrap_or_default()),
        Txn::SetData { .. } | Txn::SetAcl { .. } | Txn::Check { .. } => {
            Response::Stat(rc.stat.unwrap_or_default())
        }
        Txn::Multi(subs) => Response::Multi(
            subs.iter()
                .zip(rc.multi.iter())
                // In a failed multi every op answers with its error (0 before the failing
                // one), whatever record the leader kept for it.
                .map(|(t, r)| {
                    if rc.err != 0 {
                        MultiResult::Error(r.err)
                    } else {
                        multi_result(t, r)
                    }
                })
                .collect(),
        ),
        _ => Response::Empty,
    };
    reply_frame(xid, zxid, 0, &body)
}

fn multi_result(txn: &Txn, rc: &TxnResult) -> MultiResult {
    if rc.err != 0 {
        return MultiResult::Error(rc.err);
    }
    match txn {
        Txn::Create { kind, .. } => {
            let path = rc.path.clone().unwrap_or_default();
            if kind.replies_with_stat() {
                MultiResult::Create2(path, rc.stat.unwrap_or_default())
            } else {
                MultiResult::Create(path)
            }
        }
        Txn::Delete { .. } => MultiResult::Delete,
        Txn::SetData { .. } => MultiResult::SetData(rc.stat.unwrap_or_default()),
        Txn::Check { .. } => MultiResult::Check,
        Txn::Error { err } => MultiResult::Error(*err),
        _ => MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
    }
}

#[cfg(test)]
mod tests {
    use zkrs_proto::{OpCode, Stat};

    use super::*;
    use crate::core::testkit::split_reply;

    #[test]
    fn a_reconfig_is_answered_with_the_new_config_and_its_stat() {
        let txn = Txn::SetData {
            path: "/zookeeper/config".into(),
            data: Some(b"server.1=a:1:2:participant\nversion=5".to_vec()),
            version: -1,
            reconfig: true,
        };
        let stat = Stat {
            mzxid: 5,
            version: -1,
            ..Stat::default()
        };
        let rc = TxnResult {
            stat: Some(stat),
            ..TxnResult::default()
        };
        let (hdr, body) = split_reply(&write_reply(3, 5, &txn, &rc));
        assert_eq!((hdr.xid, hdr.err), (3, 0));
        match Response::decode(OpCode::Reconfig, &body).unwrap() {
            Response::GetData(data, s) => {
                assert_eq!(
                    data.as_deref(),
                    Some(&b"server.1=a:1:2:participant\nversion=5"[..])
                );
                assert_eq!(s, stat);
            }
            other => panic!("{other:?}"),
        }
    }
}
