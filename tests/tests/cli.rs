//! The operator's subcommands of the `zkrs-server` binary: `status` against a serving
//! server and a stopped port, and `ensemble` starting, serving and stopping its members.
//!
//! Always zkrs (these are zkrs's own commands); the binary must be built first
//! (`cargo build -p zkrs-server`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zkrs_tests::addr::CLIENT_PORT;
use zkrs_tests::server::{four_letter_word, zkrs_binary};
use zkrs_tests::*;

fn status(cfg: &Path) -> (i32, String) {
    let out = Command::new(zkrs_binary())
        .arg("status")
        .arg(cfg)
        .output()
        .expect("running zkrs-server status");
    (
        out.status.code().expect("status exited by itself"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn status_reports_the_mode_and_a_stopped_server() {
    let server = InProcessServer::start();
    let cfg = server.dir().join("zoo.cfg");
    let ip = server.addr().ip();
    let (code, out) = status(&cfg);
    assert_eq!(
        out,
        format!("Client port found: {CLIENT_PORT}. Client address: {ip}. Client SSL: false.\nMode: standalone\n")
    );
    assert_eq!(code, 0);

    // The address stays reserved for this test while nothing listens on it.
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("zoo.cfg");
    std::fs::copy(&cfg, &kept).unwrap();
    let reservation = LoopbackAddr::allocate();
    let text = std::fs::read_to_string(&kept)
        .unwrap()
        .replace(&ip.to_string(), &reservation.ip().to_string());
    std::fs::write(&kept, text).unwrap();
    server.stop();
    let (code, out) = status(&kept);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "Client port found: {CLIENT_PORT}. Client address: {}. Client SSL: false.\nError contacting service. It is probably not running.\n",
            reservation.ip()
        )),
        "{out}"
    );
}

/// Whether a process with this PID exists (a reaped child's entry is gone).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn ensemble_starts_members_that_answer_and_stops_them_on_sigint() {
    let ip = LoopbackAddr::allocate();
    let dir = tempfile::tempdir().unwrap();
    let mut parent = Command::new(zkrs_binary())
        .args(["ensemble", "3", "--host", &ip.ip().to_string(), "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting zkrs-server ensemble");
    let parent_pid = parent.id();
    // Stop the supervisor whatever happens below, by its PID.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-INT", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(POLL);
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = parent.stdout.take().unwrap();
    let guard = Guard(parent);

    // "member N: pid P, client A, log L" for each, then the connect string.
    let mut lines = BufReader::new(stdout).lines();
    let mut members: Vec<(u32, SocketAddr)> = Vec::new();
    let connect = loop {
        let line = lines
            .next()
            .expect("the ensemble's output ended early")
            .unwrap();
        if let Some(cs) = line.strip_prefix("connect string: ") {
            break cs.to_string();
        }
        let rest = line.split_once(": pid ").expect(&line).1;
        let (pid, rest) = rest.split_once(", client ").expect(&line);
        let addr = rest.split_once(", log ").expect(&line).0;
        members.push((pid.parse().unwrap(), addr.parse().unwrap()));
    };
    assert_eq!(members.len(), 3);
    let addrs: Vec<String> = members.iter().map(|(_, a)| a.to_string()).collect();
    assert_eq!(connect, addrs.join(","));
    for (i, (_, a)) in members.iter().enumerate() {
        assert_eq!(a.ip(), ip.ip());
        assert_eq!(a.port(), 2181 + i as u16);
    }
    assert!(dir.path().join("member2/zoo.cfg").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("member3/data/myid")).unwrap(),
        "3\n"
    );

    for (pid, addr) in &members {
        let deadline = Instant::now() + WAIT;
        loop {
            match four_letter_word(*addr, "ruok", Duration::from_secs(2)) {
                Ok(a) if a == "imok" => break,
                other if Instant::now() > deadline => {
                    panic!("member pid {pid} at {addr} never said imok: {other:?}")
                }
                _ => std::thread::sleep(POLL),
            }
        }
    }

    // SIGINT to the supervisor alone: it must stop and reap every member.
    drop(guard);
    assert!(
        !alive(parent_pid),
        "the ensemble (pid {parent_pid}) is still running"
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    for (pid, _) in &members {
        assert!(
            !alive(*pid),
            "member pid {pid} outlived the ensemble: {rest:?}"
        );
        assert!(
            rest.iter()
                .any(|l| l.contains(&format!("(pid {pid}) stopped"))),
            "{rest:?}"
        );
    }
}
