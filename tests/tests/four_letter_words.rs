//! Four-letter words from zkrs-server (in-process), checked against Apache ZooKeeper 3.8's
//! own answers captured in `server/tests/fixtures/4lw/`.

use zkrs_tests::{InProcessServer, ServerConfig};

fn start(extra: &[(&str, &str)]) -> InProcessServer {
    let mut config = ServerConfig {
        tick_time_ms: 2000,
        ..ServerConfig::default()
    };
    for (k, v) in extra {
        config = config.with(k, v);
    }
    InProcessServer::start_with(config)
}

fn four_letter(server: &InProcessServer, word: &str) -> String {
    server.four_letter_word(word).expect(word)
}

use std::collections::BTreeSet;

fn keys(mntr: &str) -> BTreeSet<String> {
    mntr.lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn mntr_has_apaches_keys() {
    let server = start(&[]);
    let ours = keys(&four_letter(&server, "mntr"));
    let apache = keys(include_str!(
        "../../server/tests/fixtures/4lw/standalone_empty/mntr.txt"
    ));
    let missing: Vec<_> = apache.difference(&ours).collect();
    assert!(missing.is_empty(), "mntr lacks Apache keys: {missing:?}");
}

#[test]
fn srvr_has_apaches_lines() {
    let server = start(&[]);
    let ours = four_letter(&server, "srvr");
    let labels = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        labels(&ours),
        labels(include_str!(
            "../../server/tests/fixtures/4lw/standalone_empty/srvr.txt"
        ))
    );
    assert!(ours.contains("Mode: standalone"));
    assert!(ours.contains("Node count: 5"), "{ours}");
}

#[test]
fn whitelist_is_honoured() {
    let server = start(&[("4lw.commands.whitelist", "ruok")]);
    assert_eq!(four_letter(&server, "ruok"), "imok");
    assert_eq!(
        four_letter(&server, "conf"),
        "conf is not executed because it is not in the whitelist.\n"
    );
    // srvr is always allowed, as in Apache.
    assert!(four_letter(&server, "srvr").starts_with("Zookeeper version: "));
}
