//! Runs a workload against one server and records everything the sessions observe.
//!
//! Strictly sequential: one request at a time across all sessions. After the reply to an
//! operation that can trigger notifications ([`OpKind::may_notify`]), every session sends a
//! ping and reads up to its reply. Both servers answer a ping in order behind everything
//! the session was sent before (Apache: the ping goes through the request pipeline; zkrs:
//! the core answers it on the same channel as notifications), and a notification caused by a
//! write is queued before the writer's reply; so by the time the ping reply is in, every
//! notification that write caused for that session has been read. No sleeps, no guessing.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zkrs_proto::records::AuthPacket;
use zkrs_proto::request::{
    AddWatchRequest, CreateRequest, PathType, PathVersion, PathWatch, SetAclRequest, SetDataRequest,
};
use zkrs_proto::{opcode::perms, Acl, OpCode, Record, Request, Response, Stat, Writer};

use super::workload::{
    add_watch_mode_name, flags_name, opname, watcher_type_name, AclSpec, CreateSpec, DataSpec,
    MultiOp, Op, OpKind, PathSpec, VersionSpec, Workload, USERS,
};
use crate::digest_id;
use crate::raw::{connect_frame, request_frame, Cursor};

/// How long any single reply may take before the step is recorded as lost.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The session timeout asked for (the servers are configured to allow it), long enough that
/// no session of a run can expire, even while a shrinker re-runs workloads.
const SESSION_TIMEOUT_MS: i32 = 120_000;

/// A notification as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply {
        zxid: i64,
        err: i32,
        body: Vec<u8>,
    },
    /// No reply: the connection closed, timed out, or answered another xid.
    Lost(String),
}

/// One recorded step: an operation (or the setup / final drain) and what followed it.
#[derive(Clone, Debug)]
pub struct RawStep {
    /// Index in the workload's ops; `None` for the setup step and the final drain.
    pub op_index: Option<usize>,
    pub kind: &'static str,
    pub slot: usize,
    /// The request with its specs resolved, the run's root written as `/R`.
    pub request: String,
    pub opcode: OpCode,
    /// The resolved path of the request (of each operation, for multi and multiRead).
    pub paths: Vec<String>,
    /// For multi and multiRead: the description of each operation.
    pub parts: Vec<String>,
    pub outcome: Outcome,
    /// Notifications the issuing session read before the reply.
    pub pre_events: Vec<RawEvent>,
    /// Notifications read while draining: `(slot, event)`, slots in order.
    pub drained: Vec<(usize, RawEvent)>,
    /// Session changes: reopened slots, failed pings.
    pub notes: Vec<String>,
    /// What the run knew before the step.
    pub facts: Facts,
}

/// Everything one server showed for one run of a workload.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The run's own top node (e.g. `/d12`); the root of the run, `/R`, is `<base>/R`, so
    /// that even a sequential create of the root itself stays inside the run.
    pub base: String,
    /// Session ids in the order the sessions were opened: index = session number.
    pub session_ids: Vec<i64>,
    pub steps: Vec<RawStep>,
}

/// A session over its own socket.
struct Conn {
    stream: TcpStream,
    session_id: i64,
    next_xid: i32,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let mut stream = tokio::time::timeout(REPLY_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .write_all(&connect_frame(0, SESSION_TIMEOUT_MS, 0, &[0; 16]))
            .await
            .map_err(|e| format!("send connect: {e}"))?;
        let body = read_frame(&mut stream).await?;
        let mut r = Cursor(&body);
        let _protocol_version = r.i32();
        let _timeout = r.i32();
        let session_id = r.i64();
        if session_id == 0 {
            return Err("the server refused the session".into());
        }
        Ok(Conn {
            stream,
            session_id,
            next_xid: 1,
        })
    }

    /// Sends `op` with `body` and reads up to its reply; notifications read on the way are
    /// appended to `events`.
    async fn call(&mut self, op: i32, body: &[u8], events: &mut Vec<RawEvent>) -> Outcome {
        let xid = if op == OpCode::Ping.code() {
            -2
        } else {
            self.next_xid += 1;
            self.next_xid - 1
        };
        if let Err(e) = self.stream.write_all(&request_frame(xid, op, body)).await {
            return Outcome::Lost(format!("send: {e}"));
        }
        for _ in 0..100_000 {
            let frame = match read_frame(&mut self.stream).await {
                Ok(f) => f,
                Err(e) => return Outcome::Lost(e),
            };
            if frame.len() < 16 {
                return Outcome::Lost(format!("short frame of {} bytes", frame.len()));
            }
            let mut r = Cursor(&frame);
            let rxid = r.i32();
            let zxid = r.i64();
            let err = r.i32();
            if rxid == -1 {
                let mut reader = zkrs_proto::Reader::new(r.rest());
                match zkrs_proto::WatcherEvent::read(&mut reader) {
                    Ok(ev) => events.push(RawEvent {
                        event_type: ev.event_type,
                        state: ev.state,
                        path: ev.path,
                    }),
                    Err(e) => return Outcome::Lost(format!("undecodable notification: {e}")),
                }
                continue;
            }
            if rxid != xid {
                return Outcome::Lost(format!("reply for xid {rxid} while waiting for {xid}"));
            }
            return Outcome::Reply {
                zxid,
                err,
                body: r.rest().to_vec(),
            };
        }
        Outcome::Lost("too many frames".into())
    }
}

async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(REPLY_TIMEOUT, crate::frame::read_frame(stream)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err("connection closed by the server".into())
        }
        Ok(Err(e)) => Err(format!("read: {e}")),
        Err(_) => Err(format!("no reply within {REPLY_TIMEOUT:?}")),
    }
}

/// What the runner knows, when an operation is about to run, that a known divergence may
/// depend on (see [`super::compare::Handling`]). Derived from requests and successful
/// replies only, so it is the same on both servers while they agree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The issuing session has (successfully) added a persistent or persistent-recursive
    /// watch on the path of the operation, at some point.
    pub persistent_watch_on_path: bool,
    /// Another session has asked for a watch (of any kind) on the path of the operation, at
    /// some point.
    pub others_watched_path: bool,
    /// The issuing session has asked for a watch (of any kind) on the path before.
    pub own_watch_on_path: bool,
}

/// Decides which operations the runner skips, given the [`Facts`]; returns the reason.
pub type SkipFn<'a> = &'a (dyn Fn(&OpKind, &Facts) -> Option<&'static str> + Sync);

struct Slot {
    conn: Option<Conn>,
}

/// The state of one run on one server.
struct Runner {
    addr: SocketAddr,
    base: String,
    /// `<base>/R`.
    root: String,
    slots: Vec<Slot>,
    session_ids: Vec<i64>,
    /// Paths this server reported as created, oldest first.
    created: Vec<String>,
    /// Last `(version, aversion)` this server reported per path.
    versions: HashMap<String, (i32, i32)>,
    /// `(slot, path)` of every successful addWatch of the slot's current session.
    added_watches: HashSet<(usize, String)>,
    /// `(slot, path)` of every request for a watch (a read with the watch flag, addWatch) of
    /// the slot's current session.
    asked_watches: HashSet<(usize, String)>,
    steps: Vec<RawStep>,
}

/// Runs `workload` under the fresh node `base` (which must not exist yet) on the server at
/// `addr`, skipping the operations `skip` names a reason for.
pub async fn run(
    addr: SocketAddr,
    base: &str,
    workload: &Workload,
    skip: SkipFn<'_>,
) -> Result<Trace, String> {
    let mut r = Runner {
        addr,
        base: base.to_string(),
        root: format!("{base}/R"),
        slots: Vec::new(),
        session_ids: Vec::new(),
        created: Vec::new(),
        versions: HashMap::new(),
        added_watches: HashSet::new(),
        asked_watches: HashSet::new(),
        steps: Vec::new(),
    };
    for _ in 0..workload.sessions {
        let conn = r.open().await?;
        r.slots.push(Slot { conn: Some(conn) });
    }
    r.setup().await?;
    for (i, op) in workload.ops.iter().enumerate() {
        r.step(i, op, skip).await?;
    }
    // A last drain of every session, so that a late notification is not missed.
    let mut last = RawStep {
        op_index: None,
        kind: "drain",
        slot: 0,
        request: "(final drain of every session)".into(),
        opcode: OpCode::Ping,
        paths: Vec::new(),
        parts: Vec::new(),
        outcome: Outcome::Reply {
            zxid: 0,
            err: 0,
            body: Vec::new(),
        },
        pre_events: Vec::new(),
        drained: Vec::new(),
        notes: Vec::new(),
        facts: Facts::default(),
    };
    r.drain(&mut last).await?;
    r.steps.push(last);
    for slot in &mut r.slots {
        if let Some(mut conn) = slot.conn.take() {
            let _ = conn
                .call(OpCode::CloseSession.code(), &[], &mut Vec::new())
                .await;
        }
    }
    Ok(Trace {
        base: r.base,
        session_ids: r.session_ids,
        steps: r.steps,
    })
}

impl Runner {
    async fn open(&mut self) -> Result<Conn, String> {
        let conn = Conn::open(self.addr)
            .await
            .map_err(|e| format!("opening a session to {}: {e}", self.addr))?;
        self.session_ids.push(conn.session_id);
        Ok(conn)
    }

    /// Replaces the slot's session with a new one; says so in `notes`.
    async fn reopen(&mut self, slot: usize, notes: &mut Vec<String>) -> Result<(), String> {
        self.slots[slot].conn = None;
        self.added_watches.retain(|(s, _)| *s != slot);
        self.asked_watches.retain(|(s, _)| *s != slot);
        let conn = self.open().await?;
        notes.push(format!(
            "s{slot} is now session #{}",
            self.session_ids.len() - 1
        ));
        self.slots[slot].conn = Some(conn);
        Ok(())
    }

    /// Creates the run's base node (not recorded) and root (recorded) with slot 0's session.
    async fn setup(&mut self) -> Result<(), String> {
        let create = |path: &str| {
            Request::Create(
                OpCode::Create,
                CreateRequest {
                    path: path.to_string(),
                    data: Some(Vec::new()),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl: -1,
                },
            )
        };
        match self.call(0, &create(&self.base), &mut Vec::new()).await {
            Outcome::Reply { err: 0, .. } => {}
            other => return Err(format!("creating the run's base {}: {other:?}", self.base)),
        }
        let req = create(&self.root);
        let mut step = RawStep {
            op_index: None,
            kind: "setup",
            slot: 0,
            request: "create /R persistent (setup)".into(),
            opcode: OpCode::Create,
            paths: vec![self.root.clone()],
            parts: Vec::new(),
            outcome: Outcome::Lost(String::new()),
            pre_events: Vec::new(),
            drained: Vec::new(),
            notes: Vec::new(),
            facts: Facts::default(),
        };
        step.outcome = self.call(0, &req, &mut step.pre_events).await;
        match &step.outcome {
            Outcome::Reply { err: 0, .. } => {}
            other => return Err(format!("creating the run's root {}: {other:?}", self.root)),
        }
        self.steps.push(step);
        Ok(())
    }

    async fn call(&mut self, slot: usize, req: &Request, events: &mut Vec<RawEvent>) -> Outcome {
        let Some(conn) = self.slots[slot].conn.as_mut() else {
            return Outcome::Lost("no session".into());
        };
        let mut w = Writer::new();
        req.write_body(&mut w);
        conn.call(req.op().code(), &w.into_inner(), events).await
    }

    async fn step(&mut self, index: usize, op: &Op, skip: SkipFn<'_>) -> Result<(), String> {
        let (req, text, parts) = self.resolve(&op.kind);
        let path = req.path().unwrap_or_default().to_string();
        let facts = Facts {
            persistent_watch_on_path: self.added_watches.contains(&(op.slot, path.clone())),
            others_watched_path: self
                .asked_watches
                .iter()
                .any(|(s, p)| *s != op.slot && *p == path),
            own_watch_on_path: self.asked_watches.contains(&(op.slot, path.clone())),
        };
        let asks_watch = match &req {
            Request::Exists(pw) | Request::GetData(pw) | Request::GetChildren(_, pw) => pw.watch,
            Request::AddWatch(_) => true,
            _ => false,
        };
        if asks_watch {
            self.asked_watches.insert((op.slot, path));
        }
        if let Some(reason) = skip(&op.kind, &facts) {
            self.steps.push(RawStep {
                op_index: Some(index),
                kind: op.kind.name(),
                slot: op.slot,
                request: format!("s{}: {text} [skipped: known divergence {reason}]", op.slot),
                opcode: OpCode::Ping,
                paths: Vec::new(),
                parts: Vec::new(),
                outcome: Outcome::Reply {
                    zxid: 0,
                    err: 0,
                    body: Vec::new(),
                },
                pre_events: Vec::new(),
                drained: Vec::new(),
                notes: Vec::new(),
                facts,
            });
            return Ok(());
        }
        let mut step = RawStep {
            op_index: Some(index),
            kind: op.kind.name(),
            slot: op.slot,
            request: format!("s{}: {text}", op.slot),
            opcode: req.op(),
            paths: match &req {
                Request::Multi(_, reqs) => reqs
                    .iter()
                    .map(|r| r.path().unwrap_or_default().to_string())
                    .collect(),
                r => r.path().map(str::to_string).into_iter().collect(),
            },
            parts,
            outcome: Outcome::Lost(String::new()),
            pre_events: Vec::new(),
            drained: Vec::new(),
            notes: Vec::new(),
            facts,
        };
        step.outcome = self.call(op.slot, &req, &mut step.pre_events).await;
        match &step.outcome {
            Outcome::Reply { err, body, .. } => {
                if *err == 0 {
                    self.learn(&req, body);
                    // (Apache accepts malformed paths here, zkrs does not: a known
                    // divergence that must not change what is skipped.)
                    match &req {
                        Request::AddWatch(a) if super::normalize::valid_path(&a.path) => {
                            self.added_watches.insert((op.slot, a.path.clone()));
                        }
                        _ => {}
                    }
                }
                if op.kind == OpKind::Close {
                    self.reopen(op.slot, &mut step.notes).await?;
                }
            }
            Outcome::Lost(why) => {
                step.notes
                    .push(format!("s{} lost its connection: {why}", op.slot));
                self.reopen(op.slot, &mut step.notes).await?;
            }
        }
        if op.kind.may_notify() {
            self.drain(&mut step).await?;
        }
        self.steps.push(step);
        Ok(())
    }

    /// Pings every session in slot order, collecting the notifications that come first.
    async fn drain(&mut self, step: &mut RawStep) -> Result<(), String> {
        for slot in 0..self.slots.len() {
            let mut events = Vec::new();
            let outcome = self.call(slot, &Request::Ping, &mut events).await;
            step.drained.extend(events.into_iter().map(|e| (slot, e)));
            match outcome {
                Outcome::Reply { err: 0, .. } => {}
                other => {
                    let why = match other {
                        Outcome::Reply { err, .. } => super::normalize::err_name(err),
                        Outcome::Lost(why) => why,
                    };
                    step.notes.push(format!("s{slot}: ping failed: {why}"));
                    self.reopen(slot, &mut step.notes).await?;
                }
            }
        }
        Ok(())
    }

    /// Remembers created names and reported versions from a successful reply.
    fn learn(&mut self, req: &Request, body: &[u8]) {
        let Ok(resp) = Response::decode(req.op(), body) else {
            return;
        };
        self.learn_one(req, &resp);
        if let (Request::Multi(_, reqs), Response::Multi(results)) = (req, &resp) {
            for (sub, result) in reqs.iter().zip(results) {
                let as_resp = match result {
                    zkrs_proto::MultiResult::Create(p) => Response::Create(p.clone()),
                    zkrs_proto::MultiResult::Create2(p, s) => Response::Create2(p.clone(), *s),
                    zkrs_proto::MultiResult::SetData(s) => Response::Stat(*s),
                    zkrs_proto::MultiResult::GetData(d, s) => Response::GetData(d.clone(), *s),
                    zkrs_proto::MultiResult::Delete => Response::Empty,
                    _ => continue,
                };
                self.learn_one(sub, &as_resp);
            }
        }
    }

    fn learn_one(&mut self, req: &Request, resp: &Response) {
        let path = req.path().unwrap_or_default().to_string();
        let mut remember = |path: &str, s: &Stat| {
            self.versions
                .insert(path.to_string(), (s.version, s.aversion));
        };
        match resp {
            Response::Create(p) => {
                self.created.push(p.clone());
                self.versions.insert(p.clone(), (0, 0));
            }
            Response::Create2(p, s) => {
                self.created.push(p.clone());
                remember(p, s);
            }
            Response::Stat(s)
            | Response::GetData(_, s)
            | Response::GetAcl(_, s)
            | Response::GetChildren2(_, s) => remember(&path, s),
            Response::Empty if matches!(req, Request::Delete(_)) => {
                self.versions.insert(path, (0, 0));
            }
            _ => {}
        }
    }

    fn path(&self, p: &PathSpec) -> String {
        match p {
            PathSpec::Root => self.root.clone(),
            PathSpec::Node(rel) => format!("{}/{rel}", self.root),
            PathSpec::Created(k) => self.created_at(*k),
            PathSpec::CreatedChild(k, name) => format!("{}/{name}", self.created_at(*k)),
            PathSpec::Raw(raw) => raw.replace("{R}", &self.root),
        }
    }

    fn created_at(&self, k: u8) -> String {
        let n = self.created.len();
        if n == 0 {
            format!("{}/a", self.root)
        } else {
            self.created[n - 1 - (k as usize % n)].clone()
        }
    }

    fn version(&self, v: VersionSpec, path: &str, acl: bool) -> i32 {
        let known = || {
            let (version, aversion) = self.versions.get(path).copied().unwrap_or((0, 0));
            if acl {
                aversion
            } else {
                version
            }
        };
        match v {
            VersionSpec::Any => -1,
            VersionSpec::Known => known(),
            VersionSpec::Wrong => known() + 1,
            VersionSpec::Lit(n) => n,
        }
    }

    /// `path` as shown in the trace: the run's base left out (so the root reads `/R`),
    /// control characters escaped.
    fn show(&self, path: &str) -> String {
        let p = match path.strip_prefix(self.base.as_str()) {
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        };
        if p.chars().all(|c| !c.is_control() && c != ' ') && !p.is_empty() {
            p
        } else {
            format!("{p:?}")
        }
    }

    fn create(&self, c: &CreateSpec) -> (Request, String) {
        let path = self.path(&c.path);
        let text = format!(
            "{} {} {} data={} acl={}{}",
            opname(c.opcode),
            self.show(&path),
            flags_name(c.flags),
            c.data,
            c.acl,
            if c.opcode == OpCode::CreateTtl {
                format!(" ttl={}", c.ttl)
            } else {
                String::new()
            }
        );
        let req = Request::Create(
            c.opcode,
            CreateRequest {
                path,
                data: c.data.bytes(),
                acl: acl(c.acl),
                flags: c.flags,
                ttl: c.ttl,
            },
        );
        (req, text)
    }

    fn path_version(&self, p: &PathSpec, v: VersionSpec, acl: bool) -> (PathVersion, String) {
        let path = self.path(p);
        let version = self.version(v, &path, acl);
        let text = format!("{} v={version}", self.show(&path));
        (PathVersion { path, version }, text)
    }

    fn path_watch(&self, p: &PathSpec, watch: bool) -> (PathWatch, String) {
        let path = self.path(p);
        let text = format!("{}{}", self.show(&path), if watch { " watch" } else { "" });
        (PathWatch { path, watch }, text)
    }

    fn delete(&self, p: &PathSpec, v: VersionSpec) -> (Request, String) {
        let (pv, t) = self.path_version(p, v, false);
        (Request::Delete(pv), format!("delete {t}"))
    }

    fn set_data(&self, p: &PathSpec, d: &DataSpec, v: VersionSpec) -> (Request, String) {
        let (pv, t) = self.path_version(p, v, false);
        let req = Request::SetData(SetDataRequest {
            path: pv.path,
            data: d.bytes(),
            version: pv.version,
        });
        (req, format!("setData {t} data={d}"))
    }

    fn check(&self, p: &PathSpec, v: VersionSpec) -> (Request, String) {
        let (pv, t) = self.path_version(p, v, false);
        (Request::Check(pv), format!("check {t}"))
    }

    /// The request for `kind`, its description, and (for multi and multiRead) the
    /// description of each operation, specs resolved.
    fn resolve(&self, kind: &OpKind) -> (Request, String, Vec<String>) {
        let (req, text) = match kind {
            OpKind::Create(c) => self.create(c),
            OpKind::Delete(p, v) => self.delete(p, *v),
            OpKind::SetData(p, d, v) => self.set_data(p, d, *v),
            OpKind::Exists(p, w) => {
                let (pw, t) = self.path_watch(p, *w);
                (Request::Exists(pw), format!("exists {t}"))
            }
            OpKind::GetData(p, w) => {
                let (pw, t) = self.path_watch(p, *w);
                (Request::GetData(pw), format!("getData {t}"))
            }
            OpKind::GetChildren(p, w) => {
                let (pw, t) = self.path_watch(p, *w);
                (
                    Request::GetChildren(OpCode::GetChildren, pw),
                    format!("getChildren {t}"),
                )
            }
            OpKind::GetChildren2(p, w) => {
                let (pw, t) = self.path_watch(p, *w);
                (
                    Request::GetChildren(OpCode::GetChildren2, pw),
                    format!("getChildren2 {t}"),
                )
            }
            OpKind::GetAcl(p) => {
                let path = self.path(p);
                let t = format!("getACL {}", self.show(&path));
                (Request::GetAcl(path), t)
            }
            OpKind::SetAcl(p, a, v) => {
                let (pv, t) = self.path_version(p, *v, true);
                let req = Request::SetAcl(SetAclRequest {
                    path: pv.path,
                    acl: acl(*a),
                    version: pv.version,
                });
                (req, format!("setACL {t} acl={a}"))
            }
            OpKind::Sync(p) => {
                let path = self.path(p);
                let t = format!("sync {}", self.show(&path));
                (Request::Sync(path), t)
            }
            OpKind::Check(p, v) => self.check(p, *v),
            OpKind::Multi(ops) => {
                let mut reqs = Vec::new();
                let mut texts = Vec::new();
                for op in ops {
                    let (req, text) = match op {
                        MultiOp::Create(c) => self.create(c),
                        MultiOp::Delete(p, v) => self.delete(p, *v),
                        MultiOp::SetData(p, d, v) => self.set_data(p, d, *v),
                        MultiOp::Check(p, v) => self.check(p, *v),
                    };
                    reqs.push(req);
                    texts.push(text);
                }
                let text = format!("multi [{}]", texts.join("; "));
                return (Request::Multi(OpCode::Multi, reqs), text, texts);
            }
            OpKind::MultiRead(ops) => {
                let mut reqs = Vec::new();
                let mut texts = Vec::new();
                for (data, p) in ops {
                    let (pw, t) = self.path_watch(p, false);
                    if *data {
                        reqs.push(Request::GetData(pw));
                        texts.push(format!("getData {t}"));
                    } else {
                        reqs.push(Request::GetChildren(OpCode::GetChildren, pw));
                        texts.push(format!("getChildren {t}"));
                    }
                }
                let text = format!("multiRead [{}]", texts.join("; "));
                return (Request::Multi(OpCode::MultiRead, reqs), text, texts);
            }
            OpKind::GetEphemerals(p) => {
                let path = self.path(p);
                let t = format!("getEphemerals {}", self.show(&path));
                (Request::GetEphemerals(path), t)
            }
            OpKind::GetAllChildrenNumber(p) => {
                let path = self.path(p);
                let t = format!("getAllChildrenNumber {}", self.show(&path));
                (Request::GetAllChildrenNumber(path), t)
            }
            OpKind::AddWatch(p, mode) => {
                let path = self.path(p);
                let t = format!(
                    "addWatch {} {}",
                    self.show(&path),
                    add_watch_mode_name(*mode)
                );
                (Request::AddWatch(AddWatchRequest { path, mode: *mode }), t)
            }
            OpKind::RemoveWatches(p, ty) | OpKind::CheckWatches(p, ty) => {
                let path = self.path(p);
                let remove = matches!(kind, OpKind::RemoveWatches(..));
                let t = format!(
                    "{} {} {}",
                    if remove {
                        "removeWatches"
                    } else {
                        "checkWatches"
                    },
                    self.show(&path),
                    watcher_type_name(*ty)
                );
                let pt = PathType {
                    path,
                    watcher_type: *ty,
                };
                let req = if remove {
                    Request::RemoveWatches(pt)
                } else {
                    Request::CheckWatches(pt)
                };
                (req, t)
            }
            OpKind::AddAuth(u) => {
                let (user, pass) = USERS[*u];
                let req = Request::Auth(AuthPacket {
                    auth_type: 0,
                    scheme: "digest".into(),
                    auth: format!("{user}:{pass}").into_bytes(),
                });
                (req, format!("addauth digest {user}:{pass}"))
            }
            OpKind::WhoAmI => (Request::WhoAmI, "whoAmI".into()),
            OpKind::Close => (Request::CloseSession, "closeSession".into()),
        };
        (req, text, Vec::new())
    }
}

/// The ACL list an [`AclSpec`] stands for.
pub fn acl(spec: AclSpec) -> Vec<Acl> {
    let u1 = digest_id(USERS[0].0, USERS[0].1);
    let u2 = digest_id(USERS[1].0, USERS[1].1);
    match spec {
        AclSpec::Open => Acl::open_unsafe(),
        AclSpec::WorldRead => Acl::read_unsafe(),
        AclSpec::WorldCreateDelete => {
            vec![Acl::new(perms::CREATE | perms::DELETE, "world", "anyone")]
        }
        AclSpec::Creator => vec![Acl::new(perms::ALL, "auth", "")],
        AclSpec::DigestU1 => vec![Acl::new(perms::ALL, "digest", &u1)],
        AclSpec::DigestU2 => vec![Acl::new(perms::ALL, "digest", &u2)],
        AclSpec::U1AdminWorldRead => vec![
            Acl::new(perms::READ | perms::ADMIN, "digest", &u1),
            Acl::new(perms::READ, "world", "anyone"),
        ],
        AclSpec::U1ReadOnly => vec![Acl::new(perms::READ, "digest", &u1)],
        AclSpec::IpLocal => vec![Acl::new(perms::ALL, "ip", "127.0.0.1")],
        AclSpec::IpOther => vec![Acl::new(perms::ALL, "ip", "10.0.0.1")],
        AclSpec::Empty => Vec::new(),
        AclSpec::BadScheme => vec![Acl::new(perms::ALL, "nosuch", "x")],
        AclSpec::BadDigest => vec![Acl::new(perms::ALL, "digest", "u1")],
    }
}
