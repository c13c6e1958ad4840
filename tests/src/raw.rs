//! A minimal hand-rolled ZooKeeper session over a raw socket, for the cases the client crate
//! cannot produce: a session that simply stops talking, a reconnect with a wrong password,
//! invalid paths (the crate validates them before sending), per-op multi results, oversized
//! frames, exact frame ordering.
//!
//! Frames are built with `zkrs_proto`'s jute [`Writer`]; replies are decoded here by hand so
//! that results are never judged by the project's own codec.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zkrs_proto::Writer;

use crate::frame::read_frame;
use crate::{within, WAIT};

/// Opcodes and error codes of the wire protocol, written out independently of zkrs-proto.
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const PING: i32 = 11;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_TTL: i32 = 21;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const CLOSE_SESSION: i32 = -11;
}

pub mod err {
    pub const OK: i32 = 0;
    pub const RUNTIME_INCONSISTENCY: i32 = -2;
    pub const MARSHALLING: i32 = -5;
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NO_NODE: i32 = -101;
    pub const BAD_VERSION: i32 = -103;
    pub const NODE_EXISTS: i32 = -110;
    pub const NO_WATCHER: i32 = -121;
}

/// Watch event types (`Watcher.Event.EventType`).
pub mod event {
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
}

/// The bytes of a ConnectRequest frame.
pub fn connect_frame(last_zxid: i64, timeout_ms: i32, session_id: i64, passwd: &[u8]) -> Vec<u8> {
    let mut w = Writer::frame();
    w.write_i32(0); // protocolVersion
    w.write_i64(last_zxid);
    w.write_i32(timeout_ms);
    w.write_i64(session_id);
    w.write_buffer(passwd);
    w.write_bool(false); // readOnly
    w.finish_frame()
}

/// The bytes of a request frame: header (xid, op) and an already encoded body.
pub fn request_frame(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut w = Writer::frame();
    w.write_i32(xid);
    w.write_i32(op);
    w.write_raw(body);
    w.finish_frame()
}

/// Builds request bodies.
pub mod body {
    use zkrs_proto::Writer;

    fn done(w: Writer) -> Vec<u8> {
        w.into_inner()
    }

    /// `path`, then the open ACL `world:anyone` ALL.
    fn path_data_open_acl(w: &mut Writer, path: &str, data: &[u8]) {
        w.write_string(path);
        w.write_buffer(data);
        w.write_i32(1);
        w.write_i32(31);
        w.write_string("world");
        w.write_string("anyone");
    }

    /// create / create2 with the open ACL.
    pub fn create(path: &str, data: &[u8], flags: i32) -> Vec<u8> {
        let mut w = Writer::new();
        path_data_open_acl(&mut w, path, data);
        w.write_i32(flags);
        done(w)
    }

    /// createTTL with the open ACL.
    pub fn create_ttl(path: &str, data: &[u8], flags: i32, ttl: i64) -> Vec<u8> {
        let mut w = Writer::new();
        path_data_open_acl(&mut w, path, data);
        w.write_i32(flags);
        w.write_i64(ttl);
        done(w)
    }

    pub fn path_version(path: &str, version: i32) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_string(path);
        w.write_i32(version);
        done(w)
    }

    pub fn path_watch(path: &str, watch: bool) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_string(path);
        w.write_bool(watch);
        done(w)
    }

    pub fn set_data(path: &str, data: &[u8], version: i32) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_string(path);
        w.write_buffer(data);
        w.write_i32(version);
        done(w)
    }

    /// addWatch: mode 0 persistent, 1 persistent recursive.
    pub fn add_watch(path: &str, mode: i32) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_string(path);
        w.write_i32(mode);
        done(w)
    }

    /// removeWatches: type 1 children, 2 data, 3 any, 4 persistent, 5 persistent recursive.
    pub fn remove_watches(path: &str, watcher_type: i32) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_string(path);
        w.write_i32(watcher_type);
        done(w)
    }

    /// One operation of a multi: (opcode, body).
    pub fn multi(ops: &[(i32, Vec<u8>)]) -> Vec<u8> {
        let mut w = Writer::new();
        for (op, body) in ops {
            w.write_i32(*op);
            w.write_bool(false);
            w.write_i32(-1);
            w.write_raw(body);
        }
        w.write_i32(-1);
        w.write_bool(true);
        w.write_i32(-1);
        done(w)
    }

    /// setWatches2: relative zxid and the five watch lists.
    pub fn set_watches2(
        relative_zxid: i64,
        data: &[&str],
        exist: &[&str],
        child: &[&str],
        persistent: &[&str],
        recursive: &[&str],
    ) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_i64(relative_zxid);
        for list in [data, exist, child, persistent, recursive] {
            w.write_i32(list.len() as i32);
            for p in list {
                w.write_string(p);
            }
        }
        done(w)
    }
}

/// The answer to a ConnectRequest.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
}

/// A reply to a request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// A frame from the server after the handshake.
#[derive(Debug, Clone)]
pub enum Frame {
    Reply(Reply),
    /// A watch notification: event type, keeper state, path.
    Event {
        event_type: i32,
        state: i32,
        path: String,
    },
}

/// A session on its own socket, driven by hand.
pub struct RawSession {
    stream: TcpStream,
    pub handshake: Handshake,
    next_xid: i32,
    /// Notifications received while waiting for replies, oldest first.
    pub events: Vec<(i32, String)>,
}

impl RawSession {
    /// Opens a new session asking for `timeout_ms`.
    pub async fn connect(addr: SocketAddr, timeout_ms: i32) -> std::io::Result<RawSession> {
        Self::reattach(addr, timeout_ms, 0, &[0; 16]).await
    }

    /// Sends a ConnectRequest for `session_id` with `passwd` and reads the ConnectResponse.
    pub async fn reattach(
        addr: SocketAddr,
        timeout_ms: i32,
        session_id: i64,
        passwd: &[u8],
    ) -> std::io::Result<RawSession> {
        let mut stream = within(WAIT, "TCP connect", TcpStream::connect(addr)).await?;
        stream.set_nodelay(true)?;
        stream
            .write_all(&connect_frame(0, timeout_ms, session_id, passwd))
            .await?;
        let body = within(WAIT, "the connect response", read_frame(&mut stream)).await?;
        let mut r = Cursor(&body);
        let handshake = Handshake {
            protocol_version: r.i32(),
            timeout_ms: r.i32(),
            session_id: r.i64(),
            passwd: r.buffer(),
        };
        Ok(RawSession {
            stream,
            handshake,
            next_xid: 1,
            events: Vec::new(),
        })
    }

    pub fn session_id(&self) -> i64 {
        self.handshake.session_id
    }

    /// Sends one request; returns its xid.
    pub async fn send(&mut self, op: i32, body: &[u8]) -> std::io::Result<i32> {
        let xid = if op == op::PING { -2 } else { self.next_xid };
        if op != op::PING {
            self.next_xid += 1;
        }
        self.stream.write_all(&request_frame(xid, op, body)).await?;
        Ok(xid)
    }

    /// Sends raw bytes as they are.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads the next frame, failing the test if none comes within [`WAIT`]. EOF is an error
    /// of kind `UnexpectedEof`.
    pub async fn read(&mut self) -> std::io::Result<Frame> {
        let body = within(
            WAIT,
            "a frame from the server",
            read_frame(&mut self.stream),
        )
        .await?;
        let mut r = Cursor(&body);
        let xid = r.i32();
        let zxid = r.i64();
        let err = r.i32();
        if xid == -1 {
            let event_type = r.i32();
            let state = r.i32();
            let path = String::from_utf8(r.buffer()).expect("utf-8 path");
            return Ok(Frame::Event {
                event_type,
                state,
                path,
            });
        }
        Ok(Frame::Reply(Reply {
            xid,
            zxid,
            err,
            body: r.rest().to_vec(),
        }))
    }

    /// Reads frames until the reply with `xid`, recording notifications in `self.events`.
    pub async fn reply_to(&mut self, xid: i32) -> std::io::Result<Reply> {
        for _ in 0..10_000 {
            match self.read().await? {
                Frame::Event {
                    event_type, path, ..
                } => self.events.push((event_type, path)),
                Frame::Reply(r) if r.xid == xid => return Ok(r),
                Frame::Reply(r) => {
                    return Err(std::io::Error::other(format!(
                        "reply for xid {} while waiting for {xid}",
                        r.xid
                    )))
                }
            }
        }
        Err(std::io::Error::other("too many frames"))
    }

    /// Sends a request and waits for its reply.
    pub async fn call(&mut self, op: i32, body: &[u8]) -> std::io::Result<Reply> {
        let xid = self.send(op, body).await?;
        self.reply_to(xid).await
    }

    /// Waits until the server closes the connection (EOF or reset), skipping any frames;
    /// panics if it stays open longer than `limit`.
    pub async fn expect_closed(&mut self, limit: Duration) {
        let stream = &mut self.stream;
        within(limit, "the server to close the connection", async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await
    }

    /// Closes the session politely.
    pub async fn close(mut self) -> std::io::Result<()> {
        self.call(op::CLOSE_SESSION, &[]).await.map(|_| ())
    }
}

/// Big-endian reader over a reply body; panics on truncation (that is a test failure).
pub struct Cursor<'a>(pub &'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        assert!(self.0.len() >= n, "reply truncated: wanted {n} bytes");
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }

    pub fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    pub fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }

    pub fn bool(&mut self) -> bool {
        self.take(1)[0] != 0
    }

    pub fn buffer(&mut self) -> Vec<u8> {
        let n = self.i32();
        if n < 0 {
            return Vec::new();
        }
        self.take(n as usize).to_vec()
    }

    pub fn string(&mut self) -> String {
        String::from_utf8(self.buffer()).expect("utf-8 string")
    }

    pub fn rest(&self) -> &[u8] {
        self.0
    }
}

/// One result of a `multi` reply: the result's type (the opcode, or -1 for an error) and
/// its error code (0 unless the type is -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiOpResult {
    pub op: i32,
    pub err: i32,
}

/// Decodes the body of a `multi` reply.
pub fn multi_results(body: &[u8]) -> Vec<MultiOpResult> {
    let mut r = Cursor(body);
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let op_type = r.i32();
        let done = r.bool();
        let err = r.i32();
        if done {
            return out;
        }
        let mut res = MultiOpResult {
            op: op_type,
            err: 0,
        };
        match op_type {
            -1 => res.err = r.i32(),
            op::CREATE => {
                r.string();
            }
            op::CREATE2 | 19 | op::CREATE_TTL => {
                r.string();
                r.take(STAT_LEN);
            }
            op::SET_DATA => {
                r.take(STAT_LEN);
            }
            op::DELETE | op::CHECK => {}
            other => panic!("unexpected multi result type {other} (err {err})"),
        }
        out.push(res);
    }
    panic!("multi reply without an end marker");
}

/// Encoded size of a Stat.
pub const STAT_LEN: usize = 68;
