//! A harness that plays the edges for the core in tests: it holds the log appends until
//! the test (or the simulation) says they are durable, keeps each connection's outgoing
//! frames, and owns the clock.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use zkrs_proto::{ConnectRequest, Reader, Record, ReplyHeader};

use crate::prep::PrepConfig;
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;

use super::*;

pub(super) fn settings() -> CoreSettings {
    CoreSettings {
        server_id: 1,
        tick: Duration::from_millis(2000),
        min_session_timeout_ms: 4000,
        max_session_timeout_ms: 40000,
        super_digest: None,
        prep: PrepConfig {
            extended_types_enabled: true,
            reconfig_enabled: false,
            standalone_enabled: true,
        },
        container_check_interval: Duration::from_secs(60),
        sync_limit: 5,
        init_limit: 10,
        leader_serves: true,
        sync_enabled: true,
    }
}

pub(super) struct Harness {
    pub core: Core,
    pub now: Now,
    /// Appended, not yet reported durable.
    pub unsynced: VecDeque<LogEntry>,
    /// Every entry ever appended, in order.
    pub appended: Vec<LogEntry>,
    pub outboxes: HashMap<ConnId, VecDeque<Outgoing>>,
    /// What the core asked of its ensemble role's network side, in order.
    pub peer: VecDeque<super::peer::PeerOut>,
    /// Epoch files written, in order.
    pub epochs: Vec<(super::peer::EpochFile, u32)>,
    /// Every epoch write, peer output and append, in the order the core made them (so a
    /// test can check that one happened before another).
    pub trace: Vec<String>,
}

impl Harness {
    pub fn new() -> Self {
        Harness::with_settings(settings())
    }

    pub fn with_settings(settings: CoreSettings) -> Self {
        let now = Now {
            mono: Instant::now(),
            wall_ms: 1_700_000_000_000,
        };
        Harness {
            core: Core::new(settings, DataTree::new(), now),
            now,
            unsynced: VecDeque::new(),
            appended: Vec::new(),
            outboxes: HashMap::new(),
            peer: VecDeque::new(),
            epochs: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// Replaces the core (e.g. with one made leader or follower) and takes what it did on
    /// taking its role.
    pub fn replace_core(&mut self, make: impl FnOnce(Now) -> Core) {
        self.core = make(self.now);
        self.absorb();
    }

    /// Where `what` first appears in the trace.
    pub fn trace_pos(&self, what: &str) -> Option<usize> {
        self.trace.iter().position(|t| t == what)
    }

    pub fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.wall_ms += d.as_millis() as i64;
    }

    pub fn input(&mut self, input: Input) {
        self.core.handle(self.now, input);
        self.absorb();
    }

    fn absorb(&mut self) {
        let effects: Vec<Effect> = self.core.take_effects().collect();
        for e in effects {
            match e {
                Effect::Send { conn, out } => self.outboxes.entry(conn).or_default().push_back(out),
                Effect::Append(entry) => {
                    self.trace.push(format!("append {:#x}", entry.hdr.zxid));
                    self.appended.push(entry.clone());
                    self.unsynced.push_back(entry);
                }
                Effect::WriteEpoch { file, epoch } => {
                    self.trace.push(format!("epoch {file:?} {epoch}"));
                    self.epochs.push((file, epoch));
                }
                Effect::Peer(out) => {
                    self.trace.push(describe(&out));
                    self.peer.push_back(out);
                }
            }
        }
    }

    /// Makes the oldest `n` unsynced appends durable, as the log writer would.
    pub fn sync_some(&mut self, n: usize) {
        let mut last = None;
        for _ in 0..n {
            match self.unsynced.pop_front() {
                Some(e) => last = Some(e.hdr.zxid),
                None => break,
            }
        }
        if let Some(z) = last {
            self.input(Input::Durable(Zxid::from_raw(z)));
        }
    }

    /// Makes everything proposed so far durable.
    pub fn sync_log(&mut self) {
        self.sync_some(usize::MAX);
    }

    pub fn open(&mut self, id: ConnId, req: ConnectRequest) {
        self.outboxes.insert(id, VecDeque::new());
        self.input(Input::Connect {
            conn: id,
            remote: "127.0.0.1:5000".parse().expect("an address"),
            req,
        });
    }

    pub fn request(&mut self, conn: ConnId, xid: i32, req: Request) {
        self.input(Input::Request {
            conn,
            xid,
            req,
            received: self.now.mono,
        });
    }

    /// The next thing sent to `conn`.
    pub fn pop(&mut self, conn: ConnId) -> Option<Outgoing> {
        self.outboxes.get_mut(&conn)?.pop_front()
    }

    /// The next frame sent to `conn` (a close is not a frame).
    pub fn next(&mut self, conn: ConnId) -> Option<Vec<u8>> {
        match self.pop(conn)? {
            Outgoing::Frame(f) | Outgoing::Reply(f) => Some(f),
            Outgoing::Close => None,
        }
    }

    pub fn next_reply(&mut self, conn: ConnId) -> Option<(ReplyHeader, Vec<u8>)> {
        let f = self.next(conn)?;
        Some(split_reply(&f))
    }
}

/// A short name for a peer output in the trace: `to 2 LEADERINFO`, `sync 3 diff`,
/// `leader ACK`, `serving`, `ended`, `drop 2`.
pub(super) fn describe(out: &super::peer::PeerOut) -> String {
    use super::peer::PeerOut;
    let name = |p: &crate::quorum::wire::packet::QuorumPacket| {
        p.kind
            .name()
            .map_or_else(|| p.kind.0.to_string(), str::to_string)
    };
    match out {
        PeerOut::ToLeader(p) => format!("leader {}", name(p)),
        PeerOut::ToLearner { sid, pkt } => format!("to {sid} {}", name(pkt)),
        PeerOut::SyncLearner { sid, plan } => format!("sync {sid} {}", plan.name()),
        PeerOut::DropLearner { sid } => format!("drop {sid}"),
        PeerOut::Serving { .. } => "serving".into(),
        PeerOut::ConfigProposed(c) => format!("config proposed {:x}", c.version),
        PeerOut::ConfigActivated { config, .. } => format!("config activated {:x}", config.version),
        PeerOut::Ended(_) => "ended".into(),
    }
}

/// A reply frame's header and body.
pub(super) fn split_reply(frame: &[u8]) -> (ReplyHeader, Vec<u8>) {
    let mut r = Reader::new(&frame[4..]);
    let h = ReplyHeader::read(&mut r).expect("a reply header");
    (h, frame[4 + r.position()..].to_vec())
}

pub(super) fn new_session_request(timeout: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    }
}

/// A create of a persistent node with open ACLs.
pub(super) fn create_request(path: &str, data: &[u8]) -> zkrs_proto::Request {
    zkrs_proto::Request::Create(
        zkrs_proto::OpCode::Create,
        zkrs_proto::request::CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: zkrs_proto::Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    )
}

/// A getData, with or without a watch.
pub(super) fn get_request(path: &str, watch: bool) -> zkrs_proto::Request {
    zkrs_proto::Request::GetData(zkrs_proto::request::PathWatch {
        path: path.into(),
        watch,
    })
}
