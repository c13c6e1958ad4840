//! The election port on Tokio: connections to the other members as Apache's
//! `QuorumCnxManager` makes them, and the [`Election`] state machine driven over them.
//!
//! - Every member listens on its election address and dials every other voter.
//! - The dialer sends one initial message (version 1 with one address, Apache's default
//!   form) and expects nothing back; the receiver reads it with the codec's limits.
//! - One connection per pair survives: the one dialed by the higher sid. A dialer with
//!   the lower sid closes right after its initial message; a receiver with the higher sid
//!   closes an incoming connection from a lower sid and dials back. A connection claiming
//!   our own sid, or the observer placeholder id, is closed.
//! - Then `[int len][bytes]` notifications both ways, with Apache's bounds. Each peer
//!   connection keeps only the newest unsent message (Apache's one-slot send queue).
//! - A peer that sends a bad initial message, an out-of-range frame length, or nothing
//!   within the handshake timeout is dropped with a log line.
//!
//! The sender of a notification is the sid the connection was made with. Decisions are
//! published on a [`watch`] channel.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::election::{
    Decision, Effect, Election, History, Members, Notification, Outgoing, PeerState, Sid, Timing,
    Vote,
};
use super::verifier::QuorumVerifier;
use super::wire::handshake::{
    election_frame, frame_election_message, ElectionAddr, InitialMessage, MAX_ADDRESS_BYTES,
    OBSERVER_ID,
};
use super::wire::notification as wire;
use crate::config::{Config, PeerType};
use crate::ids::Zxid;

/// Apache's `zookeeper.cnxTimeout` default: how long a dial may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest initial message: version, sid, length, and the address bytes.
const MAX_INITIAL_MESSAGE: usize = 8 + 8 + 4 + MAX_ADDRESS_BYTES;

/// Why the election port could not run.
#[derive(Debug, Error)]
pub enum ElectionNetError {
    #[error("the config has no server.N line for this member (myid {0:?})")]
    NotAMember(Option<u64>),
    #[error("resolving the election address {addr}: {source}")]
    Resolve {
        addr: String,
        source: std::io::Error,
    },
    #[error("listening on the election address {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// What the election port needs to know about this member and the ensemble.
#[derive(Debug, Clone)]
pub struct ElectionSetup {
    pub me: Sid,
    /// `host:port` to listen on (this member's election address).
    pub listen: String,
    /// The address advertised in the initial message.
    pub advertised: ElectionAddr,
    /// Every other member's election address, `host:port`.
    pub peers: BTreeMap<Sid, String>,
    pub members: Members,
    pub history: History,
    /// The config string sent in notifications (`QuorumVerifier.toString()`).
    pub config_string: Vec<u8>,
    /// How long an incoming connection may take to send its initial message.
    pub handshake_timeout: Duration,
    /// How many times binding the election port is retried, a second apart (0: forever).
    pub bind_retry: u32,
    pub timing: Timing,
    /// With `reconfigEnabled`: where a newer configuration heard in a notification goes
    /// (see [`Driver::adopt`]). `None`: notifications' configurations are ignored.
    pub adopted: Option<mpsc::UnboundedSender<QuorumVerifier>>,
}

impl ElectionSetup {
    /// The setup for `config`'s own member (its `my_id`), with `history` from its data.
    pub fn from_config(config: &Config, history: History) -> Result<Self, ElectionNetError> {
        let mine = config
            .my_server()
            .ok_or(ElectionNetError::NotAMember(config.my_id))?;
        let mut voters = BTreeSet::new();
        let mut observers = BTreeSet::new();
        let mut peers = BTreeMap::new();
        for s in &config.servers {
            match s.role {
                PeerType::Participant => voters.insert(s.id),
                PeerType::Observer => observers.insert(s.id),
            };
            if s.id != mine.id {
                peers.insert(s.id, s.election_addr());
            }
        }
        let handshake_ms = u64::from(config.tick_time_ms) * u64::from(config.sync_limit.max(1));
        Ok(ElectionSetup {
            me: mine.id,
            // Apache's `quorumListenOnAllIPs` binds the election port on every interface too.
            listen: if config.quorum_listen_on_all_ips {
                format!("0.0.0.0:{}", mine.election_port)
            } else {
                mine.election_addr()
            },
            advertised: ElectionAddr::new(mine.host.clone(), mine.election_port),
            peers,
            members: Members { voters, observers },
            history,
            config_string: config_string(config).into_bytes(),
            handshake_timeout: Duration::from_millis(handshake_ms.clamp(1_000, 30_000)),
            bind_retry: config.election_port_bind_retry,
            timing: Timing::default(),
            adopted: None,
        })
    }
}

/// Apache's `QuorumMaj.toString()` for a config file's membership: one
/// `server.N=host:quorumPort:electionPort:participant|observer[;client]` line per member,
/// then `version=<hex>`.
pub fn config_string(config: &Config) -> String {
    super::verifier::QuorumVerifier::from_config(config).to_string()
}

/// Binds the election port and runs election over it until `decisions` has no receiver
/// left. Every decision is sent on `decisions`.
pub async fn run(
    setup: ElectionSetup,
    decisions: watch::Sender<Option<Decision>>,
) -> Result<(), ElectionNetError> {
    let (_keep, control) = mpsc::unbounded_channel();
    run_with_control(setup, decisions, control).await
}

/// What the member tells its election port.
#[derive(Debug)]
pub enum ElectionControl {
    /// The role ended: look for a leader again with this history. The decision is cleared
    /// (set to `None`) before `done` is answered, so the next `Some` is the new round's.
    Look {
        history: History,
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// Synced with a leader of this epoch: advertise it in answers to looking peers.
    PeerEpoch(u64),
    /// The role ended because a committed reconfig designated `leader`: take the role
    /// under it without a round ([`Election::hand_over`]); the decision comes out as one
    /// of a round would.
    HandOver {
        leader: Sid,
        zxid: Zxid,
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// The committed configuration changed (a reconfig): who votes from the next round
    /// on, where to reach them, and the config string notifications carry.
    Membership {
        members: Members,
        peers: BTreeMap<Sid, String>,
        config_string: Vec<u8>,
    },
}

/// [`run`], with a member's control over rounds.
pub async fn run_with_control(
    setup: ElectionSetup,
    decisions: watch::Sender<Option<Decision>>,
    control: mpsc::UnboundedReceiver<ElectionControl>,
) -> Result<(), ElectionNetError> {
    // Apache's `electionPortBindRetry`: the port may still be held by a process that is
    // exiting (a restart).
    let mut attempt = 0;
    let listener = loop {
        match bind(&setup.listen).await {
            Ok(l) => break l,
            Err(e) => {
                attempt += 1;
                if setup.bind_retry != 0 && attempt > setup.bind_retry {
                    return Err(e);
                }
                tracing::warn!(error = %e, attempt, "binding the election port: retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tracing::info!(me = setup.me, addr = %setup.listen, "election port listening");
    Driver::new(setup, listener).run(decisions, control).await;
    Ok(())
}

async fn bind(addr: &str) -> Result<TcpListener, ElectionNetError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|source| ElectionNetError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(ElectionNetError::Bind {
        addr: addr.to_string(),
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })
}

/// What connection tasks tell the driver.
enum Event {
    /// An incoming connection sent a valid initial message.
    Incoming {
        sid: i64,
        dial_back: Option<String>,
        stream: TcpStream,
    },
    /// A dial finished: `Some` if the connection is to be kept.
    Dialed {
        sid: Sid,
        stream: Option<TcpStream>,
    },
    Message {
        sid: Sid,
        conn: u64,
        n: wire::Notification,
    },
    Closed {
        sid: Sid,
        conn: u64,
    },
}

struct PeerConn {
    id: u64,
    out: watch::Sender<Option<Vec<u8>>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for PeerConn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct Driver {
    setup: ElectionSetup,
    listener: TcpListener,
    origin: Instant,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    conns: BTreeMap<Sid, PeerConn>,
    /// The newest message for a peer without a connection, sent once one is up.
    pending: BTreeMap<Sid, Vec<u8>>,
    dialing: BTreeSet<Sid>,
    next_conn: u64,
    timer: Option<Instant>,
}

impl Driver {
    fn new(setup: ElectionSetup, listener: TcpListener) -> Driver {
        let (events_tx, events_rx) = mpsc::channel(256);
        Driver {
            setup,
            listener,
            origin: Instant::now(),
            events_tx,
            events_rx,
            conns: BTreeMap::new(),
            pending: BTreeMap::new(),
            dialing: BTreeSet::new(),
            next_conn: 0,
            timer: None,
        }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    async fn run(
        mut self,
        decisions: watch::Sender<Option<Decision>>,
        mut control: mpsc::UnboundedReceiver<ElectionControl>,
    ) {
        let mut election = Election::start(
            self.now(),
            self.setup.me,
            self.setup.members.clone(),
            self.setup.history,
            self.setup.timing,
        );
        let peers: Vec<Sid> = self.setup.peers.keys().copied().collect();
        for sid in peers {
            if self.setup.members.voters.contains(&sid) {
                self.dial(sid, None);
            }
        }
        self.apply(&mut election, &decisions);
        loop {
            let timer = self.timer;
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, from)) => self.accept(stream, from),
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting on the election port");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(ev) = self.events_rx.recv() => self.event(&mut election, ev),
                _ = sleep_until(timer) => {
                    self.timer = None;
                    election.tick(self.now());
                }
                Some(c) = control.recv() => match c {
                    ElectionControl::Look { history, done } => {
                        decisions.send_replace(None);
                        self.setup.history = history;
                        election.look(self.now(), history);
                        tracing::info!(
                            round = election.round(),
                            zxid = %history.last_zxid,
                            epoch = history.current_epoch,
                            "looking for a leader: round started"
                        );
                        let _ = done.send(());
                    }
                    ElectionControl::PeerEpoch(e) => election.update_peer_epoch(e),
                    ElectionControl::HandOver { leader, zxid, done } => {
                        decisions.send_replace(None);
                        tracing::info!(leader, %zxid, "a reconfig designated the leader: no round");
                        election.hand_over(leader, zxid);
                        let _ = done.send(());
                    }
                    ElectionControl::Membership { members, peers, config_string } => {
                        tracing::info!(voters = ?members.voters, observers = ?members.observers, "election membership changed");
                        election.set_members(members.clone());
                        self.setup.members = members;
                        self.setup.peers = peers;
                        self.setup.config_string = config_string;
                    }
                },
                _ = decisions.closed() => return,
            }
            self.apply(&mut election, &decisions);
        }
    }

    fn accept(&mut self, stream: TcpStream, from: SocketAddr) {
        let events = self.events_tx.clone();
        let limit = self.setup.handshake_timeout;
        tokio::spawn(async move {
            let mut stream = stream;
            let _ = stream.set_nodelay(true);
            match tokio::time::timeout(limit, read_initial(&mut stream)).await {
                Ok(Ok(msg)) => {
                    let dial_back = match &msg {
                        InitialMessage::Versioned { addresses, .. } => {
                            addresses.first().map(ToString::to_string)
                        }
                        InitialMessage::SidOnly { .. } => None,
                    };
                    let _ = events
                        .send(Event::Incoming {
                            sid: msg.sid(),
                            dial_back,
                            stream,
                        })
                        .await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(peer = %from, error = %e, "election connection dropped: bad initial message");
                }
                Err(_) => {
                    tracing::warn!(peer = %from, ?limit, "election connection dropped: no initial message in time");
                }
            }
        });
    }

    fn event(&mut self, election: &mut Election, ev: Event) {
        match ev {
            Event::Incoming {
                sid,
                dial_back,
                stream,
            } => {
                let me = self.setup.me as i64;
                if sid == OBSERVER_ID {
                    // Apache gives it a made-up negative id, lower than any real one, and
                    // dials back; this member only elects with configured members.
                    tracing::info!("election connection from an observer without an id: closed");
                } else if sid < me {
                    tracing::debug!(
                        sid,
                        "incoming election connection from a lower sid: dialing back"
                    );
                    drop(stream);
                    if sid > 0 {
                        self.dial(sid as Sid, dial_back);
                    }
                } else if sid == me {
                    tracing::warn!(
                        sid,
                        "election connection from a server with our own id: closed"
                    );
                } else {
                    self.register(election, sid as Sid, stream);
                }
            }
            Event::Dialed { sid, stream } => {
                self.dialing.remove(&sid);
                if let Some(stream) = stream {
                    self.register(election, sid, stream);
                }
            }
            Event::Message { sid, conn, n } => {
                if self.conns.get(&sid).is_some_and(|c| c.id == conn) {
                    if let Some(newer) = self.newer_config(election, &n) {
                        self.adopt(election, sid, newer);
                    }
                    election.receive(self.now(), from_wire(sid, &n));
                }
            }
            Event::Closed { sid, conn } => {
                if self.conns.get(&sid).is_some_and(|c| c.id == conn) {
                    tracing::info!(sid, "election connection lost");
                    self.conns.remove(&sid);
                    election.lost(sid);
                }
            }
        }
    }

    /// The configuration `n` carries, if this member is looking, adopts configurations
    /// (`reconfigEnabled`) and it is newer than its own (Apache's `WorkerReceiver`).
    fn newer_config(&self, election: &Election, n: &wire::Notification) -> Option<QuorumVerifier> {
        self.setup.adopted.as_ref()?;
        if election.state() != PeerState::Looking {
            return None;
        }
        let qv = QuorumVerifier::parse(&String::from_utf8_lossy(n.config.as_deref()?)).ok()?;
        let mine = QuorumVerifier::parse(&String::from_utf8_lossy(&self.setup.config_string))
            .map_or(i64::MIN, |q| q.version);
        (qv.version > mine).then_some(qv)
    }

    /// A looking member that hears of a configuration newer than its own (it missed a
    /// reconfig's commit, or was down when it committed) takes it and starts its round
    /// again under it, as Apache's `processReconfig` then a restarted election do; the
    /// member keeps it too, in its files. Without this, a member whose old configuration
    /// has no quorum among the members now serving (after a shrink) would look forever.
    fn adopt(&mut self, election: &mut Election, from: Sid, qv: QuorumVerifier) {
        tracing::info!(
            from,
            version = %format!("{:x}", qv.version),
            "a newer configuration heard while looking: adopted, election restarted"
        );
        let mut observers = qv.observers();
        if qv.member(self.setup.me).is_none()
            && self.setup.members.observers.contains(&self.setup.me)
        {
            observers.insert(self.setup.me);
        }
        let members = Members {
            voters: qv.voters(),
            observers,
        };
        for s in qv.members().filter(|s| s.id != self.setup.me) {
            self.setup.peers.insert(s.id, s.election_addr());
        }
        self.setup.config_string = qv.to_string().into_bytes();
        election.set_members(members.clone());
        self.setup.members = members;
        if let Some(adopted) = &self.setup.adopted {
            let _ = adopted.send(qv);
        }
        election.look(self.now(), self.setup.history);
    }

    /// Starts using `stream` as the connection to `sid`, replacing any older one.
    fn register(&mut self, election: &mut Election, sid: Sid, stream: TcpStream) {
        self.next_conn += 1;
        let id = self.next_conn;
        let first = self.pending.remove(&sid);
        let (out_tx, out_rx) = watch::channel(None);
        if first.is_some() {
            out_tx.send_replace(first);
        }
        let (read, write) = stream.into_split();
        let reader = tokio::spawn(read_loop(read, sid, id, self.events_tx.clone()));
        let writer = tokio::spawn(write_loop(write, out_rx, sid, id, self.events_tx.clone()));
        tracing::info!(sid, "election connection up");
        self.conns.insert(
            sid,
            PeerConn {
                id,
                out: out_tx,
                tasks: [reader, writer],
            },
        );
        election.connected(sid);
    }

    /// Dials `sid` unless a dial or a connection is already there.
    fn dial(&mut self, sid: Sid, addr: Option<String>) {
        if self.conns.contains_key(&sid) || self.dialing.contains(&sid) {
            return;
        }
        let Some(addr) = addr.or_else(|| self.setup.peers.get(&sid).cloned()) else {
            tracing::debug!(sid, "no election address known: not dialing");
            return;
        };
        self.dialing.insert(sid);
        let me = self.setup.me;
        let hello = InitialMessage::v1(me as i64, self.setup.advertised.clone()).encode();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let stream = match dial(&addr, &hello).await {
                Ok(s) if sid > me => {
                    // Apache: the lower sid closes after its initial message; the higher
                    // one dials back, and that connection is kept.
                    drop(s);
                    None
                }
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(sid, %addr, error = %e, "dialing the election port failed");
                    None
                }
            };
            let _ = events.send(Event::Dialed { sid, stream }).await;
        });
    }

    fn send(&mut self, to: Sid, msg: &Outgoing) {
        if to == self.setup.me {
            return;
        }
        let bytes = frame_election_message(&to_wire(msg, &self.setup.config_string).encode());
        match self.conns.get(&to) {
            Some(c) => {
                c.out.send_replace(Some(bytes));
            }
            None => {
                self.pending.insert(to, bytes);
                self.dial(to, None);
            }
        }
    }

    fn apply(&mut self, election: &mut Election, decisions: &watch::Sender<Option<Decision>>) {
        loop {
            let effects = election.take_effects();
            if effects.is_empty() {
                return;
            }
            for e in effects {
                match e {
                    Effect::Send { to, msg } => self.send(to, &msg),
                    Effect::SendToVoters(msg) => {
                        let voters: Vec<Sid> = self.setup.members.voters.iter().copied().collect();
                        for v in voters {
                            self.send(v, &msg);
                        }
                    }
                    Effect::ConnectAll => {
                        let voters: Vec<Sid> = self.setup.members.voters.iter().copied().collect();
                        let me = self.setup.me;
                        for v in voters.into_iter().filter(|&v| v != me) {
                            self.dial(v, None);
                        }
                    }
                    Effect::ArmTimer { at } => {
                        self.timer = Some(self.origin + Duration::from_millis(at));
                    }
                    Effect::Decided(d) => {
                        tracing::info!(role = ?d.role, vote = ?d.vote, "election decided");
                        decisions.send_replace(Some(d));
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn dial(addr: &str, hello: &[u8]) -> std::io::Result<TcpStream> {
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    stream.write_all(hello).await?;
    Ok(stream)
}

/// Why an incoming connection's first bytes were refused.
#[derive(Debug, Error)]
enum HandshakeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wire(#[from] super::wire::WireError),
    #[error("closed before the initial message was complete")]
    Eof,
}

async fn read_initial(stream: &mut TcpStream) -> Result<InitialMessage, HandshakeError> {
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 512];
    loop {
        match InitialMessage::decode(&buf) {
            // Reads never go past the message (see `needed_initial`), so nothing of the
            // frames after it is consumed here.
            Ok((msg, _)) => return Ok(msg),
            Err(e) if e.is_incomplete() && buf.len() < MAX_INITIAL_MESSAGE => {}
            Err(e) => return Err(e.into()),
        }
        // Read at most what the message can still need, so no frame bytes are consumed.
        let want = needed_initial(&buf).min(chunk.len());
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(HandshakeError::Eof);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// How many more bytes the initial message needs at least, given what is in `buf`.
fn needed_initial(buf: &[u8]) -> usize {
    if buf.len() < 20 {
        // Version (or bare sid), then sid and length.
        if buf.len() < 8 {
            return 8 - buf.len();
        }
        let first = i64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
        if first >= 0 {
            return 0;
        }
        return 20 - buf.len();
    }
    let n = i32::from_be_bytes(buf[16..20].try_into().unwrap_or_default());
    (20 + n.max(0) as usize).saturating_sub(buf.len()).max(1)
}

async fn read_loop(mut read: OwnedReadHalf, sid: Sid, conn: u64, events: mpsc::Sender<Event>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 8192];
    'outer: loop {
        loop {
            match election_frame(&buf) {
                Ok(Some(range)) => {
                    let end = range.end;
                    match wire::Notification::decode(&buf[range]) {
                        Ok(n) => {
                            if events.send(Event::Message { sid, conn, n }).await.is_err() {
                                return;
                            }
                        }
                        // Apache's receiver skips a message it cannot read.
                        Err(e) => tracing::warn!(sid, error = %e, "election message ignored"),
                    }
                    buf.drain(..end);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(sid, error = %e, "election connection dropped");
                    break 'outer;
                }
            }
        }
        // What is left is one incomplete frame: at most 4 + ELECTION_PACKET_MAX - 1 bytes.
        match read.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                tracing::debug!(sid, error = %e, "election connection read failed");
                break;
            }
        }
    }
    let _ = events.send(Event::Closed { sid, conn }).await;
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut out: watch::Receiver<Option<Vec<u8>>>,
    sid: Sid,
    conn: u64,
    events: mpsc::Sender<Event>,
) {
    // A message put in before the task started counts as unsent.
    out.mark_changed();
    while out.changed().await.is_ok() {
        let msg = out.borrow_and_update().clone();
        let Some(msg) = msg else { continue };
        if let Err(e) = write.write_all(&msg).await {
            tracing::debug!(sid, error = %e, "election connection write failed");
            break;
        }
    }
    let _ = events.send(Event::Closed { sid, conn }).await;
}

fn to_wire(msg: &Outgoing, config: &[u8]) -> wire::Notification {
    wire::Notification {
        state: match msg.state {
            PeerState::Looking => wire::PeerState::Looking,
            PeerState::Following => wire::PeerState::Following,
            PeerState::Leading => wire::PeerState::Leading,
            PeerState::Observing => wire::PeerState::Observing,
        },
        leader: msg.vote.leader as i64,
        zxid: msg.vote.zxid.raw(),
        election_epoch: msg.vote.election_epoch as i64,
        peer_epoch: msg.vote.peer_epoch as i64,
        version: wire::NOTIFICATION_VERSION,
        config: Some(config.to_vec()),
    }
}

fn from_wire(from: Sid, n: &wire::Notification) -> Notification {
    Notification {
        from,
        state: match n.state {
            wire::PeerState::Looking => PeerState::Looking,
            wire::PeerState::Following => PeerState::Following,
            wire::PeerState::Leading => PeerState::Leading,
            wire::PeerState::Observing => PeerState::Observing,
        },
        vote: Vote {
            leader: n.leader as u64,
            zxid: Zxid::from_raw(n.zxid),
            election_epoch: n.election_epoch as u64,
            peer_epoch: n.peer_epoch as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_listen_on_all_ips_binds_the_election_port_everywhere() {
        let text = "dataDir=/d\nserver.1=zk-0.example:2888:3888\nserver.2=zk-1.example:2888:3888\nserver.3=zk-2.example:2888:3888\n";
        let history = History {
            last_zxid: Zxid::from_raw(0),
            current_epoch: 0,
        };
        let (mut config, _) = Config::parse(text, "zoo.cfg").unwrap();
        config.my_id = Some(2);
        let setup = ElectionSetup::from_config(&config, history).unwrap();
        assert_eq!(setup.listen, "zk-1.example:3888");
        config.quorum_listen_on_all_ips = true;
        let setup = ElectionSetup::from_config(&config, history).unwrap();
        assert_eq!(setup.listen, "0.0.0.0:3888");
        assert_eq!(
            setup.advertised,
            ElectionAddr::new("zk-1.example", 3888),
            "peers still dial the member's own name"
        );
    }

    #[test]
    fn needed_initial_never_reads_past_the_message() {
        let msg = InitialMessage::v1(3, ElectionAddr::new("127.0.0.1", 3888)).encode();
        let mut buf = Vec::new();
        while InitialMessage::decode(&buf).is_err() {
            let n = needed_initial(&buf);
            assert!(n >= 1 && buf.len() + n <= msg.len(), "{n} at {}", buf.len());
            buf.push(msg[buf.len()]);
        }
        assert_eq!(buf, msg);
        let sid_only = 7i64.to_be_bytes();
        assert_eq!(needed_initial(&sid_only[..3]), 5);
    }

    #[test]
    fn notifications_map_both_ways() {
        let out = Outgoing {
            state: PeerState::Leading,
            vote: Vote {
                leader: 3,
                zxid: Zxid::from_raw(0x1_0000_0002),
                election_epoch: 4,
                peer_epoch: 1,
            },
        };
        let bytes = to_wire(&out, b"version=0").encode();
        let back = wire::Notification::decode(&bytes).expect("decodes");
        let n = from_wire(9, &back);
        assert_eq!(n.from, 9);
        assert_eq!(n.state, out.state);
        assert_eq!(n.vote, out.vote);
        assert_eq!(back.config.as_deref(), Some(&b"version=0"[..]));
    }
}
