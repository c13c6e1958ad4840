//! Four-letter words from the real process, checked against Apache ZooKeeper 3.8's own
//! answers captured in `fixtures/4lw/`.

mod common;
use common::{four_letter, start};

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
    let server = start("");
    let ours = keys(&four_letter(&server.addr, "mntr"));
    let apache = keys(include_str!("fixtures/4lw/standalone_empty/mntr.txt"));
    let missing: Vec<_> = apache.difference(&ours).collect();
    assert!(missing.is_empty(), "mntr lacks Apache keys: {missing:?}");
}

#[test]
fn srvr_has_apaches_lines() {
    let server = start("");
    let ours = four_letter(&server.addr, "srvr");
    let labels = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        labels(&ours),
        labels(include_str!("fixtures/4lw/standalone_empty/srvr.txt"))
    );
    assert!(ours.contains("Mode: standalone"));
    assert!(ours.contains("Node count: 5"), "{ours}");
}

#[test]
fn whitelist_is_honoured() {
    let server = start("4lw.commands.whitelist=ruok");
    assert_eq!(four_letter(&server.addr, "ruok"), "imok");
    assert_eq!(
        four_letter(&server.addr, "conf"),
        "conf is not executed because it is not in the whitelist.\n"
    );
    // srvr is always allowed, as in Apache.
    assert!(four_letter(&server.addr, "srvr").starts_with("Zookeeper version: "));
}
