//! The `Client` handle and its builder. Every operation lives in `ops.rs`; this module starts
//! the session task and carries requests to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use zkrs_proto::{AuthPacket, Request, Response};

use crate::connect_string::ConnectString;
use crate::error::{Error, Result};
use crate::session::{Command, Config, SessionTask, Shared};
use crate::types::SessionState;
use crate::watch::Registration;

/// The session timeout asked for when none is set.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest reply frame accepted by default (replies may exceed the server's 1 MiB request
/// limit, e.g. long child lists).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 4 * 1024 * 1024;

/// A ZooKeeper client: one session, kept alive across connections.
///
/// Cheap to clone; every clone talks over the same session. The session is closed when
/// [`Client::close`] is called or when the last clone is dropped (from inside a tokio
/// runtime).
///
/// ```no_run
/// # async fn demo() -> zkrs_client::Result<()> {
/// use zkrs_client::{Client, CreateMode};
/// let client = Client::connect("127.0.0.1:2181,127.0.0.1:2182/app").await?;
/// client.create("/greeting", b"hello", CreateMode::Persistent).await?;
/// let (data, stat, watcher) = client.get_data_and_watch("/greeting").await?;
/// assert_eq!(data, b"hello");
/// client.set_data("/greeting", b"bye", Some(stat.version)).await?;
/// let event = watcher.await;
/// println!("{:?} on {}", event.event_type, event.path);
/// client.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Command>,
}

/// Options for a new client; see [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Option<Duration>,
    max_frame: usize,
    auths: Vec<AuthPacket>,
    session: Option<(i64, Vec<u8>)>,
}

impl ClientBuilder {
    /// The session timeout to ask for (the server bounds it; see
    /// [`Client::session_timeout`] for what was granted). Default 10 s.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long [`ClientBuilder::connect`] tries before giving up. Default: the session
    /// timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The largest reply frame accepted. Default 4 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Credentials sent on every connection before any request (like `add_auth`).
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auths.push(AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        });
        self
    }

    /// Re-attaches to an existing session (from [`Client::session_id`] and
    /// [`Client::session_password`]) instead of creating one.
    pub fn session(mut self, id: i64, password: Vec<u8>) -> Self {
        self.session = Some((id, password));
        self
    }

    /// Connects and waits until the session is established. Must be called inside a tokio
    /// runtime: the session task is spawned on it.
    pub async fn connect(self) -> Result<Client> {
        let cs = ConnectString::parse(&self.connect_string)?;
        if self.session_timeout.is_zero() {
            return Err(Error::InvalidArgument("session timeout must be > 0".into()));
        }
        let shared = Arc::new(Shared::new(cs.chroot.clone()));
        let (tx, rx) = mpsc::unbounded_channel();
        let config = Config {
            hosts: cs.hosts,
            session_timeout: self.session_timeout,
            connect_timeout: self.connect_timeout.unwrap_or(self.session_timeout),
            max_frame: self.max_frame,
            session: self.session,
            auths: self.auths,
        };
        let task = SessionTask::new(shared.clone(), rx, config);
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(task.run(ready_tx));
        let client = Client { shared, tx };
        match ready_rx.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(client.shared.terminal_error()),
        }
    }
}

impl Client {
    /// Connects to `connect_string` (`host:port,host:port/chroot`) with default options.
    pub async fn connect(connect_string: &str) -> Result<Client> {
        Client::builder(connect_string).connect().await
    }

    /// A builder for a client of `connect_string`.
    pub fn builder(connect_string: &str) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.to_string(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            connect_timeout: None,
            max_frame: DEFAULT_MAX_FRAME_SIZE,
            auths: Vec::new(),
            session: None,
        }
    }

    /// The current session state.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// The current state, observable: `changed().await` wakes on every change (fast
    /// successive changes may be coalesced; use [`Client::state_events`] to see each).
    pub fn state_watcher(&self) -> watch::Receiver<SessionState> {
        self.shared.state_watcher()
    }

    /// Every state change from now on, in order.
    pub fn state_events(&self) -> broadcast::Receiver<SessionState> {
        self.shared.state_events()
    }

    /// The session id (0 before the first connection).
    pub fn session_id(&self) -> i64 {
        self.shared.info().id
    }

    /// The session password, to re-attach with [`ClientBuilder::session`].
    pub fn session_password(&self) -> Vec<u8> {
        self.shared.info().password
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        self.shared.info().timeout
    }

    /// The server of the current (or last) connection.
    pub fn connected_server(&self) -> Option<SocketAddr> {
        self.shared.info().server
    }

    /// The chroot of the connect string, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.shared.chroot.prefix()
    }

    /// Closes the session (its ephemeral nodes go away) and waits until that is done. Every
    /// clone of this client is closed; pending and later requests fail with
    /// [`Error::Closed`].
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Close { reply: tx }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Waits until the session is in `state` (or in a terminal state), for at most `limit`.
    /// Returns the state reached, or `None` on timeout.
    pub async fn wait_for_state(
        &self,
        state: SessionState,
        limit: Duration,
    ) -> Option<SessionState> {
        let mut w = self.state_watcher();
        let wait = async {
            match w.wait_for(|s| *s == state || s.is_terminal()).await {
                Ok(s) => *s,
                Err(_) => self.state(),
            }
        };
        tokio::time::timeout(limit, wait).await.ok()
    }

    /// Replaces the servers this client connects to with those of `connect_string` (as the
    /// Java client's `updateServerList`), e.g. after a reconfig. A chroot in it must be the
    /// client's own (it cannot change). If the server of the current connection is no
    /// longer listed, the session moves to a listed one (requests in flight then fail with
    /// [`Error::ConnectionLoss`]); returns whether it does.
    pub async fn update_server_list(&self, connect_string: &str) -> Result<bool> {
        let cs = ConnectString::parse(connect_string)?;
        if cs.chroot != self.shared.chroot {
            return Err(Error::InvalidArgument(format!(
                "{connect_string:?}: the chroot of a client cannot change"
            )));
        }
        let (tx, rx) = oneshot::channel();
        let cmd = Command::UpdateHosts {
            hosts: cs.hosts,
            reply: tx,
        };
        if self.tx.send(cmd).is_err() {
            return Err(self.shared.terminal_error());
        }
        rx.await.map_err(|_| self.shared.terminal_error())
    }

    /// Sends a request and waits for its reply.
    pub(crate) async fn call(
        &self,
        request: Request,
        registration: Option<Registration>,
    ) -> Result<Response> {
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Request {
            request,
            registration,
            reply: tx,
        };
        if self.tx.send(cmd).is_err() {
            return Err(self.shared.terminal_error());
        }
        rx.await
            .unwrap_or_else(|_| Err(self.shared.terminal_error()))
    }

    /// Sends credentials and waits for the server's verdict.
    pub(crate) async fn auth(&self, packet: AuthPacket) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Auth { packet, reply: tx }).is_err() {
            return Err(self.shared.terminal_error());
        }
        rx.await
            .unwrap_or_else(|_| Err(self.shared.terminal_error()))
    }
}
