//! The `ZooKeeperCluster` resource (`zkrs.io/v1alpha1`): its spec and status types, and the
//! CustomResourceDefinition generated from them.
//!
//! Everything in the spec is optional except what a user must decide: an empty spec is a
//! 3-member cluster. Defaults are applied in the validated model (`validate`), never
//! written back into the user's object; the one exception is `replicas`, whose default is
//! also in the schema so that `kubectl scale` and the printer columns see a number.
//!
//! The CEL rules are kept here as data ([`SPEC_RULES`], [`EXTRA_CONFIG_RULE`]) and put into
//! the schema by [`definition`], so the tests evaluate exactly what the API server will.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, PodSecurityContext, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most voters a cluster may have. Every write waits for a majority, so each pair of
/// members beyond a handful costs write latency and buys little; 15 leaves room for wide
/// multi-zone layouts while refusing typos such as 300.
pub const MAX_REPLICAS: i32 = 15;

/// The size of a cluster whose spec does not say.
pub const DEFAULT_REPLICAS: i32 = 3;

/// zoo.cfg keys the operator writes itself: a value in `spec.config.extra` for one of these
/// would break addressing, storage or probes, so it is refused. Apache's `zookeeper.`
/// spelling of each is refused too, and so are the membership lines (`server.`, `group.`,
/// `weight.` prefixes).
pub const OPERATOR_OWNED_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "secureClientPort",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "peerType",
    "4lw.commands.whitelist",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "metricsProvider.className",
    "metricsProvider.httpPort",
    "tickTime",
    "initLimit",
    "syncLimit",
    "minSessionTimeout",
    "maxSessionTimeout",
    "snapCount",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
];

/// Key prefixes of the membership lines, which only the operator writes.
pub const OPERATOR_OWNED_PREFIXES: &[&str] = &["server.", "group.", "weight."];

/// A ZooKeeper ensemble run by zkrs-server as a StatefulSet.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "zkrs.io",
    version = "v1alpha1",
    kind = "ZooKeeperCluster",
    plural = "zookeeperclusters",
    shortname = "zkc",
    namespaced,
    status = "ZooKeeperClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A ZooKeeper-compatible ensemble of zkrs-server members.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn = r#"{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}"#,
    printcolumn = r#"{"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"}"#,
    printcolumn = r#"{"name": "Leader", "type": "string", "jsonPath": ".status.leader"}"#,
    printcolumn = r#"{"name": "Config version", "type": "string", "jsonPath": ".status.configVersion"}"#,
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ZooKeeperClusterSpec {
    /// Number of voting members. Odd unless `allowEvenReplicas` (an even size tolerates no
    /// more failures than one member fewer). Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 3))]
    pub replicas: Option<i32>,
    /// Accept an even `replicas`. A Warning condition and Event then explain that it buys
    /// nothing over one member fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_even_replicas: Option<bool>,
    /// The container image with zkrs-server. Default: the operator's own release image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image pull policy (Always, IfNotPresent, Never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// CPU and memory for each member's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Each member's data volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    /// zoo.cfg settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ZooConfigSpec>,
    /// What is passed through to each member's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodOverrides>,
    /// The service registry gateway's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySpec>,
    /// The members' Prometheus endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSpec>,
    /// The PodDisruptionBudget that keeps voluntary evictions to one member at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdb: Option<PdbSpec>,
    /// The cluster's DNS domain, used in the members' addresses. Default `cluster.local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_domain: Option<String>,
}

/// Each member's PersistentVolumeClaim.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Requested size. Default 10Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// The StorageClass; the cluster's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// What happens to a removed member's volume (scale-down) and to all volumes when the
    /// cluster is deleted. Default Retain: data is never deleted unless asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<ReclaimPolicy>,
}

/// The fate of a member's volume once the member is gone.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ReclaimPolicy {
    /// Keep the PersistentVolumeClaim.
    #[default]
    Retain,
    /// Delete the PersistentVolumeClaim.
    Delete,
}

/// zoo.cfg settings a user may choose.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZooConfigSpec {
    /// `tickTime` in milliseconds. Default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tick_time: Option<i32>,
    /// `initLimit` in ticks. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub init_limit: Option<i32>,
    /// `syncLimit` in ticks. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sync_limit: Option<i32>,
    /// `minSessionTimeout` in milliseconds. Default 2 ticks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_session_timeout: Option<i32>,
    /// `maxSessionTimeout` in milliseconds. Default 20 ticks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_session_timeout: Option<i32>,
    /// `snapCount`: transactions between snapshots. Default 100000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub snap_count: Option<i32>,
    /// Purging of old snapshots and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopurge: Option<AutopurgeSpec>,
    /// Further zoo.cfg keys, written as given. The keys the operator owns are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, String>>,
}

/// `autopurge.*`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutopurgeSpec {
    /// `autopurge.snapRetainCount`. Default 3 (the minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3))]
    pub snap_retain_count: Option<i32>,
    /// `autopurge.purgeInterval` in hours; 0 disables purging. Default 1, because a
    /// member on a fixed-size volume that never purges eventually fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub purge_interval: Option<i32>,
}

/// What is passed through to each member's pod as given.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Extra pod labels (the operator's own labels win on a clash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Extra pod annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Node selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Affinity. Default: prefer spreading members over nodes (soft anti-affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Topology spread constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// The pod security context. Default: uid, gid and fsGroup 1000, non-root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    /// The PriorityClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// The registry gateway's Service.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySpec {
    /// Whether to create it. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Its port. Default 8081.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Its Service type. Default ClusterIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
}

/// The Service types the registry may be exposed with.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

/// The members' Prometheus endpoint (`metricsProvider.httpPort`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSpec {
    /// Whether the members serve `/metrics` and the admin Service exposes it. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The port. Default 7000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// The PodDisruptionBudget.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    /// Whether to create it. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// What the operator observed, written through the status subresource only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZooKeeperClusterStatus {
    /// Members the StatefulSet runs (the scale subresource reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Members serving in a quorum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The pods' label selector, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The members of the ensemble's committed configuration (`/zookeeper/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    /// The pod that leads the ensemble.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The committed configuration's version (hex zxid, as in `/zookeeper/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A one-word summary: Pending, Creating, Running, Degraded or Invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Available, Progressing and Degraded, in Kubernetes' conventions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// One member of the committed configuration.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The server id (`myid`).
    pub id: u64,
    /// The peer host of its `server.N` line.
    pub host: String,
    /// participant or observer.
    pub role: String,
}

/// A CEL rule as it appears in `x-kubernetes-validations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelRule {
    pub rule: &'static str,
    pub message: &'static str,
}

/// The rules on `spec`. `has()` guards keep them true for an object before defaulting.
pub const SPEC_RULES: &[CelRule] = &[
    CelRule {
        rule: "!has(self.replicas) || (self.replicas >= 1 && self.replicas <= 15)",
        message: "replicas must be between 1 and 15",
    },
    CelRule {
        rule: "!has(self.replicas) || self.replicas % 2 == 1 || (has(self.allowEvenReplicas) && self.allowEvenReplicas)",
        message: "replicas must be odd: an even size tolerates no more failures than one member fewer (set allowEvenReplicas: true to allow it)",
    },
];

/// The rule on `spec.config.extra`, built from [`OPERATOR_OWNED_KEYS`] and
/// [`OPERATOR_OWNED_PREFIXES`] (with and without Apache's `zookeeper.` prefix).
pub fn extra_config_rule() -> String {
    let mut keys: Vec<String> = Vec::new();
    for k in OPERATOR_OWNED_KEYS {
        keys.push(format!("'{k}'"));
        keys.push(format!("'zookeeper.{k}'"));
    }
    let prefixes: Vec<String> = OPERATOR_OWNED_PREFIXES
        .iter()
        .map(|p| format!("k.startsWith('{p}')"))
        .collect();
    format!(
        "self.all(k, !(k in [{}]) && !({}))",
        keys.join(", "),
        prefixes.join(" || ")
    )
}

/// The message of [`extra_config_rule`].
pub const EXTRA_CONFIG_MESSAGE: &str =
    "config.extra may not set keys the operator owns (dataDir, clientPort, server.N, the 4lw whitelist, ports, and the keys with their own spec fields)";

/// The CustomResourceDefinition: kube's derived one with the CEL rules added to the schema.
pub fn definition() -> CustomResourceDefinition {
    let mut crd = ZooKeeperCluster::crd();
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let Some(spec) = schema.properties.as_mut().and_then(|p| p.get_mut("spec")) else {
            continue;
        };
        spec.x_kubernetes_validations = Some(
            SPEC_RULES
                .iter()
                .map(|r| validation_rule(r.rule.to_string(), r.message))
                .collect(),
        );
        let extra = spec
            .properties
            .as_mut()
            .and_then(|p| p.get_mut("config"))
            .and_then(|c| c.properties.as_mut())
            .and_then(|p| p.get_mut("extra"));
        if let Some(extra) = extra {
            extra.x_kubernetes_validations = Some(vec![validation_rule(
                extra_config_rule(),
                EXTRA_CONFIG_MESSAGE,
            )]);
        }
    }
    crd
}

fn validation_rule(
    rule: String,
    message: &str,
) -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule {
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule {
        rule,
        message: Some(message.to_string()),
        ..Default::default()
    }
}

/// The CRD as YAML, as `zkrs-operator crd` prints it and `manifests/crd.yaml` holds it.
pub fn definition_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&definition())
}

#[cfg(test)]
mod tests;
