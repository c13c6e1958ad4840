//! A disk that fills up (simulated with a file size limit, `prlimit --fsize`): writes stop
//! with an error to clients, reads go on, and after a restart every acknowledged write is
//! there.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zkrs_proto::request::{CreateRequest, PathWatch};
use zkrs_proto::{
    Acl, ConnectRequest, ConnectResponse, ErrorCode, OpCode, Reader, Record, ReplyHeader, Request,
    RequestHeader, Writer,
};
use zkrs_tests::frame::{frame, read_frame_blocking};
use zkrs_tests::{skip_in_ensemble, ServerConfig, ServerKind, ServerUnderTest};

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    read_frame_blocking(s).expect("a reply frame")
}

fn session(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    s.write_all(&frame(&req.to_bytes())).unwrap();
    ConnectResponse::decode_exact(&read_frame(&mut s)).expect("connect response");
    s
}

fn call(s: &mut TcpStream, xid: i32, req: &Request) -> (ReplyHeader, Vec<u8>) {
    let mut w = Writer::new();
    RequestHeader {
        xid,
        op: req.op().code(),
    }
    .write(&mut w);
    req.write_body(&mut w);
    s.write_all(&frame(&w.into_inner())).unwrap();
    let reply = read_frame(s);
    let mut r = Reader::new(&reply);
    let h = ReplyHeader::read(&mut r).unwrap();
    (h, reply[r.position()..].to_vec())
}

fn create(path: &str) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(vec![b'd'; 1000]),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    )
}

fn get(path: &str) -> Request {
    Request::GetData(PathWatch {
        path: path.into(),
        watch: false,
    })
}

#[test]
fn a_full_disk_stops_writes_keeps_reads_and_loses_nothing() {
    if skip_in_ensemble(
        "the file size limit is on one standalone server's data dir; in an ensemble a member \
         whose log fails leaves the quorum rather than answering writes with an error, \
         which is a replication fault, not this test",
    ) {
        return;
    }
    // Room for the log header and a few dozen 1 KB creates, no more.
    let config = ServerConfig {
        tick_time_ms: 2000,
        wrapper: vec!["prlimit".into(), format!("--fsize={}", 48 * 1024)],
        ..ServerConfig::default()
    };
    let mut server = ServerUnderTest::start_kind(ServerKind::Zkrs, config);
    let addr = server.addr();
    let mut s = session(addr);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..500 {
        let path = format!("/n{i}");
        let (h, _) = call(&mut s, i, &create(&path));
        if h.err == 0 {
            acked.push(path);
        } else {
            refused = Some(h.err);
            break;
        }
    }
    assert_eq!(
        refused,
        Some(ErrorCode::SystemError.code()),
        "writes must stop"
    );
    assert!(acked.len() > 10, "some writes fit: {}", acked.len());
    // Later writes are refused too; reads still work.
    let (h, _) = call(&mut s, 1000, &create("/after"));
    assert_eq!(h.err, ErrorCode::SystemError.code());
    let (h, body) = call(&mut s, 1001, &get(&acked[0]));
    assert_eq!(h.err, 0);
    assert!(!body.is_empty());
    let log = std::fs::read_to_string(server.dir().join("server.log")).unwrap();
    assert!(
        log.contains("transaction log failed"),
        "the log says why:\n{log}"
    );

    // The same data dir, without the limit.
    server.kill9();
    server.config_mut().wrapper.clear();
    let started = Instant::now();
    server.restart().expect("restart without the limit");
    let mut s = session(addr);
    for (i, p) in acked.iter().enumerate() {
        let (h, _) = call(&mut s, i as i32, &get(p));
        assert_eq!(h.err, 0, "acknowledged {p} lost after the restart");
    }
    let (h, _) = call(&mut s, 5000, &create("/after"));
    assert_eq!(h.err, 0, "writes work again with room on the disk");
    assert!(started.elapsed() < Duration::from_secs(30));
}
