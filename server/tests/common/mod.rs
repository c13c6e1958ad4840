//! A real `zkrs-server` process for integration tests: free loopback port, temp data dir,
//! started and waited for without blind sleeps, killed by PID on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn start(extra: &str) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n{extra}\n",
            dir.path().display()
        ),
    )
    .expect("writing zoo.cfg");
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_zkrs-server"))
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting zkrs-server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let server = Server {
        child,
        addr,
        _dir: dir,
    };
    wait_until_serving(&server.addr, server._dir.path());
    server
}

pub fn wait_until_serving(addr: &SocketAddr, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.write_all(b"ruok");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out == "imok" {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("server did not start:\n{log}");
}

/// Sends a four-letter word and returns the whole answer.
pub fn four_letter(addr: &SocketAddr, word: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(word.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}
