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
//! serve it by default, so a plain config opens no port Apache would not), on
//! `metricsProvider.httpHost:httpPort` (default `0.0.0.0:7000`, Apache's); a host that
//! does not resolve or a bind error is fatal in every mode (Apache fails to boot the
//! provider).

mod accept;
mod commands;
mod json;
mod mntr;
mod prometheus;
mod serve;

pub use accept::serve_http;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, PROMETHEUS_PROVIDER};
use crate::core::driver::CoreMsg;
use crate::fourlw::{Role, ServerSnapshot, TraceMask};
use crate::server::StartError;

/// Apache's default `metricsProvider.httpHost` and `metricsProvider.httpPort`.
const DEFAULT_METRICS_HOST: &str = "0.0.0.0";
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
    /// The mask `set_trace_mask` sets (shared with the client port's `stmk`).
    trace_mask: TraceMask,
    /// The configuration file's text as it was read at startup, for
    /// `initial_configuration`. Apache 3.8 keeps it for a standalone server only (its
    /// ensemble members never hand it to their server, and answer null).
    initial_configuration: Option<String>,
}

impl Source {
    /// The view of the server now (with the directories' sizes measured when `dirs`, since
    /// that reads the disk). The HTTP request is not a client connection, so unlike a
    /// four-letter word it is not counted among the connections (Apache does not either).
    async fn view(&self, dirs: bool) -> ServerSnapshot {
        let role = self.role.borrow().clone();
        let mut snap =
            ServerSnapshot::new(crate::admin::version_string(), "unknown".to_string(), role);
        snap.trace_mask = self.trace_mask.get();
        let (tx, rx) = oneshot::channel();
        let inspection = match self.core.send(CoreMsg::Inspect(tx)) {
            Ok(()) => tokio::time::timeout(INSPECT_LIMIT, rx)
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        match inspection {
            Some(i) => {
                snap.fill_from_core(&i, &self.config);
                if dirs {
                    snap.set_dir_sizes(crate::admin::dir_sizes(&self.config).await);
                }
            }
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
/// `trace_mask` is the server's, which the client port's `stmk` sets too.
pub(crate) async fn start(
    config: &Config,
    core: mpsc::UnboundedSender<CoreMsg>,
    role: watch::Receiver<Role>,
    trace_mask: TraceMask,
    member: bool,
) -> Result<HttpListeners, StartError> {
    let initial_configuration = match (&config.config_file, member) {
        // Read once at startup, before anything could rewrite the file (a small file: the
        // runtime is not held up).
        (Some(path), false) => match std::fs::read(path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "initial_configuration: cannot read the configuration file again");
                None
            }
        },
        _ => None,
    };
    let source = Arc::new(Source {
        core,
        config: Arc::new(config.clone()),
        role,
        trace_mask,
        initial_configuration,
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
    if let Some((host, port)) = metrics_host_port(config) {
        let bound = match resolve(&host, port).await {
            Ok(addr) => bind(addr).await,
            Err(e) => Err(e),
        };
        let (listener, local) = bound.inspect_err(|e| {
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

/// Where `/metrics` is served, if at all: `metricsProvider.httpHost` (default
/// `0.0.0.0`, as Apache's provider) and `metricsProvider.httpPort` (default 7000), when the
/// provider is Apache's Prometheus one (the parser warns about any other).
fn metrics_host_port(config: &Config) -> Option<(String, u16)> {
    let class = config.metrics_provider_class_name.as_deref()?;
    if !class.ends_with(PROMETHEUS_PROVIDER) {
        return None;
    }
    let host = config
        .metrics_provider_http_host
        .clone()
        .unwrap_or_else(|| DEFAULT_METRICS_HOST.to_string());
    let port = config
        .metrics_provider_http_port
        .unwrap_or(DEFAULT_METRICS_PORT);
    Some((host, port))
}

/// The first address `host` resolves to (an address is itself), as Java's
/// `InetSocketAddress(host, port)` takes it.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, StartError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let unresolved = |source| StartError::Resolve {
        host: host.to_string(),
        source,
    };
    tokio::net::lookup_host((host, port))
        .await
        .map_err(unresolved)?
        .next()
        .ok_or_else(|| unresolved(std::io::Error::other("no address")))
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
        assert_eq!(metrics_host_port(&config("")), None);
        assert_eq!(
            metrics_host_port(&config("metricsProvider.className=com.example.Other")),
            None
        );
        let prom = "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
        // Apache's defaults: every interface, port 7000; the client port's address is not
        // the provider's.
        assert_eq!(
            metrics_host_port(&config(&format!("{prom}\nclientPortAddress=127.0.0.2"))),
            Some(("0.0.0.0".to_string(), 7000))
        );
        assert_eq!(
            metrics_host_port(&config(&format!(
                "{prom}\nmetricsProvider.httpPort=7001\nmetricsProvider.httpHost=localhost"
            ))),
            Some(("localhost".to_string(), 7001))
        );
    }

    #[tokio::test]
    async fn the_metrics_host_is_an_address_or_a_name() {
        assert_eq!(
            resolve("127.0.0.3", 7000).await.expect("an address"),
            "127.0.0.3:7000".parse::<SocketAddr>().expect("addr")
        );
        // From the hosts file: no query leaves the machine.
        let local = resolve("localhost", 7000)
            .await
            .expect("localhost resolves");
        assert!(local.ip().is_loopback(), "{local}");
    }
}
