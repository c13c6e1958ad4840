//! A seeded simulation of the core: several clients send random requests, the log makes
//! appends durable in random batches or fails, connections drop and sessions reattach, the
//! clock jumps past session timeouts, the server crashes and restarts from its durable log.
//! After every step the invariants are checked:
//!
//! - replies to a connection come in the order of its requests (FIFO client order);
//! - a write is answered only once it is durable, is never lost by a restart, and every
//!   appended transaction is applied at most once, in zxid order, with consecutive zxids;
//! - nothing is appended after the log failed;
//! - the core's tree equals a replica built by applying the committed log to a new tree;
//! - an ephemeral never outlives its session, and a session is closed at most once.
//!
//! `ZKRS_SIM_SEEDS=n` runs n seeds (default 64); `ZKRS_SIM_SEED=s` replays one seed. A
//! failure names its seed and step.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkrs_proto::request::{CreateRequest, PathVersion, PathWatch, SetDataRequest};
use zkrs_proto::{Acl, ConnectResponse, OpCode, Record};

use super::testkit::{new_session_request, settings, split_reply, Harness};
use super::*;
use crate::txn::{owner_kind, OwnerKind, Txn};

const CLIENTS: usize = 4;
const STEPS: usize = 400;

#[derive(Debug, Default)]
struct Client {
    /// The connection in use, if any.
    conn: Option<ConnId>,
    /// The session and its password once a connect response came.
    session: Option<(i64, Vec<u8>)>,
    /// Waiting for the connect response on `conn`.
    handshaking: bool,
    next_xid: i32,
    /// Requests sent on `conn` and not answered yet: (xid, is_write).
    outstanding: VecDeque<(i32, bool)>,
}

struct Sim {
    h: Harness,
    rng: StdRng,
    clients: Vec<Client>,
    next_conn: ConnId,
    /// The highest zxid reported durable.
    durable: i64,
    /// zxids of acknowledged writes.
    acked: HashSet<i64>,
    /// The log failed: nothing may be appended until a restart.
    log_failed: bool,
    seed: u64,
    step: usize,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            h: Harness::with_settings(settings()),
            rng: StdRng::seed_from_u64(seed),
            clients: (0..CLIENTS).map(|_| Client::default()).collect(),
            next_conn: 1,
            durable: 0,
            acked: HashSet::new(),
            log_failed: false,
            seed,
            step: 0,
        }
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "seed {} step {}: {what} (replay: ZKRS_SIM_SEED={} cargo test -p zkrs-server simulation)",
            self.seed, self.step, self.seed
        )
    }

    fn random_path(&mut self) -> String {
        let dir = self.rng.gen_range(0..3);
        if self.rng.gen_bool(0.3) {
            format!("/d{dir}")
        } else {
            format!("/d{dir}/n{}", self.rng.gen_range(0..6))
        }
    }

    fn random_write(&mut self) -> Request {
        let path = self.random_path();
        match self.rng.gen_range(0..10) {
            0..=3 => {
                let flags = [0, 1, 2, 3][self.rng.gen_range(0..4)];
                Request::Create(
                    OpCode::Create,
                    CreateRequest {
                        path,
                        data: Some(vec![self.rng.gen(); 3]),
                        acl: Acl::open_unsafe(),
                        flags,
                        ttl: -1,
                    },
                )
            }
            4..=5 => Request::Delete(PathVersion { path, version: -1 }),
            6..=8 => Request::SetData(SetDataRequest {
                path,
                data: Some(vec![self.rng.gen(); 2]),
                version: if self.rng.gen_bool(0.2) { 0 } else { -1 },
            }),
            _ => {
                let other = self.random_path();
                Request::Multi(
                    OpCode::Multi,
                    vec![
                        Request::Check(PathVersion {
                            path: path.clone(),
                            version: -1,
                        }),
                        Request::SetData(SetDataRequest {
                            path,
                            data: None,
                            version: -1,
                        }),
                        Request::Delete(PathVersion {
                            path: other,
                            version: -1,
                        }),
                    ],
                )
            }
        }
    }

    fn random_read(&mut self) -> Request {
        let path = self.random_path();
        let watch = self.rng.gen_bool(0.5);
        match self.rng.gen_range(0..4) {
            0 => Request::GetData(PathWatch { path, watch }),
            1 => Request::Exists(PathWatch { path, watch }),
            2 => Request::GetChildren(OpCode::GetChildren, PathWatch { path, watch }),
            _ => Request::Ping,
        }
    }

    fn connect(&mut self, c: usize) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let mut req = new_session_request(self.rng.gen_range(4000..8000));
        if let Some((sid, passwd)) = &self.clients[c].session {
            req.session_id = *sid;
            req.passwd = passwd.clone();
        }
        let client = &mut self.clients[c];
        client.conn = Some(conn);
        client.handshaking = true;
        client.outstanding.clear();
        self.h.open(conn, req);
    }

    fn send(&mut self, c: usize, req: Request) {
        let Some(conn) = self.clients[c].conn else {
            return;
        };
        let client = &mut self.clients[c];
        client.next_xid += 1;
        let xid = client.next_xid;
        let is_write = req.is_write() || matches!(req, Request::CloseSession);
        client.outstanding.push_back((xid, is_write));
        self.h.request(conn, xid, req);
    }

    fn disconnect(&mut self, c: usize) {
        if let Some(conn) = self.clients[c].conn.take() {
            self.clients[c].outstanding.clear();
            self.clients[c].handshaking = false;
            self.h.outboxes.remove(&conn);
            self.h.input(Input::Disconnected { conn });
        }
    }

    fn step(&mut self) {
        let c = self.rng.gen_range(0..CLIENTS);
        match self.rng.gen_range(0..100) {
            0..=4 => {
                if self.clients[c].conn.is_none() {
                    self.connect(c);
                }
            }
            5..=34 => {
                let req = self.random_write();
                self.send(c, req);
            }
            35..=54 => {
                let req = self.random_read();
                self.send(c, req);
            }
            55..=56 => self.send(c, Request::CloseSession),
            57..=59 => self.disconnect(c),
            60..=84 => {
                let n = self.rng.gen_range(1..=4);
                self.sync(n);
            }
            85..=94 => {
                let ms = self.rng.gen_range(1..1500);
                self.h.advance(Duration::from_millis(ms));
                self.h.input(Input::ExpiryTick);
            }
            95 => {
                self.h.advance(Duration::from_millis(9000));
                self.h.input(Input::ExpiryTick);
            }
            96 => self.crash_and_restart(),
            97 if self.rng.gen_bool(0.2) => self.fail_log(),
            _ => self.h.input(Input::ReaperTick),
        }
        self.collect();
        self.check_state();
    }

    fn sync(&mut self, n: usize) {
        let before = self.h.unsynced.len();
        self.h.sync_some(n);
        let synced = before - self.h.unsynced.len();
        if synced > 0 {
            let idx = self.h.appended.len() - self.h.unsynced.len() - 1;
            self.durable = self.h.appended[idx].hdr.zxid;
        }
    }

    /// The server dies and comes back from what its log made durable: appends that were not
    /// durable are gone, connections drop, sessions come back live for their clients.
    fn crash_and_restart(&mut self) {
        let durable = self.durable;
        self.h.appended.retain(|e| e.hdr.zxid <= durable);
        self.h.unsynced.clear();
        let mut tree = crate::tree::DataTree::new();
        for e in &self.h.appended {
            tree.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        if let Some(lost) = self.acked.iter().find(|&&z| z > tree.last_zxid()) {
            self.fail(format!("acknowledged zxid {lost:#x} lost in a restart"));
        }
        // Session ids come from the wall clock (as Apache's): a restart takes time, so the new
        // ones do not reuse the ids of sessions that are already closed.
        self.h
            .advance(Duration::from_millis(self.rng.gen_range(1..3000)));
        self.h.core = Core::new(settings(), tree, self.h.now);
        self.h.outboxes.clear();
        self.log_failed = false;
        for c in &mut self.clients {
            c.conn = None;
            c.outstanding.clear();
            c.handshaking = false;
        }
    }

    /// The log fails with appends in flight: they are answered with errors, never applied,
    /// and nothing more is appended.
    fn fail_log(&mut self) {
        let Some(first) = self.h.unsynced.front().map(|e| e.hdr.zxid) else {
            return;
        };
        self.h.unsynced.clear();
        let durable = self.durable;
        self.h.appended.retain(|e| e.hdr.zxid <= durable);
        self.log_failed = true;
        self.h.input(Input::LogFailed {
            first_zxid: Zxid::from_raw(first),
            error: "injected".into(),
        });
    }

    /// Reads what each client was sent and checks it against what it asked.
    fn collect(&mut self) {
        for c in 0..CLIENTS {
            let Some(conn) = self.clients[c].conn else {
                continue;
            };
            while let Some(out) = self.h.pop(conn) {
                match out {
                    Outgoing::Close => {
                        let client = &mut self.clients[c];
                        client.conn = None;
                        client.outstanding.clear();
                        if client.handshaking {
                            client.session = None;
                        }
                        client.handshaking = false;
                        self.h.outboxes.remove(&conn);
                        self.h.input(Input::Disconnected { conn });
                        // What the close left behind for other connections is read on the
                        // next turn.
                        break;
                    }
                    Outgoing::Frame(f) if self.clients[c].handshaking => {
                        let resp = ConnectResponse::decode_exact(&f[4..])
                            .unwrap_or_else(|e| self.fail(format!("bad connect response: {e}")));
                        let client = &mut self.clients[c];
                        client.handshaking = false;
                        client.session =
                            (resp.session_id != 0).then(|| (resp.session_id, resp.passwd.clone()));
                        // A new session is announced only once its creation is durable.
                        let created = self.h.appended.iter().find(|e| {
                            e.hdr.session_id == resp.session_id
                                && matches!(*e.txn, Txn::CreateSession { .. })
                        });
                        if resp.session_id != 0 && created.is_none_or(|e| e.hdr.zxid > self.durable)
                        {
                            self.fail(format!(
                                "session {:#x} announced before its creation was durable",
                                resp.session_id
                            ));
                        }
                    }
                    Outgoing::Frame(f) | Outgoing::Reply(f) => self.reply(c, &f),
                }
            }
        }
    }

    fn reply(&mut self, c: usize, frame: &[u8]) {
        let (hdr, _) = split_reply(frame);
        if hdr.xid == -1 {
            return; // a notification
        }
        let Some((xid, is_write)) = self.clients[c].outstanding.pop_front() else {
            self.fail(format!(
                "client {c}: reply {} to nothing outstanding",
                hdr.xid
            ));
        };
        if hdr.xid != xid {
            self.fail(format!(
                "client {c}: reply to xid {} before xid {xid}",
                hdr.xid
            ));
        }
        if is_write && hdr.zxid > 0 && hdr.err != ErrorCode::SystemError.code() {
            if hdr.zxid > self.durable {
                self.fail(format!(
                    "write {xid} answered at zxid {:#x} before it was durable ({:#x})",
                    hdr.zxid, self.durable
                ));
            }
            if hdr.err == 0 && !self.acked.insert(hdr.zxid) {
                self.fail(format!("zxid {:#x} acknowledged twice", hdr.zxid));
            }
        }
    }

    fn check_state(&mut self) {
        if self.log_failed && !self.h.unsynced.is_empty() {
            self.fail("appended after the log failed");
        }
        let tree = &self.h.core.tree;
        // zxids are appended consecutively, and the tree is at most at the last durable one.
        if let Some(w) = self
            .h
            .appended
            .windows(2)
            .find(|w| w[1].hdr.zxid != w[0].hdr.zxid + 1)
        {
            self.fail(format!(
                "zxid {:#x} appended after {:#x}",
                w[1].hdr.zxid, w[0].hdr.zxid
            ));
        }
        if tree.last_zxid() > self.durable {
            self.fail(format!(
                "applied {:#x} beyond durable {:#x}",
                tree.last_zxid(),
                self.durable
            ));
        }
        // No ephemeral without its session.
        for (path, node) in tree.iter_nodes() {
            if let OwnerKind::Ephemeral(owner) = owner_kind(node.stored().ephemeral_owner) {
                if tree.session(owner).is_none() {
                    self.fail(format!("{path} outlived its session {owner:#x}"));
                }
            }
        }
        // A session is closed at most once.
        let mut closed = HashSet::new();
        for e in &self.h.appended {
            if matches!(*e.txn, Txn::CloseSession { .. }) && !closed.insert(e.hdr.session_id) {
                self.fail(format!("session {:#x} closed twice", e.hdr.session_id));
            }
        }
    }

    /// The committed log applied to a new tree gives the core's tree.
    fn check_replica(&self) {
        let mut replica = crate::tree::DataTree::new();
        let last = self.h.core.tree.last_zxid();
        for e in self.h.appended.iter().take_while(|e| e.hdr.zxid <= last) {
            replica.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        let (ours, theirs) = (contents(&self.h.core.tree), contents(&replica));
        if ours != theirs {
            let first = ours
                .iter()
                .zip(theirs.iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("{a:?} vs {b:?}"));
            self.fail(format!(
                "the tree differs from a replica of the committed log: {first:?}"
            ));
        }
    }

    fn run(mut self) {
        for step in 0..STEPS {
            self.step = step;
            self.step();
        }
        self.check_replica();
        // Everything settles: the log catches up, every session expires, nothing is left.
        self.step = STEPS;
        if self.log_failed {
            self.crash_and_restart();
        }
        self.h.sync_log();
        for c in 0..CLIENTS {
            self.disconnect(c);
        }
        self.h.advance(Duration::from_secs(60));
        self.h.input(Input::ExpiryTick);
        self.h.sync_log();
        self.durable = self.h.core.tree.last_zxid();
        self.check_state();
        self.check_replica();
        if self.h.core.tree.sessions().count() != 0 || self.h.core.tree.ephemeral_count() != 0 {
            self.fail("sessions or ephemerals left after every session expired");
        }
        let closes = self
            .h
            .appended
            .iter()
            .filter(|e| matches!(*e.txn, Txn::CloseSession { .. }))
            .count();
        let creates = self
            .h
            .appended
            .iter()
            .filter(|e| matches!(*e.txn, Txn::CreateSession { .. }))
            .count();
        if closes != creates {
            self.fail(format!("{creates} sessions created, {closes} closed"));
        }
    }
}

/// Everything a client can observe of a tree, in a canonical order: each node's path, data,
/// Stat and ACL, then the sessions.
fn contents(tree: &crate::tree::DataTree) -> Vec<String> {
    let mut out: Vec<String> = tree
        .iter_nodes()
        .map(|(path, n)| format!("{path} {:?} {:?} {:?}", n.data(), n.stat(), n.acl()))
        .collect();
    out.sort();
    let mut sessions: Vec<String> = tree
        .sessions()
        .map(|(id, s)| format!("session {id:#x} {}", s.timeout_ms))
        .collect();
    sessions.sort();
    out.extend(sessions);
    out.push(format!("last zxid {:#x}", tree.last_zxid()));
    out
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("ZKRS_SIM_SEED") {
        return vec![s.parse().expect("ZKRS_SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("ZKRS_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    (0..n).collect()
}

#[test]
fn simulation_keeps_order_durability_and_session_invariants() {
    for seed in seeds() {
        Sim::new(seed).run();
    }
}
