//! Node operations: every create mode, reads, writes, versions, Stat semantics, multi,
//! errors, the 1 MB limit, containers and TTL nodes.
//!
//! Each test starts its own server (`ZKRS_TEST_SERVER` picks zkrs-server or Apache).

use std::time::{Duration, Instant};

use zk::{CreateMode, Error, MultiReadResult, MultiWriteError, MultiWriteResult};
use zkrs_tests::raw::{body, err, multi_results, op, MultiOpResult};
use zkrs_tests::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn system_nodes_exist() {
    let server = ServerUnderTest::start();
    let c = server.client().await;

    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert!(
            c.check_stat(path).await.unwrap().is_some(),
            "{path} is missing"
        );
    }
    assert_eq!(sorted(c.list_children("/").await.unwrap()), ["zookeeper"]);
    let zk_children = sorted(c.list_children("/zookeeper").await.unwrap());
    assert_eq!(zk_children, ["config", "quota"]);

    // /zookeeper/config is world-readable only (a standalone server has no dynamic config, so
    // its data is empty), and `get_config` reads it.
    let (acl, _) = c.get_acl("/zookeeper/config").await.unwrap();
    assert_eq!(
        acl,
        [zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())]
    );
    let (config, _) = c.get_config().await.unwrap();
    let (data, _) = c.get_data("/zookeeper/config").await.unwrap();
    assert_eq!(config, data);
    assert_eq!(
        c.set_data("/zookeeper/config", b"x", None).await,
        Err(Error::NoAuth)
    );
}

#[tokio::test]
async fn create_persistent_returns_stat_of_new_node() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let before = now_ms();

    let (stat, seq) = c.create("/p", b"hello", &open()).await.unwrap();
    // Not sequential: the crate reports -1.
    assert_eq!(seq.into_i64(), -1);
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid, "pzxid of a new node is its czxid");
    assert_eq!(stat.ctime, stat.mtime);
    assert!(
        (before - 60_000..=now_ms() + 60_000).contains(&stat.ctime),
        "ctime {} is not around now",
        stat.ctime
    );
    assert_eq!(
        (stat.version, stat.cversion, stat.aversion),
        (0, 0, 0),
        "{stat:?}"
    );
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);

    // create2's stat is the node's stat.
    let (data, stat2) = c.get_data("/p").await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(stat2, stat);
    assert_eq!(c.check_stat("/p").await.unwrap(), Some(stat));

    // Empty data.
    let (stat, _) = c.create("/empty", b"", &open()).await.unwrap();
    assert_eq!(stat.data_length, 0);
    assert_eq!(c.get_data("/empty").await.unwrap().0, b"");
    assert!(stat.czxid > stat2.czxid, "zxids increase");
}

#[tokio::test]
async fn create_ephemeral_is_owned_by_the_session() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let (stat, _) = c
        .create("/e", b"x", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, c.session_id().0);
    assert_ne!(stat.ephemeral_owner, 0);
    assert_eq!(
        c.get_data("/e").await.unwrap().1.ephemeral_owner,
        c.session_id().0
    );

    // Ephemeral nodes cannot have children.
    assert_eq!(
        c.create("/e/child", b"", &open()).await,
        Err(Error::NoChildrenForEphemerals)
    );
    assert_eq!(
        c.create("/e/child", b"", &mode(CreateMode::Ephemeral))
            .await,
        Err(Error::NoChildrenForEphemerals)
    );
}

#[tokio::test]
async fn sequential_names_come_from_the_parent_cversion() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/q", b"", &open()).await.unwrap();

    let (_, seq) = c
        .create("/q/n-", b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 0);
    assert_eq!(seq.to_string(), "0000000000");
    let (_, seq) = c
        .create("/q/n-", b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 1);

    // The counter is the number of children ever created under the parent. Apache keeps
    // exactly that count internally and reports `cversion` as creates + deletes (it computes
    // 2 * creates - numChildren), so after a delete the next sequence number is *not* the
    // cversion the client sees, but (cversion + numChildren) / 2.
    c.create("/q/plain", b"", &open()).await.unwrap();
    c.delete("/q/plain", None).await.unwrap();
    let (_, parent) = c.get_data("/q").await.unwrap();
    assert_eq!((parent.cversion, parent.num_children), (4, 2));
    let (stat, seq) = c
        .create("/q/e-", b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 3);
    assert_eq!(
        seq.into_i64(),
        ((parent.cversion + parent.num_children) / 2) as i64
    );
    assert_eq!(stat.ephemeral_owner, c.session_id().0);

    // A sequential path may end with '/': the name is just the ten digits.
    let (_, seq) = c
        .create("/q/", b"", &mode(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 4);
    let (_, parent) = c.get_data("/q").await.unwrap();
    assert_eq!((parent.cversion, parent.num_children), (6, 4));

    let children = sorted(c.list_children("/q").await.unwrap());
    assert_eq!(
        children,
        ["0000000004", "e-0000000003", "n-0000000000", "n-0000000001"]
    );
}

#[tokio::test]
async fn container_is_deleted_after_its_last_child_goes() {
    let server = ServerUnderTest::start();
    let c = server.client().await;

    let (stat, _) = c
        .create("/c", b"", &mode(CreateMode::Container))
        .await
        .unwrap();
    // Apache reports ephemeralOwner 0 for containers (the internal marker stays internal).
    assert_eq!(stat.ephemeral_owner, 0);
    c.create("/never", b"", &mode(CreateMode::Container))
        .await
        .unwrap();
    c.create("/c/a", b"", &open()).await.unwrap();
    c.create("/c/b", b"", &open()).await.unwrap();
    c.delete("/c/a", None).await.unwrap();

    // Let the reaper run two full passes: a marker container (which had a child) is deleted
    // by a pass, and a second marker made after that by a later one.
    for marker in ["/marker1", "/marker2"] {
        c.create(marker, b"", &mode(CreateMode::Container))
            .await
            .unwrap();
        c.create(&format!("{marker}/x"), b"", &open())
            .await
            .unwrap();
        c.delete(&format!("{marker}/x"), None).await.unwrap();
        wait_gone(&c, marker, SLOW_WAIT).await;
    }
    // A container that still has a child, and one that never had any, survive.
    assert!(c.check_stat("/c").await.unwrap().is_some());
    assert!(c.check_stat("/never").await.unwrap().is_some());

    c.delete("/c/b", None).await.unwrap();
    let took = wait_gone(&c, "/c", SLOW_WAIT).await;
    eprintln!("container reaped {took:?} after its last child was deleted");
    assert!(c.check_stat("/never").await.unwrap().is_some());
}

#[tokio::test]
async fn ttl_node_is_deleted_after_its_ttl_when_childless() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let ttl = Duration::from_millis(500);
    let ttl_mode = mode(CreateMode::Persistent).with_ttl(ttl);

    let (stat, _) = c.create("/busy", b"", &ttl_mode).await.unwrap();
    // Like containers, TTL nodes show ephemeralOwner 0.
    assert_eq!(stat.ephemeral_owner, 0);
    c.create("/busy/child", b"", &open()).await.unwrap();

    let created = Instant::now();
    c.create("/idle", b"", &ttl_mode).await.unwrap();
    let took = wait_gone(&c, "/idle", SLOW_WAIT).await;
    assert!(
        created.elapsed() >= ttl,
        "TTL node deleted before its TTL ({took:?})"
    );
    eprintln!("TTL node ({ttl:?}) reaped after {took:?}");

    // One more full reaper pass (a node that expires later than /busy did), then /busy,
    // whose TTL has long passed, must still be there because it has a child.
    c.create("/idle2", b"", &ttl_mode).await.unwrap();
    wait_gone(&c, "/idle2", SLOW_WAIT).await;
    assert!(c.check_stat("/busy").await.unwrap().is_some());

    c.delete("/busy/child", None).await.unwrap();
    wait_gone(&c, "/busy", SLOW_WAIT).await;

    // Sequential TTL nodes exist too.
    c.create("/s", b"", &open()).await.unwrap();
    let (_, seq) = c
        .create(
            "/s/t-",
            b"",
            &mode(CreateMode::PersistentSequential).with_ttl(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 0);
    assert!(c.check_stat("/s/t-0000000000").await.unwrap().is_some());
}

#[tokio::test]
async fn ttl_nodes_need_extended_types() {
    let server = ServerUnderTest::start_with(ServerConfig::default().with_extended_types(false));
    let c = server.client().await;
    let ttl_mode = mode(CreateMode::Persistent).with_ttl(Duration::from_secs(10));
    assert_eq!(
        c.create("/t", b"", &ttl_mode).await,
        Err(Error::Unimplemented)
    );
    assert!(c.check_stat("/t").await.unwrap().is_none());
    // Containers do not depend on it.
    c.create("/c", b"", &mode(CreateMode::Container))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_ttl_requests_are_bad_arguments() {
    let server = ServerUnderTest::start();
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    // The crate refuses these itself, so they go through a raw session.
    let cases = [
        ("ttl 0", op::CREATE_TTL, body::create_ttl("/t", b"", 5, 0)),
        (
            "ttl < 0",
            op::CREATE_TTL,
            body::create_ttl("/t", b"", 5, -5),
        ),
        (
            "createTTL without a TTL mode",
            op::CREATE_TTL,
            body::create_ttl("/t", b"", 0, 100),
        ),
        (
            "create2 with a TTL mode",
            op::CREATE2,
            body::create("/t", b"", 5),
        ),
        ("unknown mode", op::CREATE, body::create("/t", b"", 99)),
    ];
    for (what, opcode, req) in cases {
        let reply = raw.call(opcode, &req).await.unwrap();
        assert_eq!(reply.err, err::BAD_ARGUMENTS, "{what}");
    }
    let reply = raw
        .call(op::EXISTS, &body::path_watch("/t", false))
        .await
        .unwrap();
    assert_eq!(reply.err, err::NO_NODE);
}

#[tokio::test]
async fn create_errors() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/a", b"", &open()).await.unwrap();
    assert_eq!(c.create("/a", b"", &open()).await, Err(Error::NodeExists));
    assert_eq!(
        c.create("/missing/child", b"", &open()).await,
        Err(Error::NoNode)
    );
    // Even a sequential create needs its parent.
    assert_eq!(
        c.create("/missing/s-", b"", &mode(CreateMode::PersistentSequential))
            .await,
        Err(Error::NoNode)
    );
    // The client library itself refuses malformed paths before sending anything.
    assert!(matches!(
        c.create("relative", b"", &open()).await,
        Err(Error::BadArguments(_))
    ));
}

#[tokio::test]
async fn invalid_paths_are_rejected_by_the_server() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/a", b"", &open()).await.unwrap();
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();

    // Writes validate the path: bad arguments.
    for path in ["relative", "", "/a/", "/a/.", "/a/..", "/x\u{0}y"] {
        let reply = raw
            .call(op::CREATE, &body::create(path, b"", 0))
            .await
            .unwrap();
        assert_eq!(reply.err, err::BAD_ARGUMENTS, "create {path:?}");
    }
    // Apache looks the parent ("/a/") up before validating, so an empty path component is
    // NoNode there; bad arguments would be as right.
    let reply = raw
        .call(op::CREATE, &body::create("/a//b", b"", 0))
        .await
        .unwrap();
    assert!(
        [err::NO_NODE, err::BAD_ARGUMENTS].contains(&reply.err),
        "create \"/a//b\": {}",
        reply.err
    );
    let reply = raw
        .call(op::SET_DATA, &body::set_data("relative", b"", -1))
        .await
        .unwrap();
    assert_eq!(reply.err, err::BAD_ARGUMENTS, "setData relative");
    let reply = raw
        .call(op::DELETE, &body::path_version("relative", -1))
        .await
        .unwrap();
    assert_eq!(reply.err, err::BAD_ARGUMENTS, "delete relative");
    // The root and /zookeeper cannot be deleted.
    for path in ["/", "/zookeeper"] {
        let reply = raw
            .call(op::DELETE, &body::path_version(path, -1))
            .await
            .unwrap();
        assert_eq!(reply.err, err::BAD_ARGUMENTS, "delete {path}");
    }
    // Apache: creating "/" says the node exists rather than rejecting the path.
    let reply = raw
        .call(op::CREATE, &body::create("/", b"", 0))
        .await
        .unwrap();
    assert_eq!(reply.err, err::NODE_EXISTS, "create /");

    // Apache does not validate paths on reads: a malformed path is simply not found.
    for path in ["relative", "/a/", "/a//b"] {
        for (name, opcode) in [
            ("getData", op::GET_DATA),
            ("exists", op::EXISTS),
            ("getChildren", op::GET_CHILDREN),
        ] {
            let reply = raw
                .call(opcode, &body::path_watch(path, false))
                .await
                .unwrap();
            assert_eq!(reply.err, err::NO_NODE, "{name} {path:?}");
        }
    }
    // Nothing was created and the session is still fine.
    assert_eq!(
        sorted(c.list_children("/").await.unwrap()),
        ["a", "zookeeper"]
    );
    assert_eq!(c.list_children("/a").await.unwrap(), Vec::<String>::new());
    raw.close().await.unwrap();
}

#[tokio::test]
async fn delete_with_and_without_version() {
    let server = ServerUnderTest::start();
    let c = server.client().await;

    assert_eq!(c.delete("/nope", None).await, Err(Error::NoNode));

    c.create("/a", b"", &open()).await.unwrap();
    c.delete("/a", None).await.unwrap();
    assert!(c.check_stat("/a").await.unwrap().is_none());

    c.create("/b", b"", &open()).await.unwrap();
    c.set_data("/b", b"1", None).await.unwrap();
    assert_eq!(c.delete("/b", Some(0)).await, Err(Error::BadVersion));
    assert!(c.check_stat("/b").await.unwrap().is_some());
    c.delete("/b", Some(1)).await.unwrap();
    assert!(c.check_stat("/b").await.unwrap().is_none());

    c.create("/p", b"", &open()).await.unwrap();
    c.create("/p/c", b"", &open()).await.unwrap();
    assert_eq!(c.delete("/p", None).await, Err(Error::NotEmpty));
    c.delete("/p/c", None).await.unwrap();
    c.delete("/p", Some(0)).await.unwrap();
}

#[tokio::test]
async fn exists_and_get_data() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    assert_eq!(c.check_stat("/x").await.unwrap(), None);
    assert_eq!(c.get_data("/x").await, Err(Error::NoNode));
    let (stat, _) = c.create("/x", &[0, 1, 2, 255], &open()).await.unwrap();
    assert_eq!(c.check_stat("/x").await.unwrap(), Some(stat));
    assert_eq!(c.get_data("/x").await.unwrap(), (vec![0, 1, 2, 255], stat));
}

#[tokio::test]
async fn set_data_checks_versions_and_updates_stat() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    assert_eq!(c.set_data("/s", b"x", None).await, Err(Error::NoNode));
    let (created, _) = c.create("/s", b"a", &open()).await.unwrap();

    // -1 (None) matches any version.
    let s1 = c.set_data("/s", b"bb", None).await.unwrap();
    assert_eq!(s1.version, 1);
    assert_eq!(s1.czxid, created.czxid);
    assert!(s1.mzxid > created.mzxid);
    assert_eq!(s1.pzxid, created.pzxid, "setData does not touch pzxid");
    assert_eq!(s1.ctime, created.ctime);
    assert!(s1.mtime >= created.mtime);
    assert_eq!(s1.data_length, 2);
    assert_eq!((s1.cversion, s1.aversion), (0, 0));

    // The exact version matches; any other is BadVersion and changes nothing.
    let s2 = c.set_data("/s", b"ccc", Some(1)).await.unwrap();
    assert_eq!(s2.version, 2);
    assert_eq!(
        c.set_data("/s", b"zzz", Some(1)).await,
        Err(Error::BadVersion)
    );
    assert_eq!(
        c.set_data("/s", b"zzz", Some(7)).await,
        Err(Error::BadVersion)
    );
    let (data, stat) = c.get_data("/s").await.unwrap();
    assert_eq!(data, b"ccc");
    assert_eq!(stat, s2);

    // Setting the same bytes is still a write.
    let s3 = c.set_data("/s", b"ccc", Some(2)).await.unwrap();
    assert_eq!(s3.version, 3);
    assert!(s3.mzxid > s2.mzxid);

    // Clearing the data.
    let s4 = c.set_data("/s", b"", None).await.unwrap();
    assert_eq!(s4.data_length, 0);
    assert_eq!(c.get_data("/s").await.unwrap().0, b"");
}

#[tokio::test]
async fn children_and_parent_stat() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    assert_eq!(c.list_children("/p").await, Err(Error::NoNode));
    assert_eq!(c.get_children("/p").await, Err(Error::NoNode));
    let (p0, _) = c.create("/p", b"data", &open()).await.unwrap();

    let (children, stat) = c.get_children("/p").await.unwrap();
    assert!(children.is_empty());
    assert_eq!(stat, p0);

    let (a, _) = c.create("/p/a", b"", &open()).await.unwrap();
    let (b, _) = c
        .create("/p/b", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create("/p/a/deep", b"", &open()).await.unwrap();

    let (children, p2) = c.get_children("/p").await.unwrap();
    // Apache returns children in no particular order.
    assert_eq!(sorted(children), ["a", "b"]);
    assert_eq!(p2.num_children, 2);
    assert_eq!(p2.cversion, 2, "one per child created");
    assert_eq!(
        p2.pzxid, b.czxid,
        "pzxid is the zxid of the last child change"
    );
    assert!(a.czxid < b.czxid);
    assert_eq!(p2.version, 0, "children do not change the parent's version");
    assert_eq!(
        p2.mzxid, p0.mzxid,
        "children do not change the parent's mzxid"
    );
    assert_eq!(p2.data_length, 4);
    assert_eq!(sorted(c.list_children("/p").await.unwrap()), ["a", "b"]);

    // Changing a child's data is not a child change of the parent.
    c.set_data("/p/a", b"x", None).await.unwrap();
    let (_, p3) = c.get_children("/p").await.unwrap();
    assert_eq!((p3.cversion, p3.pzxid), (p2.cversion, p2.pzxid));

    // Deleting a child is.
    c.delete("/p/b", None).await.unwrap();
    let (children, p4) = c.get_children("/p").await.unwrap();
    assert_eq!(children, ["a"]);
    assert_eq!(p4.num_children, 1);
    assert_eq!(p4.cversion, 3, "deletes count in cversion too");
    assert!(p4.pzxid > p3.pzxid);
    // A delete's zxid is the next one: a create right after has pzxid+1.
    let (d, _) = c.create("/p/d", b"", &open()).await.unwrap();
    assert_eq!(d.czxid, p4.pzxid + 1);
}

#[tokio::test]
async fn acl_get_and_set_with_versions() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let (created, _) = c.create("/n", b"", &open()).await.unwrap();
    let (acl, stat) = c.get_acl("/n").await.unwrap();
    assert_eq!(
        acl,
        [zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())]
    );
    assert_eq!(stat, created);

    let read_only = [zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())];
    let s1 = c.set_acl("/n", &read_only, Some(0)).await.unwrap();
    assert_eq!(s1.aversion, 1);
    assert_eq!(s1.version, 0, "setACL does not change the data version");
    assert_eq!(s1.mzxid, created.mzxid, "setACL does not change mzxid");
    assert_eq!(c.get_acl("/n").await.unwrap(), (read_only.to_vec(), s1));

    assert_eq!(
        c.set_acl("/n", &zk::Acls::anyone_all(), Some(0)).await,
        Err(Error::NoAuth),
        "READ-only ACL: no ADMIN permission left for anyone"
    );

    c.create("/m", b"", &open()).await.unwrap();
    assert_eq!(
        c.set_acl("/m", &read_only, Some(3)).await,
        Err(Error::BadVersion)
    );
    let s = c.set_acl("/m", &read_only, None).await.unwrap();
    assert_eq!(s.aversion, 1);
    assert_eq!(
        c.set_acl("/missing", &read_only, None).await,
        Err(Error::NoNode)
    );
    assert_eq!(c.get_acl("/missing").await, Err(Error::NoNode));
}

#[tokio::test]
async fn sync_succeeds() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;
    other.create("/s", b"v", &open()).await.unwrap();
    c.sync("/s").await.unwrap();
    assert_eq!(c.get_data("/s").await.unwrap().0, b"v");
    c.sync("/").await.unwrap();
    // Apache's sync does not look the path up.
    c.sync("/does/not/exist").await.unwrap();
}

#[tokio::test]
async fn multi_applies_all_operations() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/m", b"", &open()).await.unwrap();
    c.create("/m/old", b"", &open()).await.unwrap();

    let mut w = c.new_multi_writer();
    w.add_check_version("/m", 0).unwrap();
    w.add_create("/m/new", b"n", &open()).unwrap();
    w.add_create("/m/seq-", b"", &mode(CreateMode::PersistentSequential))
        .unwrap();
    w.add_set_data("/m/new", b"n2", Some(0)).unwrap();
    w.add_delete("/m/old", None).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], MultiWriteResult::Check);
    let MultiWriteResult::Create { path, stat } = &results[1] else {
        panic!("{:?}", results[1]);
    };
    assert_eq!(path, "/m/new");
    // Apache answers a create2 inside a multi with a plain create result (path only,
    // ZOOKEEPER-4026); the crate then reports an invalid Stat. A full Stat is fine too.
    assert!(stat.is_invalid() || stat.version == 0, "{stat:?}");
    let MultiWriteResult::Create { path, .. } = &results[2] else {
        panic!("{:?}", results[2]);
    };
    // cversion was 1 (/m/old) before, then /m/new made it 2.
    assert_eq!(path, "/m/seq-0000000002");
    let MultiWriteResult::SetData { stat } = &results[3] else {
        panic!("{:?}", results[3]);
    };
    assert_eq!(stat.version, 1);
    assert_eq!(stat.data_length, 2);
    assert_eq!(results[4], MultiWriteResult::Delete);

    assert_eq!(
        sorted(c.list_children("/m").await.unwrap()),
        ["new", "seq-0000000002"]
    );
    let (data, new_stat) = c.get_data("/m/new").await.unwrap();
    assert_eq!(data, b"n2");
    // All operations of a multi share one zxid.
    let (_, m) = c.get_data("/m").await.unwrap();
    assert_eq!(new_stat.czxid, new_stat.mzxid);
    assert_eq!(m.pzxid, new_stat.czxid);

    // The check writer: a version check first, then the operations.
    let mut cw = c.new_check_writer("/m/new", Some(1)).unwrap();
    cw.add_set_data("/m/new", b"n3", None).unwrap();
    let results = cw.commit().await.unwrap();
    assert!(matches!(results[..], [MultiWriteResult::SetData { .. }]));
    let mut cw = c.new_check_writer("/m/new", Some(1)).unwrap();
    cw.add_set_data("/m/new", b"n4", None).unwrap();
    assert!(matches!(
        cw.commit().await,
        Err(zk::CheckWriteError::CheckFailed {
            source: Error::BadVersion
        })
    ));
    assert_eq!(c.get_data("/m/new").await.unwrap().0, b"n3");
}

#[tokio::test]
async fn multi_failure_in_the_middle_changes_nothing() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/a", b"", &open()).await.unwrap();
    let (_, before) = c.get_data("/a").await.unwrap();

    let mut w = c.new_multi_writer();
    w.add_create("/m1", b"", &open()).unwrap();
    w.add_set_data("/a", b"x", None).unwrap();
    w.add_check_version("/a", 7).unwrap();
    w.add_create("/m2", b"", &open()).unwrap();
    assert_eq!(
        w.commit().await,
        Err(MultiWriteError::OperationFailed {
            index: 2,
            source: Error::BadVersion
        })
    );
    assert!(c.check_stat("/m1").await.unwrap().is_none());
    assert!(c.check_stat("/m2").await.unwrap().is_none());
    assert_eq!(c.get_data("/a").await.unwrap(), (vec![], before));

    let mut w = c.new_multi_writer();
    w.add_create("/m1", b"", &open()).unwrap();
    w.add_create("/a", b"", &open()).unwrap();
    assert_eq!(
        w.commit().await,
        Err(MultiWriteError::OperationFailed {
            index: 1,
            source: Error::NodeExists
        })
    );
    let mut w = c.new_multi_writer();
    w.add_delete("/nope", None).unwrap();
    assert_eq!(
        w.commit().await,
        Err(MultiWriteError::OperationFailed {
            index: 0,
            source: Error::NoNode
        })
    );
    assert!(c.check_stat("/m1").await.unwrap().is_none());

    // The per-op results, as a raw client sees them: OK before the failure, the error at it,
    // RuntimeInconsistency after it. The reply header itself says OK (err 0) in Apache.
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    let reply = raw
        .call(
            op::MULTI,
            &body::multi(&[
                (op::CREATE, body::create("/m1", b"", 0)),
                (op::CHECK, body::path_version("/a", 7)),
                (op::CREATE, body::create("/m2", b"", 0)),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(reply.err, err::OK);
    let error = |e| MultiOpResult { op: -1, err: e };
    assert_eq!(
        multi_results(&reply.body),
        [
            error(err::OK),
            error(err::BAD_VERSION),
            error(err::RUNTIME_INCONSISTENCY)
        ]
    );
    // And a successful one returns the result of each operation.
    let reply = raw
        .call(
            op::MULTI,
            &body::multi(&[
                (op::CREATE, body::create("/m1", b"", 0)),
                (op::CHECK, body::path_version("/m1", 0)),
                (op::SET_DATA, body::set_data("/m1", b"v", 0)),
                (op::DELETE, body::path_version("/m1", 1)),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(reply.err, err::OK);
    let ok = |op| MultiOpResult { op, err: 0 };
    assert_eq!(
        multi_results(&reply.body),
        [
            ok(op::CREATE),
            ok(op::CHECK),
            ok(op::SET_DATA),
            ok(op::DELETE)
        ]
    );
    assert!(synced(&c).await.check_stat("/m1").await.unwrap().is_none());
}

#[tokio::test]
async fn multi_read_reports_each_result() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/r", b"rd", &open()).await.unwrap();
    c.create("/r/x", b"", &open()).await.unwrap();
    let (_, r_stat) = c.get_data("/r").await.unwrap();

    let mut reader = c.new_multi_reader();
    reader.add_get_data("/r").unwrap();
    reader.add_get_children("/r").unwrap();
    reader.add_get_data("/missing").unwrap();
    reader.add_get_children("/missing").unwrap();
    let results = reader.commit().await.unwrap();
    assert_eq!(results.len(), 4);
    match &results[0] {
        MultiReadResult::Data { data, stat } => {
            assert_eq!(data, b"rd");
            assert_eq!(*stat, r_stat);
        }
        other => panic!("{other:?}"),
    }
    match &results[1] {
        MultiReadResult::Children { children } => assert_eq!(children, &["x"]),
        other => panic!("{other:?}"),
    }
    for r in &results[2..] {
        assert!(
            matches!(r, MultiReadResult::Error { err: Error::NoNode }),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn get_ephemerals_lists_own_ephemerals_by_prefix() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let other = server.client().await;
    c.create("/d", b"", &open()).await.unwrap();
    c.create("/e", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create("/eee", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create("/d/x", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();
    c.create("/d/s-", b"", &mode(CreateMode::EphemeralSequential))
        .await
        .unwrap();
    c.create("/d/persistent", b"", &open()).await.unwrap();
    other
        .create("/d/theirs", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();

    assert_eq!(
        sorted(c.list_ephemerals("/").await.unwrap()),
        ["/d/s-0000000001", "/d/x", "/e", "/eee"]
    );
    assert_eq!(
        sorted(c.list_ephemerals("/d").await.unwrap()),
        ["/d/s-0000000001", "/d/x"]
    );
    // The prefix is a plain string prefix, not a path: "/e" also matches "/eee".
    assert_eq!(
        sorted(c.list_ephemerals("/e").await.unwrap()),
        ["/e", "/eee"]
    );
    assert_eq!(
        c.list_ephemerals("/nothing").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(other.list_ephemerals("/").await.unwrap(), ["/d/theirs"]);
}

#[tokio::test]
async fn get_all_children_number_counts_descendants() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/t", b"", &open()).await.unwrap();
    assert_eq!(c.count_descendants_number("/t").await.unwrap(), 0);
    for p in ["/t/a", "/t/b", "/t/a/1", "/t/a/2", "/t/a/2/x"] {
        c.create(p, b"", &open()).await.unwrap();
    }
    assert_eq!(c.count_descendants_number("/t").await.unwrap(), 5);
    assert_eq!(c.count_descendants_number("/t/a").await.unwrap(), 3);
    assert_eq!(c.count_descendants_number("/t/b").await.unwrap(), 0);
    // The root counts every node but itself: /zookeeper, its two children, and ours.
    assert_eq!(c.count_descendants_number("/").await.unwrap(), 3 + 6);
    assert_eq!(
        c.count_descendants_number("/missing").await,
        Err(Error::NoNode)
    );
}

/// The client request frame (without its 4-byte length prefix) for a create/create2 with the
/// open ACL: header 8, path 4+len, data 4+len, one ACL 4+4+(4+5)+(4+6), flags 4.
fn create_frame_len(path: &str, data_len: usize) -> usize {
    8 + 4 + path.len() + 4 + data_len + 4 + 4 + (4 + 5) + (4 + 6) + 4
}

/// setData frame: header 8, path 4+len, data 4+len, version 4.
fn set_data_frame_len(path: &str, data_len: usize) -> usize {
    8 + 4 + path.len() + 4 + data_len + 4
}

/// Apache's `jute.maxbuffer` default: the largest request frame it reads.
const MAX_FRAME: usize = 0xfffff;

#[tokio::test]
async fn one_megabyte_limit() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create("/mine", b"", &mode(CreateMode::Ephemeral))
        .await
        .unwrap();

    // The limit is on the whole request frame: 1,048,575 bytes (0xfffff) after the length
    // prefix. So the largest data a create of "/big" carries is 1,048,575 - 51 = 1,048,524
    // bytes, and a setData of "/big" 1,048,575 - 24 = 1,048,551 bytes.
    let max_create = MAX_FRAME - create_frame_len("/big", 0);
    assert_eq!(max_create, 1_048_524);
    let (stat, _) = c
        .create("/big", &vec![b'c'; max_create], &open())
        .await
        .unwrap();
    assert_eq!(stat.data_length as usize, max_create);
    // Replies may be bigger than that: the data comes back whole.
    let (data, _) = c.get_data("/big").await.unwrap();
    assert_eq!(data.len(), max_create);

    let max_set = MAX_FRAME - set_data_frame_len("/big", 0);
    assert_eq!(max_set, 1_048_551);
    let stat = c
        .set_data("/big", &vec![b's'; max_set], None)
        .await
        .unwrap();
    assert_eq!(stat.data_length as usize, max_set);

    // One byte more: Apache does not answer, it drops the connection ("Len error"). The
    // client sees a lost connection: ConnectionLoss, or the I/O error of its write if the
    // server hung up while the frame was still being sent. The session survives: the client
    // reconnects to it and its ephemeral node is still there.
    let dropped = |r: Result<(), Error>, what: &str| match r {
        Err(Error::ConnectionLoss | Error::Custom(_)) => {}
        other => panic!("{what}: expected the connection to be dropped, got {other:?}"),
    };
    let mut state = c.state_watcher();
    dropped(
        c.set_data("/big", &vec![b'x'; max_set + 1], None)
            .await
            .map(|_| ()),
        "setData of max + 1 bytes",
    );
    dropped(
        c.create("/big2", &vec![b'x'; max_create + 1], &open())
            .await
            .map(|_| ()),
        "create of max + 1 bytes",
    );
    // A full mebibyte of data is of course over the limit too.
    dropped(
        c.set_data("/big", &vec![b'x'; 1 << 20], None)
            .await
            .map(|_| ()),
        "setData of 1 MiB",
    );
    within(WAIT, "the client to reconnect", async {
        while state.state() != zk::SessionState::SyncConnected {
            state.changed().await;
        }
    })
    .await;
    let (data, stat) = c.get_data("/big").await.unwrap();
    assert_eq!(data, vec![b's'; max_set]);
    assert_eq!(stat.version, 1);
    assert!(c.check_stat("/big2").await.unwrap().is_none());
    let (_, mine) = c.get_data("/mine").await.unwrap();
    assert_eq!(mine.ephemeral_owner, c.session_id().0);

    // The same through a raw session: no reply at all, the connection is closed, and the
    // session can be resumed on a new connection.
    let mut raw = RawSession::connect(server.addr(), 10_000).await.unwrap();
    let (id, passwd) = (raw.session_id(), raw.handshake.passwd.clone());
    let r = raw
        .call(
            op::SET_DATA,
            &body::set_data("/big", &vec![b'r'; max_set], -1),
        )
        .await
        .unwrap();
    assert_eq!(r.err, err::OK);
    // (The write itself may fail once the server has hung up.)
    let _ = raw
        .send(
            op::SET_DATA,
            &body::set_data("/big", &vec![b'r'; max_set + 1], -1),
        )
        .await;
    raw.expect_closed(WAIT).await;
    let resumed = RawSession::reattach(server.addr(), 10_000, id, &passwd)
        .await
        .unwrap();
    assert_eq!(resumed.session_id(), id);
    // `c` may be served by another member of an ensemble than the raw session: sync first.
    let (_, stat) = synced(&c).await.get_data("/big").await.unwrap();
    assert_eq!(stat.version, 2);
}
