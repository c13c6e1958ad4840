//! The session task: the one task that owns the socket.
//!
//! It connects to a server of the connect string (in random order), establishes or
//! re-attaches the session, sends the user's requests as they come (many in flight at once),
//! matches replies to requests by xid in order, dispatches watch notifications, pings when
//! the connection is idle, and, when the connection breaks, fails the requests in flight with
//! `ConnectionLoss`, moves to another server and sets every outstanding watch again
//! (`setWatches2` from the last zxid seen) so that changes made meanwhile are reported.
//!
//! It ends when the session expires, authentication fails, or the client is closed (or every
//! `Client` handle is dropped, which closes the session).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{sleep, sleep_until, Instant};
use tracing::{debug, info, trace, warn};
use zkrs_proto::opcode::xid;
use zkrs_proto::{
    AuthPacket, ConnectRequest, ConnectResponse, EventType, KeeperState, OpCode, Reader, Record,
    ReplyHeader, Request, Response, WatcherEvent,
};

use crate::chroot::Chroot;
use crate::connection::{Connection, IoEvent};
use crate::error::{Error, Result};
use crate::types::{SessionState, WatchedEvent};
use crate::watch::{Registration, WatchRegistry};

/// State shared between the `Client` handles and the session task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub chroot: Chroot,
    state_tx: watch::Sender<SessionState>,
    events_tx: broadcast::Sender<SessionState>,
    info: Mutex<SessionInfo>,
}

/// The established session, as last negotiated.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionInfo {
    pub id: i64,
    pub password: Vec<u8>,
    pub timeout: Duration,
    pub server: Option<SocketAddr>,
}

impl Shared {
    pub fn new(chroot: Chroot) -> Shared {
        let (state_tx, _) = watch::channel(SessionState::Disconnected);
        let (events_tx, _) = broadcast::channel(64);
        Shared {
            chroot,
            state_tx,
            events_tx,
            info: Mutex::new(SessionInfo::default()),
        }
    }

    pub fn state(&self) -> SessionState {
        *self.state_tx.borrow()
    }

    pub fn state_watcher(&self) -> watch::Receiver<SessionState> {
        self.state_tx.subscribe()
    }

    pub fn state_events(&self) -> broadcast::Receiver<SessionState> {
        self.events_tx.subscribe()
    }

    pub fn info(&self) -> SessionInfo {
        self.info.lock().map(|i| i.clone()).unwrap_or_default()
    }

    fn set_info(&self, info: SessionInfo) {
        if let Ok(mut i) = self.info.lock() {
            *i = info;
        }
    }

    /// Publishes a state change; returns false if the state did not change.
    fn set_state(&self, state: SessionState) -> bool {
        let changed = self.state_tx.send_if_modified(|s| {
            if *s == state {
                false
            } else {
                *s = state;
                true
            }
        });
        if changed {
            let _ = self.events_tx.send(state);
        }
        changed
    }

    /// The error for a request that can no longer reach the session task.
    pub fn terminal_error(&self) -> Error {
        state_error(self.state())
    }
}

fn state_error(state: SessionState) -> Error {
    match state {
        SessionState::Expired => Error::SessionExpired,
        SessionState::AuthFailed => Error::AuthFailed,
        SessionState::Closed => Error::Closed,
        SessionState::Disconnected | SessionState::SyncConnected => Error::ConnectionLoss,
    }
}

/// What `Client` handles send to the session task.
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        request: Request,
        registration: Option<Registration>,
        reply: oneshot::Sender<Result<Response>>,
    },
    Auth {
        packet: AuthPacket,
        reply: oneshot::Sender<Result<()>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
    /// Replace the servers to connect to (after a reconfig). The reply says whether the
    /// session is moving away from its current server because the list no longer has it.
    UpdateHosts {
        hosts: Vec<(String, u16)>,
        reply: oneshot::Sender<bool>,
    },
}

impl Command {
    fn fail(self, error: Error) {
        match self {
            Command::Request { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::Auth { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::Close { reply } => {
                let _ = reply.send(());
            }
            Command::UpdateHosts { reply, .. } => {
                let _ = reply.send(false);
            }
        }
    }
}

/// Settings of the session task.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub hosts: Vec<(String, u16)>,
    pub session_timeout: Duration,
    /// How long the first connection may take before `connect` gives up.
    pub connect_timeout: Duration,
    pub max_frame: usize,
    /// Re-attach to an existing session instead of creating one.
    pub session: Option<(i64, Vec<u8>)>,
    /// Credentials sent on every connection, before any request.
    pub auths: Vec<AuthPacket>,
}

struct Pending {
    xid: i32,
    op: OpCode,
    registration: Option<Registration>,
    /// `None` for closeSession.
    reply: Option<oneshot::Sender<Result<Response>>>,
}

/// How serving one connection ended.
enum Outcome {
    /// The connection broke; the session may live on.
    Lost(String),
    /// The session is over.
    End(SessionState),
}

/// The servers to try, shuffled once, then in turn.
struct HostRing {
    hosts: Vec<(String, u16)>,
    next: usize,
}

impl HostRing {
    fn new(mut hosts: Vec<(String, u16)>) -> HostRing {
        hosts.shuffle(&mut rand::thread_rng());
        HostRing { hosts, next: 0 }
    }

    fn next(&mut self) -> (String, u16) {
        let h = self.hosts[self.next % self.hosts.len()].clone();
        self.next = (self.next + 1) % self.hosts.len();
        h
    }
}

pub(crate) struct SessionTask {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    config: Config,
    hosts: HostRing,
    session_id: i64,
    password: Vec<u8>,
    timeout: Duration,
    last_zxid: i64,
    next_xid: i32,
    pending: VecDeque<Pending>,
    /// Requests made while no connection was up; sent once one is.
    queued: VecDeque<Command>,
    /// Auth replies come on their own (the server may answer them before earlier requests).
    auth_waiters: VecDeque<Option<oneshot::Sender<Result<()>>>>,
    /// Every credential added, sent again on each new connection.
    auths: Vec<AuthPacket>,
    close_waiters: Vec<oneshot::Sender<()>>,
    watches: WatchRegistry,
}

impl SessionTask {
    pub fn new(
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<Command>,
        config: Config,
    ) -> SessionTask {
        let (session_id, password) = config.session.clone().unwrap_or((0, vec![0; 16]));
        SessionTask {
            shared,
            rx,
            hosts: HostRing::new(config.hosts.clone()),
            auths: config.auths.clone(),
            config,
            session_id,
            password,
            timeout: Duration::ZERO,
            last_zxid: 0,
            next_xid: 1,
            pending: VecDeque::new(),
            queued: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            close_waiters: Vec::new(),
            watches: WatchRegistry::default(),
        }
    }

    /// Runs the session to its end. `ready` is answered once the first connection is up (or
    /// could not be made within the connect timeout).
    pub async fn run(mut self, ready: oneshot::Sender<Result<()>>) {
        let mut ready = Some(ready);
        let end = loop {
            let (conn, resp) = match self.connect(&mut ready).await {
                Ok(c) => c,
                Err(end) => break end,
            };
            match self.serve(conn, resp, &mut ready).await {
                Outcome::Lost(why) => {
                    info!(
                        session = format_args!("{:#x}", self.session_id),
                        "connection lost: {why}"
                    );
                    self.connection_lost();
                }
                Outcome::End(state) => break state,
            }
        };
        if let Some(r) = ready.take() {
            let _ = r.send(Err(state_error(end)));
        }
        self.finish(end);
    }

    /// Connects to the next server that answers, handling commands meanwhile. Returns the
    /// terminal state if the session ends before that.
    async fn connect(
        &mut self,
        ready: &mut Option<oneshot::Sender<Result<()>>>,
    ) -> Result<(Connection, ConnectResponse), SessionState> {
        let start = Instant::now();
        let per_host = (self.config.session_timeout / self.config.hosts.len() as u32)
            .max(Duration::from_millis(500));
        let mut failures = 0u32;
        let mut last_error = String::from("no attempt");
        loop {
            if failures > 0 {
                let cap =
                    Duration::from_millis(25u64 << failures.min(6)).min(Duration::from_secs(1));
                let delay = rand::thread_rng().gen_range(cap / 2..=cap);
                self.idle(delay).await?;
            }
            let mut limit = per_host;
            if ready.is_some() {
                let left = self.config.connect_timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(Error::Connect(last_error)));
                    }
                    return Err(SessionState::Closed);
                }
                limit = limit.min(left);
            }
            let (host, port) = self.hosts.next();
            let request = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid,
                timeout: self
                    .config
                    .session_timeout
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
                session_id: self.session_id,
                passwd: self.password.clone(),
                read_only: Some(false),
            };
            let max_frame = self.config.max_frame;
            let attempt = async move {
                let addrs = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|e| format!("{host}:{port}: {e}"))?;
                let mut last = format!("{host}:{port}: no address");
                for addr in addrs {
                    match Connection::open(addr, &request, limit, max_frame).await {
                        Ok(ok) => return Ok(ok),
                        Err(e) => last = format!("{addr}: {e}"),
                    }
                }
                Err(last)
            };
            tokio::pin!(attempt);
            let result = loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    cmd = self.rx.recv() => self.command_while_disconnected(cmd)?,
                }
            };
            match result {
                Ok((conn, resp)) => {
                    if resp.timeout <= 0
                        || resp.session_id == 0
                        || (self.session_id != 0 && resp.session_id != self.session_id)
                    {
                        info!(
                            session = format_args!("{:#x}", self.session_id),
                            "server {} says the session is expired",
                            conn.addr()
                        );
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(Error::SessionExpired));
                        }
                        return Err(SessionState::Expired);
                    }
                    return Ok((conn, resp));
                }
                Err(e) => {
                    debug!("connection attempt failed: {e}");
                    last_error = e;
                    failures += 1;
                    // Like the Java client: what was queued while disconnected fails.
                    for cmd in self.queued.drain(..) {
                        cmd.fail(Error::ConnectionLoss);
                    }
                }
            }
        }
    }

    /// Waits `delay` while handling commands.
    async fn idle(&mut self, delay: Duration) -> Result<(), SessionState> {
        let until = sleep(delay);
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = &mut until => return Ok(()),
                cmd = self.rx.recv() => self.command_while_disconnected(cmd)?,
            }
        }
    }

    fn command_while_disconnected(&mut self, cmd: Option<Command>) -> Result<(), SessionState> {
        match cmd {
            // Every handle dropped, or close(): nothing to tell a server we cannot reach.
            None => Err(SessionState::Closed),
            Some(Command::Close { reply }) => {
                self.close_waiters.push(reply);
                Err(SessionState::Closed)
            }
            Some(Command::UpdateHosts { hosts, reply }) => {
                self.replace_hosts(hosts);
                let _ = reply.send(false);
                Ok(())
            }
            Some(cmd) => {
                self.queued.push_back(cmd);
                Ok(())
            }
        }
    }

    /// Serves one established connection until it breaks or the session ends.
    async fn serve(
        &mut self,
        mut conn: Connection,
        resp: ConnectResponse,
        ready: &mut Option<oneshot::Sender<Result<()>>>,
    ) -> Outcome {
        let first = self.session_id == 0;
        self.session_id = resp.session_id;
        self.password = resp.passwd;
        self.timeout = Duration::from_millis(resp.timeout as u64);
        self.shared.set_info(SessionInfo {
            id: self.session_id,
            password: self.password.clone(),
            timeout: self.timeout,
            server: Some(conn.addr()),
        });
        info!(
            session = format_args!("{:#x}", self.session_id),
            timeout_ms = resp.timeout,
            "{} session with {}",
            if first { "established" } else { "re-attached" },
            conn.addr()
        );

        // Credentials first, so that setWatches and requests run with them.
        for packet in &self.auths {
            conn.queue_request(xid::AUTH, &Request::Auth(packet.clone()));
            self.auth_waiters.push_back(None);
        }
        for set in self.watches.set_watches_requests(self.last_zxid) {
            trace!(
                "setWatches2 from zxid {:#x}: {} data, {} exist, {} child, {} persistent, {} recursive",
                set.relative_zxid,
                set.data_watches.len(),
                set.exist_watches.len(),
                set.child_watches.len(),
                set.persistent_watches.len(),
                set.persistent_recursive_watches.len()
            );
            conn.queue_request(
                xid::SET_WATCHES,
                &Request::SetWatches(OpCode::SetWatches2, set),
            );
        }
        self.set_state(SessionState::SyncConnected);
        if let Some(r) = ready.take() {
            let _ = r.send(Ok(()));
        }
        let mut closing: Option<Instant> = None;
        while let Some(cmd) = self.queued.pop_front() {
            match cmd {
                Command::Close { reply } => {
                    self.close_waiters.push(reply);
                    closing = Some(self.start_close(&mut conn));
                    break;
                }
                cmd => self.submit(&mut conn, cmd),
            }
        }

        let read_timeout = self.timeout * 2 / 3;
        let ping_every = read_timeout / 2;
        let next_deadline = |conn: &Connection, closing: Option<Instant>| {
            let d = (conn.last_send + ping_every).min(conn.last_recv + read_timeout);
            closing.map_or(d, |c| d.min(c))
        };
        // One timer for the whole loop. The deadline only moves later as bytes go and come,
        // so the timer may fire early; then it is checked and set again. (A new timer per
        // turn of the loop would be registered and removed for every request.)
        let timer = sleep_until(next_deadline(&conn, closing));
        tokio::pin!(timer);
        loop {
            if let Err(e) = conn.flush_now() {
                if closing.is_some() {
                    return Outcome::End(SessionState::Closed);
                }
                return Outcome::Lost(format!("{}: {e}", conn.addr()));
            }
            if let Some(c) = closing {
                if c < timer.deadline() {
                    timer.as_mut().reset(c);
                }
            }
            tokio::select! {
                r = conn.io() => match r {
                    Err(e) => {
                        if closing.is_some() {
                            return Outcome::End(SessionState::Closed);
                        }
                        return Outcome::Lost(format!("{}: {e}", conn.addr()));
                    }
                    Ok(IoEvent::Wrote) => {}
                    Ok(IoEvent::Read) => {
                        let frames = match conn.take_frames() {
                            Ok(f) => f,
                            Err(e) => return Outcome::Lost(format!("bad frame: {e}")),
                        };
                        for frame in frames {
                            if let Some(out) = self.handle_frame(&frame) {
                                return out;
                            }
                        }
                    }
                },
                cmd = self.rx.recv(), if closing.is_none() => match cmd {
                    None => closing = Some(self.start_close(&mut conn)),
                    Some(Command::Close { reply }) => {
                        self.close_waiters.push(reply);
                        closing = Some(self.start_close(&mut conn));
                    }
                    Some(Command::UpdateHosts { hosts, reply }) => {
                        let keeps_current = contains_addr(&hosts, conn.addr()).await;
                        self.replace_hosts(hosts);
                        let _ = reply.send(!keeps_current);
                        if !keeps_current {
                            // Like the Java client's updateServerList: a server that is no
                            // longer listed is left, and the session moves to a listed one.
                            return Outcome::Lost(format!(
                                "{} is no longer in the server list",
                                conn.addr()
                            ));
                        }
                    }
                    Some(cmd) => self.submit(&mut conn, cmd),
                },
                _ = &mut timer => {
                    let now = Instant::now();
                    if closing.is_some_and(|c| now >= c) {
                        return Outcome::End(SessionState::Closed);
                    }
                    if now >= conn.last_recv + read_timeout {
                        return Outcome::Lost(format!(
                            "nothing from {} for {read_timeout:?}",
                            conn.addr()
                        ));
                    }
                    if now >= conn.last_send + ping_every {
                        trace!("ping");
                        conn.queue_request(xid::PING, &Request::Ping);
                    }
                    timer.as_mut().reset(next_deadline(&conn, closing));
                }
            }
        }
    }

    fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    fn submit(&mut self, conn: &mut Connection, cmd: Command) {
        match cmd {
            Command::Request {
                request,
                registration,
                reply,
            } => {
                let xid = self.next_xid();
                trace!(xid, op = request.op().name(), path = request.path(), "send");
                conn.queue_request(xid, &request);
                self.pending.push_back(Pending {
                    xid,
                    op: request.op(),
                    registration,
                    reply: Some(reply),
                });
            }
            Command::Auth { packet, reply } => {
                conn.queue_request(xid::AUTH, &Request::Auth(packet.clone()));
                self.auths.push(packet);
                self.auth_waiters.push_back(Some(reply));
            }
            Command::Close { reply } => {
                // Handled by the caller; never reached.
                let _ = reply.send(());
            }
            Command::UpdateHosts { hosts, reply } => {
                // Only queued commands get here (never this one: it is applied at once while
                // disconnected). Applied without leaving the fresh connection.
                self.replace_hosts(hosts);
                let _ = reply.send(false);
            }
        }
    }

    /// Replaces the servers to try: the new list, shuffled, from its start.
    fn replace_hosts(&mut self, hosts: Vec<(String, u16)>) {
        debug!(?hosts, "server list replaced");
        self.config.hosts = hosts.clone();
        self.hosts = HostRing::new(hosts);
    }

    /// Sends closeSession; returns how long to wait for its answer.
    fn start_close(&mut self, conn: &mut Connection) -> Instant {
        let xid = self.next_xid();
        debug!(
            session = format_args!("{:#x}", self.session_id),
            "closing session"
        );
        conn.queue_request(xid, &Request::CloseSession);
        self.pending.push_back(Pending {
            xid,
            op: OpCode::CloseSession,
            registration: None,
            reply: None,
        });
        Instant::now() + self.timeout.min(Duration::from_secs(3))
    }

    /// Handles one frame from the server; returns how serving ends if it does.
    fn handle_frame(&mut self, frame: &[u8]) -> Option<Outcome> {
        let mut r = Reader::new(frame);
        let header = match ReplyHeader::read(&mut r) {
            Ok(h) => h,
            Err(e) => return Some(Outcome::Lost(format!("bad reply header: {e}"))),
        };
        let body = &frame[r.position()..];
        match header.xid {
            xid::PING => None,
            xid::AUTH => {
                let waiter = self.auth_waiters.pop_front().flatten();
                if header.err == 0 {
                    if let Some(w) = waiter {
                        let _ = w.send(Ok(()));
                    }
                    return None;
                }
                warn!("authentication failed (error {})", header.err);
                if let Some(w) = waiter {
                    let _ = w.send(Err(Error::AuthFailed));
                }
                Some(Outcome::End(SessionState::AuthFailed))
            }
            xid::SET_WATCHES => {
                if header.err != 0 {
                    warn!("setWatches failed: error {}", header.err);
                }
                None
            }
            xid::NOTIFICATION => {
                match WatcherEvent::read(&mut Reader::new(body)) {
                    Ok(ev) => self.notify(ev),
                    Err(e) => warn!("undecodable notification: {e}"),
                }
                None
            }
            _ => self.handle_reply(header, body),
        }
    }

    fn notify(&mut self, ev: WatcherEvent) {
        let Some(event_type) = EventType::from_code(ev.event_type) else {
            warn!("notification with unknown type {}", ev.event_type);
            return;
        };
        if event_type == EventType::None {
            return;
        }
        let event = WatchedEvent {
            event_type,
            state: KeeperState::from_code(ev.state).unwrap_or(KeeperState::SyncConnected),
            path: self.shared.chroot.strip(&ev.path),
        };
        trace!(?event, "notification");
        self.watches.dispatch(&ev.path, event);
    }

    fn handle_reply(&mut self, header: ReplyHeader, body: &[u8]) -> Option<Outcome> {
        let Some(p) = self.pending.pop_front() else {
            return Some(Outcome::Lost(format!(
                "reply with xid {} but no request in flight",
                header.xid
            )));
        };
        if p.xid != header.xid {
            let (want, got) = (p.xid, header.xid);
            self.pending.push_front(p);
            return Some(Outcome::Lost(format!(
                "reply xid {got} out of order (expected {want})"
            )));
        }
        if header.zxid > 0 {
            self.last_zxid = header.zxid;
        }
        if p.op == OpCode::CloseSession {
            return Some(Outcome::End(SessionState::Closed));
        }
        let result = decode_reply(p.op, header.err, body);
        if let Some(reg) = p.registration {
            match reg {
                Registration::Remove(path, kind) if header.err == 0 => {
                    let client_path = self.shared.chroot.strip(&path);
                    self.watches.remove(&path, kind, &client_path);
                }
                Registration::Remove(..) => {}
                reg @ Registration::Exists(..)
                    if header.err == zkrs_proto::ErrorCode::NoNode.code() =>
                {
                    self.watches.register(reg, true);
                }
                reg if header.err == 0 && result.is_ok() => self.watches.register(reg, false),
                _ => {}
            }
        }
        if let Some(reply) = p.reply {
            let _ = reply.send(result);
        }
        None
    }

    fn set_state(&mut self, state: SessionState) {
        if self.shared.set_state(state) {
            debug!(?state, "session state");
            self.watches.session_event(state);
        }
    }

    fn connection_lost(&mut self) {
        for p in self.pending.drain(..) {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(Error::ConnectionLoss));
            }
        }
        for w in self.auth_waiters.drain(..).flatten() {
            let _ = w.send(Err(Error::ConnectionLoss));
        }
        self.set_state(SessionState::Disconnected);
    }

    fn finish(mut self, state: SessionState) {
        info!(
            session = format_args!("{:#x}", self.session_id),
            ?state,
            "session ended"
        );
        self.set_state(state);
        let error = state_error(state);
        for p in self.pending.drain(..) {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for w in self.auth_waiters.drain(..).flatten() {
            let _ = w.send(Err(error.clone()));
        }
        for cmd in self.queued.drain(..) {
            cmd.fail(error.clone());
        }
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            cmd.fail(error.clone());
        }
        for w in self.close_waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Whether `addr` is one of `hosts` (names are resolved).
async fn contains_addr(hosts: &[(String, u16)], addr: SocketAddr) -> bool {
    for (host, port) in hosts {
        if *port != addr.port() {
            continue;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            if ip == addr.ip() {
                return true;
            }
            continue;
        }
        if let Ok(mut addrs) = tokio::net::lookup_host((host.as_str(), *port)).await {
            if addrs.any(|a| a == addr) {
                return true;
            }
        }
    }
    false
}

/// Turns a reply into the result handed to the caller.
fn decode_reply(op: OpCode, err: i32, body: &[u8]) -> Result<Response> {
    match Error::from_code(err) {
        None => Response::decode(op, body).map_err(Error::from),
        Some(e) => {
            // A failed multi may carry its per-operation results even with an error header.
            if matches!(op, OpCode::Multi) && !body.is_empty() {
                if let Ok(Response::Multi(results)) = Response::decode(op, body) {
                    if results
                        .iter()
                        .any(|r| matches!(r, zkrs_proto::MultiResult::Error(c) if *c != 0))
                    {
                        return Ok(Response::Multi(results));
                    }
                }
            }
            Err(e)
        }
    }
}
