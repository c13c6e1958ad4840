//! The ensemble fixture against a real three-member Apache ZooKeeper ensemble (the only
//! replicating server until zkrs has ZAB): a write through one member survives the leader's
//! kill -9, a new leader is elected, a paused follower does not stop the others, and the
//! killed member comes back as a follower with the write.

use std::time::Duration;

use zkrs_tests::{open, zk, Ensemble, Mode, ServerConfig, ServerKind, WAIT};

/// Bound for an election or a member's (re)start: a JVM on a busy two-core machine.
const ELECTION: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_survives_the_leaders_kill_9_and_a_new_leader_is_elected() {
    let mut ensemble = tokio::task::block_in_place(|| Ensemble::apache(3));
    let leader = ensemble.wait_for_leader(ELECTION);
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    assert_eq!(ensemble.member(follower).mode(), Mode::Follower);

    // Written through a follower, which forwards it to the leader.
    let client = ensemble.client_of(follower).await;
    client.create("/k", b"v1", &open()).await.expect("create");
    drop(client);

    // A paused follower holds its sockets but answers nothing: the other two still make a
    // quorum, and once it runs again it catches up.
    ensemble.pause(other);
    assert_eq!(ensemble.member(other).mode(), Mode::NotServing);
    let client = ensemble.client_of(leader).await;
    client
        .set_data("/k", b"v2", None)
        .await
        .expect("a write with one follower paused");
    drop(client);
    ensemble.resume(other);
    tokio::task::block_in_place(|| ensemble.wait_serving(ELECTION));

    ensemble.kill9(leader);
    let new_leader = tokio::task::block_in_place(|| ensemble.wait_for_leader(ELECTION));
    assert_ne!(new_leader, leader);
    let survivor = if new_leader == follower {
        other
    } else {
        follower
    };
    for i in [new_leader, survivor] {
        let client = ensemble.client_of(i).await;
        let (data, _) = client
            .get_data("/k")
            .await
            .expect("the write is still there");
        assert_eq!(data, b"v2", "member {}", ensemble.member(i).id);
    }

    // The killed leader restarts with its data dir and rejoins as a follower.
    ensemble.restart(leader);
    let now_leader = tokio::task::block_in_place(|| ensemble.wait_for_leader(ELECTION));
    assert_eq!(
        now_leader, new_leader,
        "a rejoining member does not take over"
    );
    assert_eq!(ensemble.member(leader).mode(), Mode::Follower);
    let client = ensemble.client_of(leader).await;
    client.sync("/k").await.expect("sync");
    let (data, _) = client
        .get_data("/k")
        .await
        .expect("read on the rejoined member");
    assert_eq!(data, b"v2");

    // Any member will do for a client given all of them.
    let all = ensemble.connect_string();
    let any = zk::Client::connector().with_fail_eagerly().connect(&all);
    let any = zkrs_tests::within(WAIT, "a client of the whole ensemble", any)
        .await
        .expect("connect to the ensemble");
    assert!(any.check_stat("/k").await.expect("exists").is_some());
}

/// zkrs-server reads the same ensemble configuration (`server.N`, `myid`) and replicates:
/// the fixture starts, pauses, kills and restarts its members as it does Apache's.
#[test]
fn zkrs_members_start_from_the_ensemble_configuration() {
    let mut ensemble = Ensemble::start(ServerKind::Zkrs, 3, ServerConfig::default());
    let leader = ensemble.wait_for_leader(ELECTION);
    for (i, m) in ensemble.members().iter().enumerate() {
        if i != leader {
            assert_eq!(m.mode(), Mode::Follower, "member {}", m.id);
        }
    }
    let (a, b) = ((leader + 1) % 3, (leader + 2) % 3);
    ensemble.pause(a);
    assert_eq!(ensemble.member(a).mode(), Mode::NotServing);
    ensemble.resume(a);
    ensemble.kill9(b);
    assert!(!ensemble.member(b).is_running());
    ensemble.restart(b);
    assert_eq!(ensemble.wait_serving(ELECTION), Some(leader));
    assert_eq!(ensemble.member(b).mode(), Mode::Follower);
}
