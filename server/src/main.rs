//! `zkrs-server [zoo.cfg]`: runs a ZooKeeper-compatible server. Without arguments it runs a
//! standalone server on 127.0.0.1:2181 with its data under `./zkrs-data`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use zkrs_server::config::Config;

const USAGE: &str = "usage: zkrs-server [zoo.cfg | --config zoo.cfg]
       zkrs-server purge <dataDir> [<dataLogDir>] [-n <count>]
       zkrs-server dump-log <log segment file>
       zkrs-server dump-snapshot <snapshot file>
       zkrs-server measure-snapshot-pause [<nodes>] [<dir>] [flat]
       zkrs-server elect <zoo.cfg>

Runs a ZooKeeper-compatible server configured by zoo.cfg (the keys Apache ZooKeeper reads).
Without a config file it runs a standalone server on 127.0.0.1:2181 with its data in
./zkrs-data. Logging is controlled by RUST_LOG (default: info).

purge keeps the <count> newest snapshots (default and minimum 3) and the log segments they
need, like zkCleanup.sh -n; dump-log and dump-snapshot print a data file's contents;
measure-snapshot-pause times how long snapshots of a tree of <nodes> znodes (default 1M)
stop the core, writing them under <dir> (default: the temporary directory).
elect runs only leader election for the member zoo.cfg and its myid describe, on its
election port, and prints a line per decision (`elected: lead ...`, `elected: follow N ...`);
it keeps answering the other members until killed.";

fn parse_args() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args_os().skip(1);
    let mut config = None;
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("-h") | Some("--help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Some("-V") | Some("--version") => {
                println!("zkrs-server {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            Some("--config") | Some("-c") => {
                let p = args.next().context("--config needs a file")?;
                config = Some(PathBuf::from(p));
            }
            Some(s) if s.starts_with('-') => bail!("unknown option {s}\n\n{USAGE}"),
            _ => {
                if config.is_some() {
                    bail!("only one config file may be given\n\n{USAGE}");
                }
                config = Some(PathBuf::from(a));
            }
        }
    }
    Ok(config)
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => {
            let (config, warnings) = Config::from_file(&p)?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            Ok(config)
        }
        None => {
            let dir = std::env::current_dir()?.join("zkrs-data");
            tracing::info!(data_dir = %dir.display(), "no config file given: running a standalone server");
            Ok(Config::standalone_default(dir))
        }
    }
}

/// `zkrs-server <tool> ...`: the offline tools. `None` when the arguments are not a tool.
fn run_tool(args: &[String]) -> Option<anyhow::Result<()>> {
    let (tool, rest) = args.split_first()?;
    Some(match tool.as_str() {
        "dump-log" => match rest {
            [file] => zkrs_server::tools::dump_log(file.as_ref())
                .map(|s| print!("{s}"))
                .with_context(|| format!("reading {file}")),
            _ => Err(anyhow::anyhow!("usage: zkrs-server dump-log <file>")),
        },
        "dump-snapshot" => match rest {
            [file] => zkrs_server::tools::dump_snapshot(file.as_ref())
                .map(|s| print!("{s}"))
                .with_context(|| format!("reading {file}")),
            _ => Err(anyhow::anyhow!("usage: zkrs-server dump-snapshot <file>")),
        },
        "measure-snapshot-pause" => (|| {
            let nodes = match rest.first() {
                Some(n) => n
                    .parse()
                    .with_context(|| format!("{n}: not a node count"))?,
                None => 1_000_000,
            };
            let dir = rest.get(1).map_or_else(std::env::temp_dir, PathBuf::from);
            let flat = rest.get(2).is_some_and(|a| a == "flat");
            zkrs_server::tools::measure_snapshot_pause(nodes, &dir, flat)
                .with_context(|| format!("measuring in {}", dir.display()))
        })(),
        "purge" => (|| {
            let mut dirs = Vec::new();
            let mut count = 3usize;
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                if a == "-n" {
                    let n = it.next().context("-n needs a count")?;
                    count = n.parse().with_context(|| format!("-n {n}: not a number"))?;
                } else {
                    dirs.push(PathBuf::from(a));
                }
            }
            let (data, log) = match dirs.as_slice() {
                [d] => (d.clone(), d.clone()),
                [d, l] => (d.clone(), l.clone()),
                _ => bail!("usage: zkrs-server purge <dataDir> [<dataLogDir>] [-n <count>]"),
            };
            let r = zkrs_server::tools::purge_dirs(&data, &log, count)?;
            for f in r.snapshots.iter().chain(&r.segments) {
                println!("removed {f}");
            }
            Ok(())
        })(),
        "elect" => match rest {
            [file] => elect(file.as_ref()),
            _ => Err(anyhow::anyhow!("usage: zkrs-server elect <zoo.cfg>")),
        },
        _ => return None,
    })
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// `zkrs-server elect <zoo.cfg>`: election only, a line on stdout per decision.
fn elect(path: &std::path::Path) -> anyhow::Result<()> {
    init_logging();
    let (config, warnings) =
        Config::from_file(path).with_context(|| format!("reading {}", path.display()))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    if config.is_standalone() {
        bail!(
            "{}: no server.N lines, so there is nothing to elect",
            path.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        tokio::select! {
            r = zkrs_server::tools::elect(&config, |line| println!("{line}")) => {
                r.context("election")?;
            }
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        }
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(result) = run_tool(&args) {
        return result;
    }
    init_logging();
    let config = load_config(parse_args()?)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating dataDir {}", config.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        // With a handler installed, exceeding RLIMIT_FSIZE makes the write fail with EFBIG
        // (handled like a full disk) instead of killing the process.
        const SIGXFSZ: i32 = 25;
        let _xfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ))
            .context("installing the SIGXFSZ handler")?;
        let server = zkrs_server::server::start(config).await?;
        tokio::select! {
            r = server.wait() => r.context("client port failed")?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
        }
        Ok(())
    })
}
