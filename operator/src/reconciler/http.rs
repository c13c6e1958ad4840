//! `/healthz` and `/metrics` on a small HTTP port: enough HTTP/1.1 for probes and
//! Prometheus, one request per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use super::metrics::Metrics;

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // A slow or silent client gets a few seconds, not a task forever.
            let served =
                tokio::time::timeout(Duration::from_secs(5), answer(stream, &metrics)).await;
            if !matches!(served, Ok(Ok(()))) {
                debug!(%peer, "HTTP request not answered");
            }
        });
    }
}

/// Binds the port (so the caller learns a bind failure at once).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // The request line and headers; the body (there is none for GET) is not read.
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let (status, content_type, body) = route(request.lines().next().unwrap_or_default(), metrics);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The answer to a request line: status, content type and body.
pub fn route(request_line: &str, metrics: &Metrics) -> (&'static str, &'static str, String) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "GET" {
        return (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        );
    }
    match path.split('?').next().unwrap_or_default() {
        "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
        "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_metrics_are_served_and_nothing_else() {
        let m = Metrics::default();
        assert_eq!(route("GET /healthz HTTP/1.1", &m).0, "200 OK");
        let (status, _, body) = route("GET /metrics HTTP/1.1", &m);
        assert_eq!(status, "200 OK");
        assert!(
            body.contains("zkrs_operator_reconciles_total 0\n"),
            "{body}"
        );
        assert_eq!(route("GET /other HTTP/1.1", &m).0, "404 Not Found");
        assert_eq!(
            route("POST /metrics HTTP/1.1", &m).0,
            "405 Method Not Allowed"
        );
    }

    #[tokio::test]
    async fn a_real_request_gets_the_metrics() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, Arc::new(Metrics::default())));
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_string(&mut out))
            .await
            .expect("answered in time")
            .unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("# TYPE zkrs_operator_leader gauge"), "{out}");
        server.abort();
    }
}
