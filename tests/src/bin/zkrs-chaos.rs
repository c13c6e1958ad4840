//! `zkrs-chaos`: one run of the fault and linearizability harness (docs/reliability.md).
//!
//! ```text
//! zkrs-chaos --seed 7 --workload register --nemesis kill-leader --duration 60 \
//!     --members 3 --kind zkrs --out chaos-out/register-kill-leader-zkrs-7
//! ```
//!
//! Starts the ensemble on loopback addresses, runs the workload while the nemesis injects
//! faults, heals, checks, writes the run's directory (history.jsonl, summary.json, every
//! member's zoo.cfg, data and server.log) and prints one summary line. Exit status: 0 when
//! the history is valid, 1 when a checker found an anomaly or could not decide, 2 when the
//! run could not be carried out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use zkrs_tests::chaos::{run, Members, Nemesis, RunConfig, Workload};

const USAGE: &str = "usage: zkrs-chaos [--seed N] [--workload register|set|unique-ids|counter|queue|sessions|watches] \
[--nemesis none|kill|kill-leader|pause|pause-leader|partition-halves|partition-leader|partition-bridge|partition-one-way|mixed|slow-disk|fsync-fail|corrupt-log|corrupt-snapshot|disk|reconfig] \
[--duration SECONDS] [--members N] [--kind zkrs|apache|mixed] [--clients N] [--max-ops N] [--out DIR]";

fn parse(args: &[String]) -> anyhow::Result<RunConfig> {
    let mut config = RunConfig::new(1, Workload::Register, Nemesis::Kill, Members::Zkrs);
    let mut out = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            bail!("{USAGE}");
        }
        let value = it
            .next()
            .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: String| anyhow!("{flag} {value}: {e}");
        match flag.as_str() {
            "--seed" => config.seed = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--workload" => config.workload = value.parse().map_err(bad)?,
            "--nemesis" => config.nemesis = value.parse().map_err(bad)?,
            "--duration" => {
                let secs: u64 = value.parse().map_err(|e| bad(format!("{e}")))?;
                config.duration = Duration::from_secs(secs);
            }
            "--members" => {
                config.members = value.parse().map_err(|e| bad(format!("{e}")))?;
                if !(1..=9).contains(&config.members) {
                    bail!("--members must be 1 to 9");
                }
            }
            "--kind" => config.kind = value.parse().map_err(bad)?,
            "--clients" => config.clients = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--max-ops" => config.max_ops = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--out" => out = Some(PathBuf::from(value)),
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    config.out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "chaos-out/{}-{}-{}-{}",
            config.workload, config.nemesis, config.kind, config.seed
        ))
    });
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The harness finds zkrs-server beside a test binary (target/<profile>/deps/..); this
    // binary lives in target/<profile> itself.
    if std::env::var_os("ZKRS_SERVER_BIN").is_none() {
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(PathBuf::from))
        {
            std::env::set_var("ZKRS_SERVER_BIN", dir.join("zkrs-server"));
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zkrs-chaos: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(async { run(&config).await.context("the run failed") }) {
        Ok(report) => {
            println!("{}", report.line());
            for a in report.anomalies.iter().chain(&report.undecided) {
                eprintln!("  {a}");
            }
            if report.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("zkrs-chaos: {e:#} ({})", config.command());
            ExitCode::from(2)
        }
    }
}
