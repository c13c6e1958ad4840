//! Pure functions from a validated [`Cluster`] to every object the cluster owns.
//!
//! No I/O and no clock: the same model gives the same objects, which the reconciler applies
//! with server-side apply in [`build_all`]'s order (the ConfigMap before the StatefulSet
//! that mounts it) and which `zkrs-operator render` prints.

mod configmap;
mod pdb;
mod registry;
mod secret;
mod services;
mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;

use crate::crd::ZooKeeperCluster;
use crate::validate::Cluster;

pub use configmap::{
    config_hash, configmap, configmap_name, members_configmap, members_configmap_name,
    settings_text, SERVERS_KEY, VOTERS_KEY, ZOO_CFG_KEY,
};
pub use pdb::pdb;
pub use registry::{
    registry_objects, registry_service, registry_service_name, GATEWAY_CLUSTER_ROLE,
};
pub use secret::{super_digest, super_secret, super_secret_name, DIGEST_KEY, PASSWORD_KEY};
pub use services::{admin_service, admin_service_name, client_service, headless_service};
pub use statefulset::{
    statefulset, CONFIG_HASH_ANNOTATION, CONTAINER_NAME, POD_NAME_ENV, PREPARE_CONTAINER_NAME,
    SUPER_DIGEST_ENV,
};

/// The label every owned object carries, naming the cluster; orphans are found by it.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The field manager of every apply, and the `managed-by` label's value.
pub const MANAGER: &str = "zkrs-operator";

/// One object the cluster owns.
// A handful are built per reconcile, so their sizes differing does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Owned {
    ConfigMap(ConfigMap),
    Service(Service),
    StatefulSet(StatefulSet),
    PodDisruptionBudget(PodDisruptionBudget),
    ServiceAccount(ServiceAccount),
    RoleBinding(RoleBinding),
    Deployment(Deployment),
}

impl Owned {
    /// The object's kind, for logs, Events and the orphan sweep.
    pub fn kind(&self) -> &'static str {
        match self {
            Owned::ConfigMap(_) => "ConfigMap",
            Owned::Service(_) => "Service",
            Owned::StatefulSet(_) => "StatefulSet",
            Owned::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Owned::ServiceAccount(_) => "ServiceAccount",
            Owned::RoleBinding(_) => "RoleBinding",
            Owned::Deployment(_) => "Deployment",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Owned::ConfigMap(o) => &o.metadata,
            Owned::Service(o) => &o.metadata,
            Owned::StatefulSet(o) => &o.metadata,
            Owned::PodDisruptionBudget(o) => &o.metadata,
            Owned::ServiceAccount(o) => &o.metadata,
            Owned::RoleBinding(o) => &o.metadata,
            Owned::Deployment(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

/// Every object, in the order they are applied: the ConfigMap first (the StatefulSet's pods
/// mount it), the Services (peers must resolve before they start), the StatefulSet, then
/// the PodDisruptionBudget. The registry gateway's objects, when enabled, come before the
/// StatefulSet.
pub fn build_all(c: &Cluster) -> Vec<Owned> {
    let mut out = vec![
        Owned::ConfigMap(configmap(c)),
        Owned::Service(headless_service(c)),
        Owned::Service(client_service(c)),
        Owned::Service(admin_service(c)),
    ];
    out.extend(registry_objects(c));
    out.push(Owned::StatefulSet(statefulset(c)));
    if c.pdb {
        out.push(Owned::PodDisruptionBudget(pdb(c)));
    }
    out
}

/// The labels that select the cluster's members.
pub fn selector_labels(c: &Cluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "zookeeper".to_string(),
        ),
        (INSTANCE_LABEL.to_string(), c.name.clone()),
    ])
}

/// The selector as a string, for the scale subresource's `status.selector`.
pub fn selector_string(c: &Cluster) -> String {
    let parts: Vec<String> = selector_labels(c)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.join(",")
}

/// The labels on every owned object.
pub fn labels(c: &Cluster, component: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(c);
    l.insert(
        "app.kubernetes.io/managed-by".to_string(),
        MANAGER.to_string(),
    );
    l.insert(
        "app.kubernetes.io/component".to_string(),
        component.to_string(),
    );
    l
}

/// Metadata for an owned object: name, namespace, labels, and the owner reference that
/// lets the garbage collector delete it with the cluster.
pub fn metadata(c: &Cluster, name: String, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(c.namespace.clone()),
        labels: Some(labels(c, component)),
        owner_references: owner_reference(c).map(|r| vec![r]),
        ..Default::default()
    }
}

fn owner_reference(c: &Cluster) -> Option<OwnerReference> {
    use kube::Resource;
    let uid = c.uid.clone()?;
    Some(OwnerReference {
        api_version: ZooKeeperCluster::api_version(&()).into_owned(),
        kind: ZooKeeperCluster::kind(&()).into_owned(),
        name: c.name.clone(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// `objects` with the members ConfigMap put before the StatefulSet (whose pods read it).
pub fn with_members(mut objects: Vec<Owned>, members: ConfigMap) -> Vec<Owned> {
    let at = objects
        .iter()
        .position(|o| matches!(o, Owned::StatefulSet(_)))
        .unwrap_or(objects.len());
    objects.insert(at, Owned::ConfigMap(members));
    objects
}

/// All objects as a YAML stream (`---` between documents).
pub fn to_yaml_stream(objects: &[Owned]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(o)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
