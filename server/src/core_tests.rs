//! Deterministic tests of the core: the test plays the log writer, so it decides exactly
//! when each proposal becomes durable.

use super::*;
use zkrs_proto::request::{CreateRequest, PathWatch};
use zkrs_proto::{Acl, Reader, Record, ReplyHeader};

struct Harness {
    core: Core,
    log_rx: mpsc::UnboundedReceiver<LogEntry>,
}

struct Client {
    id: ConnId,
    out: mpsc::UnboundedReceiver<Outgoing>,
}

impl Harness {
    fn new() -> Self {
        let (log_tx, log_rx) = mpsc::unbounded_channel();
        let settings = CoreSettings {
            server_id: 1,
            tick: Duration::from_millis(2000),
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            super_digest: None,
            prep: PrepConfig {
                extended_types_enabled: true,
                reconfig_enabled: false,
            },
            container_check_interval: Duration::from_secs(60),
        };
        Harness {
            core: Core::new(settings, DataTree::new(), log_tx),
            log_rx,
        }
    }

    /// Makes everything proposed so far durable, as the log writer would.
    fn sync_log(&mut self) {
        let mut last = None;
        while let Ok(e) = self.log_rx.try_recv() {
            last = Some(e.hdr.zxid);
        }
        if let Some(z) = last {
            self.core.handle(CoreMsg::Log(LogEvent::Durable(z)));
        }
    }

    fn connect(&mut self, id: ConnId) -> Client {
        let (tx, rx) = mpsc::unbounded_channel();
        self.core.handle(CoreMsg::Connect {
            conn: ConnHandle {
                id,
                remote: "127.0.0.1:5000".parse().unwrap(),
                out: tx,
            },
            req: ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout: 1000,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: Some(false),
            },
        });
        self.sync_log();
        let mut c = Client { id, out: rx };
        let frame = c.next().expect("connect response");
        let resp = ConnectResponse::decode_exact(&frame[4..]).unwrap();
        assert_eq!(resp.timeout, 4000, "timeout raised to the minimum");
        c
    }

    fn request(&mut self, c: &Client, xid: i32, req: Request) {
        self.core.handle(CoreMsg::Request {
            conn: c.id,
            xid,
            req,
            received: Instant::now(),
        });
    }
}

impl Client {
    fn next(&mut self) -> Option<Vec<u8>> {
        match self.out.try_recv() {
            Ok(Outgoing::Frame(f)) | Ok(Outgoing::Reply(f)) => Some(f),
            _ => None,
        }
    }

    fn next_reply(&mut self) -> Option<(ReplyHeader, Vec<u8>)> {
        let f = self.next()?;
        let mut r = Reader::new(&f[4..]);
        let h = ReplyHeader::read(&mut r).unwrap();
        Some((h, f[4 + r.position()..].to_vec()))
    }
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    )
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatch {
        path: path.into(),
        watch,
    })
}

#[test]
fn a_read_waits_for_the_sessions_earlier_write() {
    let mut h = Harness::new();
    let mut c = h.connect(1);
    h.request(&c, 1, create("/a", b"v"));
    h.request(&c, 2, get("/a", false));
    assert!(
        c.next().is_none(),
        "nothing may be answered before the write is durable"
    );
    h.sync_log();
    let (h1, _) = c.next_reply().unwrap();
    assert_eq!((h1.xid, h1.err), (1, 0));
    let (h2, body) = c.next_reply().unwrap();
    assert_eq!((h2.xid, h2.err), (2, 0));
    match Response::decode(OpCode::GetData, &body).unwrap() {
        Response::GetData(d, s) => {
            assert_eq!(d.as_deref(), Some(&b"v"[..]));
            assert_eq!(s.czxid, h1.zxid);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_reply_keeps_its_place_behind_pending_writes() {
    let mut h = Harness::new();
    let mut c = h.connect(1);
    h.request(&c, 1, create("/a", b""));
    // Prepared against the pending create: NodeExists, but answered only after xid 1.
    h.request(&c, 2, create("/a", b""));
    assert!(c.next().is_none());
    h.sync_log();
    assert_eq!(c.next_reply().unwrap().0.xid, 1);
    let (h2, _) = c.next_reply().unwrap();
    assert_eq!((h2.xid, h2.err), (2, ErrorCode::NodeExists.code()));
}

#[test]
fn other_sessions_reads_are_not_held_up() {
    let mut h = Harness::new();
    let mut a = h.connect(1);
    let mut b = h.connect(2);
    h.request(&a, 1, create("/x", b""));
    h.request(&b, 1, get("/x", true));
    // b's read runs at once against the applied tree, where /x does not exist yet.
    let (hb, _) = b.next_reply().unwrap();
    assert_eq!(hb.err, ErrorCode::NoNode.code());
    assert!(a.next().is_none());
    h.sync_log();
    assert_eq!(a.next_reply().unwrap().0.err, 0);
}

#[test]
fn a_watch_fires_before_the_write_is_answered() {
    let mut h = Harness::new();
    let mut a = h.connect(1);
    let mut b = h.connect(2);
    h.request(&a, 1, create("/w", b"1"));
    h.sync_log();
    a.next_reply().unwrap();
    h.request(&b, 1, get("/w", true));
    b.next_reply().unwrap();
    h.request(
        &b,
        2,
        Request::SetData(zkrs_proto::request::SetDataRequest {
            path: "/w".into(),
            data: Some(b"2".to_vec()),
            version: -1,
        }),
    );
    h.sync_log();
    let (n, body) = b.next_reply().unwrap();
    assert_eq!(n.xid, -1, "notification first");
    let ev = zkrs_proto::WatcherEvent::decode_exact(&body).unwrap();
    assert_eq!(ev.event_type, zkrs_proto::EventType::NodeDataChanged.code());
    assert_eq!(ev.path, "/w");
    assert_eq!(b.next_reply().unwrap().0.xid, 2);
}

#[test]
fn close_session_removes_ephemerals_and_closes_the_connection() {
    let mut h = Harness::new();
    let mut a = h.connect(1);
    let mut b = h.connect(2);
    let mut eph = match create("/e", b"") {
        Request::Create(op, c) => (op, c),
        _ => unreachable!(),
    };
    eph.1.flags = 1;
    h.request(&a, 1, Request::Create(eph.0, eph.1));
    h.sync_log();
    a.next_reply().unwrap();
    h.request(
        &b,
        1,
        Request::Exists(PathWatch {
            path: "/e".into(),
            watch: true,
        }),
    );
    b.next_reply().unwrap();
    h.request(&a, 2, Request::CloseSession);
    h.sync_log();
    assert_eq!(a.next_reply().unwrap().0.xid, 2);
    assert!(matches!(a.out.try_recv(), Ok(Outgoing::Close)));
    let (n, body) = b.next_reply().unwrap();
    assert_eq!(n.xid, -1);
    let ev = zkrs_proto::WatcherEvent::decode_exact(&body).unwrap();
    assert_eq!(ev.event_type, zkrs_proto::EventType::NodeDeleted.code());
    assert!(h.core.tree.get("/e").is_none());
}

#[test]
fn wrong_password_gets_an_expired_answer() {
    let mut h = Harness::new();
    let _a = h.connect(1);
    let sid = *h.core.sessions.keys().next().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    h.core.handle(CoreMsg::Connect {
        conn: ConnHandle {
            id: 9,
            remote: "127.0.0.1:5001".parse().unwrap(),
            out: tx,
        },
        req: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 4000,
            session_id: sid,
            passwd: vec![7; 16],
            read_only: Some(false),
        },
    });
    let Ok(Outgoing::Frame(f)) = rx.try_recv() else {
        panic!("expected a connect response")
    };
    let resp = ConnectResponse::decode_exact(&f[4..]).unwrap();
    assert_eq!((resp.timeout, resp.session_id), (0, 0));
    assert!(matches!(rx.try_recv(), Ok(Outgoing::Close)));
}

#[test]
fn requests_pipelined_behind_the_handshake_wait_for_the_session() {
    let mut h = Harness::new();
    let (tx, rx) = mpsc::unbounded_channel();
    h.core.handle(CoreMsg::Connect {
        conn: ConnHandle {
            id: 1,
            remote: "127.0.0.1:5000".parse().unwrap(),
            out: tx,
        },
        req: ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 4000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        },
    });
    let mut c = Client { id: 1, out: rx };
    h.request(&c, 1, create("/p", b"x"));
    h.request(&c, 2, get("/p", false));
    assert!(c.next().is_none(), "nothing before the session is durable");
    h.sync_log();
    let connect = c.next().expect("connect response first");
    let resp = ConnectResponse::decode_exact(&connect[4..]).unwrap();
    assert_ne!(resp.session_id, 0);
    assert_eq!(c.next_reply().unwrap().0.xid, 1);
    let (g, _) = c.next_reply().unwrap();
    assert_eq!((g.xid, g.err), (2, 0));
}

#[test]
fn a_failed_log_refuses_writes_but_keeps_serving_reads() {
    let mut h = Harness::new();
    let mut c = h.connect(1);
    h.request(&c, 1, create("/kept", b"1"));
    h.sync_log();
    c.next_reply().unwrap();
    h.request(&c, 2, create("/lost", b"2"));
    let entry = h.log_rx.try_recv().expect("proposed");
    h.core.handle(CoreMsg::Log(LogEvent::Failed {
        first_zxid: entry.hdr.zxid,
        error: "No space left on device".into(),
    }));
    let (r, _) = c.next_reply().unwrap();
    assert_eq!((r.xid, r.err), (2, ErrorCode::SystemError.code()));
    assert!(h.core.tree.get("/lost").is_none(), "never applied");
    h.request(&c, 3, create("/later", b"3"));
    assert_eq!(c.next_reply().unwrap().0.err, ErrorCode::SystemError.code());
    assert!(h.log_rx.try_recv().is_err(), "nothing more is proposed");
    h.request(&c, 4, get("/kept", false));
    let (r, _) = c.next_reply().unwrap();
    assert_eq!((r.xid, r.err), (4, 0));
}
