//! From the raw resource to the validated model every later step works from.
//!
//! The API server already refuses what the schema and CEL rules can express; this step
//! checks the rest (names that must fit in DNS labels, zoo.cfg values the server's parser
//! refuses) and fills in the defaults. Nothing is applied for a spec that fails here: the
//! error becomes a condition and an Event, and the objects of the last good spec stay as
//! they are. Defaults live only in the model, never in the user's object.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use crate::crd::{
    PodOverrides, ReclaimPolicy, ServiceType, ZooKeeperCluster, DEFAULT_REPLICAS, MAX_REPLICAS,
};
use crate::zoo_cfg::{self, Layout, ZooCfg, ZooCfgError, DEFAULT_METRICS_PORT};

/// The image members run when the spec names none: the release this operator belongs to.
pub const DEFAULT_IMAGE: &str = concat!("zkrs:", env!("CARGO_PKG_VERSION"));
/// Each member's volume size when the spec names none.
pub const DEFAULT_STORAGE_SIZE: &str = "10Gi";
/// The cluster DNS domain when the spec names none.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// The registry Service's port when the spec names none.
pub const DEFAULT_REGISTRY_PORT: u16 = 8081;
/// The longest cluster name: pods are `<name>-<ordinal>` and the StatefulSet controller
/// labels them `<name>-<hash>` (a 63-character label value with a 10-character hash).
pub const MAX_NAME_LEN: usize = 52;

/// A spec that cannot be run. Each names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("metadata.name {name:?} is longer than {MAX_NAME_LEN} characters")]
    NameTooLong { name: String },
    #[error("the resource has no namespace")]
    NoNamespace,
    #[error("spec.replicas {replicas} must be between 1 and {MAX_REPLICAS}")]
    ReplicasOutOfRange { replicas: i32 },
    #[error("spec.replicas {replicas} is even; set allowEvenReplicas: true to allow it")]
    EvenReplicas { replicas: i32 },
    #[error("spec.clusterDomain {domain:?} is not a DNS name")]
    BadClusterDomain { domain: String },
    #[error("spec.image is empty")]
    EmptyImage,
    #[error("spec.{field}: port {port} is not between 1 and 65535")]
    BadPort { field: &'static str, port: i32 },
    #[error(transparent)]
    Config(#[from] ZooCfgError),
}

impl ValidationError {
    /// A stable CamelCase reason for conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            ValidationError::NameTooLong { .. } => "NameTooLong",
            ValidationError::NoNamespace => "NoNamespace",
            ValidationError::ReplicasOutOfRange { .. } => "ReplicasOutOfRange",
            ValidationError::EvenReplicas { .. } => "EvenReplicas",
            ValidationError::BadClusterDomain { .. } => "BadClusterDomain",
            ValidationError::EmptyImage => "EmptyImage",
            ValidationError::BadPort { .. } => "BadPort",
            ValidationError::Config(_) => "InvalidConfig",
        }
    }
}

/// A cluster whose spec passed validation, with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub namespace: String,
    /// The resource's uid, for owner references (absent when rendering offline).
    pub uid: Option<String>,
    pub generation: Option<i64>,
    pub replicas: u32,
    pub image: String,
    pub image_pull_policy: Option<String>,
    pub resources: Option<ResourceRequirements>,
    pub storage_size: Quantity,
    pub storage_class_name: Option<String>,
    pub reclaim_policy: ReclaimPolicy,
    pub cluster_domain: String,
    pub zoo_cfg: ZooCfg,
    pub pod: PodOverrides,
    /// The registry Service's port and type, when it is enabled.
    pub registry: Option<(u16, ServiceType)>,
    pub metrics_port: Option<u16>,
    pub pdb: bool,
    /// Things worth telling the user that do not stop the cluster (an even size, zoo.cfg
    /// keys the server ignores).
    pub warnings: Vec<String>,
}

/// Validates `zkc` and fills in the defaults.
pub fn validate(zkc: &ZooKeeperCluster) -> Result<Cluster, ValidationError> {
    let name = zkc.name_any();
    if name.len() > MAX_NAME_LEN {
        return Err(ValidationError::NameTooLong { name });
    }
    let namespace = zkc.namespace().ok_or(ValidationError::NoNamespace)?;
    let spec = &zkc.spec;
    let mut warnings = Vec::new();

    let replicas = spec.replicas.unwrap_or(DEFAULT_REPLICAS);
    if !(1..=MAX_REPLICAS).contains(&replicas) {
        return Err(ValidationError::ReplicasOutOfRange { replicas });
    }
    if replicas % 2 == 0 {
        if spec.allow_even_replicas != Some(true) {
            return Err(ValidationError::EvenReplicas { replicas });
        }
        warnings.push(format!(
            "{replicas} members tolerate {} failure(s), as {} would: the extra member adds write latency and buys no availability",
            (replicas - 1) / 2,
            replicas - 1
        ));
    }

    let cluster_domain = spec
        .cluster_domain
        .clone()
        .unwrap_or_else(|| DEFAULT_CLUSTER_DOMAIN.to_string());
    if !is_dns_name(&cluster_domain) {
        return Err(ValidationError::BadClusterDomain {
            domain: cluster_domain,
        });
    }
    let image = spec
        .image
        .clone()
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    if image.trim().is_empty() {
        return Err(ValidationError::EmptyImage);
    }

    let metrics = spec.metrics.clone().unwrap_or_default();
    let metrics_port = match metrics.enabled {
        Some(false) => None,
        _ => Some(port("metrics.port", metrics.port, DEFAULT_METRICS_PORT)?),
    };
    let registry = spec.registry.clone().unwrap_or_default();
    let registry = match registry.enabled {
        Some(true) => Some((
            port("registry.port", registry.port, DEFAULT_REGISTRY_PORT)?,
            registry.service_type.unwrap_or_default(),
        )),
        _ => None,
    };

    let storage = spec.storage.clone().unwrap_or_default();
    // `replicas` is within 1..=MAX_REPLICAS here.
    let replicas = replicas.unsigned_abs();
    let layout = Layout {
        name: &name,
        namespace: &namespace,
        cluster_domain: &cluster_domain,
        replicas,
        metrics_port,
    };
    let zoo_cfg = zoo_cfg::build(&layout, &spec.config.clone().unwrap_or_default())?;
    warnings.extend(zoo_cfg.warnings.iter().cloned());

    Ok(Cluster {
        uid: zkc.uid(),
        generation: zkc.metadata.generation,
        name,
        namespace,
        replicas,
        image,
        image_pull_policy: spec.image_pull_policy.clone(),
        resources: spec.resources.clone(),
        storage_size: storage
            .size
            .unwrap_or_else(|| Quantity(DEFAULT_STORAGE_SIZE.to_string())),
        storage_class_name: storage.storage_class_name,
        reclaim_policy: storage.reclaim_policy.unwrap_or_default(),
        cluster_domain,
        zoo_cfg,
        pod: spec.pod.clone().unwrap_or_default(),
        registry,
        metrics_port,
        pdb: spec.pdb.as_ref().and_then(|p| p.enabled).unwrap_or(true),
        warnings,
    })
}

fn port(field: &'static str, value: Option<i32>, default: u16) -> Result<u16, ValidationError> {
    match value {
        None => Ok(default),
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|&p| p > 0)
            .ok_or(ValidationError::BadPort { field, port: p }),
    }
}

/// A DNS name: dot-separated labels of lowercase letters, digits and inner hyphens.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::cluster_from_yaml;

    fn validated(yaml: &str) -> Result<Cluster, ValidationError> {
        validate(&cluster_from_yaml(yaml))
    }

    #[test]
    fn an_empty_spec_is_a_three_member_cluster_with_defaults() {
        let c = validated("metadata: {name: zk, namespace: ns}\nspec: {}\n").unwrap();
        assert_eq!(c.replicas, 3);
        assert_eq!(c.image, DEFAULT_IMAGE);
        assert_eq!(c.storage_size, Quantity("10Gi".to_string()));
        assert_eq!(c.reclaim_policy, ReclaimPolicy::Retain);
        assert_eq!(c.cluster_domain, "cluster.local");
        assert_eq!(c.metrics_port, Some(7000));
        assert_eq!(c.registry, None);
        assert!(c.pdb);
        assert_eq!(c.warnings, Vec::<String>::new());
    }

    #[test]
    fn validation_does_not_touch_the_users_object() {
        let zkc = cluster_from_yaml("metadata: {name: zk, namespace: ns}\nspec: {}\n");
        let before = zkc.clone();
        validate(&zkc).unwrap();
        assert_eq!(zkc, before);
        assert_eq!(zkc.spec.replicas, None);
    }

    #[test]
    fn an_even_size_needs_the_flag_and_then_warns() {
        let err = validated("metadata: {name: zk, namespace: ns}\nspec: {replicas: 4}\n");
        assert_eq!(err, Err(ValidationError::EvenReplicas { replicas: 4 }));
        let c = validated(
            "metadata: {name: zk, namespace: ns}\nspec: {replicas: 4, allowEvenReplicas: true}\n",
        )
        .unwrap();
        assert_eq!(c.replicas, 4);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("as 3 would"), "{:?}", c.warnings);
    }

    #[test]
    fn what_cel_cannot_see_is_refused_here() {
        let long = "x".repeat(53);
        let cases = [
            (
                format!("metadata: {{name: {long}, namespace: ns}}\nspec: {{}}\n"),
                "NameTooLong",
            ),
            (
                "metadata: {name: zk}\nspec: {}\n".to_string(),
                "NoNamespace",
            ),
            (
                "metadata: {name: zk, namespace: ns}\nspec: {replicas: 17}\n".to_string(),
                "ReplicasOutOfRange",
            ),
            (
                "metadata: {name: zk, namespace: ns}\nspec: {clusterDomain: Bad_Domain}\n"
                    .to_string(),
                "BadClusterDomain",
            ),
            (
                "metadata: {name: zk, namespace: ns}\nspec: {image: ''}\n".to_string(),
                "EmptyImage",
            ),
            (
                "metadata: {name: zk, namespace: ns}\nspec: {metrics: {port: 70000}}\n".to_string(),
                "BadPort",
            ),
            (
                "metadata: {name: zk, namespace: ns}\nspec: {config: {extra: {clientPort: '1'}}}\n"
                    .to_string(),
                "InvalidConfig",
            ),
        ];
        for (yaml, reason) in cases {
            let err = validated(&yaml).unwrap_err();
            assert_eq!(err.reason(), reason, "{yaml}: {err}");
        }
    }

    #[test]
    fn registry_metrics_and_pdb_follow_the_spec() {
        let c = validated(
            "metadata: {name: zk, namespace: ns}\nspec:\n  registry: {enabled: true, serviceType: NodePort}\n  metrics: {enabled: false}\n  pdb: {enabled: false}\n",
        )
        .unwrap();
        assert_eq!(c.registry, Some((8081, ServiceType::NodePort)));
        assert_eq!(c.metrics_port, None);
        assert!(!c.pdb);
        assert!(!c.zoo_cfg.text.contains("metricsProvider.httpPort"));
    }
}
