//! Dynamic reconfiguration against real ensembles, written and proven against Apache
//! ZooKeeper 3.8 (`ZKRS_ENSEMBLE=apache`) so that zkrs and mixed ensembles are held to the
//! same behaviour (`ZKRS_ENSEMBLE=zkrs|mixed|<pattern>`).
//!
//! * Membership changes under continuous acknowledged writes: grow 3 → 5 one joiner at a
//!   time, shrink 5 → 3 removing the leader and another member, a participant becomes an
//!   observer and back, a member's client port moves. After each change every serving
//!   member has the same `/zookeeper/config`, whose `version=` is the reconfig's zxid, the
//!   config watch fired, and the files Apache writes (`zoo.cfg.dynamic.<hex>`, and
//!   `dynamicConfigFile=` in zoo.cfg) hold it. At the end no acknowledged write is lost.
//! * A reconfig interrupted between proposal and commit (leader killed): every member ends
//!   with the same config, old or new (Apache completes it in the next epoch here).
//! * The error codes, exactly as Apache answers them: BadVersion, NewConfigNoQuorum (also
//!   before any ACL check), NoAuth, ReconfigInProgress (a reconfig held between proposal
//!   and commit), BadArguments, ReconfigDisabled, and Unimplemented on a standalone server.
//!
//! They run against zkrs by default; `ZKRS_ENSEMBLE=apache` runs the same tests against
//! Apache 3.8, which is how their expectations were established.
//!
//! Apache 3.8 facts these tests pin (the zkrs server must match them):
//! * a member removed from the configuration keeps running as a *non-voting follower* of the
//!   new leader and keeps serving its clients (`srvr` says `Mode: follower`); the leader's
//!   `mntr` counts it in `zk_synced_followers` and in `zk_synced_non_voting_followers`;
//! * a joiner started with the current members plus itself adopts the ensemble's (newer)
//!   configuration and follows without a vote until a reconfig adds it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use zkrs_tests::acked::{assert_acked_everywhere, WriterLimits, Writers};
use zkrs_tests::ensemble::{env_kinds, Launch};
use zkrs_tests::reconfig::{
    code, config, config_of, error_code, is_lost_answer, patient_client, reconfig,
    reconfig_members, refused, wait_config_version, ConfigData, Probes, SUPER_PASSWORD,
};
use zkrs_tests::*;

/// Bound for a member's start or an election: JVMs on a busy two-core machine.
const ELECTION: Duration = Duration::from_secs(120);

/// Bound for a reconfig that must wait for a joiner to be counted as synced.
const SYNCED: Duration = Duration::from_secs(60);

/// Runs a blocking harness call (process start, `srvr` polls) from the async test.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The configuration as member `i` has it, parsed.
async fn parsed_config_of(ensemble: &Ensemble, i: usize) -> ConfigData {
    ConfigData::parse(&config_of(ensemble, i).await.0)
}

/// Checks what a reconfig returned and what every member of `among` has afterwards: the
/// returned config's version is the reconfig's zxid (its Stat's mzxid), every member has
/// that text in `/zookeeper/config` with mzxid = version, and the dynamic file Apache
/// writes, `zoo.cfg.dynamic.<hex version>`, holds the server lines (no version line) and is
/// the one zoo.cfg names.
async fn assert_committed(
    ensemble: &Ensemble,
    among: &[usize],
    returned: &(String, zk::Stat),
) -> ConfigData {
    let (text, stat) = returned;
    let parsed = ConfigData::parse(text);
    let version = parsed.version.expect("a committed config has a version");
    assert_eq!(
        version, stat.mzxid,
        "version= is the zxid of the reconfig: {text:?} {stat:?}"
    );
    assert_eq!(
        stat.version, -1,
        "Apache stamps the config node's version -1"
    );
    assert!(
        text.ends_with(&format!("\nversion={version:x}")),
        "the config ends with its hex version line: {text:?}"
    );
    let texts = wait_config_version(ensemble, among, version, ELECTION).await;
    for (k, t) in texts.iter().enumerate() {
        assert_eq!(
            t,
            text,
            "member {}'s /zookeeper/config differs from the reconfig's answer",
            ensemble.member(among[k]).id
        );
    }
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("server.")).collect();
    let expected_file = lines.join("\n");
    let file_name = format!("zoo.cfg.dynamic.{version:x}");
    for &i in among {
        let m = ensemble.member(i);
        // The files are written as the member applies the config: poll for them briefly.
        let (files, _) = eventually(SYNCED, &format!("member {}'s {file_name}", m.id), || {
            let files = m.dynamic_files();
            let found = files.iter().any(|(name, _)| *name == file_name)
                && m.dynamic_config_file()
                    .is_some_and(|p| p.file_name().is_some_and(|n| *n == *file_name));
            async move { found.then_some(files) }
        })
        .await;
        let (_, content) = files
            .iter()
            .find(|(name, _)| *name == file_name)
            .expect("found above");
        assert_eq!(
            content.trim_end(),
            expected_file,
            "member {}'s {file_name}: sorted server lines, no version line",
            m.id
        );
        // Apache rewrites zoo.cfg without the membership and, since the server lines carry
        // the client address, without clientPort/clientPortAddress; dynamicConfigFile= last.
        let statik = m.static_config();
        assert!(
            !statik.lines().any(|l| l.starts_with("server.")
                || l.starts_with("clientPort=")
                || l.starts_with("clientPortAddress=")),
            "member {}'s zoo.cfg keeps no server lines and no client port: {statik}",
            m.id
        );
        assert_eq!(
            statik
                .lines()
                .last()
                .map(|l| l.starts_with("dynamicConfigFile=")),
            Some(true),
            "member {}'s zoo.cfg ends with dynamicConfigFile=: {statik}",
            m.id
        );
    }
    parsed
}

/// Waits for a config watch to fire and checks that it is a data change of the config node.
async fn config_watch_fired(watcher: zk::OneshotWatcher) {
    let event = within(ELECTION, "the config watch", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDataChanged, "/zookeeper/config"),
        "{event:?}"
    );
}

/// A config watcher set now on `watch_client`, with the config version it saw.
async fn watch_config(watch_client: &zk::Client) -> (i64, zk::OneshotWatcher) {
    let (data, _, watcher) = within(WAIT, "getConfig with a watch", async {
        watch_client.get_and_watch_config().await
    })
    .await
    .expect("getConfig with a watch");
    let version = ConfigData::parse(&String::from_utf8_lossy(&data))
        .version
        .expect("version");
    (version, watcher)
}

/// A reconfig through `admin` whose answer may be lost: a reconfig that moves leadership
/// (or a member's role) restarts the learners' sessions with the leader, and every client of
/// a learner loses its connection then (Apache does so too). On a lost answer the config
/// is read back from member 1 until `done` holds (it committed) or a while passed (it did
/// not: it is sent again). `NewConfigNoQuorum` is retried too: a joiner that follows may
/// not be counted as synced yet. Returns the committed config and its Stat.
async fn reconfig_settled(
    ensemble: &Ensemble,
    admin: &zk::Client,
    joining: &[String],
    leaving: &[u32],
    done: impl Fn(&ConfigData) -> bool,
) -> (String, zk::Stat) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < ELECTION * 2,
            "reconfig +{joining:?} -{leaving:?} did not commit within {:?}",
            ELECTION * 2
        );
        match reconfig(admin, joining, leaving, None).await {
            Ok(committed) => return committed,
            Err(e) if error_code(&e) == Some(code::NEW_CONFIG_NO_QUORUM) => {
                tokio::time::sleep(POLL * 10).await;
            }
            // The answer was lost with the connection (`ConnectionLoss`, or the client's own
            // "no response" when the member stalls while it rejoins the new leader).
            Err(e) if is_lost_answer(&e) => {
                let read_back = Instant::now();
                while read_back.elapsed() < SYNCED {
                    let (text, stat) = config_of(ensemble, 0).await;
                    if done(&ConfigData::parse(&text)) {
                        return (text, stat);
                    }
                    tokio::time::sleep(POLL * 10).await;
                }
            }
            Err(e) => panic!("reconfig +{joining:?} -{leaving:?} failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_under_writes_lose_no_acknowledged_write() {
    let started = Instant::now();
    let mut ensemble = blocking(|| Ensemble::from_env_dynamic(3, 0, config()));
    let kinds = env_kinds(5);
    let first = parsed_config_of(&ensemble, 0).await;
    assert_eq!(first.participants(), vec![1, 2, 3]);
    assert_eq!(
        first.version.map(|v| v >> 32),
        Some(1),
        "a version-0 config is stamped with the first leader's first zxid"
    );
    let admin = patient_client(ensemble.member(0).addr(), true).await;
    // The watcher's session stays on member 1, which this test never removes.
    let watch_client = patient_client(ensemble.member(0).addr(), false).await;
    let limits = WriterLimits {
        max_time: Duration::from_secs(400),
        ..WriterLimits::default()
    };
    let writers = Writers::start(&ensemble, "/reconfig", 3, limits).await;
    let probes = Probes::start(&ensemble, "/probes", limits.max_time).await;
    writers
        .wait_for_progress(20, ELECTION, "writes before any reconfig")
        .await;

    // Grow 3 → 5, one joiner at a time: start it with the current config plus itself, wait
    // until it follows (without a vote), then add it.
    let mut voters: Vec<usize> = vec![0, 1, 2];
    for kind in &kinds[3..] {
        let (current, _) = config_of(&ensemble, 0).await;
        let j = blocking(|| ensemble.add_joiner(Launch::Server(*kind), &current));
        let mut among = voters.clone();
        among.push(j);
        blocking(|| ensemble.wait_serving_among(&among, ELECTION));
        let joiner_config = parsed_config_of(&ensemble, j).await;
        assert_eq!(
            joiner_config,
            ConfigData::parse(&current),
            "a joiner adopts the ensemble's config, which does not list it yet"
        );
        let (before, watcher) = watch_config(&watch_client).await;
        let line = ensemble.member(j).server_line(false);
        let id = ensemble.member(j).id;
        let returned = reconfig_settled(&ensemble, &admin, &[line], &[], |c| {
            c.participants().contains(&id)
        })
        .await;
        config_watch_fired(watcher).await;
        voters = among;
        let committed = assert_committed(&ensemble, &voters, &returned).await;
        assert!(committed.version > Some(before));
        let ids: Vec<u32> = voters.iter().map(|&i| ensemble.member(i).id).collect();
        assert_eq!(committed.participants(), ids);
        writers
            .wait_for_progress(20, ELECTION, "writes after a member joined")
            .await;
    }

    // Shrink 5 → 3: remove the leader and another member (not member 1, the watcher's).
    let leader = blocking(|| ensemble.wait_serving_among(&voters, ELECTION));
    let other = *voters
        .iter()
        .rev()
        .find(|&&i| i != leader && i != 0)
        .expect("another member");
    let removed = [leader, other];
    let removed_ids: Vec<u32> = removed.iter().map(|&i| ensemble.member(i).id).collect();
    let (_, watcher) = watch_config(&watch_client).await;
    let returned = reconfig_settled(&ensemble, &admin, &[], &removed_ids, |c| {
        removed_ids.iter().all(|id| !c.servers.contains_key(id))
    })
    .await;
    config_watch_fired(watcher).await;
    voters.retain(|i| !removed.contains(i));
    let committed = assert_committed(&ensemble, &voters, &returned).await;
    let ids: Vec<u32> = voters.iter().map(|&i| ensemble.member(i).id).collect();
    assert_eq!(committed.participants(), ids);
    let new_leader = blocking(|| ensemble.wait_serving_among(&voters, ELECTION));
    assert!(!removed.contains(&new_leader));
    // Apache: removed members follow the new leader without a vote and keep serving. The
    // leader's `zk_synced_followers` counts every synced follower, voting or not;
    // `zk_synced_non_voting_followers` the removed ones among them.
    let start = Instant::now();
    loop {
        let mntr = ensemble.member(new_leader).mntr().unwrap_or_default();
        let number = |key: &str| mntr.get(key).and_then(|v| v.parse::<u64>().ok());
        if number("zk_synced_followers") == Some(4)
            && number("zk_synced_non_voting_followers") == Some(2)
        {
            break;
        }
        assert!(
            start.elapsed() < ELECTION,
            "the leader does not count 4 followers, 2 of them non-voting: {mntr:#?}"
        );
        tokio::time::sleep(POLL * 10).await;
    }
    for &i in &removed {
        // The leader counts a follower synced once it acks NEWLEADER; the follower serves
        // (and says `follower` in `srvr`) once it has read the UPTODATE that follows.
        let member = ensemble.member(i);
        eventually(
            ELECTION,
            "a removed member to serve as a follower",
            || async { (member.mode() == Mode::Follower).then_some(()) },
        )
        .await;
        let seen = parsed_config_of(&ensemble, i).await;
        assert_eq!(seen, committed, "a removed member still learns the config");
    }
    writers
        .wait_for_progress(20, ELECTION, "writes after the leader was removed")
        .await;
    // The operator stops removed members; their clients move to the others.
    for &i in &removed {
        ensemble.kill9(i);
    }
    writers
        .wait_for_progress(20, ELECTION, "writes after removed members stopped")
        .await;

    // A participant becomes an observer, and back.
    let leader = blocking(|| ensemble.wait_serving_among(&voters, ELECTION));
    let flip = *voters
        .iter()
        .find(|&&i| i != leader && i != 0)
        .expect("a follower");
    for observer in [true, false] {
        let (_, watcher) = watch_config(&watch_client).await;
        let line = ensemble.member(flip).server_line(observer);
        let flip_id = ensemble.member(flip).id;
        let returned = reconfig_settled(&ensemble, &admin, &[line], &[], |c| {
            c.observers().contains(&flip_id) == observer
        })
        .await;
        config_watch_fired(watcher).await;
        ensemble.set_observer(flip, observer);
        let committed = assert_committed(&ensemble, &voters, &returned).await;
        assert_eq!(committed.observers().contains(&flip_id), observer);
        blocking(|| ensemble.wait_serving_among(&voters, ELECTION));
        writers
            .wait_for_progress(20, ELECTION, "writes after a role change")
            .await;
    }

    // A member's client port moves (its address is this test's, so any port on it is
    // free): it serves on the new port and no longer on the old one.
    let old_addr = ensemble.member(flip).addr();
    let new_port = old_addr.port() + 1;
    let m = ensemble.member(flip);
    let line = format!(
        "server.{}={}:{}:{}:participant;{}:{new_port}",
        m.id,
        m.ip(),
        m.quorum_addr().port(),
        m.election_addr().port(),
        m.ip()
    );
    let (_, watcher) = watch_config(&watch_client).await;
    let moved_id = ensemble.member(flip).id;
    let new_client = format!("{}:{new_port}", ensemble.member(flip).ip());
    let returned = reconfig_settled(&ensemble, &admin, &[line], &[], |c| {
        c.servers[&moved_id].client.as_deref() == Some(new_client.as_str())
    })
    .await;
    config_watch_fired(watcher).await;
    ensemble.set_client_port(flip, new_port);
    assert_committed(&ensemble, &voters, &returned).await;
    eventually(ELECTION, "the old client port to close", || async {
        std::net::TcpStream::connect_timeout(&old_addr, Duration::from_secs(2))
            .is_err()
            .then_some(())
    })
    .await;
    blocking(|| ensemble.wait_serving_among(&voters, ELECTION));
    writers
        .wait_for_progress(20, ELECTION, "writes after a port change")
        .await;

    // The end: nothing acknowledged is lost, every member agrees on the config.
    let log = writers.stop().await;
    let unexpected = probes.stop().await;
    assert!(
        unexpected.is_empty(),
        "client errors other than a lost connection: {unexpected:#?}"
    );
    assert_acked_everywhere(&ensemble, &log).await;
    let texts: BTreeSet<String> = {
        let mut t = BTreeSet::new();
        for &i in &voters {
            t.insert(config_of(&ensemble, i).await.0);
        }
        t
    };
    assert_eq!(
        texts.len(),
        1,
        "every member has the same config: {texts:?}"
    );
    eprintln!(
        "membership changes: {} writes acknowledged in {:?}",
        log.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_errors_are_apaches() {
    let mut ensemble = blocking(|| Ensemble::from_env_dynamic(3, 0, config()));
    let leader = ensemble.leader().expect("a leader");
    let follower = (leader + 1) % 3;
    // Requests go through a follower: it forwards them to the leader, where they are checked.
    let admin = patient_client(ensemble.member(follower).addr(), true).await;
    let plain = patient_client(ensemble.member(follower).addr(), false).await;
    let (text, _) = config_of(&ensemble, follower).await;
    let current = ConfigData::parse(&text).version.expect("version");
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("server."))
        .map(str::to_string)
        .collect();

    // Servers 7, 8 and 9 run nowhere: with them 3 of 6 voters are synced, not a majority.
    let absent: Vec<String> = (7..=9)
        .map(|id| format!("server.{id}=127.0.0.{id}:2888:3888:participant;127.0.0.{id}:2181"))
        .collect();
    let e = refused(&admin, &absent, &[], None).await;
    assert_eq!(error_code(&e), Some(code::NEW_CONFIG_NO_QUORUM), "{e:?}");
    // The quorum is checked before the ACL: a client without rights gets the same answer.
    let e = refused(&plain, &absent, &[], None).await;
    assert_eq!(error_code(&e), Some(code::NEW_CONFIG_NO_QUORUM), "{e:?}");
    // A valid reconfig without the super user: the config node is world-readable only
    // (the leader checks WRITE on it, last of all).
    let (acl, _) = within(WAIT, "getACL", plain.get_acl("/zookeeper/config"))
        .await
        .expect("getACL of the config node");
    assert_eq!(acl.len(), 1, "{acl:?}");
    assert_eq!(
        (acl[0].scheme(), acl[0].id(), acl[0].permission()),
        ("world", "anyone", zk::Permission::READ),
        "{acl:?}"
    );
    let e = refused(&plain, &lines[..1], &[], None).await;
    assert_eq!(error_code(&e), Some(code::NO_AUTH), "{e:?}");
    // A stale (or any other) fromConfig version.
    let e = refused(&admin, &lines[..1], &[], Some(current - 1)).await;
    assert_eq!(error_code(&e), Some(code::BAD_VERSION), "{e:?}");
    // A server spec without a client port.
    let e = refused(
        &admin,
        &["server.9=127.0.0.9:2888:3888".to_string()],
        &[],
        None,
    )
    .await;
    assert_eq!(error_code(&e), Some(code::BAD_ARGUMENTS), "{e:?}");
    // Nothing of the above changed the config.
    assert_eq!(config_of(&ensemble, leader).await.0, text);

    // The right version: a reconfig that re-adds a member as it is commits a new version
    // with the same membership.
    let (again, stat) = reconfig(&admin, &lines[..1], &[], Some(current))
        .await
        .expect("a reconfig from the current version");
    let again_parsed = ConfigData::parse(&again);
    assert_eq!(again_parsed.servers, ConfigData::parse(&text).servers);
    assert_eq!(again_parsed.version, Some(stat.mzxid));
    assert!(stat.mzxid > current);
    // The old version is stale now.
    let e = refused(&admin, &lines[..1], &[], Some(current)).await;
    assert_eq!(error_code(&e), Some(code::BAD_VERSION), "{e:?}");

    // Non-incremental: the same members in bulk.
    let (bulk, _) = reconfig_members(&admin, &lines, None)
        .await
        .expect("a bulk reconfig");
    assert_eq!(
        ConfigData::parse(&bulk).servers,
        ConfigData::parse(&text).servers
    );

    // Removing every voter: refused before the quorum is looked at.
    let e = refused(&admin, &[], &[1, 2, 3], None).await;
    assert_eq!(error_code(&e), Some(code::BAD_ARGUMENTS), "{e:?}");

    // One reconfig at a time. The third member is paused (the leader still counts it as
    // synced for syncLimit ticks) and the first reconfig removes the admin's member, so the
    // new config {leader, third} cannot get its acks: it stays proposed (the admin's member
    // has it in zoo.cfg.dynamic.next) until the third resumes. The leader keeps the old
    // config's quorum (itself and the admin's member) all along. A second reconfig from
    // another session is checked meanwhile: it is refused with an error transaction, which
    // the admin's member receives as a proposal (counted in its mntr) and which, like every
    // proposal after an uncommitted reconfig, needs the new config's acks too, so its answer
    // comes once the third resumes. Nothing here depends on timing.
    let third = (leader + 2) % 3;
    // Replies wait for the paused member: long sessions keep the connections meanwhile.
    let first_admin = patient_client(ensemble.member(leader).addr(), true).await;
    let second_admin = patient_client(ensemble.member(leader).addr(), true).await;
    let follower_id = ensemble.member(follower).id;
    let follower_id_text = follower_id.to_string();
    ensemble.pause(third);
    let first = first_admin.update_ensemble(
        zk::EnsembleUpdate::Incremental {
            // Empty entries are left out: no joining servers.
            joinings: [""].into_iter(),
            leavings: [follower_id_text.as_str()].into_iter(),
        },
        None,
    );
    let witness = ensemble.member(follower);
    eventually(
        SYNCED,
        "the proposal on a follower (zoo.cfg.dynamic.next)",
        || {
            let proposed = witness
                .dynamic_files()
                .iter()
                .any(|(name, _)| name == "zoo.cfg.dynamic.next");
            async move { proposed.then_some(()) }
        },
    )
    .await;
    let proposals = |m: &zkrs_tests::ensemble::Member| {
        m.mntr().and_then(|v| {
            v.get("zk_learner_proposal_received_count")?
                .parse::<u64>()
                .ok()
        })
    };
    let before = proposals(witness).expect("the follower's proposal count");
    let second = second_admin.update_ensemble(
        zk::EnsembleUpdate::Incremental {
            joinings: [lines[0].as_str()].into_iter(),
            // Empty entries are left out: no leaving servers.
            leavings: [""].into_iter(),
        },
        None,
    );
    eventually(SYNCED, "the second reconfig's error proposal", || {
        let count = proposals(witness);
        async move { count.is_some_and(|c| c > before).then_some(()) }
    })
    .await;
    ensemble.resume(third);
    let e = within(ELECTION, "the second reconfig", second)
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(code::RECONFIG_IN_PROGRESS), "{e:?}");
    let (after, _) = within(ELECTION, "the first reconfig", first)
        .await
        .expect("the first reconfig commits once the third member acks");
    let after = ConfigData::parse(&String::from_utf8_lossy(&after));
    let ids: BTreeSet<u32> = [leader, third]
        .iter()
        .map(|&i| ensemble.member(i).id)
        .collect();
    assert_eq!(
        after.participants().into_iter().collect::<BTreeSet<_>>(),
        ids
    );

    // A config whose quorum is not running: the removed member (which still follows,
    // without a vote) is stopped, then the leader would be swapped for it. (A fresh session
    // of the leader: on a busy machine the one above may have lapsed while the third member
    // was paused.)
    let now_leader = blocking(|| ensemble.wait_serving_among(&[leader, third], ELECTION));
    let leader_admin = patient_client(ensemble.member(now_leader).addr(), true).await;
    ensemble.kill9(follower);
    // The leader counts the removed member as a synced (non-voting) follower until it sees
    // the connection close; the check below is about a quorum that is not running.
    eventually(ELECTION, "the leader to drop the killed follower", || {
        let gone = ensemble
            .member(now_leader)
            .mntr()
            .and_then(|m| m.get("zk_synced_non_voting_followers").cloned())
            .is_some_and(|v| v == "0");
        async move { gone.then_some(()) }
    })
    .await;
    let follower_line = lines
        .iter()
        .find(|l| l.starts_with(&format!("server.{follower_id}=")))
        .expect("the follower's line")
        .clone();
    let e = refused(
        &leader_admin,
        &[follower_line],
        &[ensemble.member(now_leader).id],
        None,
    )
    .await;
    assert_eq!(error_code(&e), Some(code::NEW_CONFIG_NO_QUORUM), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_is_refused_when_disabled_and_on_a_standalone_server() {
    let kind = env_kinds(1)[0];
    // An ensemble of one voter (standaloneEnabled=false) with reconfigEnabled=false: the
    // later line in zoo.cfg wins.
    let off = config().with("reconfigEnabled", "false");
    let ensemble = blocking(|| Ensemble::start_dynamic(&[Launch::Server(kind)], off));
    let admin = patient_client(ensemble.member(0).addr(), true).await;
    let (text, _) = config_of(&ensemble, 0).await;
    let line: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("server."))
        .map(str::to_string)
        .collect();
    let e = refused(&admin, &line, &[], None).await;
    assert_eq!(error_code(&e), Some(code::RECONFIG_DISABLED), "{e:?}");
    // Disabled is answered before anything else is checked.
    let e = refused(&admin, &line, &[], Some(1)).await;
    assert_eq!(error_code(&e), Some(code::RECONFIG_DISABLED), "{e:?}");
    // Even off, /zookeeper/config holds the configuration read at startup.
    assert_eq!(ConfigData::parse(&text).participants(), vec![1]);
    drop(ensemble);

    // A standalone server with reconfig enabled does not implement it.
    let on = config().with("reconfigEnabled", "true");
    let server = blocking(|| ServerUnderTest::start_kind(kind, on));
    let client = server
        .connect(
            zk::Client::connector()
                .with_auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes()),
        )
        .await;
    let spec = format!(
        "server.1={}:2888:3888;{}",
        server.addr().ip(),
        server.addr()
    );
    let e = refused(&client, std::slice::from_ref(&spec), &[], None).await;
    assert_eq!(error_code(&e), Some(code::UNIMPLEMENTED), "{e:?}");
    // With reconfig off (the default), a standalone server says it is disabled.
    drop(server);
    let server = blocking(|| ServerUnderTest::start_kind(kind, config()));
    let client = patient_client(server.addr(), false).await;
    let e = refused(&client, &[spec], &[], None).await;
    assert_eq!(error_code(&e), Some(code::RECONFIG_DISABLED), "{e:?}");
}

/// A reconfig interrupted between its proposal and its commit: a follower and the joiner
/// are paused (the leader still counts them as synced for `syncLimit` ticks, so the
/// reconfig is proposed) and cannot acknowledge, so the new config has no quorum of acks;
/// the remaining follower has the proposal (Apache writes it to `zoo.cfg.dynamic.next`);
/// then the leader is killed and the others resume. Whatever the next leader decides, every
/// member ends with the same config, the old one or the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconfig_interrupted_before_its_commit_ends_the_same_everywhere() {
    let mut ensemble = blocking(|| Ensemble::from_env_dynamic(3, 0, config()));
    let kinds = env_kinds(4);
    let (current, _) = config_of(&ensemble, 0).await;
    let old = ConfigData::parse(&current);
    let j = blocking(|| ensemble.add_joiner(Launch::Server(kinds[3]), &current));
    let leader = blocking(|| ensemble.wait_serving_among(&[0, 1, 2, j], ELECTION));
    let paused = (leader + 1) % 3;
    let witness = (leader + 2) % 3;
    let admin = patient_client(ensemble.member(leader).addr(), true).await;
    let line = ensemble.member(j).server_line(false);

    ensemble.pause(paused);
    ensemble.pause(j);
    let reconfig = admin.update_ensemble(
        zk::EnsembleUpdate::Incremental {
            joinings: [line.as_str()].into_iter(),
            // Empty entries are left out: no leaving servers.
            leavings: [""].into_iter(),
        },
        None,
    );
    let witness_member = ensemble.member(witness);
    eventually(
        WAIT,
        "the proposal on the witness (zoo.cfg.dynamic.next)",
        || {
            let proposed = witness_member
                .dynamic_files()
                .iter()
                .any(|(name, _)| name == "zoo.cfg.dynamic.next");
            async move { proposed.then_some(()) }
        },
    )
    .await;
    ensemble.kill9(leader);
    // The answer never comes from a dead leader: at most a lost connection.
    if let Ok(Ok(done)) = tokio::time::timeout(POLL, reconfig).await {
        panic!("the reconfig committed without the acks of a new quorum: {done:?}");
    }
    ensemble.resume(paused);
    ensemble.resume(j);

    let survivors = [paused, witness, j];
    blocking(|| ensemble.wait_serving_among(&survivors, ELECTION));
    let mut texts = BTreeSet::new();
    for &i in &survivors {
        texts.insert(config_of(&ensemble, i).await.0);
    }
    assert_eq!(texts.len(), 1, "one config on every member: {texts:#?}");
    let outcome = ConfigData::parse(texts.first().expect("a config"));
    let joiner_id = ensemble.member(j).id;
    if outcome.servers.contains_key(&joiner_id) {
        assert_eq!(outcome.participants(), vec![1, 2, 3, joiner_id]);
        assert!(outcome.version > old.version);
    } else {
        assert_eq!(outcome.servers, old.servers, "the old config, whole");
    }
    // The killed leader comes back into whichever config won.
    ensemble.restart(leader);
    let everyone = [0, 1, 2, j];
    blocking(|| ensemble.wait_serving_among(&everyone, ELECTION));
    let (text, _) = config_of(&ensemble, leader).await;
    assert!(texts.contains(&text), "the restarted leader has {text:?}");
    eprintln!(
        "interrupted reconfig: the {} config won",
        if outcome.servers.contains_key(&joiner_id) {
            "new"
        } else {
            "old"
        }
    );
}

/// A joiner killed with SIGKILL while it syncs (as soon as its log says it reached the
/// leader, with a tree of a few megabytes to copy): the ensemble keeps serving and keeps
/// its configuration; the joiner restarts from whatever it left on disk, syncs, and its
/// addition then commits on every member. No acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_killed_while_it_syncs_restarts_and_is_added() {
    let mut ensemble = blocking(|| Ensemble::from_env_dynamic(3, 0, config()));
    let kinds = env_kinds(4);
    let admin = patient_client(ensemble.member(0).addr(), true).await;
    // A tree worth copying: 40 multis of 50 creates of 2 KB (4 MB).
    admin.create("/bulk", b"", &open()).await.expect("/bulk");
    let payload = vec![7u8; 2048];
    for batch in 0..40 {
        let mut multi = admin.new_multi_writer();
        for k in 0..50 {
            multi
                .add_create(&format!("/bulk/n{batch:02}-{k:02}"), &payload, &open())
                .expect("a create in the multi");
        }
        within(WAIT, "a bulk multi", multi.commit())
            .await
            .expect("bulk multi");
    }
    let limits = WriterLimits {
        max_time: Duration::from_secs(300),
        ..WriterLimits::default()
    };
    let writers = Writers::start(&ensemble, "/joiner-killed", 2, limits).await;
    writers
        .wait_for_progress(10, ELECTION, "writes before the joiner")
        .await;

    let (before, _) = config_of(&ensemble, 0).await;
    let j = blocking(|| ensemble.add_joiner(Launch::Server(kinds[3]), &before));
    // zkrs logs "connecting to the leader"; Apache's learner "Getting a snapshot/diff".
    let reached = |log: &str| {
        log.contains("following: connecting to the leader")
            || log.contains("Getting a snapshot from leader")
            || log.contains("Getting a diff from the leader")
    };
    let started = Instant::now();
    while !reached(&ensemble.member(j).log()) {
        assert!(
            started.elapsed() < ELECTION,
            "the joiner never reached the leader:\n{}",
            ensemble.member(j).log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ensemble.kill9(j);
    let synced_first = ensemble.member(j).log().contains("synced with the leader");
    eprintln!(
        "joiner killed; it had {}finished its sync",
        if synced_first { "" } else { "not " }
    );

    // The ensemble goes on with its configuration, without the joiner.
    writers
        .wait_for_progress(20, ELECTION, "writes after the joiner died")
        .await;
    let texts = wait_config_version(
        &ensemble,
        &[0, 1, 2],
        ConfigData::parse(&before).version.expect("version"),
        ELECTION,
    )
    .await;
    assert!(texts.iter().all(|t| *t == before), "{texts:#?}");

    // It restarts from what it left, syncs, and is added.
    ensemble.restart(j);
    blocking(|| ensemble.wait_serving_among(&[0, 1, 2, j], ELECTION));
    let line = ensemble.member(j).server_line(false);
    let id = ensemble.member(j).id;
    let returned = reconfig_settled(&ensemble, &admin, &[line], &[], |c| {
        c.participants().contains(&id)
    })
    .await;
    let committed = assert_committed(&ensemble, &[0, 1, 2, j], &returned).await;
    assert_eq!(committed.participants(), vec![1, 2, 3, id]);
    writers
        .wait_for_progress(20, ELECTION, "writes after the joiner was added")
        .await;
    let log = writers.stop().await;
    assert_acked_everywhere(&ensemble, &log).await;
    let bulk = patient_client(ensemble.member(j).addr(), false).await;
    let children = bulk
        .list_children("/bulk")
        .await
        .expect("/bulk on the joiner");
    assert_eq!(children.len(), 2000, "the joiner has the whole tree");
}
