//! Sessions: ephemerals on close and on expiry, reattaching, passwords, timeouts,
//! maxClientCnxns.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use zk::{CreateMode, Error, EventType, SessionState};
use zkrs_tests::frame::read_frame;
use zkrs_tests::raw::{body, connect_frame, err, op, request_frame};
use zkrs_tests::*;

async fn wait_state(watcher: &mut zk::StateWatcher, wanted: SessionState) {
    within(WAIT, &format!("session state {wanted:?}"), async {
        let mut state = watcher.state();
        while state != wanted {
            state = watcher.changed().await;
        }
    })
    .await
}

#[tokio::test]
async fn ruok_answers_imok() {
    let server = ServerUnderTest::start();
    assert_eq!(server.four_letter_word("ruok").unwrap(), "imok");
}

#[tokio::test]
async fn ephemerals_vanish_when_the_session_closes() {
    let server = ServerUnderTest::start();
    let owner = server.client().await;
    let observer = server.client().await;
    owner.create("/p", b"", &open()).await.unwrap();
    owner
        .create("/p/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    owner
        .create("/p/s-", b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    // In an ensemble the observer's member may not have the owner's writes yet: sync first,
    // or the watch would be an exists watch on a missing node.
    let (_, watcher) = synced(&observer)
        .await
        .check_and_watch_stat("/p/e")
        .await
        .unwrap();
    let (_, child_watcher) = observer.list_and_watch_children("/p").await.unwrap();

    // Dropping the last handle closes the session (closeSession).
    drop(owner);
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/p/e"));
    assert_eq!(
        ev(&fired(child_watcher).await),
        (EventType::NodeChildrenChanged, "/p")
    );
    assert!(observer.check_stat("/p/e").await.unwrap().is_none());
    assert!(observer.list_children("/p").await.unwrap().is_empty());
    // Persistent nodes of the session stay.
    assert!(observer.check_stat("/p").await.unwrap().is_some());
}

#[tokio::test]
async fn ephemerals_vanish_when_an_abandoned_session_expires() {
    let server = ServerUnderTest::start();
    let observer = server.client().await;
    // A detached client does not close its session when dropped: the connection just goes.
    let owner = server
        .connect(
            zk::Client::connector()
                .with_session_timeout(Duration::from_millis(1000))
                .with_detached(),
        )
        .await;
    owner
        .create("/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let session = owner.session().clone();
    drop(owner);
    // The session outlives its connection until it times out.
    assert!(synced(&observer)
        .await
        .check_stat("/e")
        .await
        .unwrap()
        .is_some());
    let took = wait_gone(&observer, "/e", SLOW_WAIT).await;
    eprintln!("abandoned 1 s session expired after {took:?}");

    // And it is gone for good: resuming it is refused.
    assert_eq!(
        server
            .try_connect(zk::Client::connector().with_session(session))
            .await
            .err(),
        Some(Error::SessionExpired)
    );
}

#[tokio::test]
async fn a_silent_session_expires() {
    // A raw session that keeps its connection open but stops sending anything, pings
    // included: the server must expire it on its own and close the connection.
    let server = ServerUnderTest::start();
    let observer = server.client().await;
    let mut raw = RawSession::connect(server.addr(), 1000).await.unwrap();
    assert_eq!(
        raw.handshake.timeout_ms, 1000,
        "1000 ms is the minimum (2 ticks)"
    );
    let last_sent = Instant::now();
    let r = raw
        .call(op::CREATE, &body::create("/e", b"", 1))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    assert_eq!(
        synced(&observer)
            .await
            .get_data("/e")
            .await
            .unwrap()
            .1
            .ephemeral_owner,
        raw.session_id()
    );

    wait_gone(&observer, "/e", SLOW_WAIT).await;
    let silent_for = last_sent.elapsed();
    assert!(
        silent_for >= Duration::from_millis(1000),
        "expired after only {silent_for:?} of silence"
    );
    eprintln!("silent 1 s session expired after {silent_for:?}");
    raw.expect_closed(SLOW_WAIT).await;
}

#[tokio::test]
async fn the_client_learns_its_session_expired() {
    let server = ServerUnderTest::start();
    let proxy = TcpProxy::start(server.addr()).await;
    let observer = server.client().await;
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(1000))
        .connect(&proxy.connect_string())
        .await
        .unwrap();
    c.create("/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let mut state = c.state_watcher();
    // The observer sees the node before it waits for it to go (in an ensemble its member
    // may be behind the client's).
    assert!(synced(&observer)
        .await
        .check_stat("/e")
        .await
        .unwrap()
        .is_some());

    // Cut the client off until the server has expired the session.
    proxy.set_blocked(true);
    wait_gone(&observer, "/e", SLOW_WAIT).await;
    proxy.set_blocked(false);

    wait_state(&mut state, SessionState::Expired).await;
    assert_eq!(c.get_data("/").await, Err(Error::SessionExpired));
    // The server forgot the session: resuming it is refused.
    assert_eq!(
        server
            .try_connect(zk::Client::connector().with_session(c.session().clone()))
            .await
            .err(),
        Some(Error::SessionExpired)
    );
}

#[tokio::test]
async fn reattaching_keeps_the_session_and_its_ephemerals() {
    let server = ServerUnderTest::start();
    let first = server
        .connect(zk::Client::connector().with_detached())
        .await;
    let id = first.session_id();
    first
        .create("/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    let session = first.into_session();

    let second = server
        .connect(zk::Client::connector().with_session(session))
        .await;
    assert_eq!(second.session_id(), id);
    let (_, stat) = second.get_data("/e").await.unwrap();
    assert_eq!(stat.ephemeral_owner, id.0);
    assert_eq!(second.list_ephemerals("/").await.unwrap(), ["/e"]);
    second
        .create("/e2", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();

    // Closing the resumed session removes every ephemeral of it.
    let observer = server.client().await;
    drop(second);
    wait_gone(&observer, "/e", WAIT).await;
    wait_gone(&observer, "/e2", WAIT).await;
}

#[tokio::test]
async fn reattaching_with_the_wrong_password_is_refused() {
    let server = ServerUnderTest::start();
    let observer = server.client().await;
    let mut first = RawSession::connect(server.addr(), 10_000).await.unwrap();
    let (id, passwd) = (first.session_id(), first.handshake.passwd.clone());
    assert_eq!(passwd.len(), 16);
    first
        .call(op::CREATE, &body::create("/e", b"", 1))
        .await
        .unwrap();

    // Wrong password: Apache answers with session id 0, timeout 0 and a zero password (which
    // clients read as "session expired"), then hangs up.
    let mut wrong_pw = passwd.clone();
    wrong_pw[0] ^= 0xff;
    let mut bad = RawSession::reattach(server.addr(), 10_000, id, &wrong_pw)
        .await
        .unwrap();
    assert_eq!(bad.handshake.session_id, 0);
    assert_eq!(bad.handshake.timeout_ms, 0);
    assert_eq!(bad.handshake.passwd, [0; 16]);
    bad.expect_closed(WAIT).await;
    // An unknown session id gets the same answer.
    let mut unknown = RawSession::reattach(server.addr(), 10_000, id + 12345, &passwd)
        .await
        .unwrap();
    assert_eq!(unknown.handshake.session_id, 0);
    unknown.expect_closed(WAIT).await;
    // The session itself is unharmed.
    assert!(synced(&observer)
        .await
        .check_stat("/e")
        .await
        .unwrap()
        .is_some());

    // The right password: same session, same password, and the server drops the session's
    // previous connection.
    let mut second = RawSession::reattach(server.addr(), 10_000, id, &passwd)
        .await
        .unwrap();
    assert_eq!(second.handshake.session_id, id);
    assert_eq!(second.handshake.passwd, passwd);
    first.expect_closed(WAIT).await;
    let r = second
        .call(op::EXISTS, &body::path_watch("/e", false))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    second.close().await.unwrap();
    wait_gone(&observer, "/e", WAIT).await;
}

#[tokio::test]
async fn session_timeout_is_negotiated_within_bounds() {
    let server = ServerUnderTest::start_with(
        ServerConfig::default()
            .with("minSessionTimeout", 1200)
            .with("maxSessionTimeout", 3000),
    );
    for (asked, granted) in [(100, 1200), (2000, 2000), (1_000_000, 3000)] {
        let raw = RawSession::connect(server.addr(), asked).await.unwrap();
        assert_eq!(raw.handshake.timeout_ms, granted, "asked for {asked} ms");
        raw.close().await.unwrap();
    }
    // Without explicit bounds they are 2 and 20 ticks.
    let server = ServerUnderTest::start();
    let tick = server.config().tick_time_ms as i32;
    for (asked, granted) in [(1, 2 * tick), (1_000_000, 20 * tick)] {
        let raw = RawSession::connect(server.addr(), asked).await.unwrap();
        assert_eq!(raw.handshake.timeout_ms, granted, "asked for {asked} ms");
    }
    // A resumed session negotiates again.
    let raw = RawSession::connect(server.addr(), 4000).await.unwrap();
    let (id, passwd) = (raw.session_id(), raw.handshake.passwd.clone());
    drop(raw);
    let raw = RawSession::reattach(server.addr(), 6000, id, &passwd)
        .await
        .unwrap();
    assert_eq!(raw.handshake.timeout_ms, 6000);
}

#[tokio::test]
async fn max_client_cnxns_limits_connections_per_address() {
    let server = ServerUnderTest::start_with(ServerConfig::default().with("maxClientCnxns", 2));
    // The limit is per server (per member of an ensemble): every connection goes to the one
    // member at `addr`.
    let first = server.connect_one(zk::Client::connector()).await;
    let second = server.connect_one(zk::Client::connector()).await;
    first.create("/n", b"", &open()).await.unwrap();

    // The third connection from 127.0.0.1 is closed at once, without a handshake reply.
    let third = RawSession::connect(server.addr(), 10_000).await;
    assert!(
        third.is_err(),
        "third connection got a session: {:?}",
        third.map(|r| r.handshake)
    );
    assert!(server
        .try_connect_one(zk::Client::connector())
        .await
        .is_err());
    // The existing ones are unaffected.
    synced(&second).await.get_data("/n").await.unwrap();

    // Once one goes away, there is room again.
    drop(first);
    let (third, _) = eventually(WAIT, "a free connection slot", || async {
        RawSession::connect(server.addr(), 10_000).await.ok()
    })
    .await;
    assert_ne!(third.session_id(), 0);
    let r = RawSession::connect(server.addr(), 10_000).await;
    assert!(r.is_err(), "a third connection again");
}

#[tokio::test]
async fn operations_after_close_session_fail() {
    let server = ServerUnderTest::start();
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    let id = raw.session_id();
    let passwd = raw.handshake.passwd.clone();
    let r = raw.call(op::CLOSE_SESSION, &[]).await.unwrap();
    assert_eq!(r.err, err::OK);
    raw.expect_closed(WAIT).await;
    // A closed session cannot be resumed.
    let mut again = RawSession::reattach(server.addr(), 10_000, id, &passwd)
        .await
        .unwrap();
    assert_eq!(again.handshake.session_id, 0);
    again.expect_closed(WAIT).await;
}

#[tokio::test]
async fn a_request_sent_right_after_a_reattach_is_answered() {
    // Clients do not wait for the connect response before they send: on a reconnect the
    // crate sends its setWatches (and any queued request) right behind the ConnectRequest.
    // The server must answer them once the session is attached. In an ensemble the member
    // at `addr` is a follower, which first asks the leader whether the session is still
    // valid, so the request arrives while the reattach is pending there.
    let server = ServerUnderTest::start();
    let first = RawSession::connect(server.addr(), 10_000).await.unwrap();
    let (id, passwd) = (first.session_id(), first.handshake.passwd.clone());
    drop(first);

    let mut stream = within(
        WAIT,
        "TCP connect",
        tokio::net::TcpStream::connect(server.addr()),
    )
    .await
    .unwrap();
    let mut bytes = connect_frame(0, 10_000, id, &passwd);
    bytes.extend(request_frame(1, op::EXISTS, &body::path_watch("/", false)));
    stream.write_all(&bytes).await.unwrap();
    let handshake = within(WAIT, "the connect response", read_frame(&mut stream))
        .await
        .expect("a connect response, not a closed connection");
    let session_id = i64::from_be_bytes(handshake[8..16].try_into().expect("8 bytes"));
    assert_eq!(session_id, id, "the session is resumed");
    let reply = within(WAIT, "the reply to exists", read_frame(&mut stream))
        .await
        .expect("the pipelined request answered, not the connection closed");
    let xid = i32::from_be_bytes(reply[0..4].try_into().expect("4 bytes"));
    let error = i32::from_be_bytes(reply[12..16].try_into().expect("4 bytes"));
    assert_eq!((xid, error), (1, err::OK));
}
