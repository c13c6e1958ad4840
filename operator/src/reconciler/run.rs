//! The `run` command: wait for the CRD, win the Lease, run one controller per watched
//! namespace until SIGTERM, then give the Lease up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, CustomResourceExt as _};
use tokio::sync::watch;
use tracing::{info, warn};

use super::ensemble::ZkEnsemble;
use super::events::KubeEvents;
use super::lease::{self, LeaseConfig};
use super::metrics::Metrics;
use super::{error_policy, http, reconcile, Context};
use crate::crd::ZooKeeperCluster;

/// How often a missing CRD is looked for again.
const CRD_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    pub http_port: u16,
}

pub fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut namespaces: Vec<String> = std::env::var("ZKRS_WATCH_NAMESPACES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut http_port = 8080;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--namespace" | "-n" => {
                namespaces.push(it.next().context("--namespace needs a value")?.clone())
            }
            "--http-port" => {
                let v = it.next().context("--http-port needs a value")?;
                http_port = v.parse().with_context(|| format!("--http-port {v}"))?;
            }
            other => bail!("unknown argument {other:?} (see zkrs-operator --help)"),
        }
    }
    Ok(Options {
        namespaces,
        http_port,
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

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot watch for SIGTERM; only Ctrl-C stops the operator");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => info!("interrupted: shutting down"),
    }
}

async fn run(opts: Options) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to the API server")?;
    let metrics = Arc::new(Metrics::default());
    let listener = http::bind(SocketAddr::from(([0, 0, 0, 0], opts.http_port)))
        .await
        .with_context(|| format!("binding the HTTP port {}", opts.http_port))?;
    let http_task = tokio::spawn(http::serve(listener, metrics.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = {
        let rx = stop_rx.clone();
        move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        }
    };

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    tokio::select! {
        r = wait_for_crd(&crds, CRD_POLL) => r?,
        _ = stopped() => return Ok(()),
    }

    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "zkrs-operator".to_string());
    let lease_cfg = LeaseConfig {
        name: "zkrs-operator".to_string(),
        namespace: std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".to_string()),
        identity: identity.clone(),
        duration: Duration::from_secs(15),
        renew_every: Duration::from_secs(5),
    };
    let leases: Api<Lease> = Api::namespaced(client.clone(), &lease_cfg.namespace);
    tokio::select! {
        () = lease::acquire(&leases, &lease_cfg) => {}
        _ = stopped() => return Ok(()),
    }
    metrics.set_leader(true);

    let addresses = Arc::new(crate::addresses::PodDns);
    let ctx = Arc::new(Context {
        client: client.clone(),
        addresses: addresses.clone(),
        ensemble: Arc::new(ZkEnsemble {
            timeout: Duration::from_secs(3),
            addresses,
        }),
        events: Arc::new(KubeEvents::new(client.clone(), Some(identity))),
        metrics: metrics.clone(),
    });
    let scopes: Vec<Option<String>> = if opts.namespaces.is_empty() {
        vec![None]
    } else {
        opts.namespaces.iter().cloned().map(Some).collect()
    };
    let controllers = scopes.into_iter().map(|ns| {
        let (clusters, sets): (Api<ZooKeeperCluster>, Api<StatefulSet>) = match &ns {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
        info!(
            namespace = ns.as_deref().unwrap_or("(all)"),
            "watching ZooKeeperClusters"
        );
        Controller::new(clusters, watcher::Config::default())
            // Only the StatefulSets this operator made: no cache of everyone else's.
            .owns(
                sets,
                watcher::Config::default().labels(&format!(
                    "app.kubernetes.io/managed-by={}",
                    crate::builders::MANAGER
                )),
            )
            .graceful_shutdown_on(stopped())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "controller event");
                }
            })
    });
    let all = futures::future::join_all(controllers);
    tokio::select! {
        _ = all => {}
        () = lease::keep(&leases, &lease_cfg) => {
            warn!("lost the lease: stopping so that only one replica reconciles");
            metrics.set_leader(false);
            http_task.abort();
            bail!("lost the lease");
        }
    }
    lease::release(&leases, &lease_cfg).await;
    metrics.set_leader(false);
    http_task.abort();
    info!("stopped");
    Ok(())
}

/// Returns once the ZooKeeperCluster CRD exists; polls every `every` until then.
pub async fn wait_for_crd(
    api: &Api<CustomResourceDefinition>,
    every: Duration,
) -> anyhow::Result<()> {
    let name = ZooKeeperCluster::crd_name();
    let mut said = false;
    loop {
        match api.get_opt(name).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if !said => {
                info!(crd = name, "waiting for the CRD to be installed");
                said = true;
            }
            Ok(None) => {}
            Err(e) => warn!(crd = name, error = %e, "cannot read the CRD; retrying"),
        }
        tokio::time::sleep(every).await;
    }
}
