//! Differential testing of zkrs-server against Apache ZooKeeper.
//!
//! The same seeded random workload ([`workload`]) runs against both servers, strictly
//! sequentially: one request at a time across 2 to 4 sessions, every session drained of its
//! notifications after each operation that can cause some ([`exec`]). Everything a client
//! can observe is recorded (error codes, reply bodies, reply-header zxids, notifications in
//! order), normalised so that what legitimately differs is masked ([`normalize`]), and
//! compared step by step ([`compare`]). The first divergence is shrunk to a short
//! reproduction ([`shrink`]). `tests/DIFFERENTIAL.md` explains what is compared and why.
//!
//! Both servers are started once and reused: each run works under a fresh root node and
//! with fresh sessions, and the container/TTL reaper is configured not to run during the
//! test, so runs cannot see each other and nothing depends on timing.

pub mod compare;
pub mod exec;
pub mod normalize;
pub mod rng;
pub mod shrink;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{ServerConfig, ServerKind, ServerUnderTest};
use compare::{compare, side_by_side, Comparison, Divergence, Handling, KnownSet, KNOWN};
use normalize::Step;
use workload::Workload;

/// The configuration both servers get.
///
/// * The container/TTL reaper runs once an hour, i.e. never during a test: containers and
///   TTL nodes are only observed right after their creation, never after a timer.
/// * `forceSync=no`: the test is about semantics, not durability; fsyncs would only make it
///   slower.
/// * Sessions may ask for long timeouts, so that none expires while a run is going on.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        container_check_interval_ms: 3_600_000,
        ..ServerConfig::default()
    }
    .with("forceSync", "no")
    .with("maxSessionTimeout", 240_000)
}

/// Apache ZooKeeper and zkrs-server, started side by side.
pub struct Servers {
    pub apache: ServerUnderTest,
    pub zkrs: ServerUnderTest,
}

impl Servers {
    /// Starts both servers (in parallel: the JVM takes a while) with [`server_config`].
    pub fn start() -> Servers {
        let config = server_config();
        std::thread::scope(|s| {
            let apache =
                s.spawn(|| ServerUnderTest::start_kind(ServerKind::Apache, config.clone()));
            let zkrs = ServerUnderTest::start_kind(ServerKind::Zkrs, config.clone());
            let apache = apache.join().unwrap_or_else(|_| {
                panic!(
                    "Apache ZooKeeper did not start (the differential test needs Java and the \
                     Debian `zookeeper` package, or ZOOKEEPER_HOME / ZKRS_APACHE_CLASSPATH)"
                )
            });
            Servers { apache, zkrs }
        })
    }

    pub fn targets(&self) -> Targets {
        Targets::new(self.apache.addr(), self.zkrs.addr())
    }
}

/// Where the two servers listen; hands out a fresh root per run.
pub struct Targets {
    pub apache: SocketAddr,
    pub zkrs: SocketAddr,
    next_root: AtomicU64,
}

impl Targets {
    pub fn new(apache: SocketAddr, zkrs: SocketAddr) -> Targets {
        Targets {
            apache,
            zkrs,
            next_root: AtomicU64::new(1),
        }
    }

    /// Runs `workload` on both servers at once (under the same fresh node) and normalises
    /// both traces.
    /// Operations that an enabled known divergence says to skip are skipped on both.
    pub async fn run_both(
        &self,
        workload: &Workload,
        known: &KnownSet,
    ) -> Result<(Vec<Step>, Vec<Step>), String> {
        let base = format!("/d{}", self.next_root.fetch_add(1, Ordering::Relaxed));
        let skip = |op: &workload::OpKind, facts: &exec::Facts| known.skipping(op, facts);
        let (a, z) = tokio::join!(
            exec::run(self.apache, &base, workload, &skip),
            exec::run(self.zkrs, &base, workload, &skip)
        );
        let a = a.map_err(|e| format!("Apache: {e}"))?;
        let z = z.map_err(|e| format!("zkrs: {e}"))?;
        Ok((normalize::normalize(&a), normalize::normalize(&z)))
    }
}

/// What to run; see [`Options::from_env`].
#[derive(Clone, Debug)]
pub struct Options {
    pub seeds: Vec<u64>,
    pub ops_per_seed: usize,
    /// Seeds run at the same time (each with its own root and sessions).
    pub parallel: usize,
    pub shrink_budget: Duration,
    pub known: KnownSet,
    /// Keep going after a divergence and shrink one example of every distinct signature.
    pub survey: bool,
    /// Print the whole side-by-side trace of every seed.
    pub verbose: bool,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        _ => default,
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

impl Options {
    /// * `ZKRS_DIFF_SEEDS=N` (default 500): run seeds `FIRST..FIRST+N`;
    ///   `ZKRS_DIFF_FIRST_SEED` (default 1);
    /// * `ZKRS_DIFF_SEED=S`: run only seed `S` and print its whole trace (`S1,S2,...`: run
    ///   those seeds);
    /// * `ZKRS_DIFF_OPS` (default 150): operations per seed;
    /// * `ZKRS_DIFF_PARALLEL` (default 3): seeds in flight at once;
    /// * `ZKRS_DIFF_SHRINK_SECS` (default 60): time budget of the shrinker;
    /// * `ZKRS_DIFF_STRICT=1` / `ZKRS_DIFF_DISABLE=name,...`: switch known divergences off;
    /// * `ZKRS_DIFF_SURVEY=1`: do not stop at the first diverging seed; shrink one example
    ///   of each distinct divergence;
    /// * `ZKRS_DIFF_VERBOSE=1`: print every seed's trace.
    pub fn from_env() -> Options {
        let (seeds, verbose) = match std::env::var("ZKRS_DIFF_SEED") {
            Ok(s) if !s.trim().is_empty() => {
                let seeds: Vec<u64> = s
                    .split(',')
                    .map(|n| {
                        n.trim().parse().unwrap_or_else(|_| {
                            panic!("ZKRS_DIFF_SEED must be numbers separated by commas, not {s:?}")
                        })
                    })
                    .collect();
                let one = seeds.len() == 1;
                (seeds, one)
            }
            _ => {
                let first: u64 = env_num("ZKRS_DIFF_FIRST_SEED", 1);
                let n: u64 = env_num("ZKRS_DIFF_SEEDS", 500);
                ((first..first + n).collect(), false)
            }
        };
        Options {
            seeds,
            ops_per_seed: env_num("ZKRS_DIFF_OPS", 150),
            parallel: env_num("ZKRS_DIFF_PARALLEL", 3usize).max(1),
            shrink_budget: Duration::from_secs(env_num("ZKRS_DIFF_SHRINK_SECS", 60)),
            known: KnownSet::from_env(),
            survey: env_flag("ZKRS_DIFF_SURVEY"),
            verbose: verbose || env_flag("ZKRS_DIFF_VERBOSE"),
        }
    }

    /// The workload of `seed` under these options.
    pub fn workload(&self, seed: u64) -> Workload {
        Workload::generate(seed, self.ops_per_seed, |op| {
            self.known.avoiding(op).is_some()
        })
    }
}

/// The outcome of one seed.
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub elapsed: Duration,
    pub comparison: Result<Comparison, String>,
}

/// What a whole run found.
pub struct Report {
    pub seeds: Vec<SeedResult>,
    pub elapsed: Duration,
    /// The text to print: summary, divergences, shrunk reproductions.
    pub text: String,
    /// Whether something diverged (outside the known list) or failed.
    pub failed: bool,
}

/// Runs the seeds of `opts` against both servers.
pub async fn run_seeds(targets: Arc<Targets>, opts: &Options) -> Report {
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let results = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..opts.parallel.min(opts.seeds.len()).max(1) {
        let (targets, next, stop, results) =
            (targets.clone(), next.clone(), stop.clone(), results.clone());
        let opts = opts.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = opts.seeds.get(i) else {
                    return;
                };
                let t = Instant::now();
                let workload = opts.workload(seed);
                let comparison = targets
                    .run_both(&workload, &opts.known)
                    .await
                    .map(|(a, z)| {
                        if opts.verbose {
                            eprintln!("{workload}\n{}", side_by_side(&a, &z));
                        }
                        compare(&a, &z, &opts.known)
                    });
                let bad = match &comparison {
                    Ok(c) => c.divergence.is_some(),
                    Err(_) => true,
                };
                if bad && !opts.survey {
                    stop.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap().push(SeedResult {
                    seed,
                    elapsed: t.elapsed(),
                    comparison,
                });
            }
        }));
    }
    for t in tasks {
        t.await.expect("a seed runner panicked");
    }
    let mut seeds = std::mem::take(&mut *results.lock().unwrap());
    seeds.sort_by_key(|r| r.seed);
    let mut text = summary(&seeds, opts, start.elapsed());
    let mut failed = false;

    // Shrink the first failing seed of every distinct signature (only the first failing
    // seed unless surveying).
    let mut shrunk_signatures = BTreeSet::new();
    for r in &seeds {
        let d = match &r.comparison {
            Err(e) => {
                failed = true;
                let _ = writeln!(text, "\nseed {}: the run failed: {e}", r.seed);
                continue;
            }
            Ok(c) => match &c.divergence {
                Some(d) => d,
                None => continue,
            },
        };
        failed = true;
        let _ = writeln!(text, "\n=== seed {} diverges ===\n{d}", r.seed);
        let sig = d.signature();
        if !shrunk_signatures.insert(sig) {
            let _ = writeln!(
                text,
                "(same signature {sig:?} as an earlier seed: not shrunk)"
            );
            continue;
        }
        if shrunk_signatures.len() > 1 && !opts.survey {
            continue;
        }
        text.push_str(&reproduction(&targets, &opts.workload(r.seed), d, opts).await);
    }
    Report {
        seeds,
        elapsed: start.elapsed(),
        text,
        failed,
    }
}

async fn reproduction(
    targets: &Targets,
    workload: &Workload,
    d: &Divergence,
    opts: &Options,
) -> String {
    let mut text = String::new();
    let s = shrink::shrink(targets, workload, d, &opts.known, opts.shrink_budget).await;
    let _ = writeln!(
        text,
        "\n--- shrunk reproduction: {} of {} ops ({} runs of both servers, {:.1} s{}) ---",
        s.workload.ops.len(),
        workload.ops.len(),
        s.runs,
        s.elapsed.as_secs_f64(),
        if s.exhausted {
            ", budget exhausted"
        } else {
            ""
        }
    );
    if !s.reproduced {
        let _ = writeln!(
            text,
            "!!! the divergence did not show again when the seed was re-run: something is not \
             deterministic (in a server or in the harness)"
        );
    }
    text.push_str(&s.workload.to_string());
    let _ = writeln!(text, "{}", s.divergence);
    match targets.run_both(&s.workload, &opts.known).await {
        Ok((a, z)) => {
            let _ = writeln!(text, "--- the shrunk run, both servers ---");
            text.push_str(&side_by_side(&a, &z));
        }
        Err(e) => {
            let _ = writeln!(text, "(re-running the shrunk workload failed: {e})");
        }
    }
    let _ = writeln!(
        text,
        "replay the whole seed: ZKRS_DIFF_SEED={} ZKRS_DIFF_OPS={}{}",
        workload.seed,
        workload.ops.len(),
        opts.known.env()
    );
    text
}

fn summary(seeds: &[SeedResult], opts: &Options, elapsed: Duration) -> String {
    let mut text = String::new();
    let n = seeds.len().max(1);
    let per_seed = seeds.iter().map(|r| r.elapsed).sum::<Duration>() / n as u32;
    let _ = writeln!(
        text,
        "differential: {} seeds x {} ops, {} in parallel: {:.1} s wall ({:.0} ms per seed; \
         one seed on both servers takes {:.0} ms)",
        seeds.len(),
        opts.ops_per_seed,
        opts.parallel,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / n as f64,
        per_seed.as_secs_f64() * 1000.0,
    );
    if seeds.len() < opts.seeds.len() {
        let _ = writeln!(
            text,
            "stopped at the first diverging seed: {} of {} seeds not run",
            opts.seeds.len() - seeds.len(),
            opts.seeds.len()
        );
    }
    let mut masked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut steps = 0;
    for r in seeds {
        if let Ok(c) = &r.comparison {
            steps += c.compared;
            for (name, _) in &c.masked {
                *masked.entry(name).or_default() += 1;
            }
        }
    }
    let _ = writeln!(text, "steps compared: {steps}");
    let _ = writeln!(
        text,
        "never generated (the reference cannot judge them): {}",
        workload::REFERENCE_GAPS
    );
    let _ = writeln!(
        text,
        "known divergences enabled: {} of {}",
        opts.known.names().len(),
        KNOWN.len()
    );
    for k in KNOWN {
        let state = if !opts.known.names().contains(&k.name) {
            "off".to_string()
        } else {
            match k.handling {
                Handling::Mask(_) => {
                    format!("masked {} steps", masked.get(k.name).copied().unwrap_or(0))
                }
                Handling::Avoid(_) => "kept out of the workloads".to_string(),
                Handling::Skip(_) => "skipped when it applies".to_string(),
            }
        };
        let _ = writeln!(text, "  {} [{state}]: {}", k.name, k.reason);
    }
    text
}
