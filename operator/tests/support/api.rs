//! An in-memory API server for the operator's own `kube::Client`: objects kept as JSON by
//! path, with just the semantics the reconciler relies on (server-side apply replaces the
//! applied fields and keeps the status, a spec change bumps `generation`, the status
//! subresource, create with 409 on a clash, list by collection, delete). It answers through
//! tower-test's mock service, so the client is kube's real one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The objects, by their API path (`/apis/apps/v1/namespaces/ns/statefulsets/zk`).
#[derive(Clone, Default)]
pub struct Store(Arc<Mutex<BTreeMap<String, Value>>>);

impl Store {
    pub fn get(&self, path: &str) -> Option<Value> {
        self.lock().get(path).cloned()
    }

    pub fn put(&self, path: &str, object: Value) {
        self.lock().insert(path.to_string(), object);
    }

    pub fn remove(&self, path: &str) {
        self.lock().remove(path);
    }

    /// Changes an object in place (the test editing the spec, the StatefulSet controller
    /// writing its status).
    pub fn update(&self, path: &str, f: impl FnOnce(&mut Value)) {
        if let Some(o) = self.lock().get_mut(path) {
            f(o);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A client of this store, served until the client and its clones are dropped.
    pub fn client(&self) -> Client {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        tokio::spawn(serve(self.clone(), handle));
        Client::new(service, "default")
    }

    fn answer(&self, method: &Method, path: &str, body: Value) -> (u16, Value) {
        let mut objects = self.lock();
        match *method {
            Method::GET => match objects.get(path) {
                Some(o) => (200, o.clone()),
                None => {
                    // A list: every object directly under the collection's path.
                    let prefix = format!("{path}/");
                    let items: Vec<Value> = objects
                        .iter()
                        .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
                        .map(|(_, o)| o.clone())
                        .collect();
                    if is_collection(path) {
                        (
                            200,
                            json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}),
                        )
                    } else {
                        not_found()
                    }
                }
            },
            Method::POST => {
                let name = body["metadata"]["name"].as_str().unwrap_or_default();
                let at = format!("{path}/{name}");
                if objects.contains_key(&at) {
                    return (
                        409,
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "reason": "AlreadyExists", "code": 409}),
                    );
                }
                objects.insert(at, body.clone());
                (201, body)
            }
            Method::PATCH => {
                if let Some(owner) = path.strip_suffix("/status") {
                    let Some(o) = objects.get_mut(owner) else {
                        return not_found();
                    };
                    o["status"] = body["status"].clone();
                    return (200, o.clone());
                }
                let mut applied = body;
                let old = objects.get(path).cloned();
                let generation = old
                    .as_ref()
                    .and_then(|o| o["metadata"]["generation"].as_i64())
                    .unwrap_or(0);
                let changed = old.as_ref().is_none_or(|o| o["spec"] != applied["spec"]);
                applied["metadata"]["generation"] =
                    json!(if changed { generation + 1 } else { generation });
                if let Some(status) = old.as_ref().and_then(|o| o.get("status")) {
                    applied["status"] = status.clone();
                }
                objects.insert(path.to_string(), applied.clone());
                (200, applied)
            }
            Method::DELETE => match objects.remove(path) {
                Some(_) => (
                    200,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
                ),
                None => not_found(),
            },
            _ => (405, json!({})),
        }
    }
}

/// Whether a path names a collection (`.../namespaces/ns/services`), not an object.
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    parts.len() >= 3 && parts[parts.len() - 3] == "namespaces"
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "not found", "reason": "NotFound", "code": 404}),
    )
}

async fn serve(store: Store, mut handle: Handle) {
    while let Some((request, send)) = handle.next_request().await {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (status, response) = store.answer(&method, &path, body);
        let mut reply = Response::new(Body::from(
            serde_json::to_vec(&response).unwrap_or_default(),
        ));
        *reply.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        send.send_response(reply);
    }
}
