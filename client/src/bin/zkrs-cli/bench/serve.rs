//! `zkrs-cli bench start-to-serve`: the wall time from starting a server process to the
//! first request it answers — a real session handshake followed by `getData("/")` — polled
//! in a tight loop over plain blocking sockets.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use zkrs_client::proto::frame::find_frame;
use zkrs_client::proto::request::PathWatch;
use zkrs_client::proto::{
    ConnectRequest, ConnectResponse, OpCode, Reader, Record, ReplyHeader, Request, RequestHeader,
    Writer,
};

use super::opts::USAGE;

/// Pause between attempts while nothing listens yet.
const RETRY: Duration = Duration::from_millis(1);
/// While an attempt waits for an answer, another starts this often.
const OVERLAP: Duration = Duration::from_millis(10);
/// At most this many attempts at once.
const MAX_PENDING: usize = 1000;

struct Args {
    connect: String,
    timeout: Duration,
    log: Option<String>,
    command: Vec<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let mut a = Args {
        connect: "127.0.0.1:2181".into(),
        timeout: Duration::from_secs(120),
        log: None,
        command: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "-c" | "--connect" => a.connect = val()?.clone(),
            "--timeout" => {
                let s: f64 = val()?.parse().context("--timeout: not a number")?;
                if !(0.0..=3600.0).contains(&s) {
                    bail!("--timeout must be 0 to 3600 seconds");
                }
                a.timeout = Duration::from_secs_f64(s);
            }
            "--log" => a.log = Some(val()?.clone()),
            "--" => {
                a.command = it.cloned().collect();
                break;
            }
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    Ok(a)
}

fn frame_of(w: Writer) -> Vec<u8> {
    w.finish_frame()
}

fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<Vec<u8>> {
    loop {
        if let Some((start, end)) = find_frame(buf, 1 << 20)? {
            let body = buf[start..end].to_vec();
            buf.drain(..end);
            return Ok(body);
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One attempt: connect, handshake, getData("/"), closeSession. Ok once served.
fn serve_once(addr: SocketAddr, limit: Duration) -> anyhow::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, limit.max(Duration::from_millis(1)))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(limit.max(Duration::from_millis(1))))?;
    let mut w = Writer::frame();
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    }
    .write(&mut w);
    s.write_all(&frame_of(w))?;
    let mut buf = Vec::new();
    let resp = ConnectResponse::decode_exact(&read_frame(&mut s, &mut buf)?)?;
    if resp.session_id == 0 || resp.timeout <= 0 {
        bail!("session refused");
    }
    let mut w = Writer::frame();
    RequestHeader {
        xid: 1,
        op: OpCode::GetData.code(),
    }
    .write(&mut w);
    Request::GetData(PathWatch {
        path: "/".into(),
        watch: false,
    })
    .write_body(&mut w);
    s.write_all(&frame_of(w))?;
    let body = read_frame(&mut s, &mut buf)?;
    let h = ReplyHeader::read(&mut Reader::new(&body))?;
    if h.xid != 1 || h.err != 0 {
        bail!("getData answered xid {} error {}", h.xid, h.err);
    }
    // Close the session rather than leave it to expire; the answer is not awaited.
    let mut w = Writer::frame();
    RequestHeader {
        xid: 2,
        op: OpCode::CloseSession.code(),
    }
    .write(&mut w);
    let _ = s.write_all(&frame_of(w));
    Ok(())
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let a = parse(args)?;
    let addr = a
        .connect
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", a.connect))?
        .next()
        .ok_or_else(|| anyhow!("{}: no address", a.connect))?;
    if !a.command.is_empty()
        && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    {
        // Whatever answered would be measured instead of the new server.
        bail!("something already listens on {addr}; not starting the server");
    }
    let t0 = Instant::now();
    let mut child = match a.command.split_first() {
        None => None,
        Some((prog, rest)) => {
            let (out, err) = match &a.log {
                Some(p) => {
                    let f = File::create(p).with_context(|| format!("creating {p}"))?;
                    (Stdio::from(f.try_clone()?), Stdio::from(f))
                }
                None => (Stdio::null(), Stdio::null()),
            };
            let c = Command::new(prog)
                .args(rest)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .with_context(|| format!("starting {prog}"))?;
            Some(c)
        }
    };
    let t0 = if child.is_some() { t0 } else { Instant::now() };
    // Each attempt runs on its own thread and reports back. A refused connection fails at
    // once and is retried after RETRY. A server may also accept a connection while it is
    // still starting and never answer it (Apache ZooKeeper does), so while attempts hang a
    // new one starts every OVERLAP, as a client with a connect timeout would retry, without
    // giving up on the pending ones.
    let (tx, rx) = mpsc::channel::<Result<Instant, String>>();
    let mut attempts = 0u64;
    let mut pending = 0usize;
    let mut last_error = String::from("no attempt");
    let served = loop {
        let left = a.timeout.saturating_sub(t0.elapsed());
        if left.is_zero() {
            if let Some(c) = child.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
            bail!(
                "{} not served within {:?} ({attempts} attempts; last: {last_error})",
                a.connect,
                a.timeout
            );
        }
        if let Some(c) = child.as_mut() {
            if let Some(status) = c.try_wait()? {
                bail!("the server exited ({status}) before serving");
            }
        }
        if pending < MAX_PENDING {
            attempts += 1;
            pending += 1;
            let tx = tx.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let r = serve_once(addr, left).map(|()| Instant::now());
                    let _ = tx.send(r.map_err(|e| e.to_string()));
                })
                .context("starting a probe thread")?;
        }
        // Wait for a result, or start another attempt while this one hangs.
        match rx.recv_timeout(OVERLAP) {
            Ok(Ok(at)) => break at,
            Ok(Err(e)) => {
                pending -= 1;
                last_error = e;
                std::thread::sleep(RETRY);
            }
            Err(_) => {}
        }
    };
    let elapsed = served.duration_since(t0);
    let pid = child.as_ref().map_or(0, |c| c.id());
    println!(
        "{{\"pid\":{pid},\"start_to_serve_ms\":{:.3},\"attempts\":{attempts}}}",
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}
