//! A zkrs server inside the test process: no binary to build first, no JVM, started and
//! stopped in milliseconds. For tests that do not need a separate process (kill -9, a file
//! size limit, RSS); those use [`crate::ServerUnderTest`].
//!
//! The server runs on a Tokio runtime of its own, on its own thread, so a test may block or
//! run any runtime it likes. Dropping the [`InProcessServer`] (or [`InProcessServer::stop`])
//! shuts it down gracefully with `RunningServer::shutdown`: the port is free and nothing
//! writes in the data dir once it returns.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;

use tempfile::TempDir;
use tokio::sync::oneshot;
use zkrs_server::config::Config;

use crate::addr::{LoopbackAddr, CLIENT_PORT};
use crate::server::{self, ServerConfig};
use crate::{zk, WAIT};

/// A running in-process zkrs server with a fresh data dir on its own loopback address.
pub struct InProcessServer {
    addr: SocketAddr,
    config: ServerConfig,
    running: Option<Running>,
    // Dropped after the server stopped.
    dir: TempDir,
    _ip: LoopbackAddr,
}

/// The server thread and the way to tell it to stop.
struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl InProcessServer {
    /// Starts a server with the default configuration.
    pub fn start() -> InProcessServer {
        Self::start_with(ServerConfig::default())
    }

    /// Starts a server with `config` (the same `zoo.cfg` a process would get).
    pub fn start_with(config: ServerConfig) -> InProcessServer {
        let ip = LoopbackAddr::allocate();
        let dir = tempfile::Builder::new()
            .prefix("zkrs-inproc-")
            .tempdir()
            .expect("temp dir");
        let mut server = InProcessServer {
            addr: ip.at(CLIENT_PORT),
            config,
            running: None,
            dir,
            _ip: ip,
        };
        fs::create_dir(server.data_dir()).expect("data dir");
        let cfg_path = server.dir.path().join("zoo.cfg");
        fs::write(
            &cfg_path,
            server.config.zoo_cfg(&server.data_dir(), server.addr),
        )
        .expect("writing zoo.cfg");
        server.running = Some(launch(&cfg_path));
        server
    }

    /// Stops the server gracefully and starts it again on the same address and data dir
    /// (what a clean restart recovers).
    pub fn restart(&mut self) {
        self.shutdown();
        self.running = Some(launch(&self.dir.path().join("zoo.cfg")));
    }

    /// Stops the server gracefully; its address stays reserved until `self` is dropped.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(Running { stop, thread }) = self.running.take() {
            let _ = stop.send(());
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the in-process server's thread panicked");
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `<address>:<port>`, for `zookeeper_client`.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The server's temp dir (zoo.cfg, data dir).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Connects a client with default options.
    pub async fn client(&self) -> zk::Client {
        server::connect(self.addr, zk::Client::connector()).await
    }

    /// Connects a client built by `connector`, failing the test after [`WAIT`].
    pub async fn connect(&self, connector: zk::Connector) -> zk::Client {
        server::connect(self.addr, connector).await
    }

    /// Sends a four-letter word and returns the whole answer.
    pub fn four_letter_word(&self, word: &str) -> std::io::Result<String> {
        server::four_letter_word(self.addr, word, WAIT)
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the server described by `cfg_path` on a thread with its own runtime; returns once
/// it is bound and serving (or panics with the reason it could not start).
fn launch(cfg_path: &Path) -> Running {
    let (config, _warnings) =
        Config::from_file(cfg_path).unwrap_or_else(|e| panic!("{}: {e}", cfg_path.display()));
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let thread = std::thread::Builder::new()
        .name("in-process-server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let server = match zkrs_server::server::start(config).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                // Sender dropped (the test panicked while unwinding) counts as stop too.
                let _ = stopped.await;
                server.shutdown().await;
            });
        })
        .expect("spawning the server thread");
    match ready_rx.recv_timeout(server::STARTUP) {
        Ok(Ok(())) => Running { stop, thread },
        Ok(Err(e)) => panic!("the in-process server did not start: {e}"),
        Err(e) => panic!("the in-process server did not start: {e}"),
    }
}
