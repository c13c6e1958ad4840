//! Deterministic tests of the core: the test plays the log writer, so it decides exactly
//! when each proposal becomes durable.

use super::testkit::{create_request as create, get_request as get, new_session_request, Harness};
use super::*;
use zkrs_proto::request::PathWatch;
use zkrs_proto::{ConnectResponse, OpCode, Record, Response};

/// A client whose session is established.
fn connect(h: &mut Harness, id: ConnId) -> ConnId {
    h.open(id, new_session_request(1000));
    h.sync_log();
    let frame = h.next(id).expect("connect response");
    let resp = ConnectResponse::decode_exact(&frame[4..]).unwrap();
    assert_eq!(resp.timeout, 4000, "timeout raised to the minimum");
    id
}

#[test]
fn a_read_waits_for_the_sessions_earlier_write() {
    let mut h = Harness::new();
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/a", b"v"));
    h.request(c, 2, get("/a", false));
    assert!(
        h.next(c).is_none(),
        "nothing may be answered before the write is durable"
    );
    h.sync_log();
    let (h1, _) = h.next_reply(c).unwrap();
    assert_eq!((h1.xid, h1.err), (1, 0));
    let (h2, body) = h.next_reply(c).unwrap();
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
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/a", b""));
    // Prepared against the pending create: NodeExists, but answered only after xid 1.
    h.request(c, 2, create("/a", b""));
    assert!(h.next(c).is_none());
    h.sync_log();
    assert_eq!(h.next_reply(c).unwrap().0.xid, 1);
    let (h2, _) = h.next_reply(c).unwrap();
    assert_eq!((h2.xid, h2.err), (2, ErrorCode::NodeExists.code()));
}

#[test]
fn other_sessions_reads_are_not_held_up() {
    let mut h = Harness::new();
    let a = connect(&mut h, 1);
    let b = connect(&mut h, 2);
    h.request(a, 1, create("/x", b""));
    h.request(b, 1, get("/x", true));
    // b's read runs at once against the applied tree, where /x does not exist yet.
    let (hb, _) = h.next_reply(b).unwrap();
    assert_eq!(hb.err, ErrorCode::NoNode.code());
    assert!(h.next(a).is_none());
    h.sync_log();
    assert_eq!(h.next_reply(a).unwrap().0.err, 0);
}

#[test]
fn a_watch_fires_before_the_write_is_answered() {
    let mut h = Harness::new();
    let a = connect(&mut h, 1);
    let b = connect(&mut h, 2);
    h.request(a, 1, create("/w", b"1"));
    h.sync_log();
    h.next_reply(a).unwrap();
    h.request(b, 1, get("/w", true));
    h.next_reply(b).unwrap();
    h.request(
        b,
        2,
        Request::SetData(zkrs_proto::request::SetDataRequest {
            path: "/w".into(),
            data: Some(b"2".to_vec()),
            version: -1,
        }),
    );
    h.sync_log();
    let (n, body) = h.next_reply(b).unwrap();
    assert_eq!(n.xid, -1, "notification first");
    let ev = zkrs_proto::WatcherEvent::decode_exact(&body).unwrap();
    assert_eq!(ev.event_type, zkrs_proto::EventType::NodeDataChanged.code());
    assert_eq!(ev.path, "/w");
    assert_eq!(h.next_reply(b).unwrap().0.xid, 2);
}

#[test]
fn close_session_removes_ephemerals_and_closes_the_connection() {
    let mut h = Harness::new();
    let a = connect(&mut h, 1);
    let b = connect(&mut h, 2);
    let mut eph = match create("/e", b"") {
        Request::Create(op, c) => (op, c),
        _ => unreachable!(),
    };
    eph.1.flags = 1;
    h.request(a, 1, Request::Create(eph.0, eph.1));
    h.sync_log();
    h.next_reply(a).unwrap();
    h.request(
        b,
        1,
        Request::Exists(PathWatch {
            path: "/e".into(),
            watch: true,
        }),
    );
    h.next_reply(b).unwrap();
    h.request(a, 2, Request::CloseSession);
    h.sync_log();
    assert_eq!(h.next_reply(a).unwrap().0.xid, 2);
    assert_eq!(h.pop(a), Some(Outgoing::Close));
    let (n, body) = h.next_reply(b).unwrap();
    assert_eq!(n.xid, -1);
    let ev = zkrs_proto::WatcherEvent::decode_exact(&body).unwrap();
    assert_eq!(ev.event_type, zkrs_proto::EventType::NodeDeleted.code());
    assert!(h.core.tree.get("/e").is_none());
}

#[test]
fn wrong_password_gets_an_expired_answer() {
    let mut h = Harness::new();
    let a = connect(&mut h, 1);
    let sid = h.core.conns[&a].session.unwrap();
    let mut req = new_session_request(4000);
    req.session_id = sid;
    req.passwd = vec![7; 16];
    h.open(9, req);
    let Some(Outgoing::Frame(f)) = h.pop(9) else {
        panic!("expected a connect response")
    };
    let resp = ConnectResponse::decode_exact(&f[4..]).unwrap();
    assert_eq!((resp.timeout, resp.session_id), (0, 0));
    assert_eq!(h.pop(9), Some(Outgoing::Close));
}

#[test]
fn requests_pipelined_behind_the_handshake_wait_for_the_session() {
    let mut h = Harness::new();
    let c = 1;
    h.open(c, new_session_request(4000));
    h.request(c, 1, create("/p", b"x"));
    h.request(c, 2, get("/p", false));
    assert!(h.next(c).is_none(), "nothing before the session is durable");
    h.sync_log();
    let connect = h.next(c).expect("connect response first");
    let resp = ConnectResponse::decode_exact(&connect[4..]).unwrap();
    assert_ne!(resp.session_id, 0);
    assert_eq!(h.next_reply(c).unwrap().0.xid, 1);
    let (g, _) = h.next_reply(c).unwrap();
    assert_eq!((g.xid, g.err), (2, 0));
}

#[test]
fn a_failed_log_refuses_writes_but_keeps_serving_reads() {
    let mut h = Harness::new();
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/kept", b"1"));
    h.sync_log();
    h.next_reply(c).unwrap();
    h.request(c, 2, create("/lost", b"2"));
    let entry = h.unsynced.pop_front().expect("proposed");
    h.input(Input::LogFailed {
        first_zxid: Zxid::from_raw(entry.hdr.zxid),
        error: "No space left on device".into(),
    });
    let (r, _) = h.next_reply(c).unwrap();
    assert_eq!((r.xid, r.err), (2, ErrorCode::SystemError.code()));
    assert!(h.core.tree.get("/lost").is_none(), "never applied");
    h.request(c, 3, create("/later", b"3"));
    assert_eq!(
        h.next_reply(c).unwrap().0.err,
        ErrorCode::SystemError.code()
    );
    assert!(h.unsynced.is_empty(), "nothing more is proposed");
    h.request(c, 4, get("/kept", false));
    let (r, _) = h.next_reply(c).unwrap();
    assert_eq!((r.xid, r.err), (4, 0));
}

#[test]
fn a_read_only_member_serves_reads_to_read_only_clients_and_refuses_writes() {
    let mut h = Harness::new();
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/a", b"v"));
    h.sync_log();
    h.next_reply(c).unwrap();
    let tree = std::mem::take(&mut h.core.tree);
    h.core = Core::new(super::testkit::settings(), tree, h.now).into_read_only();

    // A client that does not accept a read-only session is turned away.
    let mut rw = new_session_request(1000);
    rw.read_only = Some(false);
    h.open(2, rw);
    assert_eq!(h.pop(2), Some(Outgoing::Close));

    let mut ro = new_session_request(1000);
    ro.read_only = Some(true);
    h.open(3, ro);
    let frame = h.next(3).expect("connect response");
    let resp = ConnectResponse::decode_exact(&frame[4..]).unwrap();
    assert_eq!(resp.read_only, Some(true));
    assert_ne!(resp.session_id, 0);
    assert!(h.unsynced.is_empty(), "a read-only session is not logged");

    h.request(3, 1, get("/a", false));
    let (hdr, _) = h.next_reply(3).unwrap();
    assert_eq!(hdr.err, 0);
    h.request(3, 2, create("/b", b""));
    let (hdr, _) = h.next_reply(3).unwrap();
    assert_eq!(hdr.err, ErrorCode::NotReadOnly.code());
    assert!(h.unsynced.is_empty(), "nothing was proposed");
}

#[test]
fn a_session_closing_while_another_connects_leaves_the_new_one_alone() {
    let mut h = Harness::new();
    let a = connect(&mut h, 1);
    h.request(a, 1, Request::CloseSession);
    h.open(2, new_session_request(1000));
    h.sync_log();
    let frame = h.next(2).expect("the new session's connect response");
    let resp = ConnectResponse::decode_exact(&frame[4..]).unwrap();
    assert_ne!(resp.session_id, 0);
    assert_ne!(
        h.pop(2),
        Some(Outgoing::Close),
        "the new connection stays open"
    );
}

#[test]
fn new_session_ids_follow_this_members_own_not_those_of_others() {
    // A follower that restored the leader's sessions (a SNAP) must not count on from the
    // leader's ids: both would hand out the same ones.
    let leaders = (3i64 << 56) | 0x00a2_4a28_c08f_0003;
    let now = Instant::now();
    let live = sessions::LiveSession::new(Duration::from_secs(6), now, None);
    let mut s = sessions::Sessions::new(2, 1_700_000_000_000, [(leaders, live)]);
    let id = s.allocate();
    assert_eq!(id as u64 >> 56, 2, "{id:#x}");
    let own = (2i64 << 56) | 0x00ff_ffff_ffff_0000;
    let live = sessions::LiveSession::new(Duration::from_secs(6), now, None);
    let mut s = sessions::Sessions::new(2, 1_700_000_000_000, [(own, live)]);
    assert!(
        s.allocate() > own,
        "after this member's own restored sessions"
    );
}

#[test]
fn the_tree_outlives_its_core_only_when_it_holds_the_whole_log() {
    let mut h = Harness::new();
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/a", b"v"));
    h.sync_log();
    let tree = std::mem::replace(
        &mut h.core,
        Core::new(super::testkit::settings(), DataTree::new(), h.now),
    )
    .into_tree_matching_log()
    .expect("everything logged is applied");
    assert!(tree.get("/a").is_some());

    let mut h = Harness::new();
    let c = connect(&mut h, 1);
    h.request(c, 1, create("/b", b"v"));
    // Logged (appended), not yet committed: the tree lacks what the log has.
    let core = std::mem::replace(
        &mut h.core,
        Core::new(super::testkit::settings(), DataTree::new(), h.now),
    );
    assert!(core.into_tree_matching_log().is_none());
}
