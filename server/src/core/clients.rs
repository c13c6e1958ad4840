//! Client connections: the handshake (a new session or a reattach), the requests of a
//! session in their reply order, reads, and the delivery of watch notifications.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use zkrs_proto::opcode::perms;
use zkrs_proto::{ConnectRequest, ConnectResponse, ErrorCode, OpCode, Request};

use crate::acl::{self, AuthInfo};
use crate::read::{self, ReadContext};
use crate::reply::{connect_frame, error_frame, notification_frame};
use crate::session_password;
use crate::stats::ConnStats;
use crate::txn::Txn;
use crate::watch::Notification;

use super::order::{Awaiting, ReadyFrame, Released, Slot};
use super::sessions::LiveSession;
use super::{Conn, ConnId, Core};

impl Core {
    fn negotiate_timeout(&self, requested: i32) -> i32 {
        requested.clamp(
            self.settings.min_session_timeout_ms,
            self.settings.max_session_timeout_ms,
        )
    }

    pub(super) fn on_connect(&mut self, id: ConnId, remote: SocketAddr, req: ConnectRequest) {
        self.stats.packets_received += 1;
        let auth = AuthInfo::for_remote(remote.ip());
        self.conns.insert(
            id,
            Conn {
                remote,
                session: None,
                auth,
                stats: ConnStats::new(self.now.wall_ms),
                held: None,
            },
        );
        let leader_refuses =
            matches!(self.mode, super::peer::Mode::Leading(_)) && !self.settings.leader_serves;
        if !self.serving() || leader_refuses {
            // A leader waiting for its quorum (Apache's server is not running yet either),
            // or one told not to serve clients (`leaderServes=no`).
            self.close_conn(id);
            return;
        }
        if req.last_zxid_seen > self.known_zxid() {
            tracing::info!(
                conn = id,
                client_zxid = format_args!("{:#x}", req.last_zxid_seen),
                our_zxid = format_args!("{:#x}", self.tree.last_zxid()),
                "refusing session request: client has seen a newer zxid than this server"
            );
            self.close_conn(id);
            return;
        }
        let timeout_ms = self.negotiate_timeout(req.timeout);
        if self.mode.is_read_only() {
            self.connect_read_only(id, &req, timeout_ms);
            return;
        }
        if req.session_id == 0 {
            self.create_session(id, timeout_ms, req.read_only);
        } else {
            self.reattach(id, &req, timeout_ms);
        }
    }

    /// A read-only member takes only clients that accept a read-only session (as Apache's
    /// `ReadOnlyZooKeeperServer`): a new session lives here alone, never logged; a known
    /// session reattaches.
    fn connect_read_only(&mut self, conn: ConnId, req: &ConnectRequest, timeout_ms: i32) {
        if req.read_only != Some(true) {
            tracing::info!(
                conn,
                "refusing a client that does not accept a read-only session"
            );
            self.close_conn(conn);
            return;
        }
        if req.session_id != 0 {
            self.reattach(conn, req, timeout_ms);
            return;
        }
        let sid = self.sessions.allocate();
        let live = LiveSession::new(
            Duration::from_millis(timeout_ms as u64),
            self.now.mono,
            Some(conn),
        );
        self.sessions.insert(sid, live);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(sid);
        }
        let frame = connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: sid,
            passwd: session_password::session_password(sid).to_vec(),
            read_only: Some(true),
        });
        self.send(conn, frame);
    }

    fn create_session(&mut self, conn: ConnId, timeout_ms: i32, read_only: Option<bool>) {
        if self.log_failed.is_some() {
            self.close_conn(conn);
            return;
        }
        let session_id = self.sessions.allocate();
        if self.mode.is_follower() {
            self.forward_create_session(session_id, timeout_ms);
        } else if self
            .propose(session_id, 0, Txn::CreateSession { timeout_ms })
            .is_none()
        {
            self.close_conn(conn);
            return;
        }
        // The session exists for this connection from now on, so requests a client
        // pipelines behind its handshake are taken in order, as Apache takes them: they wait
        // behind the session's creation, whose reply is the connect response.
        let mut live = LiveSession::new(
            Duration::from_millis(timeout_ms as u64),
            self.now.mono,
            Some(conn),
        );
        live.queue.push(Slot::Write {
            cxid: 0,
            conn,
            awaiting: Awaiting::NewSession {
                timeout_ms,
                read_only,
            },
            received: None,
        });
        self.sessions.insert(session_id, live);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id);
        }
    }

    fn reattach(&mut self, conn: ConnId, req: &ConnectRequest, timeout_ms: i32) {
        let sid = req.session_id;
        // The password is a function of the session id (as Apache's), so any member can
        // check it without it being replicated.
        let known = self.tree.session(sid).is_some() || self.mode.is_read_only();
        let valid = known
            && session_password::check_password(sid, &req.passwd)
            && self.sessions.get(sid).is_some_and(|l| !l.closing);
        if !valid {
            tracing::info!(
                session = format_args!("{sid:#x}"),
                "invalid session reattach (expired or wrong password)"
            );
            self.refuse_session(conn, req.read_only);
            return;
        }
        if self.mode.is_follower() {
            // The leader owns liveness: it says whether the session is still valid (and
            // makes this member its owner) before the client is answered.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.held = Some(Vec::new());
            }
            self.revalidate(conn, sid, timeout_ms, req.passwd.clone(), req.read_only);
            return;
        }
        self.complete_reattach(conn, sid, timeout_ms, req.passwd.clone(), req.read_only);
    }

    /// Answers a reattach to a session that is gone (expired, closed, or a wrong
    /// password) as Apache does: a connect response with session id 0, then the close.
    pub(super) fn refuse_session(&mut self, conn: ConnId, read_only: Option<bool>) {
        let frame = connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: read_only.map(|_| false),
        });
        self.send(conn, frame);
        self.close_conn(conn);
    }

    /// Moves a valid session to `conn` and answers the handshake.
    pub(super) fn complete_reattach(
        &mut self,
        conn: ConnId,
        sid: i64,
        timeout_ms: i32,
        passwd: Vec<u8>,
        read_only: Option<bool>,
    ) {
        let now = self.now.mono;
        let Some(live) = self.sessions.get_mut(sid) else {
            return;
        };
        let old = live.conn.replace(conn);
        if let super::peer::Mode::Leading(_) = self.mode {
            // The client is on the leader now: a member it left cannot act for it.
            live.owner = Some(self.settings.server_id as u64);
        }
        live.timeout = Duration::from_millis(timeout_ms as u64);
        live.touch(now);
        // Replies still owed to the old connection are dropped with it.
        live.queue.drop_replies();
        if let Some(old) = old.filter(|&o| o != conn) {
            if let Some(c) = self.conns.get_mut(&old) {
                c.session = None;
            }
            self.close_conn(old);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(sid);
        }
        tracing::debug!(
            session = format_args!("{sid:#x}"),
            conn,
            "session reattached"
        );
        let read_only_session = self.mode.is_read_only();
        let frame = connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: sid,
            passwd,
            read_only: read_only.map(|_| read_only_session),
        });
        self.send(conn, frame);
        if self.mode.is_follower() {
            self.note_touch(sid);
        }
        let held = self.conns.get_mut(&conn).and_then(|c| c.held.take());
        for (xid, req, received) in held.into_iter().flatten() {
            self.on_request(conn, xid, req, received);
        }
    }

    pub(super) fn on_disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(live) = c.session.and_then(|sid| self.sessions.get_mut(sid)) {
            if live.conn == Some(conn) {
                live.conn = None;
                live.queue.drop_replies();
            }
        }
    }

    pub(super) fn on_undecodable(&mut self, conn: ConnId, xid: i32, err: ErrorCode) {
        if let Some(sid) = self.conns.get(&conn).and_then(|c| c.session) {
            let frame = error_frame(xid, self.tree.last_zxid(), err.code());
            self.enqueue_ready(sid, conn, frame, false, None);
            self.drain(sid);
        }
    }

    pub(super) fn enqueue_ready(
        &mut self,
        sid: i64,
        conn: ConnId,
        frame: Vec<u8>,
        close_after: bool,
        received: Option<Instant>,
    ) {
        if let Some(l) = self.sessions.get_mut(sid) {
            l.queue.push(Slot::Ready(ReadyFrame {
                conn,
                frame,
                close_after,
                received,
                is_reply: true,
            }));
        }
    }

    pub(super) fn on_request(
        &mut self,
        conn_id: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    ) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        if let (None, Some(held)) = (conn.session, &mut conn.held) {
            // Behind a reattach the leader is still revalidating: taken (and counted)
            // after it.
            held.push((xid, req, received));
            return;
        }
        conn.stats.packets_received += 1;
        conn.stats.last_cxid = xid;
        conn.stats.last_op = req.op();
        self.stats.packets_received += 1;
        let Some(conn) = self.conns.get(&conn_id) else {
            return;
        };
        let Some(sid) = conn.session else {
            // Requests that race a pending handshake are not answerable; drop the connection.
            self.close_conn(conn_id);
            return;
        };
        let now = self.now.mono;
        let Some(live) = self.sessions.get_mut(sid) else {
            self.close_conn(conn_id);
            return;
        };
        live.touch(now);
        let closing = live.closing;
        if self.mode.is_follower() {
            self.note_touch(sid);
        }
        let last_zxid = self.tree.last_zxid();
        if closing {
            let frame = error_frame(xid, last_zxid, ErrorCode::SessionExpired.code());
            self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            self.drain(sid);
            return;
        }
        match req {
            Request::Auth(a) => {
                let Some(conn) = self.conns.get_mut(&conn_id) else {
                    return;
                };
                let result = acl::add_auth(
                    &mut conn.auth,
                    &a.scheme,
                    &a.auth,
                    self.settings.super_digest.as_deref(),
                );
                let (err, close) = match result {
                    Ok(()) => (0, false),
                    Err(e) => {
                        tracing::info!(conn = conn_id, scheme = %a.scheme, "authentication failed");
                        (e.code(), true)
                    }
                };
                // Apache answers auth with zxid 0.
                let frame = error_frame(xid, 0, err);
                self.enqueue_ready(sid, conn_id, frame, close, Some(received));
            }
            Request::Sasl(_) => {
                let frame = error_frame(xid, last_zxid, ErrorCode::Unimplemented.code());
                self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            }
            Request::CloseSession if self.mode.is_read_only() => {
                // A read-only session was never logged: it just ends here.
                self.watches.remove_session(sid);
                let frame = error_frame(xid, last_zxid, 0);
                self.enqueue_ready(sid, conn_id, frame, true, Some(received));
                self.drain(sid);
                self.sessions.remove(sid);
                if let Some(c) = self.conns.get_mut(&conn_id) {
                    c.session = None;
                }
                return;
            }
            ref r if r.is_write() && self.mode.is_read_only() => {
                let frame = error_frame(xid, last_zxid, ErrorCode::NotReadOnly.code());
                self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            }
            Request::CloseSession if self.mode.is_follower() => {
                if let Some(l) = self.sessions.get_mut(sid) {
                    l.closing = true;
                }
                self.forward_close_session(sid, xid);
                self.await_forwarded(sid, conn_id, xid, OpCode::CloseSession);
            }
            Request::Sync(_) if self.mode.is_follower() => {
                self.forward(conn_id, sid, xid, &req);
                self.await_forwarded(sid, conn_id, xid, OpCode::Sync);
            }
            ref r if r.is_write() && self.mode.is_follower() => {
                if let Some(err) = self.follower_write_error() {
                    let frame = error_frame(xid, last_zxid, err.code());
                    self.enqueue_ready(sid, conn_id, frame, false, Some(received));
                } else {
                    self.forward(conn_id, sid, xid, &req);
                    self.await_forwarded(sid, conn_id, xid, req.op());
                }
            }
            Request::CloseSession => {
                if self.close_session(sid, xid) {
                    if let Some(l) = self.sessions.get_mut(sid) {
                        l.queue.push(Slot::Write {
                            cxid: xid,
                            conn: conn_id,
                            awaiting: Awaiting::Reply {
                                op: OpCode::CloseSession,
                            },
                            received: Some(received),
                        });
                    }
                } else {
                    let frame = error_frame(xid, last_zxid, ErrorCode::SystemError.code());
                    self.enqueue_ready(sid, conn_id, frame, true, Some(received));
                }
            }
            ref r if r.is_write() => self.on_write(sid, conn_id, xid, req, received),
            _ => {
                if let Some(l) = self.sessions.get_mut(sid) {
                    l.queue.push(Slot::Read {
                        conn: conn_id,
                        xid,
                        req,
                        received,
                    });
                }
            }
        }
        self.drain(sid);
    }

    /// Sends every reply at the head of the session's queue that no pending write holds up.
    pub(super) fn drain(&mut self, sid: i64) {
        loop {
            let Some(live) = self.sessions.get_mut(sid) else {
                return;
            };
            let current = live.conn;
            let Some(released) = live.queue.release() else {
                return;
            };
            match released {
                Released::Frame(f) => {
                    if current == Some(f.conn) {
                        self.record_latency(f.conn, f.received);
                        if f.is_reply {
                            self.send_reply(f.conn, f.frame);
                        } else {
                            self.send(f.conn, f.frame);
                        }
                        if f.close_after {
                            self.close_conn(f.conn);
                        }
                    }
                }
                Released::Read {
                    conn,
                    xid,
                    req,
                    received,
                } => {
                    if current == Some(conn) {
                        let frame = self.execute_read(sid, conn, xid, &req);
                        self.record_latency(conn, Some(received));
                        self.send_reply(conn, frame);
                    }
                }
            }
        }
    }

    fn record_latency(&mut self, conn: ConnId, received: Option<Instant>) {
        if let Some(r) = received {
            let ms = self.now.mono.saturating_duration_since(r).as_millis() as u64;
            self.stats.record_latency(ms);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.stats
                    .record_latency(ms, self.tree.last_zxid(), self.now.wall_ms);
            }
        }
    }

    fn execute_read(&mut self, sid: i64, conn: ConnId, xid: i32, req: &Request) -> Vec<u8> {
        let last_zxid = self.tree.last_zxid();
        match req {
            Request::Ping => return error_frame(xid, last_zxid, 0),
            Request::SetWatches(_, sw) => {
                let mut notes = Vec::new();
                read::set_watches(&self.tree, &mut self.watches, sid, sw, &mut notes);
                self.deliver(&notes);
                return error_frame(xid, last_zxid, 0);
            }
            _ => {}
        }
        let Some(c) = self.conns.get(&conn) else {
            return error_frame(xid, last_zxid, ErrorCode::ConnectionLoss.code());
        };
        let mut ctx = ReadContext {
            tree: &self.tree,
            watches: &mut self.watches,
            namespaces: &mut self.namespaces,
            session_id: sid,
            auth: &c.auth,
        };
        match read::execute(&mut ctx, req) {
            Ok(resp) => crate::reply::reply_frame(xid, last_zxid, 0, &resp),
            Err(e) => error_frame(xid, last_zxid, e.code()),
        }
    }

    /// Delivers notifications of a change, each only to a session whose connection may
    /// read the node it is about (as Apache does since CVE-2024-23944: a watch must not
    /// reveal a node to someone without READ on it).
    pub(super) fn deliver_readable(&mut self, notes: &[Notification], acl: &[zkrs_proto::Acl]) {
        for n in notes {
            let Some(conn) = self.sessions.get(n.session).and_then(|l| l.conn) else {
                continue;
            };
            let allowed = self
                .conns
                .get(&conn)
                .is_some_and(|c| acl::check(acl, perms::READ, &c.auth).is_ok());
            if allowed {
                let frame = notification_frame(n.event.code(), &n.path);
                self.send(conn, frame);
            }
        }
    }

    fn deliver(&mut self, notes: &[Notification]) {
        for n in notes {
            let Some(conn) = self.sessions.get(n.session).and_then(|l| l.conn) else {
                continue;
            };
            let frame = notification_frame(n.event.code(), &n.path);
            self.send(conn, frame);
        }
    }
}
