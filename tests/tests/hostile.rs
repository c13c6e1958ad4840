//! Hostile input against zkrs-server (in-process; a process where its memory is measured):
//! each bad connection gets an error or is closed, the server stays up, and other sessions
//! are unaffected.
//!
//! With `ZKRS_TEST_ENSEMBLE=N` the same input goes to a follower of an N-member zkrs
//! ensemble (processes): its client port must hold up the same way while it forwards
//! writes to the leader.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zkrs_proto::request::{CreateRequest, PathWatch};
use zkrs_proto::{
    Acl, ConnectRequest, ConnectResponse, ErrorCode, OpCode, Reader, Record, ReplyHeader, Request,
    RequestHeader, Writer,
};

use zkrs_tests::frame::{frame, read_frame_blocking as read_frame};
use zkrs_tests::{in_ensemble, InProcessServer, ServerConfig, ServerKind, ServerUnderTest};

/// The configuration these tests were written for, plus `extra` (`key=value`).
fn config(extra: &[(&str, &str)]) -> ServerConfig {
    let mut config = ServerConfig {
        tick_time_ms: 2000,
        ..ServerConfig::default()
    };
    for (k, v) in extra {
        config = config.with(k, v);
    }
    config
}

/// What the tests attack: the in-process server, or a follower of a zkrs ensemble.
enum Target {
    InProcess(InProcessServer),
    Member(ServerUnderTest),
}

impl Target {
    fn addr(&self) -> SocketAddr {
        match self {
            Target::InProcess(s) => s.addr(),
            Target::Member(s) => s.addr(),
        }
    }
}

fn start(extra: &[(&str, &str)]) -> Target {
    if in_ensemble() {
        // `addr()` of an ensemble is a follower.
        Target::Member(ServerUnderTest::start_kind(ServerKind::Zkrs, config(extra)))
    } else {
        Target::InProcess(InProcessServer::start_with(config(extra)))
    }
}

/// A raw session: handshake done, ready for hand-made frames.
fn session(addr: &SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    s.write_all(&frame(&req.to_bytes())).expect("send connect");
    let resp = ConnectResponse::decode_exact(&read_frame(&mut s).expect("connect response"))
        .expect("decodes");
    assert_ne!(resp.session_id, 0);
    s
}

fn request(s: &mut TcpStream, xid: i32, op: i32, body: &[u8]) -> ReplyHeader {
    let mut w = Writer::new();
    RequestHeader { xid, op }.write(&mut w);
    w.write_raw(body);
    s.write_all(&frame(&w.into_inner())).expect("send");
    let reply = read_frame(s).expect("reply");
    ReplyHeader::read(&mut Reader::new(&reply)).expect("reply header")
}

fn encode(req: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    req.write_body(&mut w);
    w.into_inner()
}

fn ping_works(s: &mut TcpStream) {
    let h = request(s, -2, OpCode::Ping.code(), &[]);
    assert_eq!((h.xid, h.err), (-2, 0));
}

/// The connection was closed by the server (EOF or reset, never a hang).
fn assert_closed(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected the connection to close, got {n} bytes"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "expected close, got {e}"
        ),
    }
}

#[test]
fn bad_frames_close_only_their_connection() {
    let server = start(&[]);
    let mut bystander = session(&server.addr());

    // Length far beyond jute.maxbuffer before the handshake.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(&0x7fff_ffffi32.to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // Negative length.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // A request before the handshake: not a valid ConnectRequest.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(&frame(&[0, 0, 0, 1, 0, 0, 0, 4])).unwrap();
    assert_closed(&mut s);

    // Oversized frame after the handshake.
    let mut s = session(&server.addr());
    s.write_all(&(8 * 1024 * 1024i32).to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // A truncated frame followed by the client going away.
    let mut s = session(&server.addr());
    s.write_all(&100i32.to_be_bytes()).unwrap();
    s.write_all(&[1, 2, 3]).unwrap();
    drop(s);

    ping_works(&mut bystander);
}

#[test]
fn undecodable_requests_get_errors_and_the_connection_stays_usable() {
    let server = start(&[]);
    let mut s = session(&server.addr());

    let h = request(&mut s, 1, 999, &[1, 2, 3]);
    assert_eq!((h.xid, h.err), (1, ErrorCode::Unimplemented.code()));
    ping_works(&mut s);

    // A create whose body stops in the middle of the path.
    let h = request(&mut s, 2, OpCode::Create.code(), &[0, 0, 0, 10, b'/', b'a']);
    assert_eq!((h.xid, h.err), (2, ErrorCode::MarshallingError.code()));
    ping_works(&mut s);

    // Invalid paths get Apache's answers: a path without a slash is BadArguments, a
    // malformed parent is looked up first (NoNode), a bad last component is BadArguments.
    let bad = ErrorCode::BadArguments;
    let no_node = ErrorCode::NoNode;
    for (xid, path, want) in [
        (3, "a/b", no_node),
        (4, "/a/", no_node),
        (5, "//", bad),
        (6, "/a/../b", no_node),
        (7, "", bad),
        (9, "/x\u{1}", bad),
        (10, "/", ErrorCode::NodeExists),
    ] {
        let create = Request::Create(
            OpCode::Create,
            CreateRequest {
                path: path.into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: -1,
            },
        );
        let h = request(&mut s, xid, OpCode::Create.code(), &encode(&create));
        assert_eq!(h.err, want.code(), "path {path:?}");
    }
    let h = request(
        &mut s,
        8,
        OpCode::GetData.code(),
        &encode(&Request::GetData(PathWatch {
            path: "no-slash".into(),
            watch: false,
        })),
    );
    assert_eq!(h.err, ErrorCode::NoNode.code());
    ping_works(&mut s);
}

#[test]
fn connections_beyond_max_client_cnxns_are_refused() {
    let server = start(&[("maxClientCnxns", "3")]);
    let mut held: Vec<TcpStream> = (0..3).map(|_| session(&server.addr())).collect();
    let mut extra = TcpStream::connect(server.addr()).unwrap();
    assert_closed(&mut extra);
    for s in &mut held {
        ping_works(s);
    }
    // A freed place can be taken again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 10_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        s.write_all(&frame(&req.to_bytes())).unwrap();
        if read_frame(&mut s).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_saw_a_newer_zxid_is_refused() {
    let server = start(&[]);
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 1 << 40,
        timeout: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    s.write_all(&frame(&req.to_bytes())).unwrap();
    assert_closed(&mut s);
    ping_works(&mut session(&server.addr()));
}

#[test]
fn a_client_that_does_not_read_replies_is_throttled_not_buffered() {
    let server = start(&[]);
    let mut bystander = session(&server.addr());
    let s = session(&server.addr());
    let mut writer = s.try_clone().unwrap();
    let mut reader = s;
    // Far more pipelined requests than the server keeps outstanding per connection, sent
    // from another thread while nobody reads the replies yet.
    let n = 5000;
    let sender = std::thread::spawn(move || {
        for xid in 1..=n {
            let mut w = Writer::new();
            RequestHeader {
                xid,
                op: OpCode::Exists.code(),
            }
            .write(&mut w);
            Request::Exists(PathWatch {
                path: "/zookeeper".into(),
                watch: false,
            })
            .write_body(&mut w);
            if writer.write_all(&frame(&w.into_inner())).is_err() {
                return false;
            }
        }
        true
    });
    // Others are served meanwhile.
    ping_works(&mut bystander);
    // Every reply comes, in order.
    for xid in 1..=n {
        let body = read_frame(&mut reader).expect("reply");
        let h = ReplyHeader::read(&mut Reader::new(&body)).unwrap();
        assert_eq!((h.xid, h.err), (xid, 0));
    }
    assert!(sender.join().unwrap(), "all requests were sent");
}

fn create_req(path: &str) -> Vec<u8> {
    encode(&Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(vec![]),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    ))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn deep_and_long_paths_work() {
    let server = start(&[]);
    let mut s = session(&server.addr());
    // 500 levels deep.
    let mut path = String::new();
    for i in 0..500 {
        path.push_str("/d");
        let h = request(&mut s, i, OpCode::Create.code(), &create_req(&path));
        assert_eq!(h.err, 0, "depth {i}");
    }
    // One component of 100,000 characters.
    let long = format!("/{}", "x".repeat(100_000));
    let h = request(&mut s, 1000, OpCode::Create.code(), &create_req(&long));
    assert_eq!(h.err, 0);
    let get = encode(&Request::GetData(PathWatch {
        path: long,
        watch: false,
    }));
    assert_eq!(request(&mut s, 1001, OpCode::GetData.code(), &get).err, 0);
    let get = encode(&Request::GetData(PathWatch { path, watch: false }));
    assert_eq!(request(&mut s, 1002, OpCode::GetData.code(), &get).err, 0);
}

#[test]
fn a_node_with_100k_children_is_listed() {
    let server = start(&[]);
    let mut s = session(&server.addr());
    assert_eq!(
        request(&mut s, 1, OpCode::Create.code(), &create_req("/wide")).err,
        0
    );
    let n = 100_000;
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..n {
            let mut w = Writer::new();
            RequestHeader {
                xid: 10 + i,
                op: OpCode::Create.code(),
            }
            .write(&mut w);
            w.write_raw(&create_req(&format!("/wide/c{i}")));
            writer.write_all(&frame(&w.into_inner())).unwrap();
        }
    });
    for i in 0..n {
        let body = read_frame(&mut s).expect("create reply");
        let h = ReplyHeader::read(&mut Reader::new(&body)).unwrap();
        assert_eq!((h.xid, h.err), (10 + i, 0));
    }
    sender.join().unwrap();
    let list = encode(&Request::GetChildren(
        OpCode::GetChildren,
        PathWatch {
            path: "/wide".into(),
            watch: false,
        },
    ));
    let mut w = Writer::new();
    RequestHeader {
        xid: 1_000_000,
        op: OpCode::GetChildren.code(),
    }
    .write(&mut w);
    w.write_raw(&list);
    s.write_all(&frame(&w.into_inner())).unwrap();
    let body = read_frame(&mut s).expect("children");
    let mut r = Reader::new(&body);
    let h = ReplyHeader::read(&mut r).unwrap();
    assert_eq!(h.err, 0);
    let children = r.read_string_vec().unwrap();
    assert_eq!(children.len(), n as usize);
    ping_works(&mut s);
}

#[test]
fn thousands_of_idle_connections_keep_memory_bounded_and_others_served() {
    let server = ServerUnderTest::start_kind(ServerKind::Zkrs, config(&[("maxClientCnxns", "0")]));
    let before = rss_kb(server.pid());
    // 2000 connections that never say anything.
    let mut idle = Vec::new();
    for _ in 0..2000 {
        let sock = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5));
        idle.push(sock.expect("idle connection"));
    }
    let mut s = session(&server.addr());
    ping_works(&mut s);
    let grown = rss_kb(server.pid()).saturating_sub(before);
    // A few KB per idle connection at most (buffers grow only when data comes).
    assert!(
        grown < 40_000,
        "RSS grew by {grown} KB for 2000 idle connections"
    );
    drop(idle);
    ping_works(&mut s);
}
