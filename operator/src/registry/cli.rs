//! `zkrs-operator registry-gateway`: follows the registry, serves the API, and (with
//! `--mirror-endpointslices`) keeps the Services and EndpointSlices in step.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use super::endpointslices::Target;
use super::gateway::{self, Gateway};
use super::mirror;
use super::model::Snapshot;
use super::watcher::{follow, Follow};

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub connect: String,
    pub listen: SocketAddr,
    pub base: String,
    pub session_timeout: Duration,
    pub target: Option<Target>,
    pub mirror: bool,
}

pub fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut connect = None;
    let mut listen: SocketAddr = "0.0.0.0:8081".parse()?;
    let mut base = "/registry".to_string();
    let mut session_timeout = Duration::from_secs(10);
    let mut namespace = None;
    let mut cluster = None;
    let mut owner_uid = None;
    let mut mirror = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--connect" => connect = Some(value()?.clone()),
            "--listen" => {
                let v = value()?;
                listen = v.parse().with_context(|| format!("--listen {v}"))?;
            }
            "--base" => {
                base = value()?.clone();
                zkrs_client::proto::path::validate_path(&base, false)
                    .with_context(|| format!("--base {base}"))?;
            }
            "--session-timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .with_context(|| format!("--session-timeout {v}"))?;
                if !(secs.is_finite() && secs > 0.0) {
                    bail!("--session-timeout {v}: must be a positive number of seconds");
                }
                session_timeout = Duration::from_secs_f64(secs);
            }
            "--namespace" | "-n" => namespace = Some(value()?.clone()),
            "--cluster" => cluster = Some(value()?.clone()),
            "--owner-uid" => owner_uid = Some(value()?.clone()),
            "--mirror-endpointslices" => mirror = true,
            other => bail!("unknown argument {other:?} (see zkrs-operator --help)"),
        }
    }
    let connect = connect.context("--connect is required (see zkrs-operator --help)")?;
    let target = match (namespace, cluster) {
        (Some(namespace), Some(cluster)) => Some(Target {
            owner: owner_uid.map(|uid| OwnerReference {
                api_version: "zkrs.io/v1alpha1".to_string(),
                kind: "ZooKeeperCluster".to_string(),
                name: cluster.clone(),
                uid,
                ..Default::default()
            }),
            namespace,
            cluster,
        }),
        (None, None) => None,
        _ => bail!("--namespace and --cluster go together"),
    };
    if mirror && target.is_none() {
        bail!("--mirror-endpointslices needs --namespace and --cluster");
    }
    Ok(Options {
        connect,
        listen,
        base,
        session_timeout,
        target,
        mirror,
    })
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let opts = parse_args(args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(opts))
}

async fn run(opts: Options) -> anyhow::Result<()> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
    let follower = tokio::spawn(follow(
        Follow {
            connect: opts.connect.clone(),
            base: opts.base.clone(),
            session_timeout: opts.session_timeout,
        },
        tx,
    ));
    let mirrorer = match (&opts.target, opts.mirror) {
        (Some(target), true) => {
            let client = kube::Client::try_default()
                .await
                .context("connecting to the Kubernetes API")?;
            Some(tokio::spawn(mirror::run(
                client,
                target.clone(),
                rx.clone(),
            )))
        }
        _ => None,
    };
    info!(addr = %listener.local_addr()?, base = %opts.base, "registry gateway listening");
    let server = tokio::spawn(gateway::serve(
        listener,
        Gateway {
            snapshots: rx,
            target: opts.target.clone(),
        },
    ));
    shutdown_signal().await;
    info!("shutting down");
    server.abort();
    follower.abort();
    if let Some(m) = mirrorer {
        m.abort();
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn arguments_are_read_and_bad_ones_refused() {
        let o = parse_args(&args("--connect zk:2181 --listen 127.0.0.1:9000 --namespace ns --cluster zk --mirror-endpointslices --owner-uid u-1")).unwrap();
        assert_eq!(o.connect, "zk:2181");
        assert_eq!(o.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(o.base, "/registry");
        assert!(o.mirror);
        let t = o.target.unwrap();
        assert_eq!((t.namespace.as_str(), t.cluster.as_str()), ("ns", "zk"));
        assert_eq!(t.owner.unwrap().uid, "u-1");
        for bad in [
            "",
            "--listen 127.0.0.1:1",
            "--connect a:1 --mirror-endpointslices",
            "--connect a:1 --namespace ns",
            "--connect a:1 --base relative",
            "--connect a:1 --session-timeout 0",
            "--connect a:1 --listen nowhere",
            "--connect a:1 --what",
            "--connect",
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?} was accepted");
        }
    }
}
