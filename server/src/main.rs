//! `zkrs-server [zoo.cfg]`: runs a ZooKeeper-compatible server. Without arguments it runs a
//! standalone server on 127.0.0.1:2181 with its data under `./zkrs-data`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use zkrs_server::config::Config;

const USAGE: &str = "usage: zkrs-server [--myid-from-hostname] [zoo.cfg | --config zoo.cfg]
       zkrs-server purge <dataDir> [<dataLogDir>] [-n <count>]
       zkrs-server dump-log <log segment file>
       zkrs-server dump-snapshot <snapshot file>
       zkrs-server measure-snapshot-pause [<nodes>] [<dir>] [flat]
       zkrs-server elect <zoo.cfg>
       zkrs-server status [zoo.cfg]
       zkrs-server ensemble <N> [--dir DIR] [--base-port P] [--host IP] [--allow-even]
       zkrs-server import-apache --snapshots <dataDir> [--logs <dataLogDir>] --to <dir>
       zkrs-server export-apache --from <dataDir> [--from-logs <dataLogDir>] --to <dir>

Runs a ZooKeeper-compatible server configured by zoo.cfg (the keys Apache ZooKeeper reads).
Without a config file it runs a standalone server on 127.0.0.1:2181 with its data in
./zkrs-data. Logging is controlled by RUST_LOG (default: info).

--myid-from-hostname (or ZKRS_MYID_FROM_HOSTNAME=1): when zoo.cfg lists members and
dataDir has no myid, write one from the hostname's trailing ordinal, NAME-N being server
N+1 (a StatefulSet's pods, or containers named like them); an existing myid is kept.

purge keeps the <count> newest snapshots (default and minimum 3) and the log segments they
need, like zkCleanup.sh -n; dump-log and dump-snapshot print a data file's contents;
measure-snapshot-pause times how long snapshots of a tree of <nodes> znodes (default 1M)
stop the core, writing them under <dir> (default: the temporary directory).
elect runs only leader election for the member zoo.cfg and its myid describe, on its
election port, and prints a line per decision (`elected: lead ...`, `elected: follow N ...`);
it keeps answering the other members until killed.
status asks the member zoo.cfg describes (without a file, 127.0.0.1:2181) with srvr and
prints its mode as zkServer.sh status does; it exits 0 when the server serves, else 1.
ensemble writes N (1 to 9, odd unless --allow-even) member directories under DIR (default
./zkrs-ensemble), each with a zoo.cfg listing all of them on IP (default 127.0.0.1) with
ports from P (default 2181: clients 2181.., quorum 2888.., election 3888..) and its myid,
runs a zkrs-server per member with its log in its directory, prints the connect string,
and stops them all on Ctrl-C.
import-apache converts a stopped Apache ZooKeeper's data (its dataDir and dataLogDir) into
a new zkrs dataDir <dir>; export-apache converts a stopped zkrs server's data into a new
Apache dataDir <dir>. Both only read their source; see docs/migration.md, 'Offline: import and export'.";

/// What the command line asks of the server itself (the tools parse their own).
struct Args {
    config: Option<PathBuf>,
    myid_from_hostname: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args_os().skip(1);
    let mut config = None;
    let mut myid_from_hostname = false;
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
            Some("--myid-from-hostname") => myid_from_hostname = true,
            Some(s) if s.starts_with('-') => bail!("unknown option {s}\n\n{USAGE}"),
            _ => {
                if config.is_some() {
                    bail!("only one config file may be given\n\n{USAGE}");
                }
                config = Some(PathBuf::from(a));
            }
        }
    }
    Ok(Args {
        config,
        myid_from_hostname,
    })
}

/// `--myid-from-hostname`: writes `dataDir/myid` from the hostname before the config,
/// which needs it, is loaded.
fn myid_from_hostname(config: Option<&std::path::Path>) -> anyhow::Result<()> {
    use zkrs_server::config::hostname_myid::{current_hostname, ensure_myid, Outcome};
    let path = config.context("--myid-from-hostname needs a zoo.cfg that lists the members")?;
    let hostname = current_hostname()?;
    match ensure_myid(path, &hostname)? {
        Outcome::Written { file, id } => tracing::info!(
            hostname,
            myid = id,
            file = %file.display(),
            "wrote myid from the hostname's ordinal"
        ),
        Outcome::Kept {
            file,
            existing,
            derived,
        } if existing != derived.to_string() => tracing::warn!(
            hostname,
            myid = existing,
            derived,
            file = %file.display(),
            "myid exists and differs from the hostname's ordinal: keeping it (was this volume another member's?)"
        ),
        Outcome::Kept { file, existing, .. } => tracing::info!(
            hostname,
            myid = existing,
            file = %file.display(),
            "myid exists and matches the hostname's ordinal"
        ),
        Outcome::NotNeeded => {
            tracing::info!("--myid-from-hostname: zoo.cfg lists no members, so no myid is needed")
        }
    }
    Ok(())
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
        "status" => match rest {
            [] => status(None),
            [file] => status(Some(file.as_ref())),
            _ => Err(anyhow::anyhow!("usage: zkrs-server status [zoo.cfg]")),
        },
        "ensemble" => ensemble(rest),
        "import-apache" => zkrs_server::apache_data::import_command(rest)
            .map(|s| print!("{s}"))
            .map_err(Into::into),
        "export-apache" => zkrs_server::apache_data::export_command(rest)
            .map(|s| print!("{s}"))
            .map_err(Into::into),
        "elect" => match rest {
            [file] => elect(file.as_ref()),
            _ => Err(anyhow::anyhow!("usage: zkrs-server elect <zoo.cfg>")),
        },
        _ => return None,
    })
}

/// `zkrs-server status [zoo.cfg]`: `zkServer.sh status`. Without a file it asks where
/// `zkrs-server` without a file listens, 127.0.0.1:2181, rather than reading ./zoo.cfg,
/// which the server itself would not read either.
fn status(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = match path {
        Some(p) => Config::from_file(p)?.0,
        None => Config::standalone_default(PathBuf::from("zkrs-data")),
    };
    let s = zkrs_server::tools::status(&config, std::time::Duration::from_secs(5));
    print!("{}", s.text);
    // zkServer.sh's exit codes: 0 serving, 1 otherwise.
    std::process::exit(if s.serving { 0 } else { 1 });
}

/// How long a member may take to stop after SIGINT before it is killed.
const MEMBER_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// `zkrs-server ensemble <N> [--dir DIR] [--base-port P] [--host IP] [--allow-even]`:
/// writes N member directories and runs a `zkrs-server` child per member until Ctrl-C.
fn ensemble(args: &[String]) -> anyhow::Result<()> {
    const USE: &str =
        "usage: zkrs-server ensemble <N> [--dir DIR] [--base-port P] [--host IP] [--allow-even]";
    let mut n = None;
    let mut dir = PathBuf::from("zkrs-ensemble");
    let mut base_port = 2181u16;
    let mut host = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut allow_even = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{USE}"))
        };
        match a.as_str() {
            "--dir" => dir = PathBuf::from(value()?),
            "--base-port" => {
                let v = value()?;
                base_port = v
                    .parse()
                    .with_context(|| format!("--base-port {v}: not a port"))?;
            }
            "--host" => {
                let v = value()?;
                host = v
                    .parse()
                    .with_context(|| format!("--host {v}: not an IP address"))?;
            }
            "--allow-even" => allow_even = true,
            s if s.starts_with('-') => bail!("unknown option {s}\n{USE}"),
            s if n.is_none() => {
                n = Some(
                    s.parse::<usize>()
                        .with_context(|| format!("{s}: not a member count\n{USE}"))?,
                )
            }
            s => bail!("unexpected argument {s}\n{USE}"),
        }
    }
    let n = n.context(USE)?;
    init_logging();
    let dir = std::path::absolute(&dir).with_context(|| format!("{}", dir.display()))?;
    let members = zkrs_server::tools::local_ensemble(n, &dir, host, base_port, allow_even)?;
    zkrs_server::tools::write_local_ensemble(&members)
        .with_context(|| format!("writing the members under {}", dir.display()))?;
    let exe = std::env::current_exe().context("finding this program")?;
    let mut children: Vec<(usize, Option<std::process::Child>)> = Vec::new();
    for m in &members {
        let log = std::fs::File::create(m.log_path())
            .with_context(|| format!("creating {}", m.log_path().display()))?;
        let spawned = std::process::Command::new(&exe)
            .arg(m.cfg_path())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        match spawned {
            Ok(child) => {
                println!(
                    "member {}: pid {}, client {}, log {}",
                    m.id,
                    child.id(),
                    m.client,
                    m.log_path().display()
                );
                children.push((m.id, Some(child)));
            }
            Err(e) => {
                stop_members(&mut children);
                return Err(e).with_context(|| format!("starting member {}", m.id));
            }
        }
    }
    let connect: Vec<String> = members.iter().map(|m| m.client.to_string()).collect();
    println!("connect string: {}", connect.join(","));
    println!(
        "members' files and logs are under {}; Ctrl-C stops them all",
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime
        .block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("installing the SIGTERM handler")?;
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = term.recv() => break,
                    _ = tick.tick() => {
                        for (id, slot) in children.iter_mut() {
                            if let Some(child) = slot {
                                if let Ok(Some(status)) = child.try_wait() {
                                    println!("member {id} (pid {}) exited: {status}", child.id());
                                    *slot = None;
                                }
                            }
                        }
                        if children.iter().all(|(_, c)| c.is_none()) {
                            bail!("every member has exited");
                        }
                    }
                }
            }
            Ok(())
        })
        .inspect_err(|_| stop_members(&mut children))?;
    println!("stopping the members");
    stop_members(&mut children);
    Ok(())
}

/// Stops every running member by its PID: SIGINT (a graceful stop) first, SIGKILL after
/// [`MEMBER_STOP_GRACE`]; reaps each, so none is left behind.
fn stop_members(children: &mut [(usize, Option<std::process::Child>)]) {
    for (_, child) in children.iter_mut() {
        if let Some(c) = child {
            // std can only SIGKILL; kill(1) sends SIGINT without unsafe code.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
        }
    }
    let deadline = std::time::Instant::now() + MEMBER_STOP_GRACE;
    for (id, slot) in children.iter_mut() {
        let Some(mut child) = slot.take() else {
            continue;
        };
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    println!("member {id} (pid {}) stopped: {status}", child.id());
                    break;
                }
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => {
                    tracing::warn!(
                        member = id,
                        pid = child.id(),
                        "did not stop after SIGINT: killing it"
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        // Colours only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
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
    let args = parse_args()?;
    let from_env = zkrs_server::config::hostname_myid::env_enabled(
        std::env::var_os(zkrs_server::config::hostname_myid::ENV_VAR).as_deref(),
    )?;
    if args.myid_from_hostname || from_env {
        myid_from_hostname(args.config.as_deref())?;
    }
    let config = load_config(args.config)?;
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
