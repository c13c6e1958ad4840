//! The client port: accepts connections, answers four-letter words, frames and decodes
//! requests for the core, and writes what the core sends back.
//!
//! Nothing a peer sends can take the server down: a bad frame closes that connection (or
//! gets an error reply when the stream is still in sync), and nothing else is affected.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use zkrs_proto::frame::find_frame;
use zkrs_proto::{ConnectRequest, DecodeError, ErrorCode, Reader, Record, Request, RequestHeader};

use crate::core::{ConnHandle, CoreMsg, Input, Outgoing};

/// Settings of the client port.
#[derive(Debug, Clone)]
pub struct NetSettings {
    /// Connections allowed from one IP address; 0 means no limit.
    pub max_client_cnxns: u32,
    /// The largest frame accepted (`jute.maxbuffer` plus room for the request's header).
    pub max_frame: usize,
    /// The server's configuration (for the four-letter-word whitelist and `conf`).
    pub config: Arc<crate::config::Config>,
    /// The server's place in the ensemble, as the four-letter words report it. The
    /// replication layer keeps the sender; a standalone server's never changes.
    pub role: tokio::sync::watch::Receiver<crate::fourlw::Role>,
    /// The mask `stmk` sets and `gtmk` reads (shared with the admin server).
    pub trace_mask: crate::fourlw::TraceMask,
}

/// Requests one connection may have in the server before it stops reading from that
/// connection (Apache's `globalOutstandingLimit` default). A client that sends without
/// reading replies is slowed down by TCP, not buffered without bound.
const MAX_OUTSTANDING_PER_CONNECTION: usize = 1000;

/// Open connections per remote IP, for `maxClientCnxns`.
#[derive(Debug, Default)]
struct ConnCounts(Mutex<HashMap<IpAddr, u32>>);

impl ConnCounts {
    fn try_acquire(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<ConnSlot> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnSlot {
            counts: self.clone(),
            ip,
        })
    }
}

/// Gives back a connection's place in [`ConnCounts`] when dropped.
struct ConnSlot {
    counts: Arc<ConnCounts>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until the listener fails.
pub async fn serve(
    listener: TcpListener,
    core: mpsc::UnboundedSender<CoreMsg>,
    settings: NetSettings,
) -> std::io::Result<()> {
    serve_movable(listener, core, settings, None).await
}

/// [`serve`] on a client port a reconfig may move: each address `moves` announces is bound
/// and replaces the listener (the old port closes, as Apache's `reconfigure` closes it);
/// connections already open stay, and connection ids go on from where they were.
pub async fn serve_movable(
    mut listener: TcpListener,
    core: mpsc::UnboundedSender<CoreMsg>,
    settings: NetSettings,
    mut moves: Option<tokio::sync::watch::Receiver<SocketAddr>>,
) -> std::io::Result<()> {
    let counts = Arc::new(ConnCounts::default());
    let next_id = Arc::new(AtomicU64::new(1));
    let settings = Arc::new(settings);
    loop {
        let moved = async {
            match &mut moves {
                Some(m) => m.changed().await.map(|()| *m.borrow_and_update()),
                None => std::future::pending().await,
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            to = moved => {
                match to {
                    Ok(addr) => match TcpListener::bind(addr).await {
                        Ok(l) => {
                            tracing::info!(%addr, "client port moved");
                            listener = l;
                        }
                        Err(e) => tracing::error!(%addr, error = %e, "cannot move the client port"),
                    },
                    Err(_) => moves = None,
                }
                continue;
            }
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Running out of file descriptors must not end the server.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = counts.try_acquire(remote.ip(), settings.max_client_cnxns) else {
            tracing::warn!(
                "Too many connections from {} - max is {}",
                remote.ip(),
                settings.max_client_cnxns
            );
            drop(stream);
            continue;
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let core = core.clone();
        let settings = settings.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = handle_connection(stream, remote, id, core, &settings).await {
                tracing::debug!(conn = id, %remote, error = %e, "connection closed");
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame: {0}")]
    Decode(#[from] DecodeError),
    #[error("the server is shutting down")]
    CoreGone,
}

/// Buffers bytes from the socket and cuts them into frames.
struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    /// Whether the last read filled all the room it had: a busy connection gets bigger
    /// reads (fewer system calls), an idle one keeps a small buffer.
    last_read_full: bool,
}

/// Read room for a quiet connection, and for one whose last read filled its buffer.
const SMALL_READ: usize = 2 * 1024;
const LARGE_READ: usize = 64 * 1024;

impl FrameReader {
    fn new(max_frame: usize) -> Self {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            max_frame,
            last_read_full: false,
        }
    }

    /// The next complete frame's body, if one is buffered.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match find_frame(&self.buf[self.start..], self.max_frame)? {
            Some((s, e)) => {
                let body = self.buf[self.start + s..self.start + e].to_vec();
                self.start += e;
                Ok(Some(body))
            }
            None => Ok(None),
        }
    }

    /// Reads more from the socket; `false` on a clean end of stream.
    async fn fill(&mut self, rd: &mut tokio::net::tcp::OwnedReadHalf) -> std::io::Result<bool> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.is_empty() && self.buf.capacity() > LARGE_READ {
            // Give back what a large frame needed once.
            self.buf = Vec::new();
        }
        let room = if self.last_read_full {
            LARGE_READ
        } else {
            SMALL_READ
        };
        self.buf.reserve(room);
        let spare = self.buf.capacity() - self.buf.len();
        // read_buf fills spare capacity without zeroing it first.
        let n = rd.read_buf(&mut self.buf).await?;
        self.last_read_full = n == spare;
        Ok(n > 0)
    }
}

async fn handle_connection(
    stream: TcpStream,
    remote: SocketAddr,
    id: u64,
    core: mpsc::UnboundedSender<CoreMsg>,
    settings: &NetSettings,
) -> Result<(), ConnError> {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new(settings.max_frame);

    // The first four bytes are either a four-letter word or the handshake's length.
    while reader.buf.len() < 4 {
        if !reader.fill(&mut rd).await? {
            return Ok(());
        }
    }
    let first = [reader.buf[0], reader.buf[1], reader.buf[2], reader.buf[3]];
    if let Some(cmd) = crate::fourlw::FourLetterWord::from_bytes(first) {
        return answer_four_letter_word(
            cmd,
            remote,
            &mut reader,
            &mut rd,
            &mut wr,
            &core,
            settings,
        )
        .await;
    }

    let connect = loop {
        if let Some(body) = reader.next_frame()? {
            break body;
        }
        if !reader.fill(&mut rd).await? {
            return Ok(());
        }
    };
    let req = ConnectRequest::read(&mut Reader::new(&connect))?;
    let hold = hold_limit(&req, &settings.config);
    if !hold_until_serving(settings.role.clone(), hold, &mut reader, &mut rd).await? {
        tracing::debug!(conn = id, %remote, ?hold, "not serving: connection closed unanswered");
        return Ok(());
    }
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<()>();
    let outstanding = Arc::new(Semaphore::new(MAX_OUTSTANDING_PER_CONNECTION));
    tokio::spawn(write_loop(wr, out_rx, closed_tx, outstanding.clone()));
    core.send(CoreMsg::Connect {
        conn: ConnHandle {
            id,
            remote,
            out: out_tx,
        },
        req,
    })
    .map_err(|_| ConnError::CoreGone)?;

    let result = async {
        loop {
            while let Some(body) = reader.next_frame()? {
                // One place per request until its reply is written.
                tokio::select! {
                    permit = outstanding.acquire() => match permit {
                        Ok(p) => p.forget(),
                        Err(_) => return Ok(()),
                    },
                    _ = &mut closed_rx => return Ok(()),
                }
                dispatch(id, &body, &core)?;
            }
            tokio::select! {
                more = reader.fill(&mut rd) => {
                    if !more? {
                        return Ok(());
                    }
                }
                _ = &mut closed_rx => return Ok(()),
            }
        }
    }
    .await;
    let _ = core.send(CoreMsg::Input(Input::Disconnected { conn: id }));
    result
}

/// How long a handshake may be held while the member is not serving: the session timeout
/// the client asked for, at most two ticks (about what an election and sync take when
/// they go well; a client that waits longer than that is better off trying another
/// member).
fn hold_limit(req: &ConnectRequest, config: &crate::config::Config) -> Duration {
    let asked = Duration::from_millis(req.timeout.max(0) as u64);
    asked.min(Duration::from_millis(2 * u64::from(config.tick_time_ms)))
}

/// Bytes a held connection may send before the server stops reading it (a Java client
/// sends its watches and credentials right behind the handshake).
const HELD_INPUT: usize = 64 * 1024;

/// Holds a handshake while the member is not serving (electing, or syncing with a new
/// leader), instead of closing the connection at once as Apache does: a client refused
/// backs off before its next attempt (the Java client up to a second, zkrs's and kazoo's
/// growing delays), and that back-off, not the election, would then decide when it is
/// served again. The handshake is answered as soon as the member serves; true if it
/// does within `limit`. False if it does not, or the client closes the connection first.
/// What the client sends meanwhile stays buffered in `reader` for after the handshake.
async fn hold_until_serving(
    mut role: tokio::sync::watch::Receiver<crate::fourlw::Role>,
    limit: Duration,
    reader: &mut FrameReader,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
) -> Result<bool, ConnError> {
    if role.borrow_and_update().serving {
        return Ok(true);
    }
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            changed = role.changed() => {
                let serving = role.borrow_and_update().serving;
                // A sender gone means the role never changes again.
                if serving || changed.is_err() {
                    return Ok(serving);
                }
            }
            () = &mut deadline => return Ok(false),
            more = reader.fill(rd), if reader.buf.len() - reader.start < HELD_INPUT => {
                if !more? {
                    return Ok(false);
                }
            }
        }
    }
}

/// Decodes one request frame and passes it to the core.
fn dispatch(id: u64, body: &[u8], core: &mpsc::UnboundedSender<CoreMsg>) -> Result<(), ConnError> {
    let mut r = Reader::new(body);
    let hdr = RequestHeader::read(&mut r)?;
    let rest = &body[r.position()..];
    let msg = match Request::decode(hdr.op, rest) {
        Ok(req) => Input::Request {
            conn: id,
            xid: hdr.xid,
            req,
            received: Instant::now(),
        },
        Err(DecodeError::UnknownOpCode(op)) => {
            tracing::warn!(conn = id, op, "request of unknown type");
            Input::Undecodable {
                conn: id,
                xid: hdr.xid,
                err: ErrorCode::Unimplemented,
            }
        }
        Err(e) => {
            tracing::warn!(conn = id, op = hdr.op, error = %e, "malformed request");
            Input::Undecodable {
                conn: id,
                xid: hdr.xid,
                err: ErrorCode::MarshallingError,
            }
        }
    };
    core.send(CoreMsg::Input(msg))
        .map_err(|_| ConnError::CoreGone)
}

/// Writes frames from the core, coalescing whatever is queued into one write.
async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    closed: tokio::sync::oneshot::Sender<()>,
    outstanding: Arc<Semaphore>,
) {
    let mut buf: Vec<u8> = Vec::new();
    'outer: while let Some(first) = rx.recv().await {
        let mut close = false;
        let mut replies = 0;
        let mut next = Some(first);
        while let Some(item) = next {
            match item {
                Outgoing::Frame(f) => buf.extend_from_slice(&f),
                Outgoing::Reply(f) => {
                    buf.extend_from_slice(&f);
                    replies += 1;
                }
                Outgoing::Close => {
                    close = true;
                    break;
                }
            }
            if buf.len() > 256 * 1024 {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !buf.is_empty() {
            if wr.write_all(&buf).await.is_err() {
                break 'outer;
            }
            buf.clear();
        }
        outstanding.add_permits(replies);
        if close {
            break;
        }
    }
    let _ = wr.shutdown().await;
    let _ = closed.send(());
}

async fn answer_four_letter_word(
    cmd: crate::fourlw::FourLetterWord,
    remote: SocketAddr,
    reader: &mut FrameReader,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    core: &mpsc::UnboundedSender<CoreMsg>,
    settings: &NetSettings,
) -> Result<(), ConnError> {
    if cmd == crate::fourlw::FourLetterWord::Stmk && crate::admin::allowed(&settings.config, cmd) {
        // `stmk` carries an 8-byte trace mask, kept for `gtmk` (tracing masks have no other
        // effect here). A refused `stmk` is answered at once, as Apache does, without
        // waiting for them; one whose bytes never all arrive leaves the mask as it was.
        while reader.buf.len() < 12 {
            if !reader.fill(rd).await? {
                break;
            }
        }
        if let Some(mask) = crate::fourlw::TraceMask::from_stmk_bytes(&reader.buf) {
            settings.trace_mask.set(mask);
        }
    }
    let role = settings.role.borrow().clone();
    let text = crate::admin::four_letter_word(
        cmd,
        remote,
        core,
        &settings.config,
        role,
        &settings.trace_mask,
    )
    .await;
    wr.write_all(text.as_bytes()).await?;
    let _ = wr.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourlw::{Role, ServerMode};
    use tokio::sync::watch;

    fn role(serving: bool) -> Role {
        Role {
            serving,
            mode: ServerMode::Standalone,
            quorum: None,
        }
    }

    /// A client socket and the server side's halves of the same connection.
    async fn pair() -> (TcpStream, tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (rd, wr) = server.into_split();
        (client, rd, wr)
    }

    #[tokio::test]
    async fn a_member_that_serves_takes_the_handshake_at_once() {
        let (_tx, rx) = watch::channel(role(true));
        let (_client, mut rd, _wr) = pair().await;
        let mut reader = FrameReader::new(1 << 20);
        let served = hold_until_serving(rx, Duration::from_secs(60), &mut reader, &mut rd);
        assert!(served.await.unwrap());
    }

    #[tokio::test]
    async fn a_held_handshake_goes_on_once_the_member_serves_and_keeps_what_came_meanwhile() {
        let (tx, rx) = watch::channel(role(false));
        let (mut client, mut rd, _wr) = pair().await;
        client.write_all(b"sent while held").await.unwrap();
        let held = tokio::spawn(async move {
            let mut reader = FrameReader::new(1 << 20);
            let served = hold_until_serving(rx, Duration::from_secs(60), &mut reader, &mut rd)
                .await
                .unwrap();
            (served, reader, rd)
        });
        tx.send_modify(|r| r.serving = true);
        let (served, mut reader, mut rd) = held.await.unwrap();
        assert!(served);
        // Whatever was read while held is still there for the connection's loop.
        while reader.buf.len() - reader.start < 15 {
            assert!(reader.fill(&mut rd).await.unwrap());
        }
        assert_eq!(&reader.buf[reader.start..], b"sent while held");
    }

    #[tokio::test]
    async fn a_handshake_held_past_its_limit_is_let_go() {
        let (_tx, rx) = watch::channel(role(false));
        let (_client, mut rd, _wr) = pair().await;
        let mut reader = FrameReader::new(1 << 20);
        let served = hold_until_serving(rx, Duration::from_millis(20), &mut reader, &mut rd);
        assert!(!served.await.unwrap());
    }

    #[tokio::test]
    async fn a_client_that_gives_up_while_held_is_let_go() {
        let (_tx, rx) = watch::channel(role(false));
        let (client, mut rd, _wr) = pair().await;
        drop(client);
        let mut reader = FrameReader::new(1 << 20);
        let served = hold_until_serving(rx, Duration::from_secs(60), &mut reader, &mut rd);
        assert!(!served.await.unwrap());
    }

    #[test]
    fn the_hold_is_the_asked_session_timeout_at_most_two_ticks() {
        let mut config = crate::config::Config::standalone_default("unused".into());
        config.tick_time_ms = 2_000;
        let req = |timeout| ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: None,
        };
        assert_eq!(hold_limit(&req(30_000), &config), Duration::from_secs(4));
        assert_eq!(
            hold_limit(&req(1_500), &config),
            Duration::from_millis(1_500)
        );
        assert_eq!(hold_limit(&req(-1), &config), Duration::ZERO);
    }
}
