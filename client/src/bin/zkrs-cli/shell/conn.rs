//! The shell's connection, with the states the prompt shows (`CONNECTING`, `CONNECTED`,
//! `CLOSED`, ...).
//!
//! zkCli creates its ZooKeeper handle at once and lets it connect in the background: the
//! prompt shows `CONNECTING`, requests wait for the connection, and each attempt that fails
//! fails the waiting requests with `ConnectionLoss` while the handle keeps trying. The
//! library's `connect()` hands out a client only once its session is established, so a
//! background task plays the handle here: it retries until a session is up and publishes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use zkrs_client::{Client, ConnectString, Error, KeeperState, SessionState};

use super::events::Hub;

/// How long the first connection attempt may take before waiting requests fail. A refused
/// connection fails at once in the Java client; here an attempt ends at this limit, and the
/// limit grows (up to the session timeout) while servers answer slowly rather than refuse.
const FIRST_ATTEMPT: Duration = Duration::from_secs(1);
/// The pause between attempts (the Java client sleeps up to a second).
const RETRY_PAUSE: Duration = Duration::from_millis(1000);

#[derive(Debug, Clone)]
pub enum Phase {
    /// Trying; `failures` attempts have failed so far.
    Connecting {
        failures: u64,
    },
    Ready(Client),
    /// The connect string cannot work (a bad chroot, no host).
    Failed(String),
}

/// One `connect`: a connect string and the client for it, once there is one.
pub struct Session {
    pub host: String,
    phase: watch::Receiver<Phase>,
    task: JoinHandle<()>,
    closed: bool,
}

impl Session {
    /// Starts connecting to `host` in the background; fails at once if `host` is not a
    /// valid connect string (as the Java client's constructor does).
    pub fn start(host: &str, timeout: Duration, hub: &Arc<Hub>) -> Result<Session, String> {
        ConnectString::parse(host).map_err(|e| e.to_string())?;
        let (tx, rx) = watch::channel(Phase::Connecting { failures: 0 });
        let task = tokio::spawn(connect_loop(host.to_string(), timeout, tx, Arc::clone(hub)));
        Ok(Session {
            host: host.to_string(),
            phase: rx,
            task,
            closed: false,
        })
    }

    /// A session that never connects (after a failed `connect`): `CLOSED`.
    pub fn dead(host: &str) -> Session {
        let (_tx, rx) = watch::channel(Phase::Failed(String::new()));
        Session {
            host: host.to_string(),
            phase: rx,
            task: tokio::spawn(async {}),
            closed: true,
        }
    }

    /// A receiver of the phase (for tab completion from the input thread).
    pub fn phase_watcher(&self) -> watch::Receiver<Phase> {
        self.phase.clone()
    }

    /// `ZooKeeper.States` as zkCli's prompt shows it.
    pub fn state_name(&self) -> &'static str {
        if self.closed {
            return "CLOSED";
        }
        match &*self.phase.borrow() {
            Phase::Connecting { .. } => "CONNECTING",
            Phase::Failed(_) => "CLOSED",
            Phase::Ready(c) => match c.state() {
                SessionState::SyncConnected => "CONNECTED",
                SessionState::Disconnected => "CONNECTING",
                SessionState::Expired | SessionState::Closed => "CLOSED",
                SessionState::AuthFailed => "AUTH_FAILED",
            },
        }
    }

    /// `States.isAlive()`: commands other than the local ones need this.
    pub fn is_alive(&self) -> bool {
        !matches!(self.state_name(), "CLOSED" | "AUTH_FAILED")
    }

    /// The client once connected. Fails with `ConnectionLoss` if an attempt fails meanwhile,
    /// as requests queued in the Java client do.
    pub async fn client(&mut self) -> Result<Client, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let start = match &*self.phase.borrow_and_update() {
            Phase::Ready(c) => return Ok(c.clone()),
            Phase::Failed(m) => return Err(Error::InvalidConnectString(m.clone())),
            Phase::Connecting { failures } => *failures,
        };
        loop {
            if self.phase.changed().await.is_err() {
                return Err(Error::ConnectionLoss);
            }
            match &*self.phase.borrow_and_update() {
                Phase::Ready(c) => return Ok(c.clone()),
                Phase::Failed(m) => return Err(Error::InvalidConnectString(m.clone())),
                Phase::Connecting { failures } if *failures > start => {
                    return Err(Error::ConnectionLoss)
                }
                Phase::Connecting { .. } => {}
            }
        }
    }

    /// Waits until connected, for at most `limit` (`-waitforconnection`).
    pub async fn wait_connected(&mut self, limit: Duration) -> bool {
        let wait = async {
            loop {
                if matches!(&*self.phase.borrow_and_update(), Phase::Ready(_)) {
                    return true;
                }
                if self.phase.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.unwrap_or(false)
    }

    /// `ZooKeeper.close()`: ends the session (or the attempts). The watcher sees `Closed`.
    /// Like the Java client's closeSession, it waits for a connection being made (until an
    /// attempt fails) unless `now`.
    pub async fn close(&mut self, hub: &Hub, now: bool) {
        if !self.is_alive() {
            return;
        }
        let ready = match &*self.phase.borrow() {
            Phase::Ready(c) => Some(c.clone()),
            _ => None,
        };
        let client = match ready {
            Some(c) => Some(c),
            None if now => None,
            None => self.client().await.ok(),
        };
        self.closed = true;
        match client {
            // The Closed state event comes from the client's own state stream.
            Some(c) => c.close().await,
            None => {
                self.task.abort();
                hub.push_session_event(KeeperState::Closed);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connect_loop(host: String, timeout: Duration, tx: watch::Sender<Phase>, hub: Arc<Hub>) {
    let mut failures = 0u64;
    let mut limit = FIRST_ATTEMPT.min(timeout);
    loop {
        let attempt = Client::builder(&host)
            .session_timeout(timeout)
            .connect_timeout(limit)
            .connect()
            .await;
        match attempt {
            Ok(client) => {
                hub.attach(&client);
                let _ = tx.send(Phase::Ready(client));
                return;
            }
            Err(Error::InvalidConnectString(m)) => {
                let _ = tx.send(Phase::Failed(m));
                return;
            }
            Err(e @ (Error::InvalidPath(_) | Error::InvalidArgument(_))) => {
                let _ = tx.send(Phase::Failed(e.to_string()));
                return;
            }
            Err(e) => {
                if !e.to_string().contains("refused") {
                    limit = (limit * 2).min(timeout);
                }
                failures += 1;
                let _ = tx.send(Phase::Connecting { failures });
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}
