//! Admin and metrics over HTTP: Apache's AdminServer (`/commands`, `/commands/<name>` as
//! JSON on `admin.serverAddress:admin.serverPort`) and its Prometheus metrics provider
//! (`/metrics` on `metricsProvider.httpPort`). Both answer from the one view of the server
//! the four-letter words render from ([`ServerSnapshot`], filled from the core's
//! inspection), so every surface shows the same figures.
//!
//! * `commands.rs`: the command table and one JSON renderer per command;
//! * `prometheus.rs`: the families Apache exports and the 0.0.4 text format
//!   (`prometheus_families.txt` pins the names and types taken from Apache's sources);
//! * `mntr.rs`: `mntr` read back as values, the source of `monitor` and `/metrics`;
//! * `json.rs`: ordered JSON in Jackson's layout;
//! * `serve.rs`: the hyper listeners, routes and status codes.
//!
//! As in Apache: the admin server runs unless `admin.enableServer=false`; a standalone
//! server that cannot bind it does not start, an ensemble member logs a warning and runs
//! without it (Apache's `QuorumPeer.start`). `/metrics` is served only when
//! `metricsProvider.className` names Apache's `PrometheusMetricsProvider` (zkrs does not
//! serve it by default, so a plain config opens no port Apache would not), and a bind
//! error is fatal in every mode (Apache fails to boot the provider).

mod commands;
mod json;
mod mntr;
mod prometheus;
mod serve;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::driver::CoreMsg;
use crate::fourlw::{Role, ServerSnapshot};
use crate::server::StartError;

/// The class name that turns `/metrics` on (any package prefix is accepted, as a simple
/// name check; Apache loads the class by its full name).
const PROMETHEUS_PROVIDER: &str = "PrometheusMetricsProvider";

/// Apache's default `metricsProvider.httpPort`.
const DEFAULT_METRICS_PORT: u16 = 7000;

/// How long a request waits for the core's inspection before answering as a server that
/// does not serve (the core answers at once unless it is gone or busy replaying).
const INSPECT_LIMIT: Duration = Duration::from_secs(10);

/// What the handlers read: the core to inspect, the configuration, and the role the
/// replication layer publishes (a standalone server's never changes).
pub(crate) struct Source {
    core: mpsc::UnboundedSender<CoreMsg>,
    config: Arc<Config>,
    role: watch::Receiver<Role>,
}

impl Source {
    /// The view of the server now. The HTTP request is not a client connection, so unlike
    /// a four-letter word it is not counted among the connections (Apache does not either).
    async fn view(&self) -> ServerSnapshot {
        let role = self.role.borrow().clone();
        let mut snap =
            ServerSnapshot::new(crate::admin::version_string(), "unknown".to_string(), role);
        let (tx, rx) = oneshot::channel();
        let inspection = match self.core.send(CoreMsg::Inspect(tx)) {
            Ok(()) => tokio::time::timeout(INSPECT_LIMIT, rx)
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        match inspection {
            Some(i) => snap.fill_from_core(&i, &self.config),
            // No core (looking for a leader, or shutting down): not serving.
            None => snap.role.serving = false,
        }
        snap
    }
}

/// The running HTTP listeners; [`HttpListeners::shutdown`] stops them and their
/// connections.
pub struct HttpListeners {
    /// Where the admin server listens, when it runs.
    pub admin_addr: Option<SocketAddr>,
    /// Where `/metrics` is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl HttpListeners {
    /// Stops accepting and ends every open HTTP connection; the ports are free when this
    /// returns.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds and starts the listeners `config` asks for. `member` says whether this is an
/// ensemble member (an admin bind error is then only logged, as in Apache).
pub(crate) async fn start(
    config: &Config,
    core: mpsc::UnboundedSender<CoreMsg>,
    role: watch::Receiver<Role>,
    member: bool,
) -> Result<HttpListeners, StartError> {
    let source = Arc::new(Source {
        core,
        config: Arc::new(config.clone()),
        role,
    });
    let mut listeners = HttpListeners {
        admin_addr: None,
        metrics_addr: None,
        tasks: Vec::new(),
    };
    if config.admin_enable_server {
        let addr = SocketAddr::new(config.admin_server_address, config.admin_server_port);
        match bind(addr).await {
            Ok((listener, local)) => {
                tracing::info!(addr = %local, "admin server listening (/commands)");
                listeners.admin_addr = Some(local);
                listeners
                    .tasks
                    .push(tokio::spawn(serve::admin(listener, source.clone())));
            }
            Err(e) if member => {
                tracing::warn!(error = %e, "admin server not started; the member runs without it");
            }
            Err(e) => {
                tracing::error!(error = %e, "unable to start the admin server; not starting");
                return Err(e);
            }
        }
    }
    if let Some(addr) = metrics_addr(config) {
        let (listener, local) = bind(addr).await.inspect_err(|e| {
            tracing::error!(error = %e, "unable to start the /metrics server; not starting");
        })?;
        tracing::info!(addr = %local, "Prometheus metrics listening (/metrics)");
        listeners.metrics_addr = Some(local);
        listeners
            .tasks
            .push(tokio::spawn(serve::metrics(listener, source)));
    }
    Ok(listeners)
}

/// Where `/metrics` is served, if at all. zoo.cfg's `metricsProvider.httpHost` is not
/// read by the config parser, so the listener takes the client port's address, whose
/// default (`0.0.0.0`) is also Apache's default host.
fn metrics_addr(config: &Config) -> Option<SocketAddr> {
    let class = config.metrics_provider_class_name.as_deref()?;
    if !class.ends_with(PROMETHEUS_PROVIDER) {
        tracing::warn!(
            class,
            "metricsProvider.className: only Apache's PrometheusMetricsProvider is served; nothing listens"
        );
        return None;
    }
    let port = config
        .metrics_provider_http_port
        .unwrap_or(DEFAULT_METRICS_PORT);
    let host: IpAddr = config.client_port_address;
    Some(SocketAddr::new(host, port))
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(&format!("dataDir=/d\n{text}"), "zoo.cfg")
            .expect("config")
            .0
    }

    #[test]
    fn metrics_are_served_only_for_apaches_prometheus_provider() {
        assert_eq!(metrics_addr(&config("")), None);
        assert_eq!(
            metrics_addr(&config("metricsProvider.className=com.example.Other")),
            None
        );
        let prom = "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
        assert_eq!(
            metrics_addr(&config(prom)),
            Some("0.0.0.0:7000".parse().expect("addr"))
        );
        assert_eq!(
            metrics_addr(&config(&format!(
                "{prom}\nmetricsProvider.httpPort=7001\nclientPortAddress=127.0.0.2"
            ))),
            Some("127.0.0.2:7001".parse().expect("addr"))
        );
    }
}
