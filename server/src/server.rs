//! Wiring: binds the client port and starts the core, the log writer and the acceptor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::{Core, CoreMsg, CoreSettings};
use crate::log::{spawn_writer, MemoryLog};
use crate::net::{serve, NetSettings};
use crate::prep::PrepConfig;
use crate::tree::DataTree;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the transaction log writer: {0}")]
    LogWriter(std::io::Error),
}

/// Room for a request's header and path around `jute.maxbuffer` bytes of data, so that a
/// node of exactly the maximum size can still be written.
const FRAME_OVERHEAD: usize = 1024;

/// A started server.
pub struct RunningServer {
    pub client_addr: SocketAddr,
    acceptor: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Runs until the acceptor stops (it only stops on a fatal error).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.acceptor.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

fn core_settings(config: &Config) -> CoreSettings {
    CoreSettings {
        server_id: config.my_id.unwrap_or(0) as i64 & 0xff,
        tick: Duration::from_millis(config.tick_time_ms as u64),
        min_session_timeout_ms: config.min_session_timeout_ms() as i32,
        max_session_timeout_ms: config.max_session_timeout_ms() as i32,
        super_digest: config.super_digest.clone(),
        prep: PrepConfig {
            extended_types_enabled: config.extended_types_enabled,
            reconfig_enabled: config.reconfig_enabled,
        },
        container_check_interval: Duration::from_millis(
            config.container_check_interval_ms.max(1) as u64
        ),
    }
}

/// Starts a standalone server for `config`. Must be called inside a Tokio runtime.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let addr = config.client_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let client_addr = listener.local_addr().unwrap_or(addr);

    let (core_tx, core_rx) = mpsc::unbounded_channel::<CoreMsg>();
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let report_tx = core_tx.clone();
    spawn_writer(MemoryLog::default(), log_rx, move |ev| {
        let _ = report_tx.send(CoreMsg::Log(ev));
    })
    .map_err(StartError::LogWriter)?;

    let core = Core::new(core_settings(&config), DataTree::new(), log_tx);
    tokio::spawn(core.run(core_rx));

    let settings = NetSettings {
        max_client_cnxns: config.max_client_cnxns,
        max_frame: config.jute_max_buffer as usize + FRAME_OVERHEAD,
        config: Arc::new(config),
    };
    tracing::info!(%client_addr, "serving clients");
    let acceptor = tokio::spawn(serve(listener, core_tx, settings));
    Ok(RunningServer {
        client_addr,
        acceptor,
    })
}
