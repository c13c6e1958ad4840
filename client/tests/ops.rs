//! Every operation of the client and its errors, against a real server.

mod common;

use std::time::Duration;

use common::*;
use zkrs_client::{
    digest_acl, perms, Acl, CreateMode, CreateOptions, Error, Op, OpResult, ReadOp, ReadResult,
    SessionState, WatcherType,
};

#[tokio::test]
async fn create_in_every_mode() {
    let server = server();
    let c = client(&server).await;

    assert_eq!(
        c.create("/p", b"data", CreateMode::Persistent)
            .await
            .unwrap(),
        "/p"
    );
    let (data, stat) = c.get_data("/p").await.unwrap();
    assert_eq!(data, b"data");
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 4);

    let (path, stat) = c
        .create_with_stat("/e", b"", CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(path, "/e");
    assert_eq!(stat.ephemeral_owner, c.session_id());
    assert_eq!(c.exists("/e").await.unwrap(), Some(stat));

    let s1 = c
        .create("/p/s-", b"", CreateMode::PersistentSequential)
        .await
        .unwrap();
    let s2 = c
        .create("/p/s-", b"", CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(s1, "/p/s-0000000000");
    assert_eq!(s2, "/p/s-0000000001");
    assert_eq!(
        c.exists(&s2).await.unwrap().unwrap().ephemeral_owner,
        c.session_id()
    );
    // A sequential create may end with '/': the name is just the number.
    c.create("/q", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        c.create("/q/", b"", CreateMode::PersistentSequential)
            .await
            .unwrap(),
        "/q/0000000000"
    );

    // Containers answer with a Stat even through plain `create`.
    let (path, stat) = c
        .create_with_stat("/box", b"c", CreateMode::Container)
        .await
        .unwrap();
    assert_eq!(path, "/box");
    assert_eq!(stat.data_length, 1);

    // TTL nodes: with and without a sequence number.
    let (path, stat) = c
        .create_with_stat(
            "/ttl",
            b"t",
            CreateOptions::with_ttl_mode(Duration::from_secs(60), false),
        )
        .await
        .unwrap();
    assert_eq!(path, "/ttl");
    assert_eq!(stat.version, 0);
    let path = c
        .create(
            "/ttl-",
            b"",
            CreateOptions::with_ttl_mode(Duration::from_secs(60), true),
        )
        .await
        .unwrap();
    assert!(path.starts_with("/ttl-00000"), "{path}");

    // Null data reads back as empty, or as None through the nullable read.
    c.create_without_data("/null", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(c.get_data("/null").await.unwrap().0, b"");
    assert_eq!(c.get_data_nullable("/null").await.unwrap().0, None);
    assert_eq!(
        c.get_data_nullable("/p").await.unwrap().0,
        Some(b"data".to_vec())
    );
}

#[tokio::test]
async fn containers_and_ttl_nodes_are_reaped() {
    let server = server();
    let c = client(&server).await;
    c.create("/box", b"", CreateMode::Container).await.unwrap();
    c.create("/box/child", b"", CreateMode::Persistent)
        .await
        .unwrap();
    c.delete("/box/child", None).await.unwrap();
    wait_deleted(&c, "/box", SLOW_WAIT).await;

    c.create(
        "/short",
        b"",
        CreateOptions::with_ttl_mode(Duration::from_millis(200), false),
    )
    .await
    .unwrap();
    wait_deleted(&c, "/short", SLOW_WAIT).await;
}

#[tokio::test]
async fn ttl_nodes_need_extended_types() {
    let server = server_with(ServerConfig::default().with_extended_types(false));
    let c = client(&server).await;
    assert_eq!(
        c.create(
            "/ttl",
            b"",
            CreateOptions::with_ttl_mode(Duration::from_secs(5), false)
        )
        .await,
        Err(Error::Unimplemented)
    );
}

#[tokio::test]
async fn create_errors() {
    let server = server();
    let c = client(&server).await;
    c.create("/a", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        c.create("/a", b"", CreateMode::Persistent).await,
        Err(Error::NodeExists)
    );
    assert_eq!(
        c.create("/missing/child", b"", CreateMode::Persistent)
            .await,
        Err(Error::NoNode)
    );
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    assert_eq!(
        c.create("/eph/child", b"", CreateMode::Persistent).await,
        Err(Error::NoChildrenForEphemerals)
    );
    assert_eq!(
        c.create(
            "/noacl",
            b"",
            CreateOptions::new(CreateMode::Persistent).acl(vec![])
        )
        .await,
        Err(Error::InvalidAcl)
    );
    assert_eq!(
        c.create(
            "/badacl",
            b"",
            CreateOptions::new(CreateMode::Persistent).acl(vec![Acl::new(
                perms::ALL,
                "nosuchscheme",
                "x"
            )])
        )
        .await,
        Err(Error::InvalidAcl)
    );
    // Checked on the client, before anything is sent.
    for bad in ["", "a", "/a/", "/a//b", "/./a", "/a/.."] {
        assert!(
            matches!(
                c.create(bad, b"", CreateMode::Persistent).await,
                Err(Error::InvalidPath(_))
            ),
            "{bad:?}"
        );
        assert!(
            matches!(c.get_data(bad).await, Err(Error::InvalidPath(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        c.create("/t", b"", CreateMode::PersistentWithTtl).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.create(
            "/t",
            b"",
            CreateOptions::new(CreateMode::Persistent).ttl(Duration::from_secs(1))
        )
        .await,
        Err(Error::InvalidArgument(_))
    ));
    // The client is still fine after all these errors.
    assert_eq!(c.state(), SessionState::SyncConnected);
    assert!(c.exists("/a").await.unwrap().is_some());
}

#[tokio::test]
async fn read_write_delete_with_versions() {
    let server = server();
    let c = client(&server).await;
    assert_eq!(c.exists("/n").await.unwrap(), None);
    assert_eq!(c.get_data("/n").await, Err(Error::NoNode));
    assert_eq!(c.set_data("/n", b"x", None).await, Err(Error::NoNode));
    assert_eq!(c.delete("/n", None).await, Err(Error::NoNode));

    let (_, created) = c
        .create_with_stat("/n", b"v0", CreateMode::Persistent)
        .await
        .unwrap();
    let s1 = c.set_data("/n", b"v1", Some(0)).await.unwrap();
    assert_eq!(s1.version, 1);
    assert_eq!(s1.czxid, created.czxid);
    assert!(s1.mzxid > created.mzxid);
    assert_eq!(
        c.set_data("/n", b"v2", Some(0)).await,
        Err(Error::BadVersion)
    );
    let s2 = c.set_data("/n", b"v2", None).await.unwrap();
    assert_eq!(s2.version, 2);
    assert_eq!(c.get_data("/n").await.unwrap(), (b"v2".to_vec(), s2));

    c.create("/n/child", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(c.delete("/n", None).await, Err(Error::NotEmpty));
    assert_eq!(c.delete("/n/child", Some(5)).await, Err(Error::BadVersion));
    c.delete("/n/child", Some(0)).await.unwrap();
    c.delete("/n", Some(2)).await.unwrap();
    assert_eq!(c.exists("/n").await.unwrap(), None);

    // Recursive helpers.
    c.ensure_path("/x/y/z").await.unwrap();
    c.ensure_path("/x/y/z").await.unwrap();
    c.create("/x/y/z/w", b"", CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(c.get_all_children_number("/x").await.unwrap(), 3);
    c.delete_recursive("/x").await.unwrap();
    assert_eq!(c.exists("/x").await.unwrap(), None);
    c.delete_recursive("/x").await.unwrap();
}

#[tokio::test]
async fn large_data_round_trips() {
    let server = server();
    let c = client(&server).await;
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    c.create("/big", &big, CreateMode::Persistent)
        .await
        .unwrap();
    let (data, stat) = c.get_data("/big").await.unwrap();
    assert_eq!(stat.data_length as usize, big.len());
    assert!(data == big);
}

#[tokio::test]
async fn children_counts_and_ephemerals() {
    let server = server();
    let c = client(&server).await;
    let other = client(&server).await;
    c.create("/d", b"", CreateMode::Persistent).await.unwrap();
    for name in ["a", "b", "c"] {
        c.create(&format!("/d/{name}"), b"", CreateMode::Persistent)
            .await
            .unwrap();
    }
    c.create("/d/a/deep", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(sorted(c.get_children("/d").await.unwrap()), ["a", "b", "c"]);
    let (children, stat) = c.get_children_and_stat("/d").await.unwrap();
    assert_eq!(sorted(children), ["a", "b", "c"]);
    assert_eq!(stat.num_children, 3);
    assert_eq!(c.get_children("/d/b").await.unwrap(), Vec::<String>::new());
    assert_eq!(c.get_children("/nope").await, Err(Error::NoNode));
    assert_eq!(c.get_all_children_number("/d").await.unwrap(), 4);
    assert_eq!(c.get_all_children_number("/nope").await, Err(Error::NoNode));

    c.create("/e", b"", CreateMode::Ephemeral).await.unwrap();
    c.create("/eee", b"", CreateMode::Ephemeral).await.unwrap();
    c.create("/d/e1", b"", CreateMode::Ephemeral).await.unwrap();
    other
        .create("/d/theirs", b"", CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(
        sorted(c.get_ephemerals("/").await.unwrap()),
        ["/d/e1", "/e", "/eee"]
    );
    // A plain string prefix.
    assert_eq!(
        sorted(c.get_ephemerals("/e").await.unwrap()),
        ["/e", "/eee"]
    );
    assert_eq!(c.get_ephemerals("/d").await.unwrap(), ["/d/e1"]);
    assert_eq!(other.get_ephemerals("/").await.unwrap(), ["/d/theirs"]);
}

#[tokio::test]
async fn acl_operations_and_authentication() {
    let server = server();
    let c = client(&server).await;
    let other = client(&server).await;
    let acl = vec![digest_acl(perms::ALL, "alice", "secret")];

    // Default ACL is open.
    c.create("/open", b"", CreateMode::Persistent)
        .await
        .unwrap();
    let (got, stat) = c.get_acl("/open").await.unwrap();
    assert_eq!(got, Acl::open_unsafe());
    assert_eq!(stat.aversion, 0);

    // A digest-protected node: the creator must authenticate first (an ACL naming a digest
    // id the session lacks is still accepted).
    c.add_auth("digest", b"alice:secret").await.unwrap();
    c.create(
        "/secret",
        b"s",
        CreateOptions::new(CreateMode::Persistent).acl(acl.clone()),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/secret").await.unwrap().0, b"s");
    assert_eq!(other.get_data("/secret").await, Err(Error::NoAuth));
    assert_eq!(
        other.set_data("/secret", b"x", None).await,
        Err(Error::NoAuth)
    );
    assert_eq!(
        other.create("/secret/c", b"", CreateMode::Persistent).await,
        Err(Error::NoAuth)
    );
    other.add_auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(other.get_data("/secret").await.unwrap().0, b"s");

    // setACL with versions.
    let (_, stat) = c.get_acl("/secret").await.unwrap();
    assert_eq!(
        c.set_acl("/secret", &Acl::read_unsafe(), Some(stat.aversion + 1))
            .await,
        Err(Error::BadVersion)
    );
    let stat = c
        .set_acl("/secret", &Acl::read_unsafe(), Some(stat.aversion))
        .await
        .unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(c.get_acl("/secret").await.unwrap().0, Acl::read_unsafe());
    assert_eq!(c.set_data("/secret", b"x", None).await, Err(Error::NoAuth));
    assert_eq!(
        c.set_acl("/nope", &Acl::open_unsafe(), None).await,
        Err(Error::NoNode)
    );
    assert_eq!(c.get_acl("/nope").await, Err(Error::NoNode));
    assert_eq!(c.set_acl("/open", &[], None).await, Err(Error::InvalidAcl));

    // whoAmI lists the identities of the session.
    let ids = c.who_am_i().await.unwrap();
    assert!(
        ids.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{ids:?}"
    );
    assert!(ids.iter().any(|i| i.auth_scheme == "ip"), "{ids:?}");
    let third = client(&server).await;
    let ids = third.who_am_i().await.unwrap();
    assert!(ids.iter().all(|i| i.auth_scheme != "digest"), "{ids:?}");
}

#[tokio::test]
async fn credentials_from_the_builder_are_used() {
    let server = server();
    let c = client(&server).await;
    c.add_auth("digest", b"bob:pw").await.unwrap();
    c.create(
        "/bob",
        b"",
        CreateOptions::new(CreateMode::Persistent).acl(vec![digest_acl(perms::ALL, "bob", "pw")]),
    )
    .await
    .unwrap();
    let with = within(
        WAIT,
        "connect",
        zkrs_client::Client::builder(&server.connect_string())
            .auth("digest", b"bob:pw")
            .connect(),
    )
    .await
    .unwrap();
    with.get_data("/bob").await.unwrap();
}

#[tokio::test]
async fn failed_authentication_ends_the_session() {
    let server = server();
    let c = client(&server).await;
    let mut events = c.state_events();
    let (_, _, watcher) = {
        c.create("/w", b"", CreateMode::Persistent).await.unwrap();
        c.get_data_and_watch("/w").await.unwrap()
    };
    assert_eq!(
        c.add_auth("nosuchscheme", b"whatever").await,
        Err(Error::AuthFailed)
    );
    expect_state(&mut events, SessionState::AuthFailed, WAIT).await;
    assert_eq!(c.state(), SessionState::AuthFailed);
    assert_eq!(c.exists("/w").await, Err(Error::AuthFailed));
    let event = fired(watcher).await;
    assert_eq!(event.state, zkrs_client::KeeperState::AuthFailed);
}

#[tokio::test]
async fn sync_config_and_reconfig() {
    let server = server();
    let c = client(&server).await;
    c.sync("/").await.unwrap();
    c.create("/s", b"", CreateMode::Persistent).await.unwrap();
    c.sync("/s").await.unwrap();

    // Standalone servers have an empty configuration node.
    let (_config, stat) = c.get_config().await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    let (_, _, _watcher) = c.get_config_and_watch().await.unwrap();
    // Reconfiguration is disabled by default.
    let r = c.reconfig(None, Some("2"), None, None).await;
    assert!(
        matches!(r, Err(Error::ReconfigDisabled) | Err(Error::Unimplemented)),
        "{r:?}"
    );
}

#[tokio::test]
async fn multi_applies_all_or_nothing() {
    let server = server();
    let c = client(&server).await;
    c.create("/m", b"", CreateMode::Persistent).await.unwrap();
    c.create("/m/old", b"", CreateMode::Persistent)
        .await
        .unwrap();

    let results = c
        .multi([
            Op::check("/m", Some(0)),
            Op::create("/m/new", b"n".to_vec(), CreateMode::Persistent),
            Op::create("/m/seq-", b"".to_vec(), CreateMode::PersistentSequential),
            Op::set_data("/m/new", b"n2".to_vec(), Some(0)),
            Op::delete("/m/old", None),
            Op::create("/m/box", b"".to_vec(), CreateMode::Container),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0], OpResult::Check);
    assert!(matches!(&results[1], OpResult::Create { path, .. } if path == "/m/new"));
    assert!(
        matches!(&results[2], OpResult::Create { path, .. } if path == "/m/seq-0000000002"),
        "{:?}",
        results[2]
    );
    assert!(matches!(&results[3], OpResult::SetData(s) if s.version == 1));
    assert_eq!(results[4], OpResult::Delete);
    assert!(matches!(&results[5], OpResult::Create { path, .. } if path == "/m/box"));
    assert_eq!(c.get_data("/m/new").await.unwrap().0, b"n2");
    assert_eq!(c.exists("/m/old").await.unwrap(), None);

    // A failure in the middle changes nothing and reports each operation.
    let before = c.get_data("/m/new").await.unwrap();
    let err = c
        .multi([
            Op::create("/m/x", b"".to_vec(), CreateMode::Persistent),
            Op::set_data("/m/new", b"lost".to_vec(), None),
            Op::check("/m/new", Some(7)),
            Op::create("/m/y", b"".to_vec(), CreateMode::Persistent),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Multi {
            index: 2,
            error: Box::new(Error::BadVersion),
            results: vec![
                Ok(()),
                Ok(()),
                Err(Error::BadVersion),
                Err(Error::RuntimeInconsistency)
            ],
        }
    );
    assert_eq!(err.code(), Some(zkrs_client::proto::ErrorCode::BadVersion));
    assert_eq!(c.exists("/m/x").await.unwrap(), None);
    assert_eq!(c.get_data("/m/new").await.unwrap(), before);

    for (ops, index, error) in [
        (
            vec![
                Op::create("/m/z", b"".to_vec(), CreateMode::Persistent),
                Op::create("/m/new", b"".to_vec(), CreateMode::Persistent),
            ],
            1,
            Error::NodeExists,
        ),
        (vec![Op::delete("/m/nope", None)], 0, Error::NoNode),
        (vec![Op::check("/m/nope", None)], 0, Error::NoNode),
        (vec![Op::delete("/m", None)], 0, Error::NotEmpty),
    ] {
        match c.multi(ops).await {
            Err(Error::Multi {
                index: i, error: e, ..
            }) => {
                assert_eq!((i, *e), (index, error));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(c.exists("/m/z").await.unwrap(), None);
    // An empty multi does nothing.
    assert_eq!(c.multi([]).await.unwrap(), vec![]);
    // Invalid paths are caught before sending.
    assert!(matches!(
        c.multi([Op::delete("bad", None)]).await,
        Err(Error::InvalidPath(_))
    ));
}

#[tokio::test]
async fn multi_read_reports_each_result() {
    let server = server();
    let c = client(&server).await;
    c.create("/r", b"rd", CreateMode::Persistent).await.unwrap();
    c.create("/r/x", b"", CreateMode::Persistent).await.unwrap();
    let (_, stat) = c.get_data("/r").await.unwrap();
    let results = c
        .multi_read([
            ReadOp::get_data("/r"),
            ReadOp::get_children("/r"),
            ReadOp::get_data("/missing"),
            ReadOp::get_children("/missing"),
        ])
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![
            ReadResult::Data {
                data: b"rd".to_vec(),
                stat
            },
            ReadResult::Children(vec!["x".to_string()]),
            ReadResult::Error(Error::NoNode),
            ReadResult::Error(Error::NoNode),
        ]
    );
}

#[tokio::test]
async fn requests_are_pipelined_and_answered_in_order() {
    let server = server();
    let c = client(&server).await;
    c.create("/pipe", b"", CreateMode::Persistent)
        .await
        .unwrap();
    // Polled together, sent in this order: sequence numbers follow the call order.
    let (a, b, d, e) = tokio::join!(
        c.create("/pipe/s-", b"", CreateMode::PersistentSequential),
        c.create("/pipe/s-", b"", CreateMode::PersistentSequential),
        c.get_children("/pipe"),
        c.create("/pipe/s-", b"", CreateMode::PersistentSequential),
    );
    assert_eq!(a.unwrap(), "/pipe/s-0000000000");
    assert_eq!(b.unwrap(), "/pipe/s-0000000001");
    assert_eq!(sorted(d.unwrap()), ["s-0000000000", "s-0000000001"]);
    assert_eq!(e.unwrap(), "/pipe/s-0000000002");

    // Many requests in flight at once from many tasks, all answered.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let c = c.clone();
        tasks.spawn(async move {
            let path = format!("/pipe/n{i}");
            c.create(&path, i.to_string().as_bytes(), CreateMode::Persistent)
                .await?;
            let (data, _) = c.get_data(&path).await?;
            assert_eq!(data, i.to_string().as_bytes());
            c.set_data(&path, b"", Some(0)).await?;
            Ok::<_, Error>(())
        });
    }
    within(WAIT, "200 pipelined tasks", async {
        while let Some(r) = tasks.join_next().await {
            r.expect("task").expect("operations");
        }
    })
    .await;
    assert_eq!(c.get_all_children_number("/pipe").await.unwrap(), 203);
}

#[tokio::test]
async fn watch_management_errors() {
    let server = server();
    let c = client(&server).await;
    c.create("/w", b"", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        c.check_watches("/w", WatcherType::Data).await,
        Err(Error::NoWatcher)
    );
    assert_eq!(
        c.remove_watches("/w", WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
}
