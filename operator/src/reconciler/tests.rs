//! The reconciler's API calls against a mocked API server: each scenario pins the method,
//! path and body of every request in order, and that nothing else is asked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Method, Request, Response};
use k8s_openapi::api::coordination::v1::Lease;
use kube::client::Body;
use kube::{Api, Client};
use serde_json::{json, Value};

use super::ensemble::{Ensemble, EnsembleError};
use super::events::EventSink;
use super::lease::{try_hold, LeaseConfig};
use super::metrics::Metrics;
use super::run::wait_for_crd;
use super::{reconcile, Context};
use crate::addresses::PodDns;
use crate::builders::config_hash;
use crate::crd::{Member, ZooKeeperCluster};
use crate::planner::{EnsembleView, EventSpec, MemberMode, Reconfig};
use crate::testing::cluster_from_yaml;
use crate::validate::{validate, Cluster};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
/// An assertion on a request body.
type BodyCheck = Box<dyn Fn(&Value) + Send>;

/// One expected request and the answer to it.
struct Step {
    method: Method,
    path: String,
    /// Checks on the request body (parsed as JSON), if any.
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

fn checked(mut s: Step, check: impl Fn(&Value) + Send + 'static) -> Step {
    s.check = Some(Box::new(check));
    s
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "not found", "reason": "NotFound", "code": 404}),
    )
}

const PASSWORD: &str = "pw";

/// The super password's Secret: created with a random password when missing, else read.
fn secret_steps(exists: bool) -> Vec<Step> {
    let path = "/api/v1/namespaces/ns/secrets/zk-super";
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "zk-super", "namespace": "ns"},
        "data": {"password": "cHc=", "superDigest": "eA=="}});
    if exists {
        return vec![step(Method::GET, path, 200, secret)];
    }
    let (code, body) = not_found();
    vec![
        step(Method::GET, path, code, body),
        checked(
            step(Method::POST, "/api/v1/namespaces/ns/secrets", 201, secret),
            |b| {
                assert_eq!(b["metadata"]["ownerReferences"][0]["uid"], "u-1");
                assert_eq!(
                    b["data"]["password"].as_str().unwrap().len(),
                    64,
                    "48 hex digits"
                );
                assert!(b["data"]["superDigest"].is_string());
            },
        ),
    ]
}

fn conflict() -> (u16, Value) {
    (
        409,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Apply failed with 1 conflict", "reason": "Conflict", "code": 409}),
    )
}

/// Answers the steps in order, then checks that no further request comes before every
/// client is dropped (the handle then yields None). Returns the requests' bodies.
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
        if s.method == Method::PATCH {
            let query = uri.query().unwrap_or_default();
            assert!(
                query.contains("fieldManager=zkrs-operator") && query.contains("force=true"),
                "step {i}: server-side apply as zkrs-operator: {uri}"
            );
            let content_type = request
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(
                content_type.as_deref(),
                Some("application/apply-patch+yaml"),
                "step {i}"
            );
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
        // An apply answers with the object as applied: echo it.
        let response = if s.status == 200 && s.method == Method::PATCH && s.response.is_null() {
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

#[derive(Default)]
struct CapturedEvents(Mutex<Vec<EventSpec>>);

impl EventSink for CapturedEvents {
    fn publish<'a>(&'a self, _zkc: &'a ZooKeeperCluster, e: &'a EventSpec) -> BoxFuture<'a, ()> {
        self.0.lock().unwrap().push(e.clone());
        Box::pin(async {})
    }
}

impl CapturedEvents {
    fn reasons(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(|e| e.reason).collect()
    }
}

/// An ensemble that answers with a fixed view and records the reconfigs asked of it.
struct FixedEnsemble(Option<EnsembleView>, Mutex<Vec<(Reconfig, String)>>);

impl Ensemble for FixedEnsemble {
    fn observe<'a>(
        &'a self,
        _c: &'a Cluster,
        _pods: u32,
    ) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>> {
        let answer = self
            .0
            .clone()
            .ok_or_else(|| EnsembleError::Config("no answer".to_string()));
        Box::pin(async move { answer })
    }

    fn reconfig<'a>(
        &'a self,
        _c: &'a Cluster,
        _pods: u32,
        change: Reconfig,
        password: &'a str,
    ) -> BoxFuture<'a, Result<String, EnsembleError>> {
        self.1.lock().unwrap().push((change, password.to_string()));
        Box::pin(async { Ok("200000002".to_string()) })
    }
}

struct Harness {
    ctx: Arc<Context>,
    events: Arc<CapturedEvents>,
    ensemble: Arc<FixedEnsemble>,
    server: tokio::task::JoinHandle<()>,
}

fn harness(steps: Vec<Step>, ensemble: Option<EnsembleView>) -> Harness {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let events = Arc::new(CapturedEvents::default());
    let fixed = Arc::new(FixedEnsemble(ensemble, Mutex::default()));
    let ctx = Arc::new(Context {
        client,
        addresses: Arc::new(PodDns),
        ensemble: fixed.clone(),
        events: events.clone(),
        metrics: Arc::new(Metrics::default()),
    });
    Harness {
        ctx,
        events,
        ensemble: fixed,
        server: tokio::spawn(serve(handle, steps)),
    }
}

impl Harness {
    /// Drops the client and waits for the mock server to have seen every step (bounded).
    async fn finish(self) -> Arc<CapturedEvents> {
        drop(self.ctx);
        tokio::time::timeout(Duration::from_secs(60), self.server)
            .await
            .expect("the mock server finished")
            .expect("every request was the expected one");
        self.events
    }
}

const NS: &str = "/api/v1/namespaces/ns";
const APPS: &str = "/apis/apps/v1/namespaces/ns";
const POLICY: &str = "/apis/policy/v1/namespaces/ns";
const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/ns";
const ZKC: &str = "/apis/zkrs.io/v1alpha1/namespaces/ns/zookeeperclusters/zk/status";

fn cluster(spec: &str) -> ZooKeeperCluster {
    cluster_from_yaml(&format!(
        "metadata: {{name: zk, namespace: ns, uid: u-1, generation: 2}}\nspec: {spec}\n"
    ))
}

/// A StatefulSet as the API server would return it for a running cluster of `replicas`.
fn running_sts(zkc: &ZooKeeperCluster, replicas: i32, ready: i32) -> Value {
    let c = validate(zkc).unwrap();
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "zk", "namespace": "ns", "generation": 1},
        "spec": {
            "replicas": replicas, "serviceName": "zk-hs",
            "selector": {"matchLabels": {"app.kubernetes.io/instance": "zk"}},
            "template": {"metadata": {"annotations": {"zkrs.io/config-hash": config_hash(&c)}}}
        },
        "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                   "observedGeneration": 1, "currentRevision": "r1", "updateRevision": "r1"}
    })
}

/// The apply steps for every object of an enabled-defaults cluster, in order: a
/// StatefulSet of `replicas` and, when the voters are known, the members ConfigMap.
fn apply_steps(replicas: i32, voters: Option<&'static str>) -> Vec<Step> {
    let mut steps = vec![
        checked(
            step(
                Method::PATCH,
                &format!("{NS}/configmaps/zk-config"),
                200,
                Value::Null,
            ),
            |b| {
                assert_eq!(b["kind"], "ConfigMap");
                assert_eq!(b["metadata"]["ownerReferences"][0]["uid"], "u-1");
                let cfg = b["data"]["zoo.cfg"].as_str().unwrap();
                assert!(cfg.contains("reconfigEnabled=true\n"), "{cfg}");
                assert!(
                    !cfg.contains("server."),
                    "the members are in their own ConfigMap"
                );
            },
        ),
        checked(
            step(
                Method::PATCH,
                &format!("{NS}/services/zk-hs"),
                200,
                Value::Null,
            ),
            |b| assert_eq!(b["spec"]["publishNotReadyAddresses"], true),
        ),
        step(
            Method::PATCH,
            &format!("{NS}/services/zk"),
            200,
            Value::Null,
        ),
        step(
            Method::PATCH,
            &format!("{NS}/services/zk-admin"),
            200,
            Value::Null,
        ),
        checked(
            step(
                Method::PATCH,
                &format!("{APPS}/statefulsets/zk"),
                200,
                Value::Null,
            ),
            move |b| {
                assert_eq!(b["kind"], "StatefulSet");
                assert_eq!(b["spec"]["replicas"], replicas);
                assert!(b.get("status").is_none(), "an apply never carries status");
            },
        ),
        checked(
            step(
                Method::PATCH,
                &format!("{POLICY}/poddisruptionbudgets/zk"),
                200,
                Value::Null,
            ),
            |b| assert_eq!(b["spec"]["maxUnavailable"], 1),
        ),
    ];
    if let Some(voters) = voters {
        let at = steps.len() - 2;
        steps.insert(
            at,
            checked(
                step(
                    Method::PATCH,
                    &format!("{NS}/configmaps/zk-members"),
                    200,
                    Value::Null,
                ),
                move |b| {
                    assert_eq!(b["data"]["voters"], format!("{voters}\n"));
                    let servers = b["data"]["servers"].as_str().unwrap();
                    assert!(servers.contains(
                        "server.4=zk-3.zk-hs.ns.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"
                    ));
                    assert_eq!(servers.lines().count(), 15);
                },
            ),
        );
    }
    steps
}

/// The members' pods, listed for their revisions: all current.
fn pods_step() -> Step {
    step(
        Method::GET,
        &format!("{NS}/pods"),
        200,
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}),
    )
}

fn list(kind: &str, api_version: &str, names: &[&str]) -> Value {
    let items: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({"apiVersion": api_version, "kind": kind,
                   "metadata": {"name": n, "namespace": "ns",
                                "labels": {"app.kubernetes.io/instance": "zk"},
                                "ownerReferences": [{"apiVersion": "zkrs.io/v1alpha1",
                                    "kind": "ZooKeeperCluster", "name": "zk", "uid": "u-1"}]}})
        })
        .collect();
    json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {}, "items": items})
}

fn prune_steps(services: &[&str], pdbs: &[&str]) -> Vec<Step> {
    let selector = |b: &Value| assert_eq!(b, &Value::Null);
    let mut steps = vec![
        checked(
            step(
                Method::GET,
                &format!("{NS}/services"),
                200,
                list("Service", "v1", services),
            ),
            selector,
        ),
        step(
            Method::GET,
            &format!("{POLICY}/poddisruptionbudgets"),
            200,
            list("PodDisruptionBudget", "policy/v1", pdbs),
        ),
    ];
    steps.extend(registry_prune_steps(&[]));
    steps
}

/// The lists of the registry gateway's kinds, each holding `names`.
fn registry_prune_steps(names: &[&str]) -> Vec<Step> {
    vec![
        step(
            Method::GET,
            &format!("{APPS}/deployments"),
            200,
            list("Deployment", "apps/v1", names),
        ),
        step(
            Method::GET,
            &format!("{RBAC}/rolebindings"),
            200,
            list("RoleBinding", "rbac.authorization.k8s.io/v1", names),
        ),
        step(
            Method::GET,
            &format!("{NS}/serviceaccounts"),
            200,
            list("ServiceAccount", "v1", names),
        ),
    ]
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} in {status}"))
}

fn status_step(zkc: &ZooKeeperCluster, check: impl Fn(&Value) + Send + 'static) -> Step {
    checked(
        step(Method::PATCH, ZKC, 200, serde_json::to_value(zkc).unwrap()),
        move |b| {
            assert_eq!(b["kind"], "ZooKeeperCluster");
            assert!(
                b.get("spec").is_none(),
                "the status write never touches the spec"
            );
            check(&b["status"]);
        },
    )
}

#[tokio::test]
async fn a_new_cluster_gets_every_object_in_order_then_its_status() {
    let zkc = cluster("{}");
    let (code, body) = not_found();
    let mut steps = secret_steps(false);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        code,
        body,
    ));
    steps.extend(apply_steps(3, Some("1,2,3")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&zkc, |s| {
        assert_eq!(s["phase"], "Pending");
        assert_eq!(s["replicas"], 3);
        assert_eq!(s["readyReplicas"], 0);
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(
            s["selector"],
            "app.kubernetes.io/instance=zk,app.kubernetes.io/name=zookeeper"
        );
        let p = condition(s, "Progressing");
        assert_eq!(
            (&p["status"], &p["reason"]),
            (&json!("True"), &json!("Creating"))
        );
        assert_eq!(p["observedGeneration"], 2);
        assert_eq!(condition(s, "Available")["status"], "False");
    }));
    let h = harness(steps, None);
    let action = reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap();
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(crate::planner::REQUEUE_BUSY)
    );
    assert_eq!(h.finish().await.reasons(), ["Creating"]);
}

#[tokio::test]
async fn an_object_the_spec_no_longer_asks_for_is_deleted() {
    let zkc = cluster("{}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&zkc, 3, 3),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(3, None));
    steps.extend(prune_steps(
        &["zk-hs", "zk", "zk-admin", "zk-registry"],
        &["zk"],
    ));
    let after_services_list = 1 + steps
        .iter()
        .position(|s| s.method == Method::GET && s.path == format!("{NS}/services"))
        .unwrap();
    steps.insert(
        after_services_list,
        step(
            Method::DELETE,
            &format!("{NS}/services/zk-registry"),
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
        ),
    );
    steps.push(status_step(&zkc, |s| {
        assert_eq!(s["phase"], "Running");
        assert_eq!(condition(s, "Available")["status"], "True");
        assert_eq!(condition(s, "Progressing")["reason"], "Reconciled");
    }));
    let h = harness(steps, None);
    reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap();
    assert_eq!(h.finish().await.reasons(), ["Deleted"]);
}

#[tokio::test]
async fn the_registry_gateway_is_deleted_when_the_registry_is_turned_off() {
    let zkc = cluster("{}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&zkc, 3, 3),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(3, None));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    // The gateway's objects, left from when spec.registry.enabled was true.
    steps.truncate(steps.len() - 3);
    let gone = |path: String| {
        step(
            Method::DELETE,
            &path,
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
        )
    };
    let mut lists = registry_prune_steps(&["zk-registry"]).into_iter();
    steps.push(lists.next().unwrap());
    steps.push(gone(format!("{APPS}/deployments/zk-registry")));
    steps.push(lists.next().unwrap());
    steps.push(gone(format!("{RBAC}/rolebindings/zk-registry")));
    steps.push(lists.next().unwrap());
    steps.push(gone(format!("{NS}/serviceaccounts/zk-registry")));
    steps.push(status_step(&zkc, |s| assert_eq!(s["phase"], "Running")));
    let h = harness(steps, None);
    reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap();
    assert_eq!(
        h.finish().await.reasons(),
        ["Deleted", "Deleted", "Deleted"]
    );
}

#[tokio::test]
async fn a_conflict_stops_the_apply_and_the_status_says_why() {
    let zkc = cluster("{}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&zkc, 3, 3),
    ));
    steps.push(pods_step());
    let mut applies = apply_steps(3, None);
    applies.truncate(4); // ConfigMap and the three Services succeed.
    steps.extend(applies);
    let (code, body) = conflict();
    steps.push(step(
        Method::PATCH,
        &format!("{APPS}/statefulsets/zk"),
        code,
        body,
    ));
    // No PDB apply and no orphan sweep after a failure: straight to the status.
    steps.push(status_step(&zkc, |s| {
        let p = condition(s, "Progressing");
        assert_eq!(
            (&p["status"], &p["reason"]),
            (&json!("False"), &json!("ApplyConflict"))
        );
        assert!(
            p["message"].as_str().unwrap().contains("StatefulSet zk"),
            "{p}"
        );
        assert_eq!(condition(s, "Available")["status"], "True");
    }));
    let h = harness(steps, None);
    let err = reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap_err();
    assert_eq!(err.category(), "ApplyConflict");
    let metrics = h.ctx.metrics.render();
    assert!(
        metrics.contains("zkrs_operator_reconcile_failures_total{category=\"ApplyConflict\"} 1"),
        "{metrics}"
    );
    assert_eq!(h.finish().await.reasons(), ["ApplyConflict"]);
}

#[tokio::test]
async fn a_failed_status_write_is_an_error_too() {
    let zkc = cluster("{replicas: 4}");
    let (code, body) = not_found();
    let (c409, b409) = conflict();
    let steps = vec![
        step(Method::GET, &format!("{APPS}/statefulsets/zk"), code, body),
        step(Method::PATCH, ZKC, c409, b409),
    ];
    let h = harness(steps, None);
    let err = reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap_err();
    assert_eq!(err.category(), "StatusFailed");
    h.finish().await;
}

#[tokio::test]
async fn an_invalid_spec_applies_nothing_and_is_reported() {
    let zkc = cluster("{replicas: 4}");
    let (code, body) = not_found();
    let steps = vec![
        step(Method::GET, &format!("{APPS}/statefulsets/zk"), code, body),
        status_step(&zkc, |s| {
            assert_eq!(s["phase"], "Invalid");
            let p = condition(s, "Progressing");
            assert_eq!(
                (&p["status"], &p["reason"]),
                (&json!("False"), &json!("EvenReplicas"))
            );
        }),
    ];
    let h = harness(steps, None);
    reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap();
    assert_eq!(h.finish().await.reasons(), ["InvalidSpec"]);
}

fn view(voters: u64, modes: &[(u64, MemberMode)]) -> EnsembleView {
    EnsembleView {
        members: (1..=voters)
            .map(|id| Member {
                id,
                host: format!("zk-{}.zk-hs.ns.svc.cluster.local", id - 1),
                role: "participant".to_string(),
            })
            .collect(),
        leader: Some("zk-1".to_string()),
        config_version: Some("100000000".to_string()),
        modes: modes.iter().copied().collect(),
    }
}

const THREE_SERVING: [(u64, MemberMode); 3] = [
    (1, MemberMode::Follower),
    (2, MemberMode::Leader),
    (3, MemberMode::Follower),
];

#[tokio::test]
async fn scaling_up_first_grows_the_statefulset_by_one_joiner() {
    let three = cluster("{}");
    let five = cluster("{replicas: 5}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&three, 3, 3),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(4, Some("1,2,3")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&five, |s| {
        assert_eq!(s["replicas"], 3, "status.replicas is what runs");
        assert_eq!(s["leader"], "zk-1");
        assert_eq!(s["configVersion"], "100000000");
        assert_eq!(s["members"].as_array().unwrap().len(), 3);
        let p = condition(s, "Progressing");
        assert_eq!(
            (&p["status"], &p["reason"]),
            (&json!("True"), &json!("AddingMember"))
        );
    }));
    let h = harness(steps, Some(view(3, &THREE_SERVING)));
    reconcile(Arc::new(five), h.ctx.clone()).await.unwrap();
    assert!(h.ensemble.1.lock().unwrap().is_empty(), "no reconfig yet");
    assert_eq!(h.finish().await.reasons(), ["AddingMember"]);
}

#[tokio::test]
async fn a_synced_joiner_is_added_by_reconfig_after_the_apply() {
    let three = cluster("{}");
    let five = cluster("{replicas: 5}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&three, 4, 4),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(4, Some("1,2,3")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&five, |s| {
        let p = condition(s, "Progressing");
        assert_eq!(p["reason"], "Reconfiguring");
        assert!(
            p["message"].as_str().unwrap().contains("server 4 added"),
            "{p}"
        );
    }));
    let mut modes = THREE_SERVING.to_vec();
    modes.push((4, MemberMode::Follower));
    let h = harness(steps, Some(view(3, &modes)));
    reconcile(Arc::new(five), h.ctx.clone()).await.unwrap();
    assert_eq!(
        *h.ensemble.1.lock().unwrap(),
        [(
            Reconfig::Add {
                id: 4,
                version: 0x1_0000_0000
            },
            PASSWORD.to_string()
        )]
    );
    assert_eq!(h.finish().await.reasons(), ["MemberAdded"]);
}

#[tokio::test]
async fn scaling_without_the_ensembles_answer_changes_nothing_it_cannot_see() {
    let three = cluster("{}");
    let five = cluster("{replicas: 5}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&three, 3, 3),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(3, None));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&five, |s| {
        assert_eq!(condition(s, "Progressing")["reason"], "WaitingForEnsemble");
    }));
    let h = harness(steps, None);
    reconcile(Arc::new(five), h.ctx.clone()).await.unwrap();
    assert!(h.finish().await.reasons().is_empty());
}

#[tokio::test]
async fn the_operator_waits_for_its_crd() {
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/zookeeperclusters.zkrs.io";
    let (code, body) = not_found();
    let crd = serde_json::to_value(crate::crd::definition()).unwrap();
    let steps = vec![
        step(Method::GET, path, code, body.clone()),
        step(Method::GET, path, code, body),
        step(Method::GET, path, 200, crd),
    ];
    let h = harness(steps, None);
    let api = Api::all(h.ctx.client.clone());
    tokio::time::timeout(Duration::from_secs(60), wait_for_crd(&api, Duration::ZERO))
        .await
        .expect("returns once the CRD is there")
        .unwrap();
    drop(api);
    h.finish().await;
}

fn lease_cfg() -> LeaseConfig {
    LeaseConfig {
        name: "zkrs-operator".to_string(),
        namespace: "ops".to_string(),
        identity: "me".to_string(),
        duration: Duration::from_secs(15),
        renew_every: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_missing_lease_is_created_and_held() {
    let path = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";
    let (code, body) = not_found();
    let steps = vec![
        step(Method::GET, &format!("{path}/zkrs-operator"), code, body),
        checked(
            step(
                Method::POST,
                path,
                201,
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "zkrs-operator", "namespace": "ops"}}),
            ),
            |b| {
                assert_eq!(b["spec"]["holderIdentity"], "me");
                assert_eq!(b["spec"]["leaseDurationSeconds"], 15);
            },
        ),
    ];
    let h = harness(steps, None);
    let api: Api<Lease> = Api::namespaced(h.ctx.client.clone(), "ops");
    let now = k8s_openapi::jiff::Timestamp::now();
    assert!(try_hold(&api, &lease_cfg(), now).await.unwrap());
    drop(api);
    h.finish().await;
}

#[tokio::test]
async fn a_lease_held_by_a_live_replica_is_left_alone() {
    let now = k8s_openapi::jiff::Timestamp::now();
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "zkrs-operator", "namespace": "ops", "resourceVersion": "7"},
        "spec": {"holderIdentity": "other", "leaseDurationSeconds": 15,
                 "renewTime": now.to_string()}});
    let steps = vec![step(
        Method::GET,
        "/apis/coordination.k8s.io/v1/namespaces/ops/leases/zkrs-operator",
        200,
        lease,
    )];
    let h = harness(steps, None);
    let api: Api<Lease> = Api::namespaced(h.ctx.client.clone(), "ops");
    assert!(!try_hold(&api, &lease_cfg(), now).await.unwrap());
    drop(api);
    h.finish().await;
}

fn pod(name: &str, revision: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "ns",
                        "labels": {"controller-revision-hash": revision}}})
}

#[tokio::test]
async fn a_new_template_restarts_an_outdated_follower_before_the_leader() {
    let zkc = cluster("{}");
    let mut sts = running_sts(&zkc, 3, 3);
    sts["status"]["updateRevision"] = json!("zk-new");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        sts,
    ));
    steps.push(step(
        Method::GET,
        &format!("{NS}/pods"),
        200,
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {},
               "items": [pod("zk-0", "zk-old"), pod("zk-1", "zk-old"), pod("zk-2", "zk-new")]}),
    ));
    steps.extend(apply_steps(3, Some("1,2,3")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    // zk-1 leads: zk-0 goes first.
    steps.push(step(
        Method::DELETE,
        &format!("{NS}/pods/zk-0"),
        200,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
    ));
    steps.push(status_step(&zkc, |s| {
        let p = condition(s, "Progressing");
        assert_eq!(
            (&p["status"], &p["reason"]),
            (&json!("True"), &json!("RollingRestart"))
        );
        assert!(p["message"].as_str().unwrap().contains("zk-0"), "{p}");
    }));
    let h = harness(steps, Some(view(3, &THREE_SERVING)));
    reconcile(Arc::new(zkc), h.ctx.clone()).await.unwrap();
    assert_eq!(h.finish().await.reasons(), ["RestartingMember"]);
}

fn five_serving(leader: u64) -> Vec<(u64, MemberMode)> {
    (1..=5)
        .map(|id| {
            let mode = if id == leader {
                MemberMode::Leader
            } else {
                MemberMode::Follower
            };
            (id, mode)
        })
        .collect()
}

#[tokio::test]
async fn scaling_down_removes_the_highest_follower_by_reconfig_first() {
    let three = cluster("{}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&three, 5, 5),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(5, Some("1,2,3,4,5")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&three, |s| {
        assert_eq!(condition(s, "Progressing")["reason"], "Reconfiguring");
    }));
    // Server 5 leads: 4 goes first.
    let h = harness(steps, Some(view(5, &five_serving(5))));
    reconcile(Arc::new(three), h.ctx.clone()).await.unwrap();
    assert_eq!(
        *h.ensemble.1.lock().unwrap(),
        [(
            Reconfig::Remove {
                id: 4,
                version: 0x1_0000_0000
            },
            PASSWORD.to_string()
        )]
    );
    assert_eq!(h.finish().await.reasons(), ["MemberRemoved"]);
}

#[tokio::test]
async fn once_the_removals_commit_the_statefulset_shrinks() {
    let three = cluster("{}");
    let mut steps = secret_steps(true);
    steps.push(step(
        Method::GET,
        &format!("{APPS}/statefulsets/zk"),
        200,
        running_sts(&three, 5, 5),
    ));
    steps.push(pods_step());
    steps.extend(apply_steps(3, Some("1,2,3")));
    steps.extend(prune_steps(&["zk-hs", "zk", "zk-admin"], &["zk"]));
    steps.push(status_step(&three, |s| {
        assert_eq!(condition(s, "Progressing")["reason"], "RemovingPods");
    }));
    // The removed members 4 and 5 still follow, without a vote, until their pods go.
    let h = harness(steps, Some(view(3, &five_serving(1))));
    reconcile(Arc::new(three), h.ctx.clone()).await.unwrap();
    assert!(h.ensemble.1.lock().unwrap().is_empty());
    assert_eq!(h.finish().await.reasons(), ["RemovingPods"]);
}
