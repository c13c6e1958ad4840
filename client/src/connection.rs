//! One TCP connection to one server: connecting, the session handshake, and buffered,
//! non-blocking frame I/O that the session task drives from its event loop.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use zkrs_proto::frame::find_frame;
use zkrs_proto::{ConnectRequest, ConnectResponse, Record, Request, RequestHeader, Writer};

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("timed out")]
    Timeout,
    #[error("undecodable handshake reply: {0}")]
    Protocol(String),
}

/// What one step of I/O did.
pub(crate) enum IoEvent {
    /// Bytes arrived; complete frames may be waiting in [`Connection::take_frames`].
    Read,
    /// Bytes were written.
    Wrote,
}

/// A connected socket with its read and write buffers.
pub(crate) struct Connection {
    stream: TcpStream,
    addr: SocketAddr,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    max_frame: usize,
    pub last_send: Instant,
    pub last_recv: Instant,
}

impl Connection {
    /// Connects to `addr` and performs the handshake, all within `limit`.
    pub async fn open(
        addr: SocketAddr,
        request: &ConnectRequest,
        limit: Duration,
        max_frame: usize,
    ) -> Result<(Connection, ConnectResponse), ConnectError> {
        timeout(limit, Self::open_inner(addr, request, max_frame))
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    async fn open_inner(
        addr: SocketAddr,
        request: &ConnectRequest,
        max_frame: usize,
    ) -> Result<(Connection, ConnectResponse), ConnectError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let now = Instant::now();
        let mut conn = Connection {
            stream,
            addr,
            inbuf: Vec::with_capacity(4096),
            out: Vec::new(),
            out_pos: 0,
            max_frame,
            last_send: now,
            last_recv: now,
        };
        let mut w = Writer::frame();
        request.write(&mut w);
        conn.stream.write_all(&w.finish_frame()).await?;
        let body = loop {
            if let Some(frame) = conn.next_frame()? {
                break frame;
            }
            let n = conn.stream.read_buf(&mut conn.inbuf).await?;
            if n == 0 {
                return Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        };
        let resp = ConnectResponse::decode_exact(&body)
            .map_err(|e| ConnectError::Protocol(e.to_string()))?;
        conn.last_recv = Instant::now();
        Ok((conn, resp))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a request frame for sending.
    pub fn queue_request(&mut self, xid: i32, request: &Request) {
        let mut w = Writer::frame();
        RequestHeader {
            xid,
            op: request.op().code(),
        }
        .write(&mut w);
        request.write_body(&mut w);
        self.out.extend_from_slice(&w.finish_frame());
        self.last_send = Instant::now();
    }

    /// Writes what is queued as far as the socket takes it now, without waiting; the rest
    /// goes out from [`Connection::io`]. Sending a request at once saves a trip through
    /// the session loop per request.
    pub fn flush_now(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.try_write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        Ok(())
    }

    /// Waits until bytes arrive or queued bytes could be written. Cancel-safe: when dropped
    /// before completing, no bytes were read or written.
    pub async fn io(&mut self) -> io::Result<IoEvent> {
        let (mut rd, mut wr) = self.stream.split();
        let sending = self.out_pos < self.out.len();
        tokio::select! {
            r = rd.read_buf(&mut self.inbuf) => {
                let n = r?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.last_recv = Instant::now();
                Ok(IoEvent::Read)
            }
            w = wr.write(&self.out[self.out_pos..]), if sending => {
                let n = w?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                self.out_pos += n;
                if self.out_pos == self.out.len() {
                    self.out.clear();
                    self.out_pos = 0;
                } else if self.out_pos > 64 * 1024 && self.out_pos * 2 > self.out.len() {
                    self.out.drain(..self.out_pos);
                    self.out_pos = 0;
                }
                Ok(IoEvent::Wrote)
            }
        }
    }

    /// The bodies of the complete frames received so far.
    pub fn take_frames(&mut self) -> Result<Vec<Vec<u8>>, zkrs_proto::DecodeError> {
        let mut frames = Vec::new();
        let mut pos = 0;
        while let Some((start, end)) = find_frame(&self.inbuf[pos..], self.max_frame)? {
            frames.push(self.inbuf[pos + start..pos + end].to_vec());
            pos += end;
        }
        self.inbuf.drain(..pos);
        Ok(frames)
    }

    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ConnectError> {
        match find_frame(&self.inbuf, self.max_frame) {
            Ok(Some((start, end))) => {
                let body = self.inbuf[start..end].to_vec();
                self.inbuf.drain(..end);
                Ok(Some(body))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(ConnectError::Protocol(e.to_string())),
        }
    }
}
