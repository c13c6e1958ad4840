//! The core: the one task that owns the tree, the session table and the watch table.
//!
//! Connections send it decoded requests; it answers reads from the tree, prepares writes
//! into transactions, hands them to the log writer, and applies them in zxid order once
//! they are durable (standalone is a quorum of one). Replies to one session leave in the
//! order its requests arrived: a read waits behind that session's earlier writes.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use zkrs_proto::opcode::perms;
use zkrs_proto::{
    ConnectRequest, ConnectResponse, ErrorCode, MultiResult, OpCode, Request, Response,
};

use crate::acl::{self, AuthInfo};
use crate::prep::{PrepConfig, PrepContext, Preparer};
use crate::read::{self, ReadContext};
use crate::reply::{connect_frame, error_frame, notification_frame, reply_frame};
use crate::stats::{ConnStats, ServerStats};
use crate::storage::writer::{LogEntry, LogEvent};
use crate::tree::{DataTree, TxnResult};
use crate::txn::{owner_kind, CreateKind, OwnerKind, Txn, TxnHeader};
use crate::watch::{Notification, WatchManager};

pub type ConnId = u64;

/// What a connection task gets back from the core.
#[derive(Debug)]
pub enum Outgoing {
    /// A notification or connect response.
    Frame(Vec<u8>),
    /// The answer to a request: writing it frees one of the connection's places for
    /// outstanding requests.
    Reply(Vec<u8>),
    /// Flush what was sent before, then close the connection.
    Close,
}

/// The core's handle on one client connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    pub remote: SocketAddr,
    pub out: mpsc::UnboundedSender<Outgoing>,
}

/// Messages to the core.
#[derive(Debug)]
pub enum CoreMsg {
    Connect {
        conn: ConnHandle,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    },
    /// A request whose body did not decode: answered with `err`, in order.
    Undecodable {
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
    },
    Disconnected {
        conn: ConnId,
    },
    Log(LogEvent),
    /// A snapshot of the state for the four-letter words and admin output.
    Inspect(oneshot::Sender<crate::stats::Inspection>),
    ResetServerStats,
    ResetConnStats,
}

/// The core's settings, from the config.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub server_id: i64,
    pub tick: Duration,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub super_digest: Option<String>,
    pub prep: PrepConfig,
    pub container_check_interval: Duration,
}

/// A slot in a session's reply order.
#[derive(Debug)]
enum Slot {
    /// A write in the pipeline; its reply is built when it is applied.
    Write { zxid: i64, conn: ConnId },
    /// A read to evaluate once every earlier write of the session is applied.
    Read {
        conn: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    },
    Ready {
        conn: ConnId,
        frame: Vec<u8>,
        close_after: bool,
        received: Option<Instant>,
        /// Whether this answers a request (not the connect response).
        is_reply: bool,
    },
}

/// The leader's view of a live session: liveness, its connection, its reply order.
#[derive(Debug)]
struct LiveSession {
    timeout: Duration,
    deadline: Instant,
    conn: Option<ConnId>,
    closing: bool,
    queue: VecDeque<Slot>,
}

#[derive(Debug)]
struct Conn {
    handle: ConnHandle,
    session: Option<i64>,
    auth: AuthInfo,
    stats: ConnStats,
}

/// Who waits for a proposal to be applied.
#[derive(Debug)]
enum Origin {
    Client {
        op: OpCode,
    },
    NewSession {
        conn: ConnId,
        timeout_ms: i32,
        read_only: Option<bool>,
    },
    Internal,
}

#[derive(Debug)]
struct Proposal {
    hdr: TxnHeader,
    txn: Arc<Txn>,
    origin: Origin,
}

pub struct Core {
    settings: CoreSettings,
    tree: DataTree,
    prep: Preparer,
    watches: WatchManager,
    sessions: HashMap<i64, LiveSession>,
    conns: HashMap<ConnId, Conn>,
    in_flight: VecDeque<Proposal>,
    next_zxid: i64,
    next_session_id: i64,
    log_tx: mpsc::UnboundedSender<LogEntry>,
    /// Set when the log failed: writes are refused from then on, reads go on.
    log_failed: Option<String>,
    stats: ServerStats,
    started: Instant,
    snapshots: Option<crate::storage::scheduler::SnapshotScheduler>,
    namespaces: crate::namespace::NamespaceStats,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Apache's session id layout: the server id in the top byte, time below it.
fn initial_session_id(server_id: i64) -> i64 {
    let t = ((now_ms() << 24) as u64 >> 8) as i64;
    t | (server_id << 56)
}

impl Core {
    /// A core over `tree` (fresh, or recovered from disk: its sessions are live again and
    /// their timeouts run from now, so clients that come back in time keep them).
    pub fn new(
        settings: CoreSettings,
        tree: DataTree,
        log_tx: mpsc::UnboundedSender<LogEntry>,
    ) -> Self {
        let next_zxid = tree.last_zxid() + 1;
        let now = Instant::now();
        let sessions: HashMap<i64, LiveSession> = tree
            .sessions()
            .map(|(&id, rec)| {
                let timeout = Duration::from_millis(rec.timeout_ms.max(0) as u64);
                (
                    id,
                    LiveSession {
                        timeout,
                        deadline: now + timeout,
                        conn: None,
                        closing: false,
                        queue: VecDeque::new(),
                    },
                )
            })
            .collect();
        let restored_max = sessions.keys().copied().max().unwrap_or(i64::MIN);
        let next_session_id =
            initial_session_id(settings.server_id).max(restored_max.saturating_add(1));
        Core {
            prep: Preparer::new(settings.prep.clone()),
            next_session_id,
            settings,
            tree,
            watches: WatchManager::new(),
            sessions,
            conns: HashMap::new(),
            in_flight: VecDeque::new(),
            next_zxid,
            log_tx,
            log_failed: None,
            stats: ServerStats::default(),
            started: now,
            snapshots: None,
            namespaces: Default::default(),
        }
    }

    /// Snapshots the tree every `snapCount`-ish applied transactions.
    pub fn with_snapshots(mut self, s: crate::storage::scheduler::SnapshotScheduler) -> Self {
        self.snapshots = Some(s);
        self
    }

    /// Runs until every sender of `rx` is gone.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<CoreMsg>) {
        let tick =
            (self.settings.tick / 4).clamp(Duration::from_millis(10), Duration::from_millis(500));
        let mut expiry = tokio::time::interval(tick);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut containers = tokio::time::interval(self.settings.container_check_interval);
        containers.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let snapshot_work = self
                .snapshots
                .as_ref()
                .map_or_else(crate::storage::scheduler::SnapshotWork::none, |s| s.work());
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => return,
                },
                _ = expiry.tick() => self.expire_sessions(),
                _ = containers.tick() => self.reap_containers_and_ttls(),
                // A snapshot in progress advances by slices whenever nothing else is due.
                _ = snapshot_work.ready() => {
                    if let Some(s) = &mut self.snapshots {
                        s.pump(&self.tree);
                    }
                }
            }
        }
    }

    pub fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Connect { conn, req } => self.on_connect(conn, req),
            CoreMsg::Request {
                conn,
                xid,
                req,
                received,
            } => self.on_request(conn, xid, req, received),
            CoreMsg::Undecodable { conn, xid, err } => {
                if let Some(sid) = self.conns.get(&conn).and_then(|c| c.session) {
                    let frame = error_frame(xid, self.tree.last_zxid(), err.code());
                    self.enqueue_ready(sid, conn, frame, false, None);
                    self.drain(sid);
                }
            }
            CoreMsg::Disconnected { conn } => self.on_disconnect(conn),
            CoreMsg::Log(LogEvent::Durable(zxid)) => self.commit_through(zxid),
            CoreMsg::Log(LogEvent::Failed { first_zxid, error }) => {
                self.on_log_failed(first_zxid, error)
            }
            CoreMsg::Inspect(reply) => {
                let _ = reply.send(self.inspect());
            }
            CoreMsg::ResetServerStats => {
                self.stats.reset();
                self.namespaces.reset();
            }
            CoreMsg::ResetConnStats => {
                for c in self.conns.values_mut() {
                    c.stats.reset();
                }
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        self.send_out(conn, Outgoing::Frame(frame));
    }

    fn send_reply(&mut self, conn: ConnId, frame: Vec<u8>) {
        self.send_out(conn, Outgoing::Reply(frame));
    }

    fn send_out(&mut self, conn: ConnId, out: Outgoing) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packets_sent += 1;
            self.stats.packets_sent += 1;
            let _ = c.handle.out.send(out);
        }
    }

    fn close_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.handle.out.send(Outgoing::Close);
        }
    }

    // ----- connections and sessions -----

    fn negotiate_timeout(&self, requested: i32) -> i32 {
        requested.clamp(
            self.settings.min_session_timeout_ms,
            self.settings.max_session_timeout_ms,
        )
    }

    fn on_connect(&mut self, handle: ConnHandle, req: ConnectRequest) {
        let id = handle.id;
        self.stats.packets_received += 1;
        let auth = AuthInfo::for_remote(handle.remote.ip());
        self.conns.insert(
            id,
            Conn {
                handle,
                session: None,
                auth,
                stats: ConnStats::new(Instant::now()),
            },
        );
        if req.last_zxid_seen > self.tree.last_zxid() {
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
        if req.session_id == 0 {
            self.create_session(id, timeout_ms, req.read_only);
        } else {
            self.reattach(id, &req, timeout_ms);
        }
    }

    fn create_session(&mut self, conn: ConnId, timeout_ms: i32, read_only: Option<bool>) {
        if self.log_failed.is_some() {
            self.close_conn(conn);
            return;
        }
        let session_id = self.next_session_id;
        self.next_session_id += 1;
        let mut passwd = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut passwd);
        let zxid = self.propose(
            session_id,
            0,
            Txn::CreateSession { timeout_ms, passwd },
            Origin::NewSession {
                conn,
                timeout_ms,
                read_only,
            },
        );
        // The session exists for this connection from now on, so requests a client
        // pipelines behind its handshake are taken in order, as Apache takes them: they wait
        // behind the session's creation, whose reply is the connect response.
        let timeout = Duration::from_millis(timeout_ms as u64);
        self.sessions.insert(
            session_id,
            LiveSession {
                timeout,
                deadline: Instant::now() + timeout,
                conn: Some(conn),
                closing: false,
                queue: VecDeque::from([Slot::Write { zxid, conn }]),
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id);
        }
    }

    fn reattach(&mut self, conn: ConnId, req: &ConnectRequest, timeout_ms: i32) {
        let sid = req.session_id;
        let valid = matches!(self.tree.session(sid), Some(rec) if rec.passwd == req.passwd)
            && self.sessions.get(&sid).is_some_and(|l| !l.closing);
        if !valid {
            tracing::info!(
                session = format_args!("{sid:#x}"),
                "invalid session reattach (expired or wrong password)"
            );
            let frame = connect_frame(&ConnectResponse {
                protocol_version: 0,
                timeout: 0,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: req.read_only.map(|_| false),
            });
            self.send(conn, frame);
            self.close_conn(conn);
            return;
        }
        let passwd = req.passwd.clone();
        let live = self.sessions.get_mut(&sid).expect("checked above");
        let old = live.conn.replace(conn);
        live.timeout = Duration::from_millis(timeout_ms as u64);
        live.deadline = Instant::now() + live.timeout;
        // Replies still owed to the old connection are dropped with it.
        live.queue.retain(|s| matches!(s, Slot::Write { .. }));
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
        let frame = connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: sid,
            passwd,
            read_only: req.read_only.map(|_| false),
        });
        self.send(conn, frame);
    }

    fn on_disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(sid) = c.session {
                if let Some(live) = self.sessions.get_mut(&sid) {
                    if live.conn == Some(conn) {
                        live.conn = None;
                        live.queue.retain(|s| matches!(s, Slot::Write { .. }));
                    }
                }
            }
        }
    }

    fn expire_sessions(&mut self) {
        let now = Instant::now();
        let expired: Vec<i64> = self
            .sessions
            .iter()
            .filter(|(_, l)| !l.closing && l.deadline <= now)
            .map(|(&sid, _)| sid)
            .collect();
        for sid in expired {
            tracing::info!(session = format_args!("{sid:#x}"), "session expired");
            self.close_session(sid, 0, Origin::Internal);
        }
    }

    fn close_session(&mut self, sid: i64, cxid: i32, origin: Origin) -> Option<i64> {
        // Closing first: with a failed log the close cannot be logged, and the session must
        // not be retried on every tick.
        if let Some(l) = self.sessions.get_mut(&sid) {
            l.closing = true;
        }
        if self.log_failed.is_some() {
            return None;
        }
        let ctx = PrepContext {
            tree: &self.tree,
            auth: &AuthInfo::default(),
            session_id: sid,
            zxid: self.next_zxid,
        };
        let txn = self.prep.prepare_close_session(&ctx);
        Some(self.propose(sid, cxid, txn, origin))
    }

    /// Deletes empty containers that once had children and childless TTL nodes past their
    /// TTL, through the same pipeline as client writes.
    fn reap_containers_and_ttls(&mut self) {
        if self.log_failed.is_some() {
            return;
        }
        let now = now_ms();
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
        let superuser = AuthInfo {
            ids: vec![zkrs_proto::Id::new("super", "")],
        };
        for path in candidates {
            let req = Request::Delete(zkrs_proto::request::PathVersion { path, version: -1 });
            let ctx = PrepContext {
                tree: &self.tree,
                auth: &superuser,
                session_id: 0,
                zxid: self.next_zxid,
            };
            // A child created meanwhile (even one still in flight) makes this NotEmpty.
            if let Ok(txn) = self.prep.prepare(&ctx, &req) {
                self.propose(0, 0, txn, Origin::Internal);
            }
        }
    }

    // ----- requests -----

    fn enqueue_ready(
        &mut self,
        sid: i64,
        conn: ConnId,
        frame: Vec<u8>,
        close_after: bool,
        received: Option<Instant>,
    ) {
        if let Some(l) = self.sessions.get_mut(&sid) {
            l.queue.push_back(Slot::Ready {
                conn,
                frame,
                close_after,
                received,
                is_reply: true,
            });
        }
    }

    fn on_request(&mut self, conn_id: ConnId, xid: i32, req: Request, received: Instant) {
        self.stats.packets_received += 1;
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        conn.stats.packets_received += 1;
        conn.stats.last_cxid = xid;
        conn.stats.last_op = req.op();
        let Some(sid) = conn.session else {
            // Requests that race a pending handshake are not answerable; drop the connection.
            self.close_conn(conn_id);
            return;
        };
        let Some(live) = self.sessions.get_mut(&sid) else {
            self.close_conn(conn_id);
            return;
        };
        live.deadline = Instant::now() + live.timeout;
        let last_zxid = self.tree.last_zxid();
        if live.closing {
            let frame = error_frame(xid, last_zxid, ErrorCode::SessionExpired.code());
            self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            self.drain(sid);
            return;
        }
        match req {
            Request::Auth(a) => {
                let conn = self.conns.get_mut(&conn_id).expect("looked up above");
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
            Request::CloseSession => {
                if let Some(zxid) = self.close_session(
                    sid,
                    xid,
                    Origin::Client {
                        op: OpCode::CloseSession,
                    },
                ) {
                    if let Some(l) = self.sessions.get_mut(&sid) {
                        l.queue.push_back(Slot::Write {
                            zxid,
                            conn: conn_id,
                        });
                    }
                } else {
                    let frame = error_frame(xid, last_zxid, ErrorCode::SystemError.code());
                    self.enqueue_ready(sid, conn_id, frame, true, Some(received));
                }
            }
            ref r if r.is_write() => self.on_write(sid, conn_id, xid, req, received),
            _ => {
                if let Some(l) = self.sessions.get_mut(&sid) {
                    l.queue.push_back(Slot::Read {
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

    fn on_write(&mut self, sid: i64, conn_id: ConnId, xid: i32, req: Request, received: Instant) {
        let last_zxid = self.tree.last_zxid();
        if self.log_failed.is_some() {
            let frame = error_frame(xid, last_zxid, ErrorCode::SystemError.code());
            self.enqueue_ready(sid, conn_id, frame, false, Some(received));
            return;
        }
        let Some(conn) = self.conns.get(&conn_id) else {
            return;
        };
        let ctx = PrepContext {
            tree: &self.tree,
            auth: &conn.auth,
            session_id: sid,
            zxid: self.next_zxid,
        };
        // A write that fails preparation is still a transaction, as in Apache: an error
        // (or a multi of errors) takes the next zxid, goes through the log, and is answered
        // when it commits. So zxids match Apache's, and the reply keeps its place.
        let txn = match self.prep.prepare(&ctx, &req) {
            Ok(txn) => txn,
            Err(e) => Txn::Error { err: e.code() },
        };
        let zxid = self.propose(sid, xid, txn, Origin::Client { op: req.op() });
        if let Some(l) = self.sessions.get_mut(&sid) {
            l.queue.push_back(Slot::Write {
                zxid,
                conn: conn_id,
            });
        }
    }

    /// Sends every reply at the head of the session's queue that no pending write holds up.
    fn drain(&mut self, sid: i64) {
        loop {
            let Some(live) = self.sessions.get_mut(&sid) else {
                return;
            };
            let current = live.conn;
            match live.queue.front() {
                None | Some(Slot::Write { .. }) => return,
                Some(_) => {}
            }
            let Some(slot) = live.queue.pop_front() else {
                return;
            };
            match slot {
                Slot::Ready {
                    conn,
                    frame,
                    close_after,
                    received,
                    is_reply,
                } => {
                    if current == Some(conn) {
                        self.record_latency(conn, received);
                        if is_reply {
                            self.send_reply(conn, frame);
                        } else {
                            self.send(conn, frame);
                        }
                        if close_after {
                            self.close_conn(conn);
                        }
                    }
                }
                Slot::Read {
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
                Slot::Write { .. } => unreachable!("checked at the head"),
            }
        }
    }

    fn record_latency(&mut self, conn: ConnId, received: Option<Instant>) {
        if let Some(r) = received {
            let ms = r.elapsed().as_millis() as u64;
            self.stats.record_latency(ms);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.stats.record_latency(ms, self.tree.last_zxid());
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
            Ok(resp) => reply_frame(xid, last_zxid, 0, &resp),
            Err(e) => error_frame(xid, last_zxid, e.code()),
        }
    }

    /// Per-namespace write bytes, as Apache counts them: a create or data change counts the
    /// node's data, a delete counts 0.
    fn count_write(&mut self, t: &crate::tree::Trigger) {
        use crate::tree::Trigger;
        match t {
            Trigger::Created(p, _) | Trigger::DataChanged(p, _) => {
                let bytes = self.tree.get(p).map_or(0, |n| n.data_len());
                self.namespaces.write(p, bytes);
            }
            Trigger::Deleted(p, _) => self.namespaces.write(p, 0),
            Trigger::ChildrenChanged(..) => {}
        }
    }

    /// Delivers notifications of a change, each only to a session whose connection may
    /// read the node it is about (as Apache does since CVE-2024-23944: a watch must not
    /// reveal a node to someone without READ on it).
    fn deliver_readable(&mut self, notes: &[Notification], acl: &[zkrs_proto::Acl]) {
        for n in notes {
            let Some(conn) = self.sessions.get(&n.session).and_then(|l| l.conn) else {
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
            let Some(conn) = self.sessions.get(&n.session).and_then(|l| l.conn) else {
                continue;
            };
            let frame = notification_frame(n.event.code(), &n.path);
            self.send(conn, frame);
        }
    }

    // ----- the write pipeline -----

    fn propose(&mut self, session_id: i64, cxid: i32, txn: Txn, origin: Origin) -> i64 {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        let hdr = TxnHeader {
            session_id,
            cxid,
            zxid,
            time: now_ms(),
        };
        let txn = Arc::new(txn);
        if self
            .log_tx
            .send(LogEntry {
                hdr,
                txn: txn.clone(),
            })
            .is_err()
        {
            tracing::error!("transaction log writer is gone");
        }
        self.in_flight.push_back(Proposal { hdr, txn, origin });
        zxid
    }

    fn commit_through(&mut self, zxid: i64) {
        while self.in_flight.front().is_some_and(|p| p.hdr.zxid <= zxid) {
            if let Some(p) = self.in_flight.pop_front() {
                self.apply(p);
            }
        }
    }

    fn apply(&mut self, p: Proposal) {
        let sid = p.hdr.session_id;
        let mut triggers = Vec::new();
        let rc = self.tree.apply(&p.hdr, &p.txn, &mut triggers);
        self.prep.applied(p.hdr.zxid);
        if let Some(s) = &mut self.snapshots {
            s.applied(&self.tree);
        }
        for t in &triggers {
            let mut notes = Vec::new();
            self.watches.fire(t, &mut notes);
            self.count_write(t);
            self.deliver_readable(&notes, t.acl());
        }
        match p.origin {
            Origin::NewSession {
                timeout_ms,
                read_only,
                ..
            } => self.session_created(sid, p.hdr.zxid, timeout_ms, read_only),
            Origin::Client { op } => {
                let frame = write_reply(p.hdr.cxid, p.hdr.zxid, op, &p.txn, &rc);
                self.complete_write(sid, p.hdr.zxid, frame, true);
            }
            Origin::Internal => {}
        }
        if let Txn::CloseSession { .. } = &*p.txn {
            // Its watches went on until now: Apache tells a closing session of the deletion
            // of its own ephemerals, before the reply to its close.
            self.watches.remove_session(sid);
            if let Some(live) = self.sessions.remove(&sid) {
                if let Some(conn) = live.conn {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.session = None;
                    }
                    self.close_conn(conn);
                }
            }
        }
    }

    fn session_created(&mut self, sid: i64, zxid: i64, timeout_ms: i32, read_only: Option<bool>) {
        let passwd = self
            .tree
            .session(sid)
            .map(|s| s.passwd.clone())
            .unwrap_or_default();
        tracing::debug!(
            session = format_args!("{sid:#x}"),
            timeout_ms,
            "session established"
        );
        let frame = connect_frame(&ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: sid,
            passwd,
            read_only: read_only.map(|_| false),
        });
        self.complete_write(sid, zxid, frame, false);
    }

    fn complete_write(&mut self, sid: i64, zxid: i64, frame: Vec<u8>, is_reply: bool) {
        let Some(live) = self.sessions.get_mut(&sid) else {
            return;
        };
        let pos = live
            .queue
            .iter()
            .position(|s| matches!(s, Slot::Write { zxid: z, .. } if *z == zxid));
        if let Some(i) = pos {
            let conn = match &live.queue[i] {
                Slot::Write { conn, .. } => *conn,
                _ => unreachable!(),
            };
            live.queue[i] = Slot::Ready {
                conn,
                frame,
                close_after: false,
                received: None,
                is_reply,
            };
        }
        self.drain(sid);
    }

    fn on_log_failed(&mut self, first_zxid: i64, error: String) {
        tracing::error!(
            first_zxid = format_args!("{first_zxid:#x}"),
            %error,
            "the transaction log failed: refusing writes from now on, reads continue"
        );
        self.log_failed = Some(error);
        // Proposals that never became durable are answered with an error, never applied.
        let failed: Vec<Proposal> = self.in_flight.drain(..).collect();
        for p in failed {
            let sid = p.hdr.session_id;
            match p.origin {
                Origin::Client { .. } => {
                    let frame = error_frame(
                        p.hdr.cxid,
                        self.tree.last_zxid(),
                        ErrorCode::SystemError.code(),
                    );
                    self.complete_write(sid, p.hdr.zxid, frame, true);
                }
                Origin::NewSession { conn, .. } => {
                    self.sessions.remove(&sid);
                    self.close_conn(conn);
                }
                Origin::Internal => {}
            }
        }
    }

    fn inspect(&self) -> crate::stats::Inspection {
        crate::stats::Inspection::collect(
            &self.tree,
            &self.watches,
            &self.stats,
            self.conns.values().map(|c| {
                let timeout = c
                    .session
                    .and_then(|s| self.sessions.get(&s))
                    .map(|l| l.timeout.as_millis() as i64)
                    .unwrap_or(0);
                crate::stats::ConnInfo {
                    remote: c.handle.remote,
                    session_id: c.session.unwrap_or(0),
                    timeout_ms: timeout,
                    stats: c.stats.clone(),
                    queued: c
                        .session
                        .and_then(|s| self.sessions.get(&s))
                        .map(|l| l.queue.len())
                        .unwrap_or(0),
                }
            }),
            crate::stats::CoreFigures {
                outstanding: self.in_flight.len(),
                session_count: self.sessions.len(),
                started: self.started,
                namespaces: self.namespaces.summaries(),
            },
        )
    }
}

/// Builds the reply to an applied write.
fn write_reply(xid: i32, zxid: i64, op: OpCode, txn: &Txn, rc: &TxnResult) -> Vec<u8> {
    if rc.err != 0 && !matches!(txn, Txn::Multi(_)) {
        return error_frame(xid, zxid, rc.err);
    }
    let body = match txn {
        Txn::Create { kind, .. } => {
            let path = rc.path.clone().unwrap_or_default();
            match kind {
                CreateKind::Plain => Response::Create(path),
                CreateKind::WithStat => Response::Create2(path, rc.stat.unwrap_or_default()),
            }
        }
        Txn::SetData { .. } | Txn::SetAcl { .. } | Txn::Check { .. } => {
            Response::Stat(rc.stat.unwrap_or_default())
        }
        Txn::Multi(subs) => Response::Multi(
            subs.iter()
                .zip(rc.multi.iter())
                .map(|(t, r)| multi_result(t, r))
                .collect(),
        ),
        _ => Response::Empty,
    };
    let _ = op;
    reply_frame(xid, zxid, 0, &body)
}

fn multi_result(txn: &Txn, rc: &TxnResult) -> MultiResult {
    if rc.err != 0 {
        return MultiResult::Error(rc.err);
    }
    match txn {
        Txn::Create { kind, .. } => {
            let path = rc.path.clone().unwrap_or_default();
            match kind {
                CreateKind::Plain => MultiResult::Create(path),
                CreateKind::WithStat => MultiResult::Create2(path, rc.stat.unwrap_or_default()),
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
#[path = "core_tests.rs"]
mod tests;
