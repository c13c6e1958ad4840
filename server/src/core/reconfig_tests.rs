//! Conversation tests of `reconfig` in the roles: the leader's checks, a proposal that
//! needs the old and the new voters, COMMITANDACTIVATE / INFORMANDACTIVATE with the
//! designated leader, and a follower taking the new configuration.

use std::collections::BTreeSet;

use zkrs_proto::request::ReconfigRequest;
use zkrs_proto::ErrorCode;

use super::*;

const SESSION: i64 = 0x0200_0000_0000_0001;

fn reconfig_settings() -> CoreSettings {
    let mut s = settings_for(1);
    s.prep.reconfig_enabled = true;
    s
}

/// A leader of voters 1-3 with reconfig on, followers 2 and 3 synced, `extra` synced as
/// followers outside the configuration (joiners), and a session of learner 2's.
fn reconfig_leader(extra: &[u64]) -> Harness {
    let mut h = leader_with_settings(reconfig_settings(), &[1, 2, 3], 0, 0, DataTree::new());
    let all: Vec<u64> = [2, 3].iter().chain(extra).copied().collect();
    for &s in &all {
        from(&mut h, s, info(s, 0));
    }
    for &s in &all {
        from(&mut h, s, ack_epoch(0, 0));
    }
    for &s in &all {
        from(&mut h, s, ack(z(1, 0)));
    }
    assert!(h.core.serving());
    h.peer.clear();
    learner_session(&mut h, 2, SESSION, 10_000);
    h.sync_log();
    drain(&mut h);
    h
}

fn reconfig(joining: Option<&str>, leaving: Option<&str>, from_version: i64) -> Request {
    Request::Reconfig(ReconfigRequest {
        joining_servers: joining.map(str::to_string),
        leaving_servers: leaving.map(str::to_string),
        new_members: None,
        cur_config_id: from_version,
    })
}

fn superuser() -> Vec<Id> {
    vec![Id::new("super", "")]
}

/// Learner 2 forwards `req` for the session; returns the proposal's txn.
fn forward(h: &mut Harness, cxid: i32, req: &Request, auth: Vec<Id>) -> apache::ApacheTxn {
    from(h, 2, learner_request(SESSION, cxid, req, auth));
    last_proposal_to(&drain(h), 3)
}

fn error_of(t: &apache::ApacheTxn) -> Option<i32> {
    match t.txn {
        Txn::Error { err } => Some(err),
        _ => None,
    }
}

fn proposed_config(t: &apache::ApacheTxn) -> QuorumVerifier {
    match &t.txn {
        Txn::SetData {
            path,
            data: Some(d),
            version: -1,
            reconfig: true,
        } if path == "/zookeeper/config" => {
            QuorumVerifier::parse(std::str::from_utf8(d).unwrap()).unwrap()
        }
        other => panic!("not a reconfig: {other:?}"),
    }
}

/// The reconfig transaction that commits `next`, at zxid (1, 1).
fn reconfig_entry(next: &QuorumVerifier) -> LogEntry {
    entry(
        z(1, 1),
        SESSION,
        1,
        Txn::SetData {
            path: "/zookeeper/config".into(),
            data: Some(next.to_string().into_bytes()),
            version: -1,
            reconfig: true,
        },
    )
}

const JOINER: &str = "server.4=127.0.0.4:2888:3888:participant;2181";

#[test]
fn the_first_epoch_stamps_the_initial_config_with_its_zxid() {
    let h = reconfig_leader(&[]);
    let Mode::Leading(l) = &h.core.mode else {
        panic!("leading")
    };
    let (committed, last_seen) = l.configs();
    assert_eq!(committed.version, z(1, 0).raw(), "ZOOKEEPER-1783");
    assert_eq!(last_seen, committed);
}

#[test]
fn a_joiner_is_added_with_acks_of_the_old_and_the_new_voters() {
    let mut h = reconfig_leader(&[4]);
    let version = z(1, 0).raw();
    let t = forward(
        &mut h,
        1,
        &reconfig(Some(JOINER), None, version),
        superuser(),
    );
    let next = proposed_config(&t);
    assert_eq!(next.voters(), BTreeSet::from([1, 2, 3, 4]));
    assert_eq!(
        next.version, t.header.zxid,
        "the version is the reconfig's zxid"
    );
    let zxid = Zxid::from_raw(t.header.zxid);
    h.sync_log();
    from(&mut h, 2, ack(zxid));
    assert!(
        to(&drain(&mut h), 2).is_empty(),
        "1 and 2 are a quorum of the old voters only"
    );
    from(&mut h, 4, ack(zxid));
    let outs = drain(&mut h);
    for s in [2, 3, 4] {
        let p = to(&outs, s);
        assert_eq!(
            kinds(&p),
            vec![PacketType::COMMITANDACTIVATE],
            "learner {s}"
        );
        assert_eq!(p[0].zxid, zxid.raw());
        assert_eq!(
            reconfig::split_activate(p[0].data.as_deref().unwrap()),
            Some((1, &[][..])),
            "the leader stays"
        );
    }
    assert!(outs.iter().any(|o| matches!(o,
        PeerOut::ConfigActivated { config, designated_leader: Some(1) } if config == &next)));
    let config = h.core.tree.get("/zookeeper/config").unwrap();
    assert_eq!(config.data(), Some(next.to_string().as_bytes()));

    // From now on 4 counts: 1 and 4 are not a quorum of four, 1, 3 and 4 are.
    let t = forward(&mut h, 2, &set_req("/zookeeper", b""), superuser());
    let w = Zxid::from_raw(t.header.zxid);
    h.sync_log();
    from(&mut h, 4, ack(w));
    assert!(to(&drain(&mut h), 4).is_empty());
    from(&mut h, 3, ack(w));
    assert_eq!(kinds(&to(&drain(&mut h), 4)), vec![PacketType::COMMIT]);
}

#[test]
fn a_reconfig_is_refused_as_apache_refuses_it() {
    let mut h = reconfig_leader(&[4]);
    let version = z(1, 0).raw();
    let bad_version = forward(&mut h, 1, &reconfig(Some(JOINER), None, 7), superuser());
    assert_eq!(error_of(&bad_version), Some(ErrorCode::BadVersion.code()));
    let no_auth = forward(&mut h, 2, &reconfig(Some(JOINER), None, -1), Vec::new());
    assert_eq!(error_of(&no_auth), Some(ErrorCode::NoAuth.code()));
    let no_quorum = forward(
        &mut h,
        3,
        &reconfig(
            Some("server.5=127.0.0.5:2888:3888;2181"),
            Some("2,3"),
            version,
        ),
        superuser(),
    );
    assert_eq!(
        error_of(&no_quorum),
        Some(ErrorCode::NewConfigNoQuorum.code()),
        "5 is not connected: of 1 and 5 only 1 is synced"
    );
    let one_voter = forward(&mut h, 4, &reconfig(None, Some("2,3"), -1), superuser());
    assert_eq!(
        error_of(&one_voter),
        Some(ErrorCode::BadArguments.code()),
        "standaloneEnabled needs two voters"
    );
    let malformed = forward(
        &mut h,
        5,
        &reconfig(Some("server.4"), None, -1),
        superuser(),
    );
    assert_eq!(error_of(&malformed), Some(ErrorCode::BadArguments.code()));

    let first = forward(&mut h, 6, &reconfig(Some(JOINER), None, -1), superuser());
    assert!(error_of(&first).is_none());
    let second = forward(&mut h, 7, &reconfig(None, Some("4"), -1), superuser());
    assert_eq!(
        error_of(&second),
        Some(ErrorCode::ReconfigInProgress.code()),
        "one reconfig at a time"
    );
}

/// Found by the cluster simulation with reconfig: a learner that synced while a reconfig
/// was in flight got that proposal's configuration in NEWLEADER and, taking NEWLEADER's
/// configuration as committed at UPTODATE, activated a configuration that had not committed
/// (and might never).
#[test]
fn a_learner_syncing_during_a_reconfig_gets_the_committed_config_in_newleader() {
    let mut h = reconfig_leader(&[4]);
    let committed = z(1, 0).raw();
    let t = forward(
        &mut h,
        1,
        &reconfig(Some(JOINER), None, committed),
        superuser(),
    );
    let in_flight = proposed_config(&t);
    from(&mut h, 5, info(5, 1));
    from(&mut h, 5, ack_epoch(z(1, 0).raw(), -1));
    let outs = drain(&mut h);
    let newleader = to(&outs, 5)
        .into_iter()
        .find(|p| p.kind == PacketType::NEWLEADER)
        .expect("NEWLEADER to the late learner");
    let carried =
        QuorumVerifier::parse(std::str::from_utf8(newleader.data.as_deref().unwrap()).unwrap())
            .unwrap();
    assert_eq!(carried.version, committed, "the committed configuration");
    assert_ne!(carried, in_flight);
    let proposals: Vec<i64> = to(&outs, 5)
        .iter()
        .filter(|p| p.kind == PacketType::PROPOSAL)
        .map(|p| p.zxid)
        .collect();
    assert_eq!(
        proposals,
        vec![t.header.zxid],
        "the reconfig follows NEWLEADER as a proposal"
    );
}

/// Found by the cluster simulation with reconfig: a leader that completed an interrupted
/// reconfig at NEWLEADER (here 1, 2, 3 → 1, 3) went on counting its epoch's commits against
/// the configuration it started from, so the acknowledgement of 2, no longer a voter, made
/// a quorum with its own.
#[test]
fn a_config_activated_at_newleader_counts_the_epochs_commits() {
    let mut s = reconfig_settings();
    s.server_id = 3;
    let mut h = Harness::with_settings(s.clone());
    let next = config_of(&[1, 3], z(1, 7).raw());
    let setup = LeaderSetup {
        config: config_of(&[1, 2, 3], z(1, 0).raw()),
        last_seen: next.clone(),
        accepted_epoch: 1,
        current_epoch: 1,
    };
    h.replace_core(|now| Core::new(s, DataTree::new(), now).into_leader(setup));
    for l in [1, 2] {
        from(&mut h, l, info(l, 1));
    }
    for l in [1, 2] {
        from(&mut h, l, ack_epoch(0, 1));
    }
    for l in [1, 2] {
        from(&mut h, l, ack(z(2, 0)));
    }
    assert!(h.core.serving());
    let outs = drain(&mut h);
    assert!(outs.iter().any(|o| matches!(o,
        PeerOut::ConfigActivated { config, designated_leader: Some(3) } if config == &next)));
    learner_session(&mut h, 1, SESSION, 10_000);
    drain(&mut h);
    let write = learner_request(SESSION, 1, &set_req("/zookeeper", b""), superuser());
    from(&mut h, 1, write);
    let t = last_proposal_to(&drain(&mut h), 2);
    let w = Zxid::from_raw(t.header.zxid);
    h.sync_log();
    from(&mut h, 2, ack(w));
    assert!(
        to(&drain(&mut h), 1).is_empty(),
        "3 and 2 are no quorum of 1 and 3"
    );
    from(&mut h, 1, ack(w));
    assert_eq!(kinds(&to(&drain(&mut h), 1)), vec![PacketType::COMMIT]);
}

/// Found by the cluster simulation with reconfig: with a reconfig in flight that adds 5,
/// 5 had logged more of the old epoch than the member the old voters elected. The leader
/// waited for a quorum of both configurations to choose its epoch, so for 5, and dropped
/// 5 as ahead of it while choosing: no epoch, for ever. As Apache's leader, it now
/// settles the epoch with the committed configuration's quorum; 5 joins after, is
/// truncated, and NEWLEADER still needs a quorum of both.
#[test]
fn a_voter_of_a_proposed_config_ahead_of_the_leader_is_truncated_not_waited_for() {
    let s = reconfig_settings();
    let mut h = Harness::with_settings(s.clone());
    let setup = LeaderSetup {
        config: config_of(&[1, 2, 3], z(1, 0).raw()),
        last_seen: config_of(&[1, 3, 5], z(1, 2).raw()),
        accepted_epoch: 1,
        current_epoch: 1,
    };
    let (tree, _) = history(1, 2);
    h.replace_core(|now| Core::new(s, tree, now).into_leader(setup));
    from(&mut h, 2, info(2, 1));
    assert_eq!(
        kinds(&to(&drain(&mut h), 2)),
        vec![PacketType::LEADERINFO],
        "1 and 2 are a quorum of the committed configuration: the epoch is chosen"
    );
    from(&mut h, 2, ack_epoch(z(1, 2).raw(), 1));
    drain(&mut h);
    from(&mut h, 5, info(5, 1));
    from(&mut h, 5, ack_epoch(z(1, 3).raw(), 1));
    let outs = drain(&mut h);
    assert!(
        matches!(plan_for(&outs, 5), Some(SyncPlan::Trunc { .. })),
        "5 is ahead: truncated, not dropped"
    );
    from(&mut h, 2, ack(z(2, 0)));
    assert!(
        !h.core.serving(),
        "NEWLEADER needs a quorum of 1, 3 and 5 too"
    );
    from(&mut h, 5, ack(z(2, 0)));
    assert!(h.core.serving());
}

#[test]
fn reconfig_disabled_and_standalone_answers() {
    let mut h = serving_leader(&[1, 2, 3], &[2, 3], &[]);
    learner_session(&mut h, 2, SESSION, 10_000);
    drain(&mut h);
    let t = forward(&mut h, 1, &reconfig(Some(JOINER), None, -1), superuser());
    assert_eq!(error_of(&t), Some(ErrorCode::ReconfigDisabled.code()));
}

#[test]
fn a_removed_leader_designates_the_most_up_to_date_voter_and_stops_committing() {
    let mut h = reconfig_leader(&[]);
    let t = forward(&mut h, 1, &reconfig(None, Some("1"), -1), superuser());
    let zxid = Zxid::from_raw(t.header.zxid);
    let after = forward(&mut h, 2, &set_req("/zookeeper", b""), superuser());
    let after = Zxid::from_raw(after.header.zxid);
    h.sync_log();
    from(&mut h, 2, ack(zxid));
    from(&mut h, 3, ack(after));
    let outs = drain(&mut h);
    let p = to(&outs, 2);
    assert_eq!(kinds(&p), vec![PacketType::COMMITANDACTIVATE]);
    assert_eq!(
        reconfig::split_activate(p[0].data.as_deref().unwrap()).map(|x| x.0),
        Some(3),
        "3 acknowledged more of what follows the reconfig"
    );
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, PeerOut::ToLearner { pkt, .. } if pkt.kind == PacketType::COMMIT)),
        "the later write is left to the new leader"
    );
}

#[test]
fn a_follower_activates_the_config_and_leaves_for_a_new_leader() {
    let mut h = follower_with(2, false, 1, DataTree::new());
    let next = config_of(&[2, 3, 4], z(1, 1).raw());
    let e = reconfig_entry(&next);
    h.input(Input::FromLeader(proposal(&e)));
    let outs = drain(&mut h);
    assert!(outs
        .iter()
        .any(|o| matches!(o, PeerOut::ConfigProposed(c) if c == &next)));
    h.sync_log();
    drain(&mut h);
    h.input(Input::FromLeader(reconfig::commit_and_activate(
        z(1, 1).raw(),
        3,
    )));
    let outs = drain(&mut h);
    assert!(outs.iter().any(|o| matches!(o,
        PeerOut::ConfigActivated { config, designated_leader: Some(3) } if config == &next)));
    assert!(ended(&outs), "the leader changed: follow 3 instead");
    assert_eq!(h.core.tree.last_zxid(), z(1, 1).raw(), "committed first");
    // What the old leader sent after it is not taken: every follower's log ends where the
    // designated leader's does, as Apache's followers stop reading there.
    let later = entry(z(1, 2), 0, 0, create_txn("/after", b""));
    h.input(Input::FromLeader(proposal(&later)));
    let outs = drain(&mut h);
    assert!(to_leader(&outs).is_empty(), "no ACK");
    assert!(
        h.appended.iter().all(|e| e.hdr.zxid != z(1, 2).raw()),
        "not logged"
    );
    assert!(!ended(&outs), "ended once");
}

#[test]
fn an_observer_applies_inform_and_activate() {
    let mut h = follower_with(9, true, 1, DataTree::new());
    let next = config_of(&[1, 2, 3], z(1, 1).raw());
    let e = reconfig_entry(&next);
    h.input(Input::FromLeader(reconfig::inform_and_activate(
        &proposal(&e),
        1,
    )));
    let outs = drain(&mut h);
    assert!(outs.iter().any(|o| matches!(
        o,
        PeerOut::ConfigActivated {
            designated_leader: Some(1),
            ..
        }
    )));
    assert!(
        !ended(&outs),
        "same leader, still not a member: keeps observing"
    );
    assert_eq!(h.core.tree.last_zxid(), z(1, 1).raw());
}

#[test]
fn a_learner_takes_the_config_newleader_carried_at_uptodate() {
    let stamped = config_of(&[1, 2, 3], z(2, 0).raw());
    let start = |config: QuorumVerifier| {
        let mut h = Harness::with_settings(settings_for(2));
        let setup = FollowerSetup {
            leader: 1,
            observer: false,
            epoch: 2,
            voters: 3,
            uncommitted: Vec::new(),
            config: Some(config),
        };
        h.replace_core(|now| Core::new(settings_for(2), DataTree::new(), now).into_follower(setup));
        h
    };
    let mut h = start(stamped.clone());
    let outs = drain(&mut h);
    assert!(outs.iter().any(|o| matches!(o,
        PeerOut::ConfigActivated { config, designated_leader: Some(1) } if config == &stamped)));
    assert!(!ended(&outs), "same leader, same place: keeps following");
    let node = h.core.tree.get("/zookeeper/config").unwrap();
    assert_eq!(node.data(), Some(stamped.to_string().as_bytes()));
    assert_eq!(node.stat().mzxid, stamped.version);

    let mut h = start(config_of(&[2, 3, 4], z(2, 0).raw()));
    assert!(
        ended(&drain(&mut h)),
        "the leader left the voters: elect again"
    );
}
