//! Wiring: binds the client port and starts the core, the log writer and the acceptor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::{driver, Core, CoreMsg, CoreSettings, Input, Now};
use crate::net::{serve, NetSettings};
use crate::prep::PrepConfig;
use crate::storage::purge::purge;
use crate::storage::recovery::recover;
use crate::storage::scheduler::SnapshotScheduler;
use crate::storage::txnlog::FileTxnLog;
use crate::storage::writer::spawn_writer;
use crate::storage::{DataDirs, StorageError};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("cannot start the transaction log writer: {0}")]
    LogWriter(std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A started server.
pub struct RunningServer {
    pub client_addr: SocketAddr,
    acceptor: tokio::task::JoinHandle<std::io::Result<()>>,
    core: tokio::task::JoinHandle<()>,
    purge: Option<tokio::task::JoinHandle<()>>,
    /// A standalone server's log writer (an ensemble member's roles have their own).
    log_writer: Option<std::thread::JoinHandle<()>>,
    /// Disconnects when the snapshot thread has ended (its `after_write` hook holds the
    /// sender and is dropped with the thread's loop).
    snapshots_done: Option<std::sync::mpsc::Receiver<()>>,
    /// An ensemble member's election and roles.
    member: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The admin and metrics HTTP listeners.
    http: crate::http::HttpListeners,
}

impl RunningServer {
    /// Runs until the acceptor stops (it only stops on a fatal error).
    pub async fn wait(mut self) -> std::io::Result<()> {
        if let Some(member) = &mut self.member {
            tokio::select! {
                r = &mut self.acceptor => return flatten(r),
                r = member => {
                    return match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(std::io::Error::other(format!("{e:#}"))),
                        Err(e) => Err(std::io::Error::other(e)),
                    };
                }
            }
        }
        flatten((&mut self.acceptor).await)
    }

    /// Stops the server: no more connections are accepted (the client port is free when
    /// this returns), the core stops (which ends every session's connection: its writer
    /// sees the core gone and closes the socket; a connection that has not sent its
    /// handshake yet ends when it sends something, or with the runtime), and the log
    /// writer and the snapshot writer finish what they were given and end, so nothing
    /// writes in the data dirs afterwards. Writes not yet durable are not acknowledged; as
    /// after a crash, the log keeps what reached it.
    pub async fn shutdown(self) {
        self.http.shutdown().await;
        self.acceptor.abort();
        let _ = self.acceptor.await;
        if let Some(purge) = self.purge {
            purge.abort();
            let _ = purge.await;
        }
        if let Some(member) = self.member {
            member.abort();
            let _ = member.await;
        }
        // Dropping the core drops the log channel's sender and the snapshot scheduler's.
        self.core.abort();
        let _ = self.core.await;
        let (log_writer, snapshots_done) = (self.log_writer, self.snapshots_done);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(w) = log_writer {
                let _ = w.join();
            }
            if let Some(s) = snapshots_done {
                let _ = s.recv();
            }
        })
        .await;
        tracing::info!("server stopped");
    }
}

fn flatten(r: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    r.unwrap_or_else(|e| Err(std::io::Error::other(e)))
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
            standalone_enabled: config.standalone_enabled,
        },
        container_check_interval: Duration::from_millis(
            config.container_check_interval_ms.max(1) as u64
        ),
        sync_limit: config.sync_limit,
        init_limit: config.init_limit,
        leader_serves: config.leader_serves,
        sync_enabled: config.sync_enabled,
    }
}

/// Binds the client port (after a word on `forceSync=no`, which costs durability).
async fn open_client_port(config: &Config) -> Result<(TcpListener, SocketAddr), StartError> {
    if !config.force_sync {
        tracing::warn!("forceSync=no: writes are acknowledged before they reach the disk; a crash can lose them");
    }
    let addr = config.client_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let client_addr = listener.local_addr().unwrap_or(addr);
    Ok((listener, client_addr))
}

/// Log segments are rolled past this size.
const SEGMENT_LIMIT: u64 = 64 * 1024 * 1024;

/// Recovers the state from `dataDir`/`dataLogDir` and starts a standalone server for
/// `config`. Must be called inside a Tokio runtime.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    if !config.is_standalone() {
        return start_member(config).await;
    }
    let dirs = DataDirs::open(&config.data_dir, &config.data_log_dir)?;
    let started = std::time::Instant::now();
    let (tree, report) = recover(&dirs)?;
    tracing::info!(
        zxid = format_args!("{:#x}", tree.last_zxid()),
        snapshot = ?report.snapshot_zxid.map(|z| format!("{z:#x}")),
        replayed = report.replayed,
        nodes = tree.node_count(),
        sessions = tree.sessions().count(),
        ms = started.elapsed().as_millis() as u64,
        "state recovered"
    );
    let (listener, client_addr) = open_client_port(&config).await?;

    let (core_tx, core_rx) = mpsc::unbounded_channel::<CoreMsg>();
    let standalone_role = tokio::sync::watch::channel(crate::fourlw::Role::default()).1;
    let trace_mask = crate::fourlw::TraceMask::default();
    let http = crate::http::start(
        &config,
        core_tx.clone(),
        standalone_role,
        trace_mask.clone(),
        false,
    )
    .await?;
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let report_tx = core_tx.clone();
    let log = FileTxnLog::new(dirs.log_dir.clone(), SEGMENT_LIMIT, config.force_sync);
    let log_writer = spawn_writer(log, log_rx, move |ev| {
        let _ = report_tx.send(CoreMsg::Input(Input::from(ev)));
    })
    .map_err(StartError::LogWriter)?;

    let retain = config.autopurge_snap_retain_count as usize;
    let purge_dirs = dirs.clone();
    let (snapshot_thread_alive, snapshots_done) = std::sync::mpsc::channel::<()>();
    let scheduler = SnapshotScheduler::spawn(dirs.snap_dir.clone(), config.snap_count, move || {
        let _alive = &snapshot_thread_alive;
    })
    .map_err(StartError::LogWriter)?;
    let mut purge_task = None;
    if config.autopurge_purge_interval_hours > 0 {
        let every = Duration::from_secs(config.autopurge_purge_interval_hours as u64 * 3600);
        purge_task = Some(tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                let d = purge_dirs.clone();
                match tokio::task::spawn_blocking(move || purge(&d, retain)).await {
                    Ok(Ok(r)) => tracing::info!(
                        snapshots = r.snapshots.len(),
                        segments = r.segments.len(),
                        "autopurge"
                    ),
                    Ok(Err(e)) => tracing::error!(error = %e, "autopurge failed"),
                    Err(e) => tracing::error!(error = %e, "autopurge task failed"),
                }
            }
        }));
    }

    let mut scheduler = scheduler;
    if report.replayed > 0 {
        // Fold the replayed log into a snapshot, so the next start and purging need less.
        scheduler.take(&tree);
    }
    let core = Core::new(core_settings(&config), tree, Now::system()).with_snapshots(scheduler);
    let core = tokio::spawn(driver::run(core, core_rx, log_tx));

    let settings = NetSettings {
        max_client_cnxns: config.max_client_cnxns,
        // As in Apache, `jute.maxbuffer` bounds the whole request frame (after its length).
        max_frame: config.jute_max_buffer as usize,
        config: Arc::new(config),
        // Standalone: the role never changes, so the sender can go.
        role: tokio::sync::watch::channel(crate::fourlw::Role::default()).1,
        trace_mask,
    };
    tracing::info!(%client_addr, "serving clients");
    let acceptor = tokio::spawn(serve(listener, core_tx, settings));
    Ok(RunningServer {
        client_addr,
        acceptor,
        core,
        purge: purge_task,
        log_writer: Some(log_writer),
        snapshots_done: Some(snapshots_done),
        member: None,
        http,
    })
}

/// Starts an ensemble member: the client port (holding new clients' handshakes while the
/// member does not serve), the core's host, and the member's life of elections and roles.
async fn start_member(config: Config) -> Result<RunningServer, StartError> {
    let dirs = DataDirs::open(&config.data_dir, &config.data_log_dir)?;
    let (listener, client_addr) = open_client_port(&config).await?;
    // What a reconfig compares with: this member's client address as its server line
    // gives it (Apache's `clientAddr`), else where the port was opened.
    let configured = config
        .my_server()
        .and_then(|s| s.client_addr)
        .unwrap_or(client_addr);
    let (client_port_tx, client_port_rx) = tokio::sync::watch::channel(configured);
    let (core_tx, core_rx) = mpsc::unbounded_channel::<CoreMsg>();
    let core = tokio::spawn(driver::host(None, core_rx));
    let (words_tx, words_rx) = tokio::sync::watch::channel(crate::fourlw::Role {
        serving: false,
        mode: crate::fourlw::ServerMode::Standalone,
        quorum: None,
    });
    let trace_mask = crate::fourlw::TraceMask::default();
    let http = crate::http::start(
        &config,
        core_tx.clone(),
        words_rx.clone(),
        trace_mask.clone(),
        true,
    )
    .await?;
    let config = Arc::new(config);
    let ctx = crate::quorum::member::MemberContext {
        config: config.clone(),
        dirs,
        settings: core_settings(&config),
        core: core_tx.clone(),
        words: Arc::new(words_tx),
        segment_limit: SEGMENT_LIMIT,
        client_port: Some(client_port_tx),
    };
    let member = tokio::spawn(crate::quorum::member::run(ctx));
    let settings = NetSettings {
        max_client_cnxns: config.max_client_cnxns,
        max_frame: config.jute_max_buffer as usize,
        config,
        role: words_rx,
        trace_mask,
    };
    tracing::info!(%client_addr, "client port open (serving once the member has a role)");
    let acceptor = tokio::spawn(crate::net::serve_movable(
        listener,
        core_tx,
        settings,
        Some(client_port_rx),
    ));
    Ok(RunningServer {
        client_addr,
        acceptor,
        core,
        purge: None,
        log_writer: None,
        snapshots_done: None,
        member: Some(member),
        http,
    })
}
