//! One run: start the ensemble, run the clients while the nemesis injects faults on its
//! seeded schedule, heal everything, wait until the ensemble serves again, read the final
//! state, check the history, and write the run's directory.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::SeedableRng as _;

use super::cluster::{Cluster, Topology};
use super::disk;
use super::expectations;
use super::history::{self, Recorder};
use super::membership;
use super::nemesis::{self, Nemesis, Timing};
use super::preload;
use super::report::Report;
use super::reroute;
use super::workloads::{self, Shared, Workload, OP_LIMIT, SESSION_TIMEOUT};
use crate::ensemble::kinds_from;
use crate::server::{ServerConfig, ServerKind};

/// How long the ensemble may take to serve at the start and after the final heal.
const RECOVERY_LIMIT: Duration = Duration::from_secs(90);

/// Which servers run the members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Members {
    Zkrs,
    Apache,
    /// Apache, zkrs, Apache, ...
    Mixed,
}

impl FromStr for Members {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zkrs" => Ok(Members::Zkrs),
            "apache" => Ok(Members::Apache),
            "mixed" => Ok(Members::Mixed),
            _ => Err(format!("unknown kind {s:?}; one of zkrs, apache, mixed")),
        }
    }
}

impl fmt::Display for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Members::Zkrs => "zkrs",
            Members::Apache => "apache",
            Members::Mixed => "mixed",
        })
    }
}

impl Members {
    pub fn kinds(self, n: usize) -> Vec<ServerKind> {
        kinds_from(&self.to_string(), n)
    }
}

/// Everything that defines a run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub seed: u64,
    pub workload: Workload,
    pub nemesis: Nemesis,
    /// How long the clients run (faults included).
    pub duration: Duration,
    pub members: usize,
    pub kind: Members,
    /// The run's directory: history.jsonl, summary.json, member-N/ (zoo.cfg, data,
    /// server.log).
    pub out: PathBuf,
    pub clients: usize,
    /// The most operations all clients invoke together.
    pub max_ops: u64,
    /// Least time between the starts of two operations of one client.
    pub pace: Duration,
    pub timing: Timing,
}

impl RunConfig {
    /// A run with the default client count, pace, budget and fault timing.
    pub fn new(seed: u64, workload: Workload, nemesis: Nemesis, kind: Members) -> RunConfig {
        RunConfig {
            seed,
            workload,
            nemesis,
            duration: Duration::from_secs(30),
            members: 3,
            kind,
            out: PathBuf::from("chaos-out"),
            clients: 5,
            max_ops: 200_000,
            pace: Duration::from_millis(10),
            timing: Timing {
                rest: (Duration::from_secs(1), Duration::from_secs(3)),
                // Up to beyond syncLimit (10 ticks of 500 ms): shorter cuts are
                // tolerated without an election.
                hold: (Duration::from_secs(4), Duration::from_secs(10)),
                min_pause: SESSION_TIMEOUT + Duration::from_secs(2),
            },
        }
    }

    /// The command that repeats this run.
    pub fn command(&self) -> String {
        format!(
            "zkrs-chaos --seed {} --workload {} --nemesis {} --duration {} --members {} --kind {}",
            self.seed,
            self.workload,
            self.nemesis,
            self.duration.as_secs(),
            self.members,
            self.kind
        )
    }
}

/// Runs `config` to the end and returns its report (also written to its directory). An
/// error means the run could not be carried out (a server did not start, the ensemble
/// did not recover); anomalies are in the report.
pub async fn run(config: &RunConfig) -> anyhow::Result<Report> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("creating {}", config.out.display()))?;
    let out = config.out.canonicalize()?;
    let kinds = config.kind.kinds(config.members);
    // Snapshots every ~2000 transactions, so that runs restart members from snapshots and
    // logs both (Apache takes zoo.cfg keys it does not know as `zookeeper.` properties).
    let mut server_config = ServerConfig::default().with("snapCount", 2000);
    let (mut shims, mut shim_env) = (Vec::new(), Vec::new());
    if config.nemesis.needs_shim() {
        shims.push(disk::build_shim(&out)?);
        shim_env.push(disk::shim_env());
    }
    let topology = match config.nemesis {
        Nemesis::Reconfig => Topology::Dynamic,
        Nemesis::ReconfigPartition => {
            shims.push(reroute::build_shim(&out)?);
            shim_env.push(reroute::shim_env());
            Topology::DynamicRouted
        }
        _ => Topology::Static,
    };
    if !shims.is_empty() {
        server_config.wrapper = preload::wrapper(&shims, &shim_env);
    }
    if config.nemesis.reconfigures() {
        server_config = server_config.with_super_password(membership::SUPER_PASSWORD);
    }
    let mut cluster = Cluster::start(&kinds, &out, server_config, topology).await?;
    let (_, _) = tokio::task::block_in_place(|| cluster.wait_serving(RECOVERY_LIMIT))
        .context("the ensemble did not form")?;

    let setup = workloads::connect(&cluster.connect_string_from(0))
        .await
        .map_err(|e| anyhow::anyhow!("the setup session: {e}"))?;
    config.workload.setup(&setup).await?;
    drop(setup);

    let history = Recorder::default();
    let mut kept = HistoryOnFailure {
        history: &history,
        path: out.join("history.jsonl"),
        armed: true,
    };
    let shared = Arc::new(Shared::new(
        history.clone(),
        config.max_ops,
        Instant::now() + config.duration,
    ));
    let (mut clients, mut watchers) = (Vec::new(), Vec::new());
    for c in 0..config.clients {
        let hosts = cluster.connect_string_from(c % cluster.len());
        let seed = config.seed.wrapping_mul(1_000_003).wrapping_add(c as u64);
        let task = tokio::spawn(workloads::client(
            config.workload,
            c,
            hosts,
            seed,
            config.pace,
            shared.clone(),
        ));
        if config.workload.stops_at_deadline(c) {
            clients.push(task);
        } else {
            watchers.push(task);
        }
    }

    let (faults, mut expectations) =
        inject_faults(config, &mut cluster, &history, shared.deadline).await?;

    shared.stop.store(true, Ordering::Release);
    for c in clients {
        // A client stops after its operation in flight (bounded by OP_LIMIT) or connect.
        tokio::time::timeout(OP_LIMIT * 4, c)
            .await
            .context("a client did not stop")?
            .context("a client panicked")?;
    }
    cluster.heal_all()?;
    history.nemesis("heal everything");
    let (_, recovery) = tokio::task::block_in_place(|| cluster.wait_serving(RECOVERY_LIMIT))
        .context("the ensemble did not recover after the heal")?;
    let finals = config
        .workload
        .final_reads(&cluster, &history, &shared)
        .await;
    shared.watchers_done.store(true, Ordering::Release);
    for w in watchers {
        tokio::time::timeout(OP_LIMIT * 4, w)
            .await
            .context("a watcher did not stop")?
            .context("a watcher panicked")?;
    }
    finals?;
    expectations.extend(expectations::converged(&cluster, config.nemesis.reconfigures()).await);
    drop(cluster);

    kept.armed = false;
    let events = history.events();
    history::write_jsonl(&out.join("history.jsonl"), &events)?;
    let ops = history::operations(&events)?;
    let mut verdict = config.workload.check(&ops);
    verdict.anomalies.extend(expectations);
    let report = Report::new(
        config,
        &out,
        &ops,
        faults,
        recovery,
        started.elapsed(),
        verdict,
    );
    report.write(&out.join("summary.json"))?;
    Ok(report)
}

/// Writes the history recorded so far when a run ends early with an error (the ensemble
/// did not recover, a client panicked), so that a failed run's directory still shows
/// what the clients and the nemesis did, beside the members' logs.
struct HistoryOnFailure<'a> {
    history: &'a Recorder,
    path: std::path::PathBuf,
    armed: bool,
}

impl Drop for HistoryOnFailure<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = history::write_jsonl(&self.path, &self.history.events()) {
                eprintln!("the failed run's history could not be written: {e}");
            }
        }
    }
}

/// The nemesis: until `deadline`, rest, inject a fault, hold it, heal it. Returns how many
/// faults it injected, and the [`expectations`] the ensemble failed around them.
async fn inject_faults(
    config: &RunConfig,
    cluster: &mut Cluster,
    history: &Recorder,
    deadline: Instant,
) -> anyhow::Result<(u64, Vec<String>)> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let timing = config.timing;
    let mut faults = 0;
    let mut failed = Vec::new();
    loop {
        let rest = nemesis::draw(&mut rng, timing.rest);
        let mut hold = nemesis::draw(&mut rng, timing.hold);
        if Instant::now() + rest + hold >= deadline || config.nemesis == Nemesis::None {
            break;
        }
        tokio::time::sleep(rest).await;
        if config.nemesis.reconfigures() {
            let (change, what) = if config.nemesis == Nemesis::ReconfigPartition {
                let leader = tokio::task::block_in_place(|| cluster.leader());
                membership::start_partitioned(&mut rng, cluster, leader).await?
            } else {
                membership::start(&mut rng, cluster).await?
            };
            faults += 1;
            history.nemesis(what);
            tokio::time::sleep(hold).await;
            history.nemesis(membership::heal(&change, cluster).await?);
            continue;
        }
        let leader = tokio::task::block_in_place(|| cluster.leader());
        let Some((fault, what)) = config.nemesis.inject(&mut rng, cluster, leader)? else {
            continue;
        };
        faults += 1;
        history.nemesis(what);
        if matches!(fault, nemesis::Fault::Paused(_)) {
            hold = hold.max(timing.min_pause);
        }
        tokio::time::sleep(hold).await;
        let healed = tokio::task::block_in_place(|| {
            let held = expectations::while_held(&fault, cluster);
            let healed = nemesis::heal(&fault, cluster)?;
            let after = expectations::after_heal(&fault, cluster);
            anyhow::Ok((held.into_iter().chain(after), healed))
        });
        let (anomalies, healed) = healed?;
        history.nemesis(healed);
        for anomaly in anomalies {
            history.nemesis(format!("expectation failed: {anomaly}"));
            failed.push(anomaly);
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(left).await;
    Ok((faults, failed))
}
