//! The status subresource, written by server-side apply from the plan and what was
//! observed (never from what was merely intended).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::Error;
use crate::builders::{selector_string, MANAGER};
use crate::crd::{ZooKeeperCluster, ZooKeeperClusterStatus};
use crate::planner::{Observed, Plan};
use crate::validate::Cluster;

/// The status for this reconcile. A condition whose status did not change keeps its
/// `lastTransitionTime`, as Kubernetes' conventions ask.
pub fn build(
    zkc: &ZooKeeperCluster,
    desired: Option<&Cluster>,
    plan: &Plan,
    observed: &Observed,
    now: Time,
) -> ZooKeeperClusterStatus {
    let previous = zkc.status.clone().unwrap_or_default();
    let old_conditions = previous.conditions.unwrap_or_default();
    let generation = zkc.metadata.generation;
    let conditions = plan
        .conditions
        .iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let since = old_conditions
                .iter()
                .find(|o| o.type_ == c.type_ && o.status == status)
                .map(|o| o.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: c.type_.to_string(),
                status: status.to_string(),
                reason: c.reason.to_string(),
                message: c.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect();
    let ensemble = observed.ensemble.as_ref();
    ZooKeeperClusterStatus {
        replicas: plan.replicas.and_then(|n| i32::try_from(n).ok()),
        ready_replicas: plan.ready_replicas.and_then(|n| i32::try_from(n).ok()),
        // Keep the selector of the last good spec when this one is invalid: it does not
        // change with the spec anyway.
        selector: desired.map(selector_string).or(previous.selector),
        // Without an answer from the ensemble, keep what it said last rather than blank
        // the columns while a member restarts.
        members: ensemble.map(|e| e.members.clone()).or(previous.members),
        leader: ensemble.map_or(previous.leader, |e| e.leader.clone()),
        config_version: ensemble.map_or(previous.config_version, |e| e.config_version.clone()),
        observed_generation: generation,
        phase: Some(plan.phase.to_string()),
        conditions: Some(conditions),
    }
}

/// Writes `status` through the status subresource.
pub async fn write(
    client: &Client,
    zkc: &ZooKeeperCluster,
    status: &ZooKeeperClusterStatus,
) -> Result<(), Error> {
    let api: Api<ZooKeeperCluster> =
        Api::namespaced(client.clone(), &zkc.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": ZooKeeperCluster::api_version(&()),
        "kind": ZooKeeperCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &zkc.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Status { source })?;
    Ok(())
}
