//! Differential test: seeded random workloads against Apache ZooKeeper and zkrs-server at
//! once, comparing everything a client can observe (see `tests/DIFFERENTIAL.md`).
//!
//! * `ZKRS_DIFF_SEEDS=N` seeds (default 500), `ZKRS_DIFF_SEED=S` replays one seed verbosely;
//! * `ZKRS_DIFF_OPS` operations per seed (default 150);
//! * `ZKRS_DIFF_STRICT=1` turns the known-divergence list off, `ZKRS_DIFF_DISABLE=a,b` parts
//!   of it; `ZKRS_DIFF_SURVEY=1` keeps going and shrinks one example of each divergence.
//!
//! Needs Java and Apache ZooKeeper (Debian `zookeeper`), like `ZKRS_TEST_SERVER=apache`.
//! `ZKRS_DIFF_SEEDS=0` skips it.
//!
//! With `ZKRS_TEST_ENSEMBLE=N` each side is an N-member ensemble (Apache members against
//! zkrs members) and every session of a workload talks to one follower of its side, so
//! writes go through forwarding, proposal and commit while the workload stays sequential.

use std::sync::Arc;

use zkrs_tests::diff::{run_seeds, Options, Servers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_and_zkrs_agree_on_random_workloads() {
    let opts = Options::from_env();
    if opts.seeds.is_empty() {
        eprintln!("differential: no seeds to run (ZKRS_DIFF_SEEDS=0)");
        return;
    }
    let servers = tokio::task::spawn_blocking(Servers::start)
        .await
        .expect("starting the servers");
    if let Some(ensemble) = servers.zkrs.ensemble() {
        eprintln!(
            "differential: {}-member ensembles, sessions on a follower ({} for Apache, {} for \
             zkrs)",
            ensemble.members().len(),
            servers.apache.addr(),
            servers.zkrs.addr()
        );
    }
    let report = run_seeds(Arc::new(servers.targets()), &opts).await;
    eprintln!("{}", report.text);
    if report.seeds.iter().any(|r| r.comparison.is_err()) {
        // A run failed (not a divergence): the servers' logs tell why.
        for (name, server) in [("Apache", &servers.apache), ("zkrs", &servers.zkrs)] {
            eprintln!("--- {name} server log tail ---\n{}", server.log_tail(40));
        }
    }
    drop(servers);
    assert!(
        !report.failed,
        "Apache ZooKeeper and zkrs-server diverged (details above)"
    );
}
