//! A dynamic ensemble's links through the proxies: every member of a reconfigurable
//! ensemble must be listed at the same addresses (a reconfig replicates one view of the
//! membership to all), so the harness cannot list its link proxies there as it does in a
//! static ensemble. Instead each member runs under an LD_PRELOAD shim (`reroute.c`) that
//! turns its connects to a peer's real quorum and election addresses into connects to its
//! own proxy for that peer ([`Links::view`](super::links::Links::view)): the partition
//! nemeses then cut a dynamic ensemble's links as they cut a static one's.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::preload;

/// The shim's source.
const SHIM_SOURCE: &str = include_str!("reroute.c");

/// The routes file, relative to a member's working directory (its own dir).
pub const ROUTES_FILE: &str = "routes";

/// Builds the shim into `dir`; returns the shared library's path.
pub fn build_shim(dir: &Path) -> anyhow::Result<PathBuf> {
    preload::build(dir, "reroute", SHIM_SOURCE)
}

/// The shim's setting in a member's environment.
pub fn shim_env() -> String {
    format!("ZKRS_ROUTES={ROUTES_FILE}")
}

/// Writes the routes file of the member whose directory is `member_dir`: a connect to
/// each `(real, proxy)` pair's real address goes to its proxy.
pub fn write_routes(member_dir: &Path, routes: &[(SocketAddr, SocketAddr)]) -> anyhow::Result<()> {
    let mut text = String::new();
    for (real, proxy) in routes {
        let _ = writeln!(
            text,
            "{} {} {} {}",
            real.ip(),
            real.port(),
            proxy.ip(),
            proxy.port()
        );
    }
    fs::write(member_dir.join(ROUTES_FILE), text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::{Ipv4Addr, TcpListener};
    use std::process::Command;

    /// Connects to the IPv4 address and port given as arguments (`-6`: through an IPv6
    /// socket and an IPv4-mapped address, as a JVM does) and copies what it reads to stdout.
    const PROBE: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 4) { return 2; }
    int v6 = strcmp(argv[1], "-6") == 0;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    int r;
    if (v6) {
        struct sockaddr_in6 a = {0};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(atoi(argv[3]));
        char mapped[64];
        snprintf(mapped, sizeof mapped, "::ffff:%s", argv[2]);
        inet_pton(AF_INET6, mapped, &a.sin6_addr);
        r = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(argv[3]));
        inet_pton(AF_INET, argv[2], &a.sin_addr);
        r = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (r != 0) { perror("connect"); return 1; }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) { fwrite(buf, 1, n, stdout); }
    return 0;
}
"#;

    /// Answers each connection with `greeting`, for at most `count` connections.
    fn greeter(greeting: &'static [u8], count: usize) -> SocketAddr {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().take(count) {
                let Ok(mut s) = s else { return };
                let _ = s.write_all(greeting);
            }
        });
        addr
    }

    #[test]
    fn a_connect_to_a_routed_address_reaches_the_proxy_and_others_are_left_alone() {
        let (dir, library) = preload::test_shim(build_shim);
        preload::build_probe(dir.path(), PROBE);
        let proxy = greeter(b"proxy", 2);
        let direct = greeter(b"direct", 1);
        // An address nothing listens on: only the route makes a connect to it succeed.
        let real: SocketAddr = "127.0.0.1:1".parse().unwrap();
        write_routes(dir.path(), &[(real, proxy)]).unwrap();
        let run = |args: &[String]| {
            let out = Command::new("env")
                .arg(format!("LD_PRELOAD={}", library.display()))
                .arg(shim_env())
                .arg("./probe")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let to = |family: &str, a: SocketAddr| {
            vec![family.to_string(), a.ip().to_string(), a.port().to_string()]
        };
        assert_eq!(run(&to("-4", real)), "proxy");
        assert_eq!(run(&to("-6", real)), "proxy");
        assert_eq!(run(&to("-4", direct)), "direct");
    }
}
