//! `zkrs-server [zoo.cfg]`: runs a ZooKeeper-compatible server. Without arguments it runs a
//! standalone server on 127.0.0.1:2181 with its data under `./zkrs-data`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use zkrs_server::config::Config;

const USAGE: &str = "usage: zkrs-server [zoo.cfg | --config zoo.cfg]

Runs a ZooKeeper-compatible server configured by zoo.cfg (the keys Apache ZooKeeper reads).
Without a config file it runs a standalone server on 127.0.0.1:2181 with its data in
./zkrs-data. Logging is controlled by RUST_LOG (default: info).";

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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = load_config(parse_args()?)?;
    if !config.is_standalone() {
        tracing::warn!(
            "server.N lines found: replication is not available yet, running standalone"
        );
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating dataDir {}", config.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let server = zkrs_server::server::start(config).await?;
        tokio::select! {
            r = server.wait() => r.context("client port failed")?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
        }
        Ok(())
    })
}
