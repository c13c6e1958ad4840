//! Byte fixtures recorded from the official Apache ZooKeeper 3.8.0 Java client talking to an
//! Apache ZooKeeper 3.8.0 server (how: `tests/fixtures/README.md`).
//!
//! Every recorded frame is decoded with zkrs-proto and encoded again; the bytes must be the
//! ones Java sent. Requests are paired with their replies by xid (notifications have xid -1,
//! pings -2, auth -4), so each reply body is decoded with the opcode of its request. On top
//! of the byte-for-byte checks, the tests assert what the frames mean: paths, flags, watch
//! events, the per-operation results of a failed multi, zxids, session reattachment.
//!
//! Tests named `regression_` pin down two places the first version of zkrs-proto got wrong
//! (the addWatch reply body and null buffers).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use zkrs_proto::request::{
    AddWatchRequest, CreateRequest, PathType, PathVersion, PathWatch, ReconfigRequest,
    SetAclRequest, SetDataRequest, SetWatchesRequest,
};
use zkrs_proto::{
    Acl, AuthPacket, ClientInfo, ConnectRequest, ConnectResponse, EventType, KeeperState,
    MultiResult, OpCode, Reader, Record, ReplyHeader, Request, RequestHeader, Response, Stat,
    WatcherEvent, Writer,
};

const MAIN: &str = include_str!("fixtures/main.txt");
const NULLS: &str = include_str!("fixtures/nulls.txt");
const REATTACH: &str = include_str!("fixtures/reattach.txt");

// ---------------------------------------------------------------------------------------
// Reading the recordings
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    C2s,
    S2c,
}

/// One recorded frame: `<conn> <dir> <label> <hex>`.
#[derive(Debug, Clone)]
struct Frame {
    line: usize,
    conn: u32,
    dir: Dir,
    label: String,
    /// The whole frame, length prefix included.
    bytes: Vec<u8>,
}

impl Frame {
    fn body(&self) -> &[u8] {
        &self.bytes[4..]
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_fixture(text: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 4, "line {}: expected 4 fields", i + 1);
        let dir = match parts[1] {
            "c2s" => Dir::C2s,
            "s2c" => Dir::S2c,
            d => panic!("line {}: bad direction {d}", i + 1),
        };
        let bytes = unhex(parts[3]);
        assert!(
            bytes.len() >= 4,
            "line {}: frame shorter than its prefix",
            i + 1
        );
        let len = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        assert_eq!(
            len as usize,
            bytes.len() - 4,
            "line {}: length prefix",
            i + 1
        );
        frames.push(Frame {
            line: i + 1,
            conn: parts[0].parse().expect("connection number"),
            dir,
            label: parts[2].to_string(),
            bytes,
        });
    }
    frames
}

// ---------------------------------------------------------------------------------------
// Decoding a whole recording with zkrs-proto
// ---------------------------------------------------------------------------------------

/// The decoded reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    /// err == 0, or a multi/multiRead (whose header err is 0 even when an operation failed).
    Ok(Response),
    /// A non-zero err outside multi: the header alone, no body.
    Err(i32),
}

#[derive(Debug, Clone)]
struct Exchange {
    conn: u32,
    label: String,
    header: RequestHeader,
    request: Request,
    reply_header: Option<ReplyHeader>,
    reply: Option<Reply>,
}

impl Exchange {
    fn response(&self) -> &Response {
        match &self.reply {
            Some(Reply::Ok(r)) => r,
            other => panic!("{}: expected a successful reply, got {other:?}", self.label),
        }
    }

    fn err(&self) -> i32 {
        match &self.reply {
            Some(Reply::Err(e)) => *e,
            Some(Reply::Ok(_)) => 0,
            None => panic!("{}: no reply", self.label),
        }
    }

    fn zxid(&self) -> i64 {
        self.reply_header.expect("reply").zxid
    }
}

#[derive(Debug, Clone)]
struct Notification {
    conn: u32,
    label: String,
    header: ReplyHeader,
    event: WatcherEvent,
}

#[derive(Debug, Clone)]
struct Connection {
    id: u32,
    label: String,
    request: ConnectRequest,
    response: Option<ConnectResponse>,
}

/// One item of a connection's server-to-client stream, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incoming {
    Reply(usize),
    Notification(usize),
}

#[derive(Debug, Default)]
struct Decoded {
    connections: Vec<Connection>,
    exchanges: Vec<Exchange>,
    notifications: Vec<Notification>,
    /// Per connection, the replies and notifications in the order they arrived.
    incoming: BTreeMap<u32, Vec<Incoming>>,
    /// Every frame zkrs-proto could not decode, or re-encoded to different bytes.
    mismatches: Vec<String>,
}

impl Decoded {
    /// The exchanges recorded under `label`, pings left out (the client pings whenever it
    /// is idle, under whatever label is current).
    fn labelled(&self, label: &str) -> Vec<&Exchange> {
        self.exchanges
            .iter()
            .filter(|e| e.label == label && e.request != Request::Ping)
            .collect()
    }

    /// The single non-ping exchange recorded under `label`.
    fn one(&self, label: &str) -> &Exchange {
        let v = self.labelled(label);
        assert_eq!(v.len(), 1, "exchanges labelled {label}: {v:#?}");
        v[0]
    }

    fn notifications(&self, label: &str) -> Vec<&Notification> {
        self.notifications
            .iter()
            .filter(|n| n.label == label)
            .collect()
    }

    fn connection(&self, id: u32) -> &Connection {
        self.connections
            .iter()
            .find(|c| c.id == id)
            .expect("connection")
    }
}

/// Where two byte strings first differ, with some context.
fn describe_diff(recorded: &[u8], encoded: &[u8]) -> String {
    let at = recorded
        .iter()
        .zip(encoded)
        .position(|(a, b)| a != b)
        .unwrap_or(recorded.len().min(encoded.len()));
    let from = at.saturating_sub(8);
    let to_r = (at + 24).min(recorded.len());
    let to_e = (at + 24).min(encoded.len());
    format!(
        "{} bytes recorded, {} re-encoded, first difference at body offset {at}: \
         recorded [{from}..] {} / re-encoded [{from}..] {}\n      recorded   {}\n      \
         re-encoded {}",
        recorded.len(),
        encoded.len(),
        hex(&recorded[from.min(recorded.len())..to_r]),
        hex(&encoded[from.min(encoded.len())..to_e]),
        hex(recorded),
        hex(encoded),
    )
}

fn decode_fixture(name: &str, text: &str) -> Decoded {
    let mut d = Decoded::default();
    let mut seen_connect: HashSet<(u32, Dir)> = HashSet::new();
    // Outstanding requests per connection and xid (pings and auth reuse their xids).
    let mut pending: HashMap<(u32, i32), VecDeque<usize>> = HashMap::new();

    for f in parse_fixture(text) {
        let at = format!(
            "{name}:{} (conn {} {:?} `{}`)",
            f.line, f.conn, f.dir, f.label
        );
        let mut fail = |what: String| d.mismatches.push(format!("{at}: {what}"));
        let first = seen_connect.insert((f.conn, f.dir));
        let body = f.body();

        match (f.dir, first) {
            (Dir::C2s, true) => match ConnectRequest::decode_exact(body) {
                Ok(req) => {
                    let again = req.to_bytes();
                    if again != body {
                        fail(format!("ConnectRequest {}", describe_diff(body, &again)));
                    }
                    d.connections.push(Connection {
                        id: f.conn,
                        label: f.label.clone(),
                        request: req,
                        response: None,
                    });
                }
                Err(e) => fail(format!("ConnectRequest does not decode: {e}")),
            },
            (Dir::S2c, true) => match ConnectResponse::decode_exact(body) {
                Ok(resp) => {
                    let again = resp.to_bytes();
                    if again != body {
                        fail(format!("ConnectResponse {}", describe_diff(body, &again)));
                    }
                    if let Some(c) = d.connections.iter_mut().find(|c| c.id == f.conn) {
                        c.response = Some(resp);
                    }
                }
                Err(e) => fail(format!("ConnectResponse does not decode: {e}")),
            },
            (Dir::C2s, false) => {
                let mut r = Reader::new(body);
                let header = match RequestHeader::read(&mut r) {
                    Ok(h) => h,
                    Err(e) => {
                        fail(format!("RequestHeader does not decode: {e}"));
                        continue;
                    }
                };
                let request = match Request::decode(header.op, &body[8..]) {
                    Ok(req) => req,
                    Err(e) => {
                        fail(format!("request op {} does not decode: {e}", header.op));
                        continue;
                    }
                };
                let mut w = Writer::new();
                header.write(&mut w);
                request.write_body(&mut w);
                let again = w.into_inner();
                if again != body {
                    fail(format!(
                        "request op {} ({:?}) {}",
                        header.op,
                        request.op(),
                        describe_diff(body, &again)
                    ));
                }
                pending
                    .entry((f.conn, header.xid))
                    .or_default()
                    .push_back(d.exchanges.len());
                d.exchanges.push(Exchange {
                    conn: f.conn,
                    label: f.label.clone(),
                    header,
                    request,
                    reply_header: None,
                    reply: None,
                });
            }
            (Dir::S2c, false) => {
                let mut r = Reader::new(body);
                let rh = match ReplyHeader::read(&mut r) {
                    Ok(h) => h,
                    Err(e) => {
                        fail(format!("ReplyHeader does not decode: {e}"));
                        continue;
                    }
                };
                let rest = &body[16..];
                if rh.xid == -1 {
                    match WatcherEvent::decode_exact(rest) {
                        Ok(event) => {
                            let mut w = Writer::new();
                            rh.write(&mut w);
                            event.write(&mut w);
                            let again = w.into_inner();
                            if again != body {
                                fail(format!("notification {}", describe_diff(body, &again)));
                            }
                            d.incoming
                                .entry(f.conn)
                                .or_default()
                                .push(Incoming::Notification(d.notifications.len()));
                            d.notifications.push(Notification {
                                conn: f.conn,
                                label: f.label.clone(),
                                header: rh,
                                event,
                            });
                        }
                        Err(e) => fail(format!("WatcherEvent does not decode: {e}")),
                    }
                    continue;
                }
                let Some(idx) = pending
                    .get_mut(&(f.conn, rh.xid))
                    .and_then(VecDeque::pop_front)
                else {
                    fail(format!("reply xid {} matches no request", rh.xid));
                    continue;
                };
                d.incoming
                    .entry(f.conn)
                    .or_default()
                    .push(Incoming::Reply(idx));
                let ex = &mut d.exchanges[idx];
                ex.reply_header = Some(rh);
                let op = ex.request.op();
                if rh.err == 0 || matches!(op, OpCode::Multi | OpCode::MultiRead) {
                    match Response::decode(op, rest) {
                        Ok(resp) => {
                            let mut w = Writer::new();
                            rh.write(&mut w);
                            resp.write(&mut w);
                            let again = w.into_inner();
                            if again != body {
                                fail(format!(
                                    "reply to op {} ({op:?}) {}",
                                    op.code(),
                                    describe_diff(body, &again)
                                ));
                            }
                            ex.reply = Some(Reply::Ok(resp));
                        }
                        Err(e) => fail(format!("reply to {op:?} does not decode: {e}")),
                    }
                } else {
                    if !rest.is_empty() {
                        fail(format!(
                            "error reply {} to {op:?} carries a body: {}",
                            rh.err,
                            hex(rest)
                        ));
                    }
                    ex.reply = Some(Reply::Err(rh.err));
                }
            }
        }
    }
    for ((conn, xid), q) in &pending {
        for &i in q {
            d.mismatches.push(format!(
                "{name}: conn {conn} request xid {xid} (`{}`) got no reply",
                d.exchanges[i].label
            ));
        }
    }
    d
}

fn assert_round_trips(name: &str, text: &str) {
    let d = decode_fixture(name, text);
    assert!(
        d.mismatches.is_empty(),
        "{} frame(s) of {name} do not round-trip through zkrs-proto:\n  {}",
        d.mismatches.len(),
        d.mismatches.join("\n  ")
    );
}

fn main_fixture() -> Decoded {
    decode_fixture("main.txt", MAIN)
}

fn open_acl() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn is_sequential_of(path: &str, prefix: &str) -> bool {
    path.len() == prefix.len() + 10
        && path.starts_with(prefix)
        && path[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
}

fn create_req(op: OpCode, path: &str, data: &str, flags: i32, ttl: i64) -> Request {
    Request::Create(
        op,
        CreateRequest {
            path: path.into(),
            data: Some(data.as_bytes().to_vec()),
            acl: open_acl(),
            flags,
            ttl,
        },
    )
}

fn event(kind: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type: kind.code(),
        state: KeeperState::SyncConnected.code(),
        path: path.into(),
    }
}

/// The digest id of `user:pass`: base64(sha1("user:pass")).
const USER_PASS_DIGEST: &str = "user:smGaoVKd/cQkjm7b88GyorAUz20=";

// ---------------------------------------------------------------------------------------
// Byte-for-byte round trips
// ---------------------------------------------------------------------------------------

/// Every frame of the long session (all operations, two reconnects) re-encodes to Java's
/// bytes (including the 4-byte body of the addWatch reply).
#[test]
fn main_fixture_round_trips_byte_for_byte() {
    assert_round_trips("main.txt", MAIN);
}

/// Abandoned session, wrong-password reconnect, reattach.
#[test]
fn reattach_fixture_round_trips_byte_for_byte() {
    assert_round_trips("reattach.txt", REATTACH);
}

/// Null data (jute length -1) in create/setData requests and in getData replies survives
/// decoding and re-encoding.
#[test]
fn nulls_fixture_round_trips_byte_for_byte() {
    assert_round_trips("nulls.txt", NULLS);
}

// ---------------------------------------------------------------------------------------
// Known divergences from Java's bytes, one test each
// ---------------------------------------------------------------------------------------

/// REGRESSION (fixed): Apache ZooKeeper answers `addWatch` (opcode 106) with a 4-byte body,
/// an `ErrorResponse` holding 0 (`00000000`), after the ReplyHeader. zkrs-proto decodes the
/// reply as `Response::Empty` and writes nothing.
#[test]
fn regression_add_watch_reply_has_an_error_response_body() {
    let d = main_fixture();
    let frames = parse_fixture(MAIN);
    for label in ["addwatch_persistent", "addwatch_persistent_recursive"] {
        let ex = d
            .labelled(label)
            .into_iter()
            .find(|e| e.request.op() == OpCode::AddWatch)
            .expect("addWatch request");
        let reply = frames
            .iter()
            .find(|f| {
                f.dir == Dir::S2c
                    && f.conn == ex.conn
                    && f.body().len() >= 16
                    && f.body()[..4] == ex.header.xid.to_be_bytes()
            })
            .expect("addWatch reply");
        assert_eq!(
            &reply.body()[16..],
            &[0, 0, 0, 0],
            "recorded addWatch reply body"
        );
        let resp = Response::decode(OpCode::AddWatch, &reply.body()[16..]).unwrap();
        let mut w = Writer::new();
        resp.write(&mut w);
        assert_eq!(
            hex(&w.into_inner()),
            "00000000",
            "zkrs-proto must re-encode the addWatch reply body as Java's ErrorResponse(0)"
        );
    }
}

/// REGRESSION (fixed): the Java client sends `create(path, null, ...)` and
/// `setData(path, null, v)` with a data length of -1 (`ffffffff`), and the server answers
/// getData on such a node (also inside multiRead) with -1 too. zkrs-proto reads null as
/// empty and re-encodes length 0 (`00000000`).
#[test]
fn regression_null_buffers_are_not_preserved() {
    let frames = parse_fixture(NULLS);
    let create = frames
        .iter()
        .find(|f| f.label == "create_null_data" && f.dir == Dir::C2s)
        .unwrap();
    // header (8) + path "/nulls" (4 + 6): the data length follows.
    assert_eq!(hex(&create.body()[18..22]), "ffffffff");
    let req = Request::decode(OpCode::Create.code(), &create.body()[8..]).unwrap();
    let mut w = Writer::new();
    req.write_body(&mut w);
    assert_eq!(
        hex(&w.into_inner()[10..14]),
        "ffffffff",
        "create with null data must re-encode its data as length -1"
    );

    let get = frames
        .iter()
        .find(|f| f.label == "getdata_null_data" && f.dir == Dir::S2c)
        .unwrap();
    assert_eq!(hex(&get.body()[16..20]), "ffffffff");
    let resp = Response::decode(OpCode::GetData, &get.body()[16..]).unwrap();
    let mut w = Writer::new();
    resp.write(&mut w);
    assert_eq!(
        hex(&w.into_inner()[..4]),
        "ffffffff",
        "getData of a node with null data must re-encode the data as length -1"
    );
}

// ---------------------------------------------------------------------------------------
// What the frames say
// ---------------------------------------------------------------------------------------

#[test]
fn connect_request_and_response() {
    let d = main_fixture();
    let c = d.connection(1);
    assert_eq!(c.label, "connect");
    assert_eq!(
        c.request,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 6000,
            session_id: 0,
            // A new session still sends a 16-byte all-zero password, not an empty one.
            passwd: vec![0; 16],
            read_only: Some(false),
        }
    );
    let resp = c.response.as_ref().unwrap();
    assert_eq!(resp.protocol_version, 0);
    assert_eq!(resp.timeout, 6000);
    assert_ne!(resp.session_id, 0);
    assert_eq!(resp.passwd.len(), 16);
    // The 3.8 server always appends the readOnly byte.
    assert_eq!(resp.read_only, Some(false));
}

#[test]
fn creates_in_every_mode() {
    let d = main_fixture();
    let session = d.connection(1).response.as_ref().unwrap().session_id;
    use OpCode::{Create, Create2, CreateContainer, CreateTtl};
    // (label, opcode, path, data, flags, ttl)
    let cases = [
        ("create_persistent", Create, "/fx", "root", 0, -1),
        ("create_ephemeral", Create, "/fx/eph", "e", 1, -1),
        (
            "create_persistent_sequential",
            Create,
            "/fx/pseq-",
            "ps",
            2,
            -1,
        ),
        (
            "create_ephemeral_sequential",
            Create,
            "/fx/eseq-",
            "es",
            3,
            -1,
        ),
        (
            "create_container",
            CreateContainer,
            "/fx/container",
            "c",
            4,
            -1,
        ),
        ("create2_persistent", Create2, "/fx/data", "v0", 0, -1),
        (
            "create2_ephemeral_sequential",
            Create2,
            "/fx/e2seq-",
            "e2",
            3,
            -1,
        ),
        (
            "create2_container",
            CreateContainer,
            "/fx/container2",
            "c2",
            4,
            -1,
        ),
        ("create_ttl", CreateTtl, "/fx/ttl", "t", 5, 60000),
        (
            "create_ttl_sequential",
            CreateTtl,
            "/fx/ttlseq-",
            "ts",
            6,
            60000,
        ),
    ];
    for (label, op, path, data, flags, ttl) in cases {
        let ex = d.one(label);
        assert_eq!(ex.header.op, op.code(), "{label}");
        assert_eq!(
            ex.request,
            create_req(op, path, data, flags, ttl),
            "{label}"
        );
        let sequential = flags == 2 || flags == 3 || flags == 6;
        let check_path = |p: &str| {
            if sequential {
                assert!(is_sequential_of(p, path), "{label}: {p}");
            } else {
                assert_eq!(p, path, "{label}");
            }
        };
        match (op, ex.response()) {
            // create: path only.
            (Create, Response::Create(p)) => check_path(p),
            // create2, createContainer (even through the 4-argument create), createTTL:
            // path and Stat.
            (_, Response::Create2(p, stat)) => {
                check_path(p);
                assert_eq!(stat.czxid, ex.zxid(), "{label}");
                assert_eq!(stat.mzxid, ex.zxid(), "{label}");
                assert_eq!(stat.pzxid, ex.zxid(), "{label}");
                assert_eq!(stat.version, 0, "{label}");
                assert_eq!(stat.data_length, data.len() as i32, "{label}");
                // Ephemeral nodes show their session; TTL and container nodes show 0.
                let owner = if flags == 1 || flags == 3 { session } else { 0 };
                assert_eq!(stat.ephemeral_owner, owner, "{label}");
            }
            (_, other) => panic!("{label}: unexpected reply {other:?}"),
        }
    }
}

#[test]
fn exists_and_stat_of_special_nodes() {
    let d = main_fixture();
    let session = d.connection(1).response.as_ref().unwrap().session_id;

    let ex = d.one("exists_present_watch");
    assert_eq!(
        ex.request,
        Request::Exists(PathWatch {
            path: "/fx".into(),
            watch: true
        })
    );
    assert!(matches!(ex.response(), Response::Stat(s) if s.num_children == 9));

    let ex = d.one("exists_absent_watch");
    assert_eq!(
        ex.request,
        Request::Exists(PathWatch {
            path: "/fx/absent".into(),
            watch: true
        })
    );
    assert_eq!(ex.err(), -101);

    let owner = |label: &str| match d.one(label).response() {
        Response::Stat(s) => s.ephemeral_owner,
        other => panic!("{label}: {other:?}"),
    };
    // The TTL and container markers never reach clients: their ephemeralOwner reads 0.
    assert_eq!(owner("exists_ttl"), 0);
    assert_eq!(owner("exists_container"), 0);
    assert_eq!(owner("exists_ephemeral"), session);
    // The container has one child.
    assert!(
        matches!(d.one("exists_container").response(), Response::Stat(s) if s.num_children == 1)
    );
}

#[test]
fn get_data_watch_fires_on_set_data() {
    let d = main_fixture();
    let ex = d.one("getdata_watch");
    assert_eq!(
        ex.request,
        Request::GetData(PathWatch {
            path: "/fx/data".into(),
            watch: true
        })
    );
    assert!(
        matches!(ex.response(), Response::GetData(data, s) if data.as_deref() == Some(&b"v0"[..]) && s.version == 0)
    );

    let set = d.one("setdata_fires_watch");
    assert_eq!(
        set.request,
        Request::SetData(SetDataRequest {
            path: "/fx/data".into(),
            data: Some(b"v1".to_vec()),
            version: 0
        })
    );
    assert!(matches!(set.response(), Response::Stat(s) if s.version == 1 && s.mzxid == set.zxid()));

    let n = d.notifications("setdata_fires_watch");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].event, event(EventType::NodeDataChanged, "/fx/data"));
    // Notifications: xid -1, zxid -1, err 0.
    assert_eq!(
        n[0].header,
        ReplyHeader {
            xid: -1,
            zxid: -1,
            err: 0
        }
    );
    // The server sends the notification before the reply to the write that fired it.
    let incoming = &d.incoming[&1];
    let note_at = incoming
        .iter()
        .position(|i| matches!(i, Incoming::Notification(k) if d.notifications[*k].label == "setdata_fires_watch"))
        .unwrap();
    let reply_at = incoming
        .iter()
        .position(
            |i| matches!(i, Incoming::Reply(k) if d.exchanges[*k].label == "setdata_fires_watch"),
        )
        .unwrap();
    assert!(note_at < reply_at);

    let any = d.one("setdata_any_version");
    assert!(matches!(&any.request, Request::SetData(s) if s.version == -1));
    assert!(matches!(any.response(), Response::Stat(s) if s.version == 2));
    assert!(
        matches!(d.one("getdata").response(), Response::GetData(v, s) if v.as_deref() == Some(&b"v2"[..]) && s.version == 2)
    );
}

#[test]
fn acls_and_auth() {
    let d = main_fixture();
    assert_eq!(d.one("getacl").request, Request::GetAcl("/fx".into()));
    assert!(matches!(d.one("getacl").response(), Response::GetAcl(a, _) if *a == open_acl()));

    let digest_acl = vec![
        Acl::new(31, "digest", USER_PASS_DIGEST),
        Acl::new(1 | 16, "ip", "127.0.0.1"),
    ];
    let set = d.one("setacl_digest");
    assert_eq!(
        set.request,
        Request::SetAcl(SetAclRequest {
            path: "/fx/acl".into(),
            acl: digest_acl.clone(),
            version: 0
        })
    );
    assert!(matches!(set.response(), Response::Stat(s) if s.aversion == 1));
    assert!(
        matches!(d.one("getacl_digest").response(), Response::GetAcl(a, s) if *a == digest_acl && s.aversion == 1)
    );

    assert_eq!(d.one("err_noauth").err(), -102);

    // addAuthInfo: xid -4, opcode 100, type 0; the reply has xid -4, zxid 0, no body.
    let auth: Vec<_> = d
        .labelled("addauth_digest")
        .into_iter()
        .filter(|e| e.header.op == OpCode::Auth.code())
        .collect();
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].header.xid, -4);
    assert_eq!(
        auth[0].request,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"user:pass".to_vec()
        })
    );
    assert_eq!(
        auth[0].reply_header,
        Some(ReplyHeader {
            xid: -4,
            zxid: 0,
            err: 0
        })
    );
    assert_eq!(auth[0].reply, Some(Reply::Ok(Response::Empty)));
    assert_eq!(d.one("setdata_after_auth").err(), 0);

    // whoAmI lists the ip identity and the digest user, not its hash.
    assert_eq!(d.one("whoami").request, Request::WhoAmI);
    assert_eq!(
        d.one("whoami").response(),
        &Response::WhoAmI(vec![
            ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into()
            },
            ClientInfo {
                auth_scheme: "digest".into(),
                user: "user".into()
            },
        ])
    );
}

#[test]
fn children_sync_ephemerals() {
    let d = main_fixture();
    let children = match d.one("getchildren").response() {
        Response::GetChildren(c) => c.clone(),
        other => panic!("{other:?}"),
    };
    let mut sorted = children.clone();
    sorted.sort();
    let fixed: Vec<&str> = sorted
        .iter()
        .map(String::as_str)
        .filter(|c| !c.contains("seq-"))
        .collect();
    assert_eq!(
        fixed,
        ["acl", "container", "container2", "data", "eph", "ttl"]
    );
    assert_eq!(sorted.len(), 10);
    assert_eq!(
        d.one("getchildren2").request,
        Request::GetChildren(
            OpCode::GetChildren2,
            PathWatch {
                path: "/fx".into(),
                watch: false
            }
        )
    );
    match d.one("getchildren2").response() {
        Response::GetChildren2(c, s) => {
            assert_eq!(*c, children);
            assert_eq!(s.num_children, 10);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d.one("getchildren_empty").response(),
        &Response::GetChildren(vec![])
    );

    assert_eq!(d.one("sync").request, Request::Sync("/fx".into()));
    assert_eq!(d.one("sync").response(), &Response::Sync("/fx".into()));

    let eph = |label: &str| match d.one(label).response() {
        Response::GetEphemerals(v) => {
            let mut v = v.clone();
            v.sort();
            v
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        d.one("getephemerals_path").request,
        Request::GetEphemerals("/fx".into())
    );
    // getEphemerals() without a path sends "/".
    assert_eq!(
        d.one("getephemerals_all").request,
        Request::GetEphemerals("/".into())
    );
    let all = eph("getephemerals_all");
    assert_eq!(all, eph("getephemerals_path"));
    assert_eq!(all.len(), 4);
    assert!(all.contains(&"/fx/eph".to_string()) && all.contains(&"/fx/meph".to_string()));
    assert!(all.iter().any(|p| is_sequential_of(p, "/fx/eseq-")));
    assert!(all.iter().any(|p| is_sequential_of(p, "/fx/e2seq-")));

    assert_eq!(
        d.one("getallchildrennumber").request,
        Request::GetAllChildrenNumber("/fx".into())
    );
    assert_eq!(
        d.one("getallchildrennumber").response(),
        &Response::GetAllChildrenNumber(15)
    );
}

#[test]
fn multi_that_succeeds() {
    let d = main_fixture();
    let ex = d.one("multi_ok");
    assert_eq!(
        ex.request,
        Request::Multi(
            OpCode::Multi,
            vec![
                create_req(OpCode::Create, "/fx/m1", "m", 0, -1),
                Request::SetData(SetDataRequest {
                    path: "/fx/m1".into(),
                    data: Some(b"m2".to_vec()),
                    version: 0
                }),
                Request::Check(PathVersion {
                    path: "/fx/m1".into(),
                    version: 1
                }),
                Request::Delete(PathVersion {
                    path: "/fx/m1".into(),
                    version: 1
                }),
            ]
        )
    );
    assert_eq!(ex.reply_header.unwrap().err, 0);
    match ex.response() {
        Response::Multi(r) => {
            assert_eq!(r.len(), 4);
            assert_eq!(r[0], MultiResult::Create("/fx/m1".into()));
            assert!(
                matches!(&r[1], MultiResult::SetData(s) if s.version == 1 && s.mzxid == ex.zxid())
            );
            assert_eq!(r[2], MultiResult::Check);
            assert_eq!(r[3], MultiResult::Delete);
        }
        other => panic!("{other:?}"),
    }

    // Op.create picks the opcode from the mode; container and TTL results come back as
    // create2 (opcode 15, path and Stat), the others as create (path only).
    let ex = d.one("multi_ok_create_modes");
    match &ex.request {
        Request::Multi(OpCode::Multi, ops) => {
            let ops: Vec<_> = ops
                .iter()
                .map(|o| match o {
                    Request::Create(op, c) => (*op, c.path.as_str(), c.flags, c.ttl),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                ops,
                [
                    (OpCode::Create, "/fx/mseq-", 2, -1),
                    (OpCode::CreateContainer, "/fx/mcontainer", 4, -1),
                    (OpCode::CreateTtl, "/fx/mttl", 5, 60000),
                    (OpCode::Create, "/fx/meph", 1, -1),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match ex.response() {
        Response::Multi(r) => {
            assert_eq!(r.len(), 4);
            assert!(matches!(&r[0], MultiResult::Create(p) if is_sequential_of(p, "/fx/mseq-")));
            assert!(
                matches!(&r[1], MultiResult::Create2(p, s) if p == "/fx/mcontainer" && s.czxid == ex.zxid())
            );
            assert!(
                matches!(&r[2], MultiResult::Create2(p, s) if p == "/fx/mttl" && s.ephemeral_owner == 0)
            );
            assert_eq!(r[3], MultiResult::Create("/fx/meph".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn multi_that_fails() {
    let d = main_fixture();
    let before = d.one("multi_ok_create_modes").zxid();

    // The second of four operations fails with NoNode. The ReplyHeader still says err 0;
    // the results are Error(0) for the operation before the failure, the error itself, and
    // RuntimeInconsistency (-2) for every operation after it. The failed multi consumes a
    // zxid.
    let ex = d.one("multi_fail");
    let rh = ex.reply_header.unwrap();
    assert_eq!(rh.err, 0);
    assert_eq!(rh.zxid, before + 1);
    assert_eq!(
        ex.response(),
        &Response::Multi(vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2),
            MultiResult::Error(-2),
        ])
    );

    let ex = d.one("multi_fail_badversion");
    assert_eq!(ex.reply_header.unwrap().err, 0);
    assert_eq!(ex.reply_header.unwrap().zxid, before + 2);
    assert_eq!(
        ex.response(),
        &Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-103)])
    );
}

#[test]
fn multi_read() {
    let d = main_fixture();
    // zk.multi with only read operations travels as multiRead (22).
    let ex = d.one("multiread");
    assert_eq!(ex.header.op, OpCode::MultiRead.code());
    assert_eq!(
        ex.request,
        Request::Multi(
            OpCode::MultiRead,
            vec![
                Request::GetData(PathWatch {
                    path: "/fx/data".into(),
                    watch: false
                }),
                Request::GetChildren(
                    OpCode::GetChildren,
                    PathWatch {
                        path: "/fx/container".into(),
                        watch: false
                    }
                ),
            ]
        )
    );
    match ex.response() {
        Response::Multi(r) => {
            assert!(
                matches!(&r[0], MultiResult::GetData(v, s) if v.as_deref() == Some(&b"v2"[..]) && s.version == 2)
            );
            assert_eq!(r[1], MultiResult::GetChildren(vec!["child".into()]));
        }
        other => panic!("{other:?}"),
    }

    // A read that fails does not stop the others; header err is 0.
    let ex = d.one("multiread_partial_error");
    assert_eq!(ex.reply_header.unwrap().err, 0);
    match ex.response() {
        Response::Multi(r) => {
            assert_eq!(r.len(), 3);
            assert_eq!(r[0], MultiResult::Error(-101));
            assert!(
                matches!(&r[1], MultiResult::GetData(v, _) if v.as_deref() == Some(&b"v2"[..]))
            );
            assert_eq!(r[2], MultiResult::Error(-101));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_replies() {
    let d = main_fixture();
    for (label, err) in [
        ("err_nodeexists", -110),
        ("err_nonode_delete", -101),
        ("err_nonode_getdata", -101),
        ("err_badversion", -103),
        ("err_notempty", -111),
        ("err_nochildrenforephemerals", -108),
        ("err_noauth", -102),
        ("err_nowatcher", -121),
        ("err_reconfig_disabled", -123),
        ("exists_absent_watch", -101),
    ] {
        assert_eq!(d.one(label).err(), err, "{label}");
    }
    assert_eq!(
        d.one("err_reconfig_disabled").request,
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("2".into()),
            new_members: None,
            cur_config_id: -1,
        })
    );
}

#[test]
fn reconnect_resends_auth_and_watches() {
    let d = main_fixture();
    let first = d.connection(1);
    let session = first.response.as_ref().unwrap();
    let last_zxid_of = |conn: u32| {
        d.exchanges
            .iter()
            .filter(|e| e.conn == conn)
            .map(Exchange::zxid)
            .max()
            .unwrap()
    };

    for (conn, label, op) in [
        (2, "reconnect_setwatches", OpCode::SetWatches),
        (3, "reconnect_setwatches2", OpCode::SetWatches2),
    ] {
        let c = d.connection(conn);
        assert_eq!(c.label, label);
        // The reconnect names the session, its password and the last zxid seen.
        assert_eq!(
            c.request,
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: last_zxid_of(conn - 1),
                timeout: 6000,
                session_id: session.session_id,
                passwd: session.passwd.clone(),
                read_only: Some(false),
            }
        );
        assert_eq!(c.response.as_ref(), Some(session));

        // First the auth packet again (xid -4), then the watches.
        let ex = d.labelled(label);
        assert_eq!(ex[0].header.xid, -4);
        assert!(matches!(ex[0].request, Request::Auth(_)));
        let sw = ex[1];
        assert_eq!(sw.header.op, op.code());
        // setWatches gets an ordinary xid from the client's counter, not -8.
        assert!(sw.header.xid > 0);
        assert_eq!(sw.reply_header.unwrap().err, 0);
        assert_eq!(sw.reply, Some(Reply::Ok(Response::Empty)));
        let Request::SetWatches(_, w) = &sw.request else {
            panic!("{:?}", sw.request)
        };
        assert_eq!(w.relative_zxid, c.request.last_zxid_seen);
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let expected = if op == OpCode::SetWatches {
            SetWatchesRequest {
                relative_zxid: w.relative_zxid,
                data_watches: vec!["/fx".into(), "/fx/w".into()],
                exist_watches: vec!["/fx/absent".into(), "/fx/wabsent".into()],
                child_watches: vec!["/fx/w".into()],
                persistent_watches: vec![],
                persistent_recursive_watches: vec![],
            }
        } else {
            SetWatchesRequest {
                relative_zxid: w.relative_zxid,
                data_watches: vec!["/fx".into(), "/fx/w".into()],
                exist_watches: vec!["/fx/absent".into()],
                child_watches: vec![],
                persistent_watches: vec!["/fx/pw".into()],
                persistent_recursive_watches: vec!["/fx/rw".into()],
            }
        };
        let got = SetWatchesRequest {
            relative_zxid: w.relative_zxid,
            data_watches: sorted(&w.data_watches),
            exist_watches: sorted(&w.exist_watches),
            child_watches: sorted(&w.child_watches),
            persistent_watches: sorted(&w.persistent_watches),
            persistent_recursive_watches: sorted(&w.persistent_recursive_watches),
        };
        assert_eq!(got, expected, "{label}");
    }

    // The re-registered watches fire on the new connection.
    for label in [
        "watch_fire_after_reconnect",
        "child_watch_fire_after_reconnect",
    ] {
        assert!(
            d.notifications(label).iter().all(|n| n.conn == 2),
            "{label}"
        );
    }
    let n = |label: &str| -> Vec<WatcherEvent> {
        d.notifications(label)
            .into_iter()
            .map(|n| n.event.clone())
            .collect()
    };
    assert_eq!(
        n("watch_fire_after_reconnect"),
        [event(EventType::NodeCreated, "/fx/wabsent")]
    );
    assert_eq!(
        n("child_watch_fire_after_reconnect"),
        [event(EventType::NodeChildrenChanged, "/fx/w")]
    );
    assert_eq!(
        n("exists_watch_fire_deleted"),
        [event(EventType::NodeDeleted, "/fx/del")]
    );
    assert!(d.notifications.iter().all(|n| n.header
        == ReplyHeader {
            xid: -1,
            zxid: -1,
            err: 0
        }));
}

#[test]
fn persistent_watches() {
    let d = main_fixture();
    let add = |label: &str| {
        d.labelled(label)
            .into_iter()
            .find(|e| e.header.op == OpCode::AddWatch.code())
            .unwrap()
            .clone()
    };
    let p = add("addwatch_persistent");
    assert_eq!(
        p.request,
        Request::AddWatch(AddWatchRequest {
            path: "/fx/pw".into(),
            mode: 0
        })
    );
    assert_eq!(p.err(), 0);
    let r = add("addwatch_persistent_recursive");
    assert_eq!(
        r.request,
        Request::AddWatch(AddWatchRequest {
            path: "/fx/rw".into(),
            mode: 1
        })
    );
    assert_eq!(r.err(), 0);

    let events = |label: &str| -> Vec<WatcherEvent> {
        d.notifications(label)
            .into_iter()
            .map(|n| n.event.clone())
            .collect()
    };
    assert_eq!(
        events("persistent_fire"),
        [event(EventType::NodeDataChanged, "/fx/pw")]
    );
    assert_eq!(
        events("persistent_recursive_fire"),
        [event(EventType::NodeCreated, "/fx/rw/child")]
    );
}

#[test]
fn remove_watches() {
    let d = main_fixture();
    // removeWatches(path, watcher, type, local) travels as checkWatches (17);
    // removeAllWatches as removeWatches (18). Type: 1 children, 2 data, 3 any.
    let cases = [
        ("removewatches_data", OpCode::CheckWatches, "/fx/w", 2),
        (
            "removeallwatches_children",
            OpCode::RemoveWatches,
            "/fx/w",
            1,
        ),
        (
            "removeallwatches_persistent",
            OpCode::RemoveWatches,
            "/fx/pw",
            3,
        ),
        ("err_nowatcher", OpCode::RemoveWatches, "/fx/data", 3),
    ];
    for (label, op, path, watcher_type) in cases {
        let ex = d.one(label);
        assert_eq!(ex.header.op, op.code(), "{label}");
        let pt = PathType {
            path: path.into(),
            watcher_type,
        };
        let expected = if op == OpCode::CheckWatches {
            Request::CheckWatches(pt)
        } else {
            Request::RemoveWatches(pt)
        };
        assert_eq!(ex.request, expected, "{label}");
    }
    assert_eq!(
        d.one("removewatches_data").reply,
        Some(Reply::Ok(Response::Empty))
    );
    // The removal events the Java client reports (DataWatchRemoved and so on) are local:
    // the server sent no notification for them.
    assert!(d
        .notifications
        .iter()
        .all(|n| n.event.event_type <= EventType::NodeChildrenChanged.code()));
}

#[test]
fn get_config_is_get_data_on_zookeeper_config() {
    let d = main_fixture();
    let ex = d.one("getconfig");
    assert_eq!(ex.header.op, OpCode::GetData.code());
    assert_eq!(
        ex.request,
        Request::GetData(PathWatch {
            path: "/zookeeper/config".into(),
            watch: false
        })
    );
    // Standalone: empty config, and a Stat that is all zeros but for aversion -1.
    assert_eq!(
        ex.response(),
        &Response::GetData(
            Some(vec![]),
            Stat {
                aversion: -1,
                ..Stat::default()
            }
        )
    );
}

#[test]
fn deletes_ping_and_close() {
    let d = main_fixture();
    assert_eq!(
        d.one("delete").request,
        Request::Delete(PathVersion {
            path: "/fx/pw".into(),
            version: -1
        })
    );
    assert_eq!(d.one("delete").reply, Some(Reply::Ok(Response::Empty)));
    assert_eq!(
        d.one("delete_version").request,
        Request::Delete(PathVersion {
            path: "/fx/data".into(),
            version: 2
        })
    );

    let last_write = d.one("delete_version").zxid();
    let pings: Vec<_> = d
        .exchanges
        .iter()
        .filter(|e| e.request == Request::Ping)
        .collect();
    assert!(!pings.is_empty());
    for p in pings {
        assert_eq!(p.header, RequestHeader { xid: -2, op: 11 });
        let rh = p.reply_header.unwrap();
        assert_eq!((rh.xid, rh.err), (-2, 0));
        assert_eq!(p.reply, Some(Reply::Ok(Response::Empty)));
        if p.label == "ping" {
            // A ping reply carries the server's last zxid.
            assert_eq!(rh.zxid, last_write);
        }
    }

    let close = d.one("close");
    assert_eq!(close.request, Request::CloseSession);
    assert_eq!(close.header.op, -11);
    assert_eq!(close.reply, Some(Reply::Ok(Response::Empty)));
    // closeSession is a transaction.
    assert_eq!(close.zxid(), last_write + 1);
}

/// Writes (failed ones included) get a new zxid each; reads, pings, setWatches and
/// watch removal report the last one; auth replies carry 0 and notifications -1.
#[test]
fn zxids_of_reads_writes_and_notifications() {
    let d = main_fixture();
    // The fixture was recorded on a fresh server: zxid 1 was the creation of this session.
    let mut last = 1i64;
    for e in &d.exchanges {
        let rh = e.reply_header.unwrap();
        let write = e.request.is_write()
            || matches!(&e.request, Request::Multi(OpCode::Multi, _))
            || matches!(e.request, Request::Reconfig(_));
        if matches!(e.request, Request::Auth(_)) {
            assert_eq!(rh.zxid, 0, "{}", e.label);
        } else if write {
            assert_eq!(rh.zxid, last + 1, "{} (err {})", e.label, rh.err);
            last = rh.zxid;
        } else {
            assert_eq!(rh.zxid, last, "{}", e.label);
        }
    }
    assert!(d.notifications.iter().all(|n| n.header.zxid == -1));
    // A failed write outside multi still consumed a zxid.
    let before = d.one("getallchildrennumber").zxid();
    assert_eq!(d.one("err_nodeexists").zxid(), before + 1);
    // A failed read did not.
    assert_eq!(
        d.one("err_nonode_getdata").zxid(),
        d.one("err_nonode_delete").zxid()
    );
}

#[test]
fn wrong_password_and_reattach() {
    let d = decode_fixture("reattach.txt", REATTACH);
    let owner = d.connection(1);
    let session = owner.response.as_ref().unwrap();
    assert_eq!(owner.request.timeout, 20000);
    assert_eq!(session.timeout, 20000);
    assert_eq!(session.passwd.len(), 16);

    // Wrong password: the reply is a ConnectResponse with timeout 0, session 0 and a
    // 16-byte all-zero password (readOnly byte included); the server then closes.
    let bad = d.connection(2);
    assert_eq!(bad.label, "connect_wrong_password");
    assert_eq!(bad.request.session_id, session.session_id);
    assert_eq!(bad.request.passwd.len(), 16);
    assert_ne!(bad.request.passwd, session.passwd);
    assert_eq!(bad.request.last_zxid_seen, 0);
    assert_eq!(
        bad.response,
        Some(ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        })
    );
    assert!(d.exchanges.iter().all(|e| e.conn != 2));

    // The right password: the same session back, and its ephemeral node still there.
    let good = d.connection(3);
    assert_eq!(good.request.session_id, session.session_id);
    assert_eq!(good.request.passwd, session.passwd);
    assert_eq!(good.response.as_ref(), Some(session));
    let ex = d.one("getdata_own_ephemeral");
    assert!(
        matches!(ex.response(), Response::GetData(v, s) if v.as_deref() == Some(&b"a"[..]) && s.ephemeral_owner == session.session_id)
    );
    assert_eq!(d.one("close").request, Request::CloseSession);
    // A new client object starts its xids at 1 again.
    assert_eq!(ex.header.xid, 1);
}

/// Null data decodes (as empty data), whatever the byte-level divergence.
#[test]
fn null_data_decodes() {
    let d = decode_fixture("nulls.txt", NULLS);
    assert!(
        matches!(&d.one("create_null_data").request, Request::Create(OpCode::Create, c) if c.data.is_none())
    );
    assert!(matches!(&d.one("setdata_null_data").request, Request::SetData(s) if s.data.is_none()));
    for label in ["getdata_null_data", "getdata_null_data_again"] {
        assert!(
            matches!(d.one(label).response(), Response::GetData(v, s) if v.is_none() && s.data_length == 0),
            "{label}"
        );
    }
    assert!(
        matches!(d.one("multiread_null_data").response(), Response::Multi(r) if matches!(&r[0], MultiResult::GetData(v, _) if v.is_none()))
    );
}
