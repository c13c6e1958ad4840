//! A TCP proxy on 127.0.0.1 between a client and the server, so a test can cut the client's
//! connection (forcing a reconnect) or keep it away from the server for a while.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards every connection made to [`TcpProxy::connect_string`] to the upstream address.
/// Must be created inside a tokio runtime; its tasks end when it is dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    /// Generation counter: bumping it cuts every open connection.
    cut: Arc<watch::Sender<u64>>,
    /// While true, new connections are closed at once instead of being forwarded.
    blocked: Arc<watch::Sender<bool>>,
    accept_task: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, _) = watch::channel(0u64);
        let (blocked, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let blocked = Arc::new(blocked);
        let (cut2, blocked2) = (cut.clone(), blocked.clone());
        let accept_task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                if *blocked2.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                cut_rx.borrow_and_update();
                conns.spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                    // Dropping both halves closes both sockets.
                });
                // Reap finished connection tasks without blocking the accept loop.
                while conns.try_join_next().is_some() {}
            }
        });
        TcpProxy {
            addr,
            cut,
            blocked,
            accept_task,
        }
    }

    /// `127.0.0.1:<proxy port>`, to give to the client instead of the server's address.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Closes every connection going through the proxy now. The client will reconnect.
    pub fn cut_connections(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// While blocked, the proxy closes open connections and hangs up on new ones at once, so
    /// the client cannot reach the server.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.send_replace(blocked);
        if blocked {
            self.cut_connections();
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        self.accept_task.abort();
    }
}
