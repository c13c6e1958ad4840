//! A disk that fills up (simulated with a file size limit, `prlimit --fsize`): writes stop
//! with an error to clients, reads go on, and after a restart every acknowledged write is
//! there.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zkrs_proto::request::{CreateRequest, PathWatch};
use zkrs_proto::{
    Acl, ConnectRequest, ConnectResponse, ErrorCode, OpCode, Reader, Record, ReplyHeader, Request,
    RequestHeader, Writer,
};

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("reply length");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("reply body");
    body
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

/// The server process, stopped by its PID when the test ends, also when an assertion fails.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_full_disk_stops_writes_keeps_reads_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let spawn = |limit: Option<u64>| {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        let mut cmd = match limit {
            Some(bytes) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--fsize={bytes}"))
                    .arg(env!("CARGO_BIN_EXE_zkrs-server"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_zkrs-server")),
        };
        let child = cmd
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting zkrs-server");
        let server = Server(child);
        common::wait_until_serving(&addr, dir.path());
        server
    };

    // Room for the log header and a few dozen 1 KB creates, no more.
    let server = spawn(Some(48 * 1024));
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
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains("transaction log failed"),
        "the log says why:\n{log}"
    );

    drop(server);
    let started = Instant::now();
    let server = spawn(None);
    let mut s = session(addr);
    for (i, p) in acked.iter().enumerate() {
        let (h, _) = call(&mut s, i as i32, &get(p));
        assert_eq!(h.err, 0, "acknowledged {p} lost after the restart");
    }
    let (h, _) = call(&mut s, 5000, &create("/after"));
    assert_eq!(h.err, 0, "writes work again with room on the disk");
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(server);
}
