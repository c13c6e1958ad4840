//! The mirror's API calls against a mocked API server: each scenario pins the method, path
//! and body of every request in order, and that nothing else is asked.

use http::{Method, Request, Response};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

use super::{sync, Applied};
use crate::registry::endpointslices::{mirror, Target};
use crate::registry::model::{view, RawTree};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
/// An assertion on a request body.
type BodyCheck = Box<dyn Fn(&Value) + Send>;

const NS: &str = "/api/v1/namespaces/ns";
const DISCOVERY: &str = "/apis/discovery.k8s.io/v1/namespaces/ns";
const SELECTOR: &str = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dzkrs-registry%2Capp.kubernetes.io%2Finstance%3Dzk";

/// One expected request and the answer to it.
struct Step {
    method: Method,
    path: String,
    check: Option<BodyCheck>,
    status: u16,
    response: Value,
}

fn step(method: Method, path: &str, status: u16, response: Value) -> Step {
    Step {
        method,
        path: path.to_string(),
        check: None,
        status,
        response,
    }
}

fn applied(path: &str, check: impl Fn(&Value) + Send + 'static) -> Step {
    Step {
        check: Some(Box::new(check)),
        ..step(Method::PATCH, path, 200, Value::Null)
    }
}

fn list(kind: &str, api_version: &str, names: &[&str]) -> Value {
    let items: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({"apiVersion": api_version, "kind": kind, "addressType": "IPv4",
                        "metadata": {"name": n, "namespace": "ns"}})
        })
        .collect();
    json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {}, "items": items})
}

fn deleted(path: &str) -> Step {
    step(
        Method::DELETE,
        path,
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    )
}

async fn serve(mut handle: Handle, steps: Vec<Step>) {
    for (i, s) in steps.into_iter().enumerate() {
        let (request, send) = handle
            .next_request()
            .await
            .unwrap_or_else(|| panic!("step {i}: expected {} {}, got nothing", s.method, s.path));
        let uri = request.uri().clone();
        assert_eq!(
            (request.method(), uri.path()),
            (&s.method, s.path.as_str()),
            "step {i}: {uri}"
        );
        let query = uri.query().unwrap_or_default();
        if s.method == Method::PATCH {
            assert!(
                query.contains("fieldManager=zkrs-registry") && query.contains("force=true"),
                "step {i}: server-side apply as zkrs-registry: {uri}"
            );
        }
        if s.method == Method::GET {
            assert!(query.contains(SELECTOR), "step {i}: listed by label: {uri}");
        }
        let body = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        if let Some(check) = &s.check {
            check(&body);
        }
        let response = if s.method == Method::PATCH && s.response.is_null() {
            body
        } else {
            s.response
        };
        send.send_response(
            Response::builder()
                .status(s.status)
                .body(Body::from(serde_json::to_vec(&response).unwrap()))
                .unwrap(),
        );
    }
    if let Some((request, _)) = handle.next_request().await {
        panic!("unexpected request {} {}", request.method(), request.uri());
    }
}

fn target() -> Target {
    Target {
        namespace: "ns".into(),
        cluster: "zk".into(),
        owner: None,
    }
}

fn tree(nodes: &[(&str, &str)]) -> RawTree {
    nodes
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// Runs syncs of the given trees one after the other against the steps.
async fn scenario(trees: Vec<RawTree>, steps: Vec<Step>) -> Vec<Result<Vec<String>, String>> {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(serve(handle, steps));
    let client = Client::new(service, "default");
    let mut state = Applied::default();
    let mut results = Vec::new();
    for t in trees {
        let m = mirror(&target(), &view(&t));
        results.push(
            sync(&client, &target(), &m, &mut state)
                .await
                .map_err(|e| e.to_string()),
        );
    }
    drop(client);
    server.await.unwrap();
    results
}

#[tokio::test]
async fn a_new_service_is_applied_service_first_then_its_slice() {
    let t = tree(&[("hello/provider0000000001", "rmi://10.0.0.1:1099/Hello")]);
    let results = scenario(
        vec![t],
        vec![
            applied(&format!("{NS}/services/zk-svc-hello"), |b| {
                assert_eq!(b["spec"]["clusterIP"], "None");
                assert_eq!(b["spec"]["ports"][0]["port"], 1099);
                assert!(b["spec"].get("selector").is_none(), "selector-less: {b}");
            }),
            applied(
                &format!("{DISCOVERY}/endpointslices/zk-svc-hello-ipv4-1099"),
                |b| {
                    assert_eq!(b["addressType"], "IPv4");
                    assert_eq!(
                        b["metadata"]["labels"]["kubernetes.io/service-name"],
                        "zk-svc-hello"
                    );
                    assert_eq!(b["endpoints"][0]["addresses"], json!(["10.0.0.1"]));
                    assert_eq!(b["ports"][0]["port"], 1099);
                },
            ),
            step(
                Method::GET,
                &format!("{DISCOVERY}/endpointslices"),
                200,
                list(
                    "EndpointSlice",
                    "discovery.k8s.io/v1",
                    &["zk-svc-hello-ipv4-1099"],
                ),
            ),
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", &["zk-svc-hello"]),
            ),
        ],
    )
    .await;
    assert_eq!(results, [Ok(vec![])]);
}

#[tokio::test]
async fn an_unchanged_object_is_not_applied_again_and_a_vanished_service_is_deleted() {
    let one = tree(&[("a/1", "10.0.0.1:80"), ("b/1", "10.0.0.2:80")]);
    let two = tree(&[("a/1", "10.0.0.1:80")]);
    let results = scenario(
        vec![one, two],
        vec![
            applied(&format!("{NS}/services/zk-svc-a"), |_| {}),
            applied(&format!("{NS}/services/zk-svc-b"), |_| {}),
            applied(
                &format!("{DISCOVERY}/endpointslices/zk-svc-a-ipv4-80"),
                |_| {},
            ),
            applied(
                &format!("{DISCOVERY}/endpointslices/zk-svc-b-ipv4-80"),
                |_| {},
            ),
            step(
                Method::GET,
                &format!("{DISCOVERY}/endpointslices"),
                200,
                list(
                    "EndpointSlice",
                    "discovery.k8s.io/v1",
                    &["zk-svc-a-ipv4-80", "zk-svc-b-ipv4-80"],
                ),
            ),
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", &["zk-svc-a", "zk-svc-b"]),
            ),
            // The second view: a's objects are as applied, b's are gone.
            step(
                Method::GET,
                &format!("{DISCOVERY}/endpointslices"),
                200,
                list(
                    "EndpointSlice",
                    "discovery.k8s.io/v1",
                    &["zk-svc-a-ipv4-80", "zk-svc-b-ipv4-80"],
                ),
            ),
            deleted(&format!("{DISCOVERY}/endpointslices/zk-svc-b-ipv4-80")),
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", &["zk-svc-a", "zk-svc-b"]),
            ),
            deleted(&format!("{NS}/services/zk-svc-b")),
        ],
    )
    .await;
    assert_eq!(
        results,
        [
            Ok(vec![]),
            Ok(vec![
                "EndpointSlice/zk-svc-b-ipv4-80".to_string(),
                "Service/zk-svc-b".to_string()
            ])
        ]
    );
}

#[tokio::test]
async fn a_failed_apply_stops_the_sync_and_is_tried_again_next_time() {
    let t = tree(&[("a/1", "10.0.0.1:80")]);
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": "forbidden", "reason": "Forbidden", "code": 403});
    let results = scenario(
        vec![t.clone(), t],
        vec![
            step(
                Method::PATCH,
                &format!("{NS}/services/zk-svc-a"),
                403,
                forbidden,
            ),
            // Nothing was recorded as applied, so the next sync applies again.
            applied(&format!("{NS}/services/zk-svc-a"), |_| {}),
            applied(
                &format!("{DISCOVERY}/endpointslices/zk-svc-a-ipv4-80"),
                |_| {},
            ),
            step(
                Method::GET,
                &format!("{DISCOVERY}/endpointslices"),
                200,
                list("EndpointSlice", "discovery.k8s.io/v1", &[]),
            ),
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", &[]),
            ),
        ],
    )
    .await;
    assert!(
        matches!(&results[0], Err(e) if e.contains("applying Service zk-svc-a")),
        "{results:?}"
    );
    assert_eq!(results[1], Ok(vec![]));
}

#[tokio::test]
async fn an_empty_registry_deletes_every_mirrored_object() {
    let results = scenario(
        vec![RawTree::new()],
        vec![
            step(
                Method::GET,
                &format!("{DISCOVERY}/endpointslices"),
                200,
                list(
                    "EndpointSlice",
                    "discovery.k8s.io/v1",
                    &["zk-svc-old-ipv4-80"],
                ),
            ),
            deleted(&format!("{DISCOVERY}/endpointslices/zk-svc-old-ipv4-80")),
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", &["zk-svc-old"]),
            ),
            deleted(&format!("{NS}/services/zk-svc-old")),
        ],
    )
    .await;
    assert_eq!(
        results,
        [Ok(vec![
            "EndpointSlice/zk-svc-old-ipv4-80".to_string(),
            "Service/zk-svc-old".to_string()
        ])]
    );
}
