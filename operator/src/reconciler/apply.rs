//! Server-side apply of the plan's objects, in order, under one field manager; then the
//! sweep of objects this cluster no longer wants.
//!
//! Applying with `force` takes over fields another manager set on the operator's own
//! objects (the operator is their only author); fields it never sets, such as the
//! `kubectl.kubernetes.io/restartedAt` annotation of `kubectl rollout restart`, stay with
//! whoever set them.

use std::collections::BTreeSet;
use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::info;

use super::Error;
use crate::builders::{Owned, INSTANCE_LABEL, MANAGER};
use crate::crd::ZooKeeperCluster;
use crate::planner::Plan;

/// Applies `plan.apply` in order, stopping at the first failure (a later object may depend
/// on an earlier one), then deletes orphans when the plan asks for it. Returns the deleted
/// objects as `Kind/name`.
pub async fn apply_plan(
    client: &Client,
    zkc: &ZooKeeperCluster,
    plan: &Plan,
) -> Result<Vec<String>, Error> {
    let ns = zkc.namespace().unwrap_or_default();
    for object in &plan.apply {
        match object {
            Owned::ConfigMap(o) => apply(client, &ns, o).await?,
            Owned::Service(o) => apply(client, &ns, o).await?,
            Owned::StatefulSet(o) => apply(client, &ns, o).await?,
            Owned::PodDisruptionBudget(o) => apply(client, &ns, o).await?,
            Owned::ServiceAccount(o) => apply(client, &ns, o).await?,
            Owned::RoleBinding(o) => apply(client, &ns, o).await?,
            Owned::Deployment(o) => apply(client, &ns, o).await?,
        }
    }
    let mut deleted = Vec::new();
    if plan.prune {
        let wanted: BTreeSet<(&str, &str)> =
            plan.apply.iter().map(|o| (o.kind(), o.name())).collect();
        prune::<Service>(client, zkc, &ns, &wanted, &mut deleted).await?;
        prune::<PodDisruptionBudget>(client, zkc, &ns, &wanted, &mut deleted).await?;
        // The registry gateway's, once spec.registry is turned off.
        prune::<Deployment>(client, zkc, &ns, &wanted, &mut deleted).await?;
        prune::<RoleBinding>(client, zkc, &ns, &wanted, &mut deleted).await?;
        prune::<ServiceAccount>(client, zkc, &ns, &wanted, &mut deleted).await?;
    }
    Ok(deleted)
}

async fn apply<K>(client: &Client, ns: &str, object: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::Resource
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let name = object.name_any();
    let kind = <K as k8s_openapi::Resource>::KIND;
    let params = PatchParams::apply(MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|source| Error::Apply { kind, name, source })?;
    Ok(())
}

/// Deletes the objects of kind `K` labelled as this cluster's and owned by it that the
/// plan does not contain (a Service or PDB the spec no longer asks for).
async fn prune<K>(
    client: &Client,
    zkc: &ZooKeeperCluster,
    ns: &str,
    wanted: &BTreeSet<(&str, &str)>,
    deleted: &mut Vec<String>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::Resource
        + Clone
        + DeserializeOwned
        + Debug,
{
    let kind = <K as k8s_openapi::Resource>::KIND;
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let selector = format!(
        "{INSTANCE_LABEL}={},app.kubernetes.io/managed-by={MANAGER}",
        zkc.name_any()
    );
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::ListOrphans { kind, source })?;
    let uid = zkc.uid();
    for object in list {
        let name = object.name_any();
        let owned = object
            .owner_references()
            .iter()
            .any(|r| Some(&r.uid) == uid.as_ref());
        if !owned || wanted.contains(&(kind, name.as_str())) {
            continue;
        }
        info!(kind, object = %name, "deleting an object the spec no longer asks for");
        api.delete(&name, &DeleteParams::default())
            .await
            .map_err(|source| Error::DeleteOrphan {
                kind,
                name: name.clone(),
                source,
            })?;
        deleted.push(format!("{kind}/{name}"));
    }
    Ok(())
}
