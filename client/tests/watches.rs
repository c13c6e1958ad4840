//! One-shot and persistent watches, their removal, and how they end with the session.

mod common;

use common::*;
use zkrs_client::{AddWatchMode, CreateMode, EventType, KeeperState, WatcherType};

fn ev(e: &zkrs_client::WatchedEvent) -> (EventType, &str) {
    (e.event_type, e.path.as_str())
}

#[tokio::test]
async fn data_watch_fires_once_on_change_and_on_delete() {
    let server = server();
    let c = client(&server).await;
    let other = client(&server).await;
    c.create("/a", b"1", CreateMode::Persistent).await.unwrap();

    let (data, _, watcher) = c.get_data_and_watch("/a").await.unwrap();
    assert_eq!(data, b"1");
    other.set_data("/a", b"2", None).await.unwrap();
    let e = fired(watcher).await;
    assert_eq!(ev(&e), (EventType::NodeDataChanged, "/a"));
    assert_eq!(e.state, KeeperState::SyncConnected);

    let (_, _, mut watcher) = c.get_data_and_watch("/a").await.unwrap();
    // A read of another node is answered after any notification the server owes: the
    // watch has not fired.
    c.exists("/").await.unwrap();
    assert_pending(&mut watcher, "the data watch").await;
    other.delete("/a", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/a"));

    // Setting a watch on a missing node fails, and sets nothing.
    assert_eq!(
        c.get_data_and_watch("/a").await.err(),
        Some(zkrs_client::Error::NoNode)
    );
}

#[tokio::test]
async fn exists_watch_fires_on_creation_change_and_deletion() {
    let server = server();
    let c = client(&server).await;
    let (stat, watcher) = c.exists_and_watch("/x").await.unwrap();
    assert_eq!(stat, None);
    c.create("/x", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeCreated, "/x"));

    let (stat, watcher) = c.exists_and_watch("/x").await.unwrap();
    assert!(stat.is_some());
    c.set_data("/x", b"v", None).await.unwrap();
    assert_eq!(
        ev(&fired(watcher).await),
        (EventType::NodeDataChanged, "/x")
    );

    let (_, watcher) = c.exists_and_watch("/x").await.unwrap();
    c.delete("/x", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/x"));
}

#[tokio::test]
async fn child_watch_fires_on_membership_change_and_deletion() {
    let server = server();
    let c = client(&server).await;
    c.create("/p", b"", CreateMode::Persistent).await.unwrap();
    let (children, stat, watcher) = c.get_children_and_watch("/p").await.unwrap();
    assert!(children.is_empty());
    assert_eq!(stat.num_children, 0);
    c.create("/p/c", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        ev(&fired(watcher).await),
        (EventType::NodeChildrenChanged, "/p")
    );

    // A data change of the parent or a child's data does not fire a child watch.
    let (_, _, mut watcher) = c.get_children_and_watch("/p").await.unwrap();
    c.set_data("/p", b"x", None).await.unwrap();
    c.set_data("/p/c", b"x", None).await.unwrap();
    c.exists("/").await.unwrap();
    assert_pending(&mut watcher, "the child watch").await;
    c.delete("/p/c", None).await.unwrap();
    assert_eq!(
        ev(&fired(watcher).await),
        (EventType::NodeChildrenChanged, "/p")
    );

    let (_, _, watcher) = c.get_children_and_watch("/p").await.unwrap();
    c.delete("/p", None).await.unwrap();
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/p"));
}

#[tokio::test]
async fn every_watcher_of_a_path_is_told() {
    let server = server();
    let c = client(&server).await;
    c.create("/m", b"", CreateMode::Persistent).await.unwrap();
    let (_, _, w1) = c.get_data_and_watch("/m").await.unwrap();
    let (_, _, w2) = c.get_data_and_watch("/m").await.unwrap();
    let (_, w3) = c.exists_and_watch("/m").await.unwrap();
    let (_, _, w4) = c.get_children_and_watch("/m").await.unwrap();
    // A dropped watcher is simply skipped.
    let (_, _, dropped) = c.get_data_and_watch("/m").await.unwrap();
    drop(dropped);
    c.delete("/m", None).await.unwrap();
    for w in [w1, w2, w3, w4] {
        assert_eq!(ev(&fired(w).await), (EventType::NodeDeleted, "/m"));
    }
}

#[tokio::test]
async fn persistent_watch_reports_every_change_of_the_node() {
    let server = server();
    let c = client(&server).await;
    let other = client(&server).await;
    let mut w = c.add_watch("/n", AddWatchMode::Persistent).await.unwrap();
    assert_eq!(w.path(), "/n");

    other
        .create("/n", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        ev(&next_event(&mut w).await),
        (EventType::NodeCreated, "/n")
    );
    for i in 0..3 {
        other
            .set_data("/n", format!("{i}").as_bytes(), None)
            .await
            .unwrap();
        assert_eq!(
            ev(&next_event(&mut w).await),
            (EventType::NodeDataChanged, "/n")
        );
    }
    other
        .create("/n/c", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        ev(&next_event(&mut w).await),
        (EventType::NodeChildrenChanged, "/n")
    );
    // Not recursive: a grandchild's change is not reported.
    other.set_data("/n/c", b"x", None).await.unwrap();
    other.delete("/n/c", None).await.unwrap();
    assert_eq!(
        ev(&next_event(&mut w).await),
        (EventType::NodeChildrenChanged, "/n")
    );
    other.delete("/n", None).await.unwrap();
    assert_eq!(
        ev(&next_event(&mut w).await),
        (EventType::NodeDeleted, "/n")
    );
    // Still there after the deletion.
    other
        .create("/n", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        ev(&next_event(&mut w).await),
        (EventType::NodeCreated, "/n")
    );
}

#[tokio::test]
async fn recursive_watch_reports_the_subtree_without_child_events() {
    let server = server();
    let c = client(&server).await;
    c.create("/r", b"", CreateMode::Persistent).await.unwrap();
    let mut w = c
        .add_watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    c.create("/r/a", b"", CreateMode::Persistent).await.unwrap();
    c.create("/r/a/b", b"", CreateMode::Persistent)
        .await
        .unwrap();
    c.set_data("/r/a/b", b"x", None).await.unwrap();
    c.set_data("/r", b"x", None).await.unwrap();
    c.delete("/r/a/b", None).await.unwrap();
    c.create("/other", b"", CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/rr", b"", CreateMode::Persistent).await.unwrap();
    c.delete("/r/a", None).await.unwrap();
    let want = [
        (EventType::NodeCreated, "/r/a"),
        (EventType::NodeCreated, "/r/a/b"),
        (EventType::NodeDataChanged, "/r/a/b"),
        (EventType::NodeDataChanged, "/r"),
        (EventType::NodeDeleted, "/r/a/b"),
        (EventType::NodeDeleted, "/r/a"),
    ];
    for want in want {
        assert_eq!(ev(&next_event(&mut w).await), want);
    }
    assert!(w.try_next().is_none());
}

#[tokio::test]
async fn removing_watches_tells_the_watchers() {
    let server = server();
    let c = client(&server).await;
    c.create("/w", b"", CreateMode::Persistent).await.unwrap();

    let (_, _, data) = c.get_data_and_watch("/w").await.unwrap();
    let (_, _, child) = c.get_children_and_watch("/w").await.unwrap();
    c.check_watches("/w", WatcherType::Data).await.unwrap();
    c.check_watches("/w", WatcherType::Children).await.unwrap();
    c.check_watches("/w", WatcherType::Any).await.unwrap();

    c.remove_watches("/w", WatcherType::Data).await.unwrap();
    assert_eq!(ev(&fired(data).await), (EventType::DataWatchRemoved, "/w"));
    assert_eq!(
        c.check_watches("/w", WatcherType::Data).await,
        Err(zkrs_client::Error::NoWatcher)
    );
    c.check_watches("/w", WatcherType::Children).await.unwrap();
    c.remove_watches("/w", WatcherType::Children).await.unwrap();
    assert_eq!(
        ev(&fired(child).await),
        (EventType::ChildWatchRemoved, "/w")
    );
    assert_eq!(
        c.remove_watches("/w", WatcherType::Any).await,
        Err(zkrs_client::Error::NoWatcher)
    );

    // A persistent watch removed with `Any` ends its stream.
    let mut p = c.add_watch("/w", AddWatchMode::Persistent).await.unwrap();
    c.check_watches("/w", WatcherType::Any).await.unwrap();
    c.remove_watches("/w", WatcherType::Any).await.unwrap();
    let e = within(WAIT, "removal event", p.next()).await.unwrap();
    assert_eq!(ev(&e), (EventType::PersistentWatchRemoved, "/w"));
    assert!(within(WAIT, "end of stream", p.next()).await.is_none());
    // The server no longer reports changes: a later change reaches nobody, and a new watch
    // still works.
    c.set_data("/w", b"x", None).await.unwrap();
    let (_, _, data) = c.get_data_and_watch("/w").await.unwrap();
    c.set_data("/w", b"y", None).await.unwrap();
    assert_eq!(ev(&fired(data).await), (EventType::NodeDataChanged, "/w"));
}

#[tokio::test]
async fn closing_the_session_ends_every_watch() {
    let server = server();
    let c = client(&server).await;
    c.create("/c", b"", CreateMode::Persistent).await.unwrap();
    let (_, _, oneshot) = c.get_data_and_watch("/c").await.unwrap();
    let mut persistent = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    c.close().await;
    let e = fired(oneshot).await;
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::Closed)
    );
    let e = within(WAIT, "closed event", persistent.next())
        .await
        .unwrap();
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::Closed)
    );
    assert!(within(WAIT, "end of stream", persistent.next())
        .await
        .is_none());
}
