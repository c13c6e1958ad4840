//! The gateway's HTTP/JSON API, answered from the watch-driven [`Snapshot`]:
//!
//! * `GET /services`: every service with its number of live members, and the members
//!   left out because their data is not an address (`problems`);
//! * `GET /services/NAME`: the service's live members;
//! * either with `?index=N&wait=SECONDS`: a long poll that answers as soon as the
//!   registry's (or the service's) index is above `N`, or after `SECONDS` (at most 300)
//!   with the unchanged answer. Every answer carries its `index` (also in the
//!   `X-Registry-Index` header) to pass to the next poll;
//! * `GET /endpointslices`: the Services and EndpointSlices the gateway would apply (when
//!   it knows its namespace and cluster), whether it applies them or not;
//! * `GET /healthz`, `GET /metrics` (Prometheus text).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::endpointslices::{mirror, Target};
use super::model::Snapshot;

/// The longest a long poll may wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// What the handlers read.
#[derive(Clone)]
pub struct Gateway {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Where the mirrored objects go, when the gateway knows.
    pub target: Option<Target>,
}

/// Serves until the task is dropped (which ends the open connections too).
pub async fn serve(listener: TcpListener, gateway: Gateway) {
    zkrs_server::serve_http(listener, move |req| {
        let gateway = gateway.clone();
        async move { handle(req, &gateway).await }
    })
    .await
}

async fn handle(req: Request<Incoming>, gateway: &Gateway) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
            None,
        );
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let (status, content_type, body, index) = answer(&path, &query, gateway).await;
    reply(status, content_type, body, index)
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    index: Option<u64>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(i) = index {
        r.headers_mut()
            .insert("x-registry-index", HeaderValue::from(i));
    }
    r
}

type Answer = (StatusCode, &'static str, String, Option<u64>);

/// The answer to a GET of `path?query`: status, content type, body and index.
pub async fn answer(path: &str, query: &str, gateway: &Gateway) -> Answer {
    let poll = match Poll::parse(query) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match path {
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".into(), None),
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics(&gateway.snapshots.borrow()),
            None,
        ),
        "/endpointslices" => match &gateway.target {
            Some(t) => {
                let snap = gateway.snapshots.borrow().clone();
                json_answer(&serde_json::to_value(mirror(t, &snap.view)), snap.index)
            }
            None => error(
                StatusCode::NOT_FOUND,
                "the gateway was started without --namespace and --cluster",
            ),
        },
        "/services" | "/services/" => {
            let snap = wait(gateway, &poll, |s| s.index).await;
            let services: serde_json::Map<String, Value> = snap
                .view
                .services
                .iter()
                .map(|(name, members)| (name.clone(), json!(members.len())))
                .collect();
            json_answer(
                &Ok(json!({
                    "index": snap.index,
                    "connected": snap.connected,
                    "services": services,
                    "problems": snap.view.problems,
                })),
                snap.index,
            )
        }
        _ => match path.strip_prefix("/services/") {
            Some(raw) if !raw.is_empty() && !raw.contains('/') => {
                let name = match percent_decode(raw) {
                    Some(n) => n,
                    None => return error(StatusCode::BAD_REQUEST, "bad percent-encoding"),
                };
                let snap = wait(gateway, &poll, |s| s.service_index(&name)).await;
                let index = snap.service_index(&name);
                match snap.view.services.get(&name) {
                    Some(members) => json_answer(
                        &Ok(json!({
                            "service": name,
                            "index": index,
                            "connected": snap.connected,
                            "members": members,
                        })),
                        index,
                    ),
                    None => {
                        let (status, ct, body, _) =
                            error(StatusCode::NOT_FOUND, &format!("no service {name:?}"));
                        (status, ct, body, Some(index))
                    }
                }
            }
            _ => error(StatusCode::NOT_FOUND, "not found"),
        },
    }
}

/// `?index=N&wait=SECONDS`.
#[derive(Debug, Default, PartialEq)]
struct Poll {
    index: Option<u64>,
    wait: Option<Duration>,
}

impl Poll {
    fn parse(query: &str) -> Result<Poll, String> {
        let mut p = Poll::default();
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "index" => {
                    p.index = Some(v.parse().map_err(|_| format!("bad index {v:?}"))?);
                }
                "wait" => {
                    let secs: f64 = v.parse().map_err(|_| format!("bad wait {v:?}"))?;
                    if !secs.is_finite() || secs < 0.0 {
                        return Err(format!("bad wait {v:?}"));
                    }
                    p.wait = Some(Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64())));
                }
                _ => {}
            }
        }
        Ok(p)
    }
}

/// The snapshot once `index_of` it is above the poll's index, or when the wait is over.
async fn wait(
    gateway: &Gateway,
    poll: &Poll,
    index_of: impl Fn(&Snapshot) -> u64,
) -> Arc<Snapshot> {
    let mut rx = gateway.snapshots.clone();
    let (Some(after), Some(wait)) = (poll.index, poll.wait) else {
        return rx.borrow_and_update().clone();
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let snap = rx.borrow_and_update().clone();
        if index_of(&snap) > after {
            return snap;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            // The wait is over, or the gateway is shutting down.
            _ => return rx.borrow().clone(),
        }
    }
}

fn json_answer(value: &Result<Value, serde_json::Error>, index: u64) -> Answer {
    match value {
        Ok(v) => (
            StatusCode::OK,
            "application/json",
            format!("{v:#}\n"),
            Some(index),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn error(status: StatusCode, message: &str) -> Answer {
    (
        status,
        "application/json",
        format!("{}\n", json!({ "error": message })),
        None,
    )
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn metrics(snap: &Snapshot) -> String {
    let members: usize = snap.view.services.values().map(Vec::len).sum();
    format!(
        "# HELP zkrs_registry_services Services in the registry.\n\
         # TYPE zkrs_registry_services gauge\nzkrs_registry_services {}\n\
         # HELP zkrs_registry_members Live members of all services.\n\
         # TYPE zkrs_registry_members gauge\nzkrs_registry_members {members}\n\
         # HELP zkrs_registry_problems Members left out because their data is not an address.\n\
         # TYPE zkrs_registry_problems gauge\nzkrs_registry_problems {}\n\
         # HELP zkrs_registry_connected Whether the gateway is connected to the ensemble.\n\
         # TYPE zkrs_registry_connected gauge\nzkrs_registry_connected {}\n\
         # HELP zkrs_registry_index Changes of the registry seen since the gateway started.\n\
         # TYPE zkrs_registry_index counter\nzkrs_registry_index {}\n",
        snap.view.services.len(),
        snap.view.problems.len(),
        u8::from(snap.connected),
        snap.index,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::RawTree;

    fn tree(nodes: &[(&str, &str)]) -> RawTree {
        nodes
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn gateway(nodes: &[(&str, &str)]) -> (watch::Sender<Arc<Snapshot>>, Gateway) {
        let snap = Snapshot::default().next(&tree(nodes), true);
        let (tx, rx) = watch::channel(Arc::new(snap));
        let target = Target {
            namespace: "ns".into(),
            cluster: "zk".into(),
            owner: None,
        };
        (
            tx,
            Gateway {
                snapshots: rx,
                target: Some(target),
            },
        )
    }

    fn body(a: &Answer) -> Value {
        serde_json::from_str(&a.2).unwrap_or_else(|e| panic!("{e}: {}", a.2))
    }

    #[tokio::test]
    async fn services_and_members_are_listed() {
        let (_tx, g) = gateway(&[
            ("hello/p1", "rmi://10.0.0.1:1099/Hello"),
            ("hello/bad", "nonsense"),
            ("Odd Name/p1", "10.0.0.2:80"),
        ]);
        let all = answer("/services", "", &g).await;
        assert_eq!(all.0, StatusCode::OK);
        let v = body(&all);
        assert_eq!(v["services"], json!({"hello": 1, "Odd Name": 1}));
        assert_eq!(v["problems"][0]["znode"], "hello/bad");
        let one = answer("/services/hello", "", &g).await;
        let v = body(&one);
        assert_eq!(v["members"][0]["endpoint"]["host"], "10.0.0.1");
        assert_eq!(v["members"][0]["address"], "rmi://10.0.0.1:1099/Hello");
        assert_eq!(one.3, Some(1));
        let odd = answer("/services/Odd%20Name", "", &g).await;
        assert_eq!(odd.0, StatusCode::OK);
        assert_eq!(
            answer("/services/none", "", &g).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(answer("/nowhere", "", &g).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            answer("/services", "wait=x", &g).await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            answer("/services/%zz", "", &g).await.0,
            StatusCode::BAD_REQUEST
        );
        let slices = body(&answer("/endpointslices", "", &g).await);
        assert_eq!(slices["endpointSlices"].as_array().unwrap().len(), 2);
        let m = answer("/metrics", "", &g).await;
        assert!(m.2.contains("zkrs_registry_members 2\n"), "{}", m.2);
    }

    #[tokio::test]
    async fn a_long_poll_wakes_on_a_change_of_its_service_only() {
        let (tx, g) = gateway(&[("a/1", "10.0.0.1:80"), ("b/1", "10.0.0.2:80")]);
        let poll = tokio::spawn({
            let g = g.clone();
            async move { answer("/services/a", "index=1&wait=60", &g).await }
        });
        // A change of another service does not answer the poll...
        tx.send_modify(|s| {
            *s = Arc::new(s.next(&tree(&[("a/1", "10.0.0.1:80")]), true));
        });
        // ...a change of its own does.
        tx.send_modify(|s| {
            *s = Arc::new(s.next(&tree(&[("a/2", "10.0.0.3:80")]), true));
        });
        let a = tokio::time::timeout(Duration::from_secs(30), poll)
            .await
            .expect("the poll answered")
            .unwrap();
        let v = body(&a);
        assert_eq!(v["index"], 3);
        assert_eq!(v["members"][0]["id"], "2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_without_change_answers_after_its_wait() {
        let (_tx, g) = gateway(&[("a/1", "10.0.0.1:80")]);
        let a = answer("/services/a", "index=1&wait=5", &g).await;
        assert_eq!(a.0, StatusCode::OK);
        assert_eq!(body(&a)["index"], 1);
        // An index already passed answers at once.
        let a = answer("/services/a", "index=0&wait=5", &g).await;
        assert_eq!(a.3, Some(1));
    }
}
