//! `/healthz` and `/metrics` on a small HTTP port, for probes and Prometheus.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::net::TcpListener;

use super::metrics::Metrics;

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    zkrs_server::serve_http(listener, move |req| {
        let (status, content_type, body) = route(req.method().as_str(), req.uri().path(), &metrics);
        async move {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
    })
    .await
}

/// Binds the port (so the caller learns a bind failure at once).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// The answer to a request: status, content type and body.
pub fn route(method: &str, path: &str, metrics: &Metrics) -> (StatusCode, &'static str, String) {
    if method != "GET" {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".to_string(),
        );
    }
    match path {
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    #[test]
    fn health_and_metrics_are_served_and_nothing_else() {
        let m = Metrics::default();
        assert_eq!(route("GET", "/healthz", &m).0, StatusCode::OK);
        let (status, _, body) = route("GET", "/metrics", &m);
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("zkrs_operator_reconciles_total 0\n"),
            "{body}"
        );
        assert_eq!(route("GET", "/other", &m).0, StatusCode::NOT_FOUND);
        assert_eq!(
            route("POST", "/metrics", &m).0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn a_real_request_gets_the_metrics() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, Arc::new(Metrics::default())));
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
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
