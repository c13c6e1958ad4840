//! The network between members: one TCP proxy per member and peer and port, so that a
//! partition holds traffic without closing connections, and needs no privileges.
//!
//! A member binds only its own `server.N` line's address, so each member's zoo.cfg names
//! every *other* member at a proxy of its own (`127.0.0.1:<port>`): member i reaches member
//! j's quorum and election ports only through the proxies (i→j). A proxy forwards bytes in
//! both directions; while the link from i to j is cut it stops reading what i sends (so it
//! waits in the socket buffers, as packets a firewall drops are retransmitted), and while
//! the link from j to i is cut it stops reading what j answers. Connections stay open;
//! when the cut heals, the held bytes flow. Cuts are per direction, so one-way partitions
//! are possible.
//!
//! The election protocol needs one rewrite: a member's first message on an election
//! connection advertises its own election address, and the receiver with the higher id
//! closes the connection and dials back to that address (Apache's `QuorumCnxManager`
//! and zkrs both do). The proxy replaces the advertised address with the receiver's proxy
//! for the sender, so the dial-back goes through the proxies too.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Directed links that are cut: `(from, to)` member indexes; bytes from `from` to `to`
/// are held.
pub type Cuts = BTreeSet<(usize, usize)>;

/// Which of a member's peer ports a proxy stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerPort {
    Quorum,
    Election,
}

/// The proxies of an ensemble of `n` members.
pub struct Links {
    n: usize,
    control: watch::Sender<Arc<Cuts>>,
    /// `addrs[i][j]`: where member i reaches member j's (quorum, election) ports; unused on
    /// the diagonal.
    addrs: Vec<Vec<(SocketAddr, SocketAddr)>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Links {
    /// Binds a proxy for every ordered pair of members and every peer port, forwarding to
    /// `targets[j]` (member j's real (quorum, election) addresses).
    pub async fn start(targets: &[(SocketAddr, SocketAddr)]) -> std::io::Result<Links> {
        let n = targets.len();
        let (control, _) = watch::channel(Arc::new(Cuts::new()));
        let mut listeners = Vec::new();
        let mut addrs = vec![vec![(targets[0].0, targets[0].1); n]; n];
        for (i, row) in addrs.iter_mut().enumerate() {
            for (j, slot) in row.iter_mut().enumerate() {
                if i == j {
                    *slot = targets[i];
                    continue;
                }
                // Bound here and kept: no other process can take the port in between.
                let quorum = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                let election = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                *slot = (quorum.local_addr()?, election.local_addr()?);
                listeners.push((i, j, PeerPort::Quorum, quorum));
                listeners.push((i, j, PeerPort::Election, election));
            }
        }
        let mut tasks = Vec::new();
        for (i, j, port, listener) in listeners {
            let link = Link {
                from: i,
                to: j,
                port,
                upstream: match port {
                    PeerPort::Quorum => targets[j].0,
                    PeerPort::Election => targets[j].1,
                },
                // The receiver's proxy for the sender, advertised in the sender's place.
                advertise: addrs[j][i].1,
            };
            tasks.push(tokio::spawn(accept(listener, link, control.clone())));
        }
        Ok(Links {
            n,
            control,
            addrs,
            tasks,
        })
    }

    /// Where member `i` reaches member `j`: (quorum, election).
    pub fn view(&self, i: usize, j: usize) -> (SocketAddr, SocketAddr) {
        self.addrs[i][j]
    }

    /// Cuts exactly `cuts` (and heals every other link).
    pub fn set(&self, cuts: Cuts) {
        assert!(
            cuts.iter()
                .all(|&(a, b)| a < self.n && b < self.n && a != b),
            "links between distinct members only: {cuts:?}"
        );
        self.control.send_replace(Arc::new(cuts));
    }

    /// Heals every link.
    pub fn heal(&self) {
        self.set(Cuts::new());
    }

    /// The links cut now.
    pub fn cuts(&self) -> Cuts {
        (**self.control.borrow()).clone()
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Clone, Copy)]
struct Link {
    from: usize,
    to: usize,
    port: PeerPort,
    upstream: SocketAddr,
    advertise: SocketAddr,
}

async fn accept(listener: TcpListener, link: Link, control: watch::Sender<Arc<Cuts>>) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        let rx = control.subscribe();
        conns.spawn(async move {
            let Some(server) = connect_upstream(link.upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            forward(client, server, link, rx).await;
        });
        while conns.try_join_next().is_some() {}
    }
}

/// How long a proxy keeps trying to reach a member that refuses connections.
const UPSTREAM_WAIT: Duration = Duration::from_secs(3);

/// Connects to `upstream`, retrying while it refuses for up to [`UPSTREAM_WAIT`].
///
/// The kernel accepts a connection to the proxy before the proxy knows whether the member
/// behind it listens. Without the proxy, a learner dialing a leader that has not opened
/// its quorum port yet is refused and tries again (Apache and zkrs retry for `initLimit`);
/// with it, the learner would see its connection reset instead and give up on that
/// leader. Waiting here keeps the learner's view the same: its connection goes through
/// once the port opens.
async fn connect_upstream(upstream: SocketAddr) -> Option<TcpStream> {
    let deadline = tokio::time::Instant::now() + UPSTREAM_WAIT;
    loop {
        match TcpStream::connect(upstream).await {
            Ok(s) => return Some(s),
            Err(_) if tokio::time::Instant::now() < deadline => {
                // Polling interval of a bounded wait for the port to open.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return None,
        }
    }
}

/// Apache's election protocol versions (`QuorumCnxManager.PROTOCOL_VERSION_V1/V2`); a
/// non-negative first long is a bare server id (the oldest form, no address).
const ELECTION_VERSIONS: [i64; 2] = [-65536, -65535];

/// The longest initial message accepted for rewriting (Apache's limit is far larger, but
/// an address list is short).
const MAX_INITIAL: usize = 4096;

/// Reads an election connection's initial message from `client` and returns it with the
/// advertised address replaced by `advertise`; anything that is not an initial message of
/// a known version is passed on unchanged.
async fn rewrite_initial(
    client: &mut TcpStream,
    advertise: SocketAddr,
) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 20];
    client.read_exact(&mut head[..8]).await?;
    let version = i64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    if !ELECTION_VERSIONS.contains(&version) {
        return Ok(head[..8].to_vec());
    }
    client.read_exact(&mut head[8..20]).await?;
    let len = i32::from_be_bytes(head[16..20].try_into().expect("4 bytes"));
    if len <= 0 || len as usize > MAX_INITIAL {
        return Ok(head.to_vec());
    }
    let mut addr = vec![0u8; len as usize];
    client.read_exact(&mut addr).await?;
    let new = advertise.to_string().into_bytes();
    let mut out = head[..16].to_vec();
    out.extend_from_slice(&(new.len() as i32).to_be_bytes());
    out.extend_from_slice(&new);
    Ok(out)
}

async fn forward(
    mut client: TcpStream,
    mut server: TcpStream,
    link: Link,
    mut rx: watch::Receiver<Arc<Cuts>>,
) {
    let mut pending = Vec::new();
    if link.port == PeerPort::Election {
        match rewrite_initial(&mut client, link.advertise).await {
            Ok(bytes) => pending = bytes,
            Err(_) => return,
        }
    }
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        let cuts = rx.borrow_and_update().clone();
        let up_open = !cuts.contains(&(link.from, link.to));
        let down_open = !cuts.contains(&(link.to, link.from));
        if up_open && !pending.is_empty() {
            if server.write_all(&pending).await.is_err() {
                return;
            }
            pending.clear();
        }
        tokio::select! {
            r = client.read(&mut up), if up_open => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if server.write_all(&up[..n]).await.is_err() { return },
            },
            r = server.read(&mut down), if down_open => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if client.write_all(&down[..n]).await.is_err() { return },
            },
            r = rx.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, task)
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8], limit: Duration) -> Option<Vec<u8>> {
        s.write_all(msg).await.ok()?;
        let mut buf = vec![0u8; msg.len()];
        tokio::time::timeout(limit, s.read_exact(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(buf)
    }

    #[tokio::test]
    async fn a_cut_holds_bytes_without_closing_and_a_heal_delivers_them() {
        let (a, _ta) = echo_server().await;
        let (b, _tb) = echo_server().await;
        let links = Links::start(&[(a, a), (b, b)]).await.unwrap();
        let (to_b, _) = links.view(0, 1);
        let mut s = TcpStream::connect(to_b).await.unwrap();
        assert_eq!(
            roundtrip(&mut s, b"ping", Duration::from_secs(5)).await,
            Some(b"ping".to_vec())
        );
        // Member 0 -> 1 cut: nothing comes back, and the connection stays open.
        links.set(Cuts::from([(0, 1)]));
        assert_eq!(
            roundtrip(&mut s, b"held", Duration::from_millis(300)).await,
            None
        );
        links.heal();
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
            .await
            .expect("the held bytes arrive after the heal")
            .unwrap();
        assert_eq!(&buf, b"held");
    }

    #[tokio::test]
    async fn a_one_way_cut_stops_the_answers_only() {
        let (a, _ta) = echo_server().await;
        let (b, _tb) = echo_server().await;
        let links = Links::start(&[(a, a), (b, b)]).await.unwrap();
        let (to_b, _) = links.view(0, 1);
        let mut s = TcpStream::connect(to_b).await.unwrap();
        links.set(Cuts::from([(1, 0)]));
        // The request goes through (the echo server reads it) but the echo is held.
        assert_eq!(
            roundtrip(&mut s, b"ping", Duration::from_millis(300)).await,
            None
        );
        links.heal();
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
            .await
            .expect("the echo arrives after the heal")
            .unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[tokio::test]
    async fn the_election_hello_advertises_the_receivers_proxy_for_the_sender() {
        let (a, _ta) = echo_server().await;
        let (b, _tb) = echo_server().await;
        let links = Links::start(&[(a, a), (b, b)]).await.unwrap();
        let (_, election_to_b) = links.view(0, 1);
        let (_, back_to_a) = links.view(1, 0);
        let mut s = TcpStream::connect(election_to_b).await.unwrap();
        let own = b"127.1.0.1:3888";
        let mut hello = (-65536i64).to_be_bytes().to_vec();
        hello.extend_from_slice(&1i64.to_be_bytes());
        hello.extend_from_slice(&(own.len() as i32).to_be_bytes());
        hello.extend_from_slice(own);
        s.write_all(&hello).await.unwrap();
        // The echo is what member 1 received.
        let advertised = back_to_a.to_string().into_bytes();
        let mut got = vec![0u8; 20 + advertised.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
            .await
            .expect("echo")
            .unwrap();
        assert_eq!(&got[..16], &hello[..16]);
        assert_eq!(
            i32::from_be_bytes(got[16..20].try_into().unwrap()) as usize,
            advertised.len()
        );
        assert_eq!(&got[20..], &advertised[..]);
    }
}
