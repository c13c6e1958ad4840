//! Loopback addresses for test servers, one per server, unique across processes.
//!
//! Every server a test starts gets its own address in `127.1.0.0/16` and listens on fixed
//! ports there (2181 for clients, 2888 and 3888 for an ensemble's quorum). Binding port 0 and
//! handing the port to the server after the probe socket is dropped would race: any process
//! may take the port in between (an outgoing connection's ephemeral port, too). Here an
//! address is owned by whoever holds an exclusive `flock` on its lock file in a directory
//! shared by every test process of the machine; the kernel drops the lock when its holder
//! exits, however it exits, so nothing is left behind. Each test runs in its own process
//! under nextest and in threads under `cargo test`; both are covered because a `flock` on a
//! separately opened file conflicts within one process too.

use std::fs::{self, File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;

/// The client port every test server listens on, on its own address.
pub const CLIENT_PORT: u16 = 2181;
/// An ensemble member's quorum port (followers connect to the leader on it).
pub const QUORUM_PORT: u16 = 2888;
/// An ensemble member's leader election port.
pub const ELECTION_PORT: u16 = 3888;

/// How many addresses are tried before giving up (127.1.0.1 to 127.1.15.254).
const CANDIDATES: u32 = 16 * 254;

/// A loopback address reserved for this process until it is dropped.
#[derive(Debug)]
pub struct LoopbackAddr {
    ip: Ipv4Addr,
    // Holds the lock; closing the file releases it.
    _lock: File,
}

impl LoopbackAddr {
    /// Reserves a loopback address on which [`CLIENT_PORT`], [`QUORUM_PORT`] and
    /// [`ELECTION_PORT`] are free. Panics when none is left (a leak of many thousands of
    /// servers).
    pub fn allocate() -> LoopbackAddr {
        let dir = lock_dir();
        fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("creating the address lock dir {}: {e}", dir.display()));
        for n in 0..CANDIDATES {
            let ip = Ipv4Addr::new(127, 1, (n / 254) as u8, (n % 254 + 1) as u8);
            let path = dir.join(format!("{ip}.lock"));
            let file = match OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) => panic!("opening {}: {e}", path.display()),
            };
            if file.try_lock().is_err() {
                continue;
            }
            // Locked by us, so no other test uses the address now. A server left running by
            // a test process that was killed could still hold a port on it: skip those.
            if ports_free(ip) {
                return LoopbackAddr { ip, _lock: file };
            }
        }
        panic!(
            "no free test address in 127.1.0.0/16 ({CANDIDATES} tried; lock files in {})",
            dir.display()
        );
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `ip:port` on this address.
    pub fn at(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }
}

/// Shared by every checkout and worktree on the machine, since they share the addresses.
fn lock_dir() -> PathBuf {
    std::env::var_os("ZKRS_TEST_ADDR_LOCKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("zkrs-test-addrs"))
}

/// Whether the fixed ports can be bound on `ip` (std binds with `SO_REUSEADDR`, as the
/// servers do, so connections in TIME_WAIT from an earlier user do not count).
fn ports_free(ip: Ipv4Addr) -> bool {
    [CLIENT_PORT, QUORUM_PORT, ELECTION_PORT]
        .iter()
        .all(|&port| TcpListener::bind((ip, port)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_held_at_the_same_time_differ_and_have_their_ports_free() {
        let a = LoopbackAddr::allocate();
        let b = LoopbackAddr::allocate();
        assert_ne!(a.ip(), b.ip());
        assert_eq!(a.ip().octets()[..2], [127, 1]);
        // Nobody else uses a reserved address, so its fixed ports can be bound now.
        let listener = TcpListener::bind(a.at(CLIENT_PORT)).expect("the client port is free");
        drop(listener);
        drop(b);
        let c = LoopbackAddr::allocate();
        assert_ne!(c.ip(), a.ip());
    }
}
