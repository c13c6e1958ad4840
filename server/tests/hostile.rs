//! Hostile input against a real `zkrs-server` process: each bad connection gets an error or
//! is closed, the server stays up, and other sessions are unaffected.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zkrs_proto::request::{CreateRequest, PathWatch};
use zkrs_proto::{
    Acl, ConnectRequest, ConnectResponse, ErrorCode, OpCode, Reader, Record, ReplyHeader, Request,
    RequestHeader, Writer,
};

mod common;
use common::start;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(body)
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
    let server = start("");
    let mut bystander = session(&server.addr);

    // Length far beyond jute.maxbuffer before the handshake.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(&0x7fff_ffffi32.to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // Negative length.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // A request before the handshake: not a valid ConnectRequest.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(&frame(&[0, 0, 0, 1, 0, 0, 0, 4])).unwrap();
    assert_closed(&mut s);

    // Oversized frame after the handshake.
    let mut s = session(&server.addr);
    s.write_all(&(8 * 1024 * 1024i32).to_be_bytes()).unwrap();
    assert_closed(&mut s);

    // A truncated frame followed by the client going away.
    let mut s = session(&server.addr);
    s.write_all(&100i32.to_be_bytes()).unwrap();
    s.write_all(&[1, 2, 3]).unwrap();
    drop(s);

    ping_works(&mut bystander);
}

#[test]
fn undecodable_requests_get_errors_and_the_connection_stays_usable() {
    let server = start("");
    let mut s = session(&server.addr);

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
    let server = start("maxClientCnxns=3");
    let mut held: Vec<TcpStream> = (0..3).map(|_| session(&server.addr)).collect();
    let mut extra = TcpStream::connect(server.addr).unwrap();
    assert_closed(&mut extra);
    for s in &mut held {
        ping_works(s);
    }
    // A freed place can be taken again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = TcpStream::connect(server.addr).unwrap();
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
    let server = start("");
    let mut s = TcpStream::connect(server.addr).unwrap();
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
    ping_works(&mut session(&server.addr));
}

#[test]
fn a_client_that_does_not_read_replies_is_throttled_not_buffered() {
    let server = start("");
    let mut bystander = session(&server.addr);
    let s = session(&server.addr);
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
