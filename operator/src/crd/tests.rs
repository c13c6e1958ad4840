use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

fn committed_crd_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/crd.yaml")
}

#[test]
fn the_committed_crd_is_the_generated_one() {
    let generated = definition_yaml().expect("the CRD serialises");
    let path = committed_crd_path();
    if std::env::var_os("ZKRS_OPERATOR_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write manifests/crd.yaml");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "manifests/crd.yaml differs from `zkrs-operator crd`; regenerate it with \
         `cargo run -p zkrs-operator -- crd > manifests/crd.yaml` (or ZKRS_OPERATOR_BLESS=1)"
    );
}

#[test]
fn the_charts_crd_is_the_generated_one() {
    let generated = definition_yaml().expect("the CRD serialises");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/zkrs-operator/crds/zookeepercluster.yaml");
    if std::env::var_os("ZKRS_OPERATOR_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the chart's CRD");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "charts/zkrs-operator/crds/zookeepercluster.yaml differs from `zkrs-operator crd`; \
         copy manifests/crd.yaml there (or ZKRS_OPERATOR_BLESS=1)"
    );
}

#[test]
fn the_crd_names_scale_and_columns_are_the_documented_ones() {
    let crd = definition();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("zookeeperclusters.zkrs.io")
    );
    assert_eq!(crd.spec.names.short_names, Some(vec!["zkc".to_string()]));
    let v = &crd.spec.versions[0];
    assert_eq!(v.name, "v1alpha1");
    let scale = v
        .subresources
        .as_ref()
        .and_then(|s| s.scale.as_ref())
        .expect("scale subresource");
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.selector")
    );
    let columns: Vec<&str> = v
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Replicas",
            "Ready",
            "Leader",
            "Config version",
            "Phase",
            "Age"
        ]
    );
}

#[test]
fn the_replicas_rule_uses_the_documented_maximum() {
    let bound = format!("self.replicas <= {MAX_REPLICAS}");
    assert!(
        SPEC_RULES[0].rule.contains(&bound),
        "{}",
        SPEC_RULES[0].rule
    );
    assert!(SPEC_RULES[0].message.contains(&MAX_REPLICAS.to_string()));
}

/// The whole object's schema, as the API server validates an object against it.
fn object_schema() -> Value {
    let crd = definition();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("schema");
    serde_json::to_value(schema).expect("schema to JSON")
}

fn cluster(spec: Value) -> Value {
    json!({
        "apiVersion": "zkrs.io/v1alpha1",
        "kind": "ZooKeeperCluster",
        "metadata": {"name": "zk", "namespace": "default"},
        "spec": spec,
    })
}

/// The messages of the rules `spec` breaks; empty when it is accepted.
fn cel_errors(spec: Value) -> Vec<String> {
    match kube_cel::validate(&object_schema(), &cluster(spec), None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

#[test]
fn odd_sizes_within_bounds_are_accepted() {
    for spec in [
        json!({}),
        json!({"replicas": 1}),
        json!({"replicas": 3}),
        json!({"replicas": 15}),
        json!({"replicas": 4, "allowEvenReplicas": true}),
    ] {
        assert_eq!(cel_errors(spec.clone()), Vec::<String>::new(), "{spec}");
    }
}

#[test]
fn an_even_size_is_refused_unless_allowed() {
    for spec in [
        json!({"replicas": 2}),
        json!({"replicas": 4, "allowEvenReplicas": false}),
    ] {
        let errors = cel_errors(spec.clone());
        assert_eq!(errors.len(), 1, "{spec}: {errors:?}");
        assert!(errors[0].contains("must be odd"), "{errors:?}");
    }
}

#[test]
fn sizes_out_of_bounds_are_refused() {
    for n in [0, -1, 16, 301] {
        let errors = cel_errors(json!({"replicas": n}));
        assert!(
            errors.iter().any(|e| e.contains("between 1 and 15")),
            "{n}: {errors:?}"
        );
    }
}

#[test]
fn extra_keys_the_operator_owns_are_refused() {
    for key in [
        "dataDir",
        "zookeeper.dataDir",
        "clientPort",
        "server.1",
        "group.1",
        "4lw.commands.whitelist",
        "tickTime",
    ] {
        let errors = cel_errors(json!({"config": {"extra": {key: "x"}}}));
        assert_eq!(errors, vec![EXTRA_CONFIG_MESSAGE.to_string()], "{key}");
    }
}

#[test]
fn other_extra_keys_are_accepted() {
    let spec = json!({"config": {"extra": {
        "globalOutstandingLimit": "2000",
        "maxClientCnxns": "100",
        "serverCnxnFactory": "x",
    }}});
    assert_eq!(cel_errors(spec), Vec::<String>::new());
}
