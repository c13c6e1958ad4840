//! Watches: one-shot data/exists/child watches, persistent and persistent-recursive watches,
//! watch removal, and watches across reconnects.

use zk::{AddWatchMode, CreateMode, EventType::*};
use zkrs_tests::raw::{body, err, event, op};
use zkrs_tests::*;

/// `(type, path)` as a raw session records it.
fn raw_ev(t: i32, path: &str) -> (i32, String) {
    (t, path.to_string())
}

#[tokio::test]
async fn data_watch_fires_on_change() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;
    c.create("/d", b"0", &open()).await.unwrap();

    let (data, stat, watcher) = c.get_and_watch_data("/d").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (b"0".as_slice(), 0));
    let mut watcher = Box::pin(watcher.changed());
    // Reading again does not fire it.
    c.get_data("/d").await.unwrap();
    assert_pending(&mut watcher, "data watch before any change").await;

    other.set_data("/d", b"1", None).await.unwrap();
    let e = within(WAIT, "NodeDataChanged", watcher).await;
    assert_eq!(ev(&e), (NodeDataChanged, "/d"));
    assert_eq!(e.session_state, zk::SessionState::SyncConnected);

    // A data watch also fires on deletion.
    let (_, _, watcher) = c.get_and_watch_data("/d").await.unwrap();
    other.delete("/d", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeDeleted, "/d"));

    // Setting a data watch on a missing node fails and leaves no watch.
    assert_eq!(
        c.get_and_watch_data("/d").await.err(),
        Some(zk::Error::NoNode)
    );
}

#[tokio::test]
async fn exists_watch_fires_on_create_change_and_delete() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;

    // On a missing node: NodeCreated.
    let (stat, watcher) = c.check_and_watch_stat("/x").await.unwrap();
    assert_eq!(stat, None);
    other.create("/x", b"", &open()).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeCreated, "/x"));

    // On an existing node: NodeDataChanged, then NodeDeleted.
    let (stat, watcher) = c.check_and_watch_stat("/x").await.unwrap();
    assert!(stat.is_some());
    other.set_data("/x", b"v", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeDataChanged, "/x"));

    let (_, watcher) = c.check_and_watch_stat("/x").await.unwrap();
    other.delete("/x", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeDeleted, "/x"));

    // A child change does not fire an exists watch on the parent. (`synced`: in an ensemble
    // c's member may not have other's writes yet.)
    other.create("/p", b"", &open()).await.unwrap();
    let (_, watcher) = synced(&c).await.check_and_watch_stat("/p").await.unwrap();
    let mut watcher = Box::pin(watcher.changed());
    other.create("/p/kid", b"", &open()).await.unwrap();
    // A read of the changed node is answered after any notification owed to this session.
    synced(&c).await.get_data("/p/kid").await.unwrap();
    c.get_children("/p").await.unwrap();
    assert_pending(&mut watcher, "exists watch after a child was created").await;
    other.set_data("/p", b"now", None).await.unwrap();
    assert_eq!(
        ev(&within(WAIT, "NodeDataChanged", watcher).await),
        (NodeDataChanged, "/p")
    );
}

#[tokio::test]
async fn child_watch_fires_on_child_create_and_delete_only() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;
    c.create("/p", b"", &open()).await.unwrap();

    let (children, watcher) = c.list_and_watch_children("/p").await.unwrap();
    assert!(children.is_empty());
    other.create("/p/a", b"", &open()).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeChildrenChanged, "/p"));

    // Data changes of the parent or of a child, and grandchildren, do not fire it.
    let (children, _, watcher) = c.get_and_watch_children("/p").await.unwrap();
    assert_eq!(children, ["a"]);
    let mut watcher = Box::pin(watcher.changed());
    other.set_data("/p", b"x", None).await.unwrap();
    other.set_data("/p/a", b"x", None).await.unwrap();
    other.create("/p/a/grand", b"", &open()).await.unwrap();
    synced(&c).await.get_data("/p").await.unwrap();
    c.get_data("/p/a").await.unwrap();
    c.get_children("/p/a").await.unwrap();
    assert_pending(&mut watcher, "child watch after data changes").await;

    other.delete("/p/a/grand", None).await.unwrap();
    other.delete("/p/a", None).await.unwrap();
    assert_eq!(
        ev(&within(WAIT, "NodeChildrenChanged", watcher).await),
        (NodeChildrenChanged, "/p")
    );

    // Deleting the watched node itself: NodeDeleted.
    let (_, watcher) = c.list_and_watch_children("/p").await.unwrap();
    other.delete("/p", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (NodeDeleted, "/p"));
}

#[tokio::test]
async fn watches_fire_once_and_before_the_new_data_is_seen() {
    // Through a raw session, to see exactly what the server sends.
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/w", b"", &open()).await.unwrap();
    c.create("/w/c", b"", &open()).await.unwrap();
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    // In an ensemble the raw session's member may be behind c's: sync before each look.
    raw_synced(&mut raw).await;

    for (opcode, watch) in [
        (op::GET_DATA, "data"),
        (op::EXISTS, "exists"),
        (op::GET_CHILDREN, "child"),
    ] {
        let r = raw
            .call(opcode, &body::path_watch("/w", true))
            .await
            .unwrap();
        assert_eq!(r.err, err::OK, "{watch} watch");
    }
    // Two changes by another session. The data and exists watches fire together as one
    // NodeDataChanged, once; the child watch is untouched.
    c.set_data("/w", b"1", None).await.unwrap();
    c.set_data("/w", b"2", None).await.unwrap();
    raw_synced(&mut raw).await;
    // The notification comes before the reply to a read that sees the change.
    let r = raw
        .call(op::GET_DATA, &body::path_watch("/w", false))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    assert_eq!(raw.events, [raw_ev(event::NODE_DATA_CHANGED, "/w")]);

    c.delete("/w/c", None).await.unwrap();
    c.create("/w/d", b"", &open()).await.unwrap();
    raw_synced(&mut raw).await;
    raw.call(op::GET_CHILDREN, &body::path_watch("/w", false))
        .await
        .unwrap();
    assert_eq!(
        raw.events[1..],
        [raw_ev(event::NODE_CHILDREN_CHANGED, "/w")]
    );

    // A session's own write: the notification precedes the write's reply.
    raw.call(op::GET_DATA, &body::path_watch("/w", true))
        .await
        .unwrap();
    raw.events.clear();
    let xid = raw
        .send(op::SET_DATA, &body::set_data("/w", b"3", -1))
        .await
        .unwrap();
    match raw.read().await.unwrap() {
        Frame::Event {
            event_type,
            state,
            path,
        } => {
            assert_eq!(
                (event_type, path.as_str()),
                (event::NODE_DATA_CHANGED, "/w")
            );
            assert_eq!(state, 3, "SyncConnected");
        }
        Frame::Reply(r) => panic!("reply {r:?} before the notification"),
    }
    let r = raw.reply_to(xid).await.unwrap();
    assert_eq!(r.err, err::OK);
    raw.call(op::SET_DATA, &body::set_data("/w", b"4", -1))
        .await
        .unwrap();
    assert!(raw.events.is_empty(), "fired twice: {:?}", raw.events);
}

#[tokio::test]
async fn persistent_watch_fires_for_every_change_of_the_node() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;

    // May be set on a node that does not exist yet.
    let mut w = c.watch("/p", AddWatchMode::Persistent).await.unwrap();
    other.create("/p", b"", &open()).await.unwrap();
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeCreated, "/p"));
    other.set_data("/p", b"1", None).await.unwrap();
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeDataChanged, "/p"));
    other.set_data("/p", b"2", None).await.unwrap();
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeDataChanged, "/p"));
    other.create("/p/a", b"", &open()).await.unwrap();
    assert_eq!(
        ev(&next_node_event(&mut w).await),
        (NodeChildrenChanged, "/p")
    );
    // Not recursive: the child's own changes and grandchildren are not reported.
    other.set_data("/p/a", b"x", None).await.unwrap();
    other.create("/p/a/g", b"", &open()).await.unwrap();
    other.delete("/p/a/g", None).await.unwrap();
    other.delete("/p/a", None).await.unwrap();
    assert_eq!(
        ev(&next_node_event(&mut w).await),
        (NodeChildrenChanged, "/p")
    );
    other.delete("/p", None).await.unwrap();
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeDeleted, "/p"));
    // Still there after the node is gone.
    other.create("/p", b"", &open()).await.unwrap();
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeCreated, "/p"));
}

#[tokio::test]
async fn persistent_recursive_watch_sees_the_whole_subtree() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;
    other.create("/outside", b"", &open()).await.unwrap();

    let mut w = c
        .watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    other.create("/r", b"", &open()).await.unwrap();
    other.create("/r/a", b"", &open()).await.unwrap();
    other.create("/r/a/b", b"", &open()).await.unwrap();
    other.set_data("/r/a/b", b"x", None).await.unwrap();
    other.set_data("/outside", b"x", None).await.unwrap();
    other.create("/rr", b"", &open()).await.unwrap();
    other
        .create("/r/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    other.delete("/r/a/b", None).await.unwrap();
    other.set_data("/r", b"y", None).await.unwrap();

    // No NodeChildrenChanged in recursive mode, nothing from outside the subtree ("/rr" is
    // not under "/r").
    let mut got = Vec::new();
    for _ in 0..7 {
        let e = next_node_event(&mut w).await;
        got.push((e.event_type, e.path));
    }
    let expected = [
        (NodeCreated, "/r"),
        (NodeCreated, "/r/a"),
        (NodeCreated, "/r/a/b"),
        (NodeDataChanged, "/r/a/b"),
        (NodeCreated, "/r/e"),
        (NodeDeleted, "/r/a/b"),
        (NodeDataChanged, "/r"),
    ];
    let got: Vec<_> = got.iter().map(|(t, p)| (*t, p.as_str())).collect();
    assert_eq!(got, expected);

    // The session of /r/e's owner ends: its deletion is reported too.
    drop(other);
    assert_eq!(ev(&next_node_event(&mut w).await), (NodeDeleted, "/r/e"));
}

#[tokio::test]
#[allow(deprecated)] // `remove` is deprecated in favour of drop, which does not report back.
async fn watches_can_be_removed() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/n", b"", &open()).await.unwrap();

    // Through the crate: the server acknowledges the removal.
    let w = c
        .watch("/n", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    w.remove().await.unwrap();
    let w = c.watch("/n", AddWatchMode::Persistent).await.unwrap();
    w.remove().await.unwrap();
    let (_, _, w) = c.get_and_watch_data("/n").await.unwrap();
    w.remove().await.unwrap();
    let (_, w) = c.list_and_watch_children("/n").await.unwrap();
    w.remove().await.unwrap();

    // Through a raw session, to see that nothing is delivered afterwards. (Synced: in an
    // ensemble its member may not have /n yet.)
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    raw_synced(&mut raw).await;
    let r = raw
        .call(op::REMOVE_WATCHES, &body::remove_watches("/n", 3))
        .await
        .unwrap();
    assert_eq!(r.err, err::NO_WATCHER, "nothing to remove yet");

    let r = raw
        .call(op::ADD_WATCH, &body::add_watch("/n", 0))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    raw.call(op::GET_DATA, &body::path_watch("/n", true))
        .await
        .unwrap();
    raw.call(op::GET_CHILDREN, &body::path_watch("/n", true))
        .await
        .unwrap();
    // Type 3 (any) removes every kind on the path.
    let r = raw
        .call(op::REMOVE_WATCHES, &body::remove_watches("/n", 3))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    let r = raw
        .call(op::REMOVE_WATCHES, &body::remove_watches("/n", 3))
        .await
        .unwrap();
    assert_eq!(r.err, err::NO_WATCHER);

    // Removing only the data watch keeps the child watch.
    raw.call(op::GET_DATA, &body::path_watch("/n", true))
        .await
        .unwrap();
    raw.call(op::GET_CHILDREN, &body::path_watch("/n", true))
        .await
        .unwrap();
    let r = raw
        .call(op::REMOVE_WATCHES, &body::remove_watches("/n", 2))
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    let r = raw
        .call(op::REMOVE_WATCHES, &body::remove_watches("/n", 2))
        .await
        .unwrap();
    assert_eq!(r.err, err::NO_WATCHER, "the data watch is gone");

    c.set_data("/n", b"x", None).await.unwrap();
    c.create("/n/kid", b"", &open()).await.unwrap();
    raw_synced(&mut raw).await;
    raw.call(op::GET_CHILDREN, &body::path_watch("/n", false))
        .await
        .unwrap();
    assert_eq!(
        raw.events,
        [raw_ev(event::NODE_CHILDREN_CHANGED, "/n")],
        "only the child watch was left"
    );
}

#[tokio::test]
async fn one_shot_watches_survive_a_reconnect() {
    let server = ServerUnderTest::start();
    let proxy = TcpProxy::start(server.addr()).await;
    let c = zk::Client::connector()
        .connect(&proxy.connect_string())
        .await
        .unwrap();
    let other = server.client().await;
    other.create("/d", b"", &open()).await.unwrap();
    other.create("/p", b"", &open()).await.unwrap();

    // (In an ensemble c's member may not have other's writes yet.)
    let (_, _, data_w) = synced(&c).await.get_and_watch_data("/d").await.unwrap();
    let (_, exist_w) = c.check_and_watch_stat("/new").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/p").await.unwrap();

    let mut state = c.state_watcher();
    proxy.cut();
    within(WAIT, "Disconnected", async {
        while state.changed().await != zk::SessionState::Disconnected {}
    })
    .await;
    within(WAIT, "the reconnect", async {
        while state.changed().await != zk::SessionState::SyncConnected {}
    })
    .await;

    // The client re-registered its watches (setWatches) on the new connection.
    other.set_data("/d", b"x", None).await.unwrap();
    other.create("/new", b"", &open()).await.unwrap();
    other.create("/p/kid", b"", &open()).await.unwrap();
    assert_eq!(ev(&fired(data_w).await), (NodeDataChanged, "/d"));
    assert_eq!(ev(&fired(exist_w).await), (NodeCreated, "/new"));
    assert_eq!(ev(&fired(child_w).await), (NodeChildrenChanged, "/p"));
}

#[tokio::test]
async fn changes_missed_while_disconnected_fire_on_reconnect() {
    let server = ServerUnderTest::start();
    let proxy = TcpProxy::start(server.addr()).await;
    let c = zk::Client::connector()
        .connect(&proxy.connect_string())
        .await
        .unwrap();
    let other = server.client().await;
    other.create("/d", b"", &open()).await.unwrap();
    other.create("/gone", b"", &open()).await.unwrap();
    other.create("/p", b"", &open()).await.unwrap();

    // (In an ensemble c's member may not have other's writes yet.)
    let (_, _, data_w) = synced(&c).await.get_and_watch_data("/d").await.unwrap();
    let (_, gone_w) = c.check_and_watch_stat("/gone").await.unwrap();
    let (_, exist_w) = c.check_and_watch_stat("/new").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/p").await.unwrap();

    let mut state = c.state_watcher();
    proxy.set_blocked(true);
    within(WAIT, "Disconnected", async {
        while state.changed().await != zk::SessionState::Disconnected {}
    })
    .await;
    // Changes the client cannot hear about...
    other.set_data("/d", b"x", None).await.unwrap();
    other.delete("/gone", None).await.unwrap();
    other.create("/new", b"", &open()).await.unwrap();
    other.create("/p/kid", b"", &open()).await.unwrap();
    // ...are reported when it comes back: setWatches carries the last zxid it saw, and the
    // server fires every watch whose node changed after it.
    proxy.set_blocked(false);
    assert_eq!(ev(&fired(data_w).await), (NodeDataChanged, "/d"));
    assert_eq!(ev(&fired(gone_w).await), (NodeDeleted, "/gone"));
    assert_eq!(ev(&fired(exist_w).await), (NodeCreated, "/new"));
    assert_eq!(ev(&fired(child_w).await), (NodeChildrenChanged, "/p"));
}

#[tokio::test]
async fn persistent_watches_survive_a_reconnect() {
    // zookeeper-client 0.11.2 re-registers only one-shot watches when it reconnects (it
    // always sends setWatches, never setWatches2), so this is done with a raw session: the
    // connection is dropped, the session resumed, and the watches sent again.
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/n", b"", &open()).await.unwrap();
    c.create("/r", b"", &open()).await.unwrap();

    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    // In an ensemble the raw session's member may not have /n and /r yet, and their
    // creation would then be reported too.
    raw_synced(&mut raw).await;
    raw.call(op::ADD_WATCH, &body::add_watch("/n", 0))
        .await
        .unwrap();
    raw.call(op::ADD_WATCH, &body::add_watch("/r", 1))
        .await
        .unwrap();
    let last_zxid = raw
        .call(op::EXISTS, &body::path_watch("/n", false))
        .await
        .unwrap()
        .zxid;
    let (id, passwd) = (raw.session_id(), raw.handshake.passwd.clone());
    drop(raw);

    let mut raw = RawSession::reattach(server.addr(), 10_000, id, &passwd)
        .await
        .unwrap();
    assert_eq!(raw.session_id(), id);
    let r = raw
        .call(
            op::SET_WATCHES2,
            &body::set_watches2(last_zxid, &[], &[], &[], &["/n"], &["/r"]),
        )
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);

    c.set_data("/n", b"1", None).await.unwrap();
    c.create("/r/a", b"", &open()).await.unwrap();
    c.create("/r/a/b", b"", &open()).await.unwrap();
    c.set_data("/n", b"2", None).await.unwrap();
    raw_synced(&mut raw).await;
    raw.call(op::EXISTS, &body::path_watch("/r/a/b", false))
        .await
        .unwrap();
    assert_eq!(
        raw.events,
        [
            raw_ev(event::NODE_DATA_CHANGED, "/n"),
            raw_ev(event::NODE_CREATED, "/r/a"),
            raw_ev(event::NODE_CREATED, "/r/a/b"),
            raw_ev(event::NODE_DATA_CHANGED, "/n"),
        ]
    );
}
