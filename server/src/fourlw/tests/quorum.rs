//! What each mode prints of the quorum: the values the replication layer publishes in a
//! [`Role`], rendered where and how Apache 3.8 prints them (its captures, and its sources
//! for what no capture shows: an observer, a follower that is an observer master, a peer
//! still syncing).

use super::mntr::parse_mntr;
use super::*;

/// The keys only some modes print, with the modes that do (Apache 3.8's gauges).
const QUORUM_KEYS: [(&str, &[ServerMode]); 12] = {
    use ServerMode::*;
    [
        ("zk_peer_state", &[Leader, Follower, Observer]),
        ("zk_quorum_size", &[Leader, Follower, Observer]),
        ("zk_learners", &[Leader]),
        ("zk_synced_followers", &[Leader]),
        ("zk_synced_non_voting_followers", &[Leader]),
        ("zk_synced_observers", &[Leader]),
        ("zk_pending_syncs", &[Leader]),
        ("zk_leader_uptime", &[Leader]),
        ("zk_last_proposal_size", &[Leader]),
        ("zk_min_proposal_size", &[Leader]),
        ("zk_max_proposal_size", &[Leader]),
        (
            "zk_digest_mismatches_count",
            &[Standalone, ReadOnly, Leader, Follower, Observer],
        ),
    ]
};

const MODES: [ServerMode; 5] = [
    ServerMode::Standalone,
    ServerMode::ReadOnly,
    ServerMode::Leader,
    ServerMode::Follower,
    ServerMode::Observer,
];

fn mntr_of(role: Role) -> BTreeMap<String, String> {
    let snap = ServerSnapshot {
        role,
        ..ServerSnapshot::default()
    };
    parse_mntr(&render(FourLetterWord::Mntr, &snap))
        .into_iter()
        .collect()
}

/// A leader of a 5-member ensemble with every value distinct, to see each land in its key.
fn busy_leader() -> Role {
    Role {
        serving: true,
        mode: ServerMode::Leader,
        quorum: Some(QuorumInfo {
            quorum_size: 5,
            leader: Some(LeaderInfo {
                last_proposal_size: 91,
                min_proposal_size: 48,
                max_proposal_size: 93,
                synced_followers: 3,
                synced_non_voting_followers: 1,
                synced_observers: 2,
                pending_syncs: 4,
                leader_uptime_ms: 11447,
                learners: 6,
            }),
            ..QuorumInfo::default()
        }),
    }
}

#[test]
fn each_mode_prints_exactly_its_quorum_keys() {
    for mode in MODES {
        let keys = mntr_of(role(mode));
        for (key, modes) in QUORUM_KEYS {
            assert_eq!(
                keys.contains_key(key),
                modes.contains(&mode),
                "{mode:?}: {key}"
            );
        }
        // Apache 3.5's name for the learner count is gone since 3.6.
        assert!(!keys.contains_key("zk_followers"), "{mode:?}");
        assert_eq!(keys["zk_server_state"], mode.as_str());
        assert_eq!(keys["zk_digest_mismatches_count"], "0");
    }
}

#[test]
fn leader_values_land_in_apaches_keys() {
    let m = mntr_of(busy_leader());
    let expected = [
        ("zk_server_state", "leader"),
        ("zk_peer_state", "leading - broadcast"),
        ("zk_quorum_size", "5"),
        ("zk_learners", "6"),
        ("zk_synced_followers", "3"),
        ("zk_synced_non_voting_followers", "1"),
        ("zk_synced_observers", "2"),
        ("zk_pending_syncs", "4"),
        ("zk_leader_uptime", "11447"),
        ("zk_last_proposal_size", "91"),
        ("zk_min_proposal_size", "48"),
        ("zk_max_proposal_size", "93"),
    ];
    for (k, v) in expected {
        assert_eq!(m[k], v, "{k}");
    }
    // A leader that has published nothing yet prints Apache's initial values.
    let m = mntr_of(role(ServerMode::Leader));
    assert_eq!(m["zk_last_proposal_size"], "-1");
    assert_eq!(m["zk_learners"], "0");
    assert_eq!(m["zk_quorum_size"], "0");
}

#[test]
fn quorum_keys_keep_the_captured_leaders_order() {
    let ours: Vec<String> = parse_mntr(&render(
        FourLetterWord::Mntr,
        &ServerSnapshot {
            role: busy_leader(),
            ..ServerSnapshot::default()
        },
    ))
    .into_iter()
    .map(|(k, _)| k)
    .collect();
    let theirs: Vec<String> = parse_mntr(&fixture("leader/mntr.txt"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let quorum_only = |keys: &[String]| -> Vec<String> {
        keys.iter()
            .filter(|k| QUORUM_KEYS.iter().any(|(q, _)| q == k))
            .cloned()
            .collect()
    };
    assert_eq!(quorum_only(&ours), quorum_only(&theirs));
}

#[test]
fn a_follower_prints_synced_observers_only_as_an_observer_master() {
    let follower = |synced: Option<u64>| Role {
        serving: true,
        mode: ServerMode::Follower,
        quorum: Some(QuorumInfo {
            quorum_size: 3,
            follower_synced_observers: synced,
            ..QuorumInfo::default()
        }),
    };
    let plain = mntr_of(follower(None));
    assert!(!plain.contains_key("zk_synced_observers"));
    assert_eq!(plain["zk_peer_state"], "following - broadcast");
    assert_eq!(plain["zk_quorum_size"], "3");
    let master = mntr_of(follower(Some(2)));
    assert_eq!(master["zk_synced_observers"], "2");
    // Only that key is added, and no other leader key.
    assert_eq!(master.len(), plain.len() + 1);
    // An observer has no such gauge, whatever is published.
    let observer = mntr_of(Role {
        mode: ServerMode::Observer,
        ..follower(Some(2))
    });
    assert!(!observer.contains_key("zk_synced_observers"));
    assert_eq!(observer["zk_peer_state"], "observing - broadcast");
}

#[test]
fn peer_state_shows_the_zab_phase_and_sync_mode() {
    let syncing = Role {
        serving: true,
        mode: ServerMode::Follower,
        quorum: Some(QuorumInfo {
            zab_phase: ZabPhase::Synchronization,
            sync_mode: SyncMode::Snap,
            ..QuorumInfo::default()
        }),
    };
    assert_eq!(
        mntr_of(syncing)["zk_peer_state"],
        "following - synchronization - snap"
    );
}

#[test]
fn srvr_mode_line_and_proposal_sizes_per_mode() {
    for mode in MODES {
        let snap = ServerSnapshot {
            role: if mode == ServerMode::Leader {
                busy_leader()
            } else {
                role(mode)
            },
            ..apache_standalone()
        };
        let out = render(FourLetterWord::Srvr, &snap);
        assert!(
            out.contains(&format!("\nMode: {}\n", mode.as_str())),
            "{out}"
        );
        assert_eq!(
            out.contains("Proposal sizes last/min/max: 91/48/93\n"),
            mode == ServerMode::Leader,
            "{out}"
        );
        assert_eq!(
            out.contains("READ-ONLY mode"),
            mode == ServerMode::ReadOnly,
            "{out}"
        );
    }
}

#[test]
fn a_peer_that_does_not_serve_answers_like_apaches_looking_peer() {
    let looking = ServerSnapshot {
        role: Role {
            serving: false,
            ..role(ServerMode::Follower)
        },
        ..apache_standalone()
    };
    for w in [FourLetterWord::Mntr, FourLetterWord::Srvr] {
        assert_eq!(
            render(w, &looking),
            fixture(&format!("not_serving/{w}.txt"))
        );
    }
}
