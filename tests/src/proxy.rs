//! A TCP proxy on 127.0.0.1 between a client and a server, so a test can cut the client's
//! connections (forcing a reconnect), refuse new ones for a while, or freeze them: a frozen
//! connection stays open but forwards nothing any more, so a client's request stays in
//! flight and its pings go unanswered.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, Default)]
struct Control {
    /// Bumped to close every open connection.
    cut: u64,
    /// Bumped to freeze every open connection.
    freeze: u64,
    /// New connections are closed at once.
    blocked: bool,
}

/// Forwards connections made to [`TcpProxy::connect_string`] to `upstream`. Its tasks end when
/// it is dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    forwarded: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (control, _) = watch::channel(Control::default());
        let ctl = control.clone();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let count = forwarded.clone();
        let accept = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let mut rx = ctl.subscribe();
                let at = *rx.borrow_and_update();
                if at.blocked {
                    drop(client);
                    continue;
                }
                count.fetch_add(1, Ordering::SeqCst);
                conns.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    forward(client, server, rx, at).await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        TcpProxy {
            addr,
            control,
            forwarded,
            accept,
        }
    }

    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections were forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// Closes every connection open now.
    pub fn cut(&self) {
        self.control.send_modify(|c| c.cut += 1);
    }

    /// While blocked, open connections are closed and new ones refused.
    pub fn set_blocked(&self, blocked: bool) {
        self.control.send_modify(|c| {
            c.blocked = blocked;
            if blocked {
                c.cut += 1;
            }
        });
    }

    /// Stops forwarding on every connection open now, without closing them. Connections
    /// made later are forwarded normally.
    pub fn freeze(&self) {
        self.control.send_modify(|c| c.freeze += 1);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn forward(
    mut client: TcpStream,
    mut server: TcpStream,
    mut rx: watch::Receiver<Control>,
    at: Control,
) {
    let mut frozen = false;
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            r = client.read(&mut up), if !frozen => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if server.write_all(&up[..n]).await.is_err() { return },
            },
            r = server.read(&mut down), if !frozen => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if client.write_all(&down[..n]).await.is_err() { return },
            },
            r = rx.changed() => {
                if r.is_err() {
                    return;
                }
                let now = *rx.borrow_and_update();
                if now.cut != at.cut {
                    return;
                }
                if now.freeze != at.freeze {
                    frozen = true;
                }
            }
        }
    }
}
