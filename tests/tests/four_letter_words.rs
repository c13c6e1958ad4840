//! Four-letter words from zkrs-server (in-process), checked against Apache ZooKeeper 3.8's
//! own answers captured in `server/tests/fixtures/4lw/`.
//!
//! With `ZKRS_TEST_ENSEMBLE=N` the server is an N-member zkrs ensemble (processes) and the
//! leader's and a follower's answers are checked against Apache's leader and follower
//! captures instead of the standalone ones.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use zkrs_tests::server::four_letter_word;
use zkrs_tests::{in_ensemble, InProcessServer, ServerConfig, ServerKind, ServerUnderTest, WAIT};

/// The server whose answers are checked.
enum Target {
    InProcess(InProcessServer),
    Ensemble(ServerUnderTest),
}

fn start(extra: &[(&str, &str)]) -> Target {
    let mut config = ServerConfig {
        tick_time_ms: 2000,
        ..ServerConfig::default()
    };
    for (k, v) in extra {
        config = config.with(k, v);
    }
    if in_ensemble() {
        Target::Ensemble(ServerUnderTest::start_kind(ServerKind::Zkrs, config))
    } else {
        Target::InProcess(InProcessServer::start_with(config))
    }
}

impl Target {
    /// Each role to check with its address: `standalone_empty` for the in-process server,
    /// `leader` and `follower` (the fixture directories' names) for an ensemble.
    fn roles(&self) -> Vec<(&'static str, SocketAddr)> {
        match self {
            Target::InProcess(s) => vec![("standalone_empty", s.addr())],
            Target::Ensemble(s) => {
                let ensemble = s.ensemble().expect("an ensemble");
                let leader = ensemble.leader().expect("one leader");
                // `addr()` of an ensemble is a follower.
                vec![
                    ("leader", ensemble.member(leader).addr()),
                    ("follower", s.addr()),
                ]
            }
        }
    }
}

fn four_letter(addr: SocketAddr, word: &str) -> String {
    four_letter_word(addr, word, WAIT).expect(word)
}

/// Apache's capture of `word` by a server in `role`.
fn fixture(role: &str, word: &str) -> &'static str {
    match (role, word) {
        ("standalone_empty", "mntr") => {
            include_str!("../../server/tests/fixtures/4lw/standalone_empty/mntr.txt")
        }
        ("standalone_empty", "srvr") => {
            include_str!("../../server/tests/fixtures/4lw/standalone_empty/srvr.txt")
        }
        ("leader", "mntr") => include_str!("../../server/tests/fixtures/4lw/leader/mntr.txt"),
        ("leader", "srvr") => include_str!("../../server/tests/fixtures/4lw/leader/srvr.txt"),
        ("follower", "mntr") => {
            include_str!("../../server/tests/fixtures/4lw/follower/mntr.txt")
        }
        ("follower", "srvr") => {
            include_str!("../../server/tests/fixtures/4lw/follower/srvr.txt")
        }
        _ => panic!("no {word} capture for {role}"),
    }
}

fn keys(mntr: &str) -> BTreeSet<String> {
    mntr.lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|k| !k.is_empty())
        // Keys named after a learner's server id or a client's top-level path exist only
        // for the ids and paths of the captured run, not for every ensemble.
        .filter(|k| !k.contains("_learner_handler_qp_") && !k.ends_with("_per_namespace"))
        .map(str::to_string)
        .collect()
}

#[test]
fn mntr_has_apaches_keys() {
    let server = start(&[]);
    for (role, addr) in server.roles() {
        let ours = keys(&four_letter(addr, "mntr"));
        let apache = keys(fixture(role, "mntr"));
        let missing: Vec<_> = apache.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "{role}: mntr lacks Apache keys: {missing:?}"
        );
    }
}

#[test]
fn srvr_has_apaches_lines() {
    let server = start(&[]);
    let labels = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    for (role, addr) in server.roles() {
        let ours = four_letter(addr, "srvr");
        assert_eq!(labels(&ours), labels(fixture(role, "srvr")), "{role}");
        match role {
            "standalone_empty" => {
                assert!(ours.contains("Mode: standalone"), "{ours}");
                assert!(ours.contains("Node count: 5"), "{ours}");
            }
            other => assert!(ours.contains(&format!("Mode: {other}\n")), "{ours}"),
        }
    }
}

#[test]
fn whitelist_is_honoured() {
    let server = start(&[("4lw.commands.whitelist", "ruok")]);
    for (role, addr) in server.roles() {
        assert_eq!(four_letter(addr, "ruok"), "imok", "{role}");
        assert_eq!(
            four_letter(addr, "conf"),
            "conf is not executed because it is not in the whitelist.\n",
            "{role}"
        );
        // srvr is always allowed, as in Apache.
        assert!(
            four_letter(addr, "srvr").starts_with("Zookeeper version: "),
            "{role}"
        );
    }
}
