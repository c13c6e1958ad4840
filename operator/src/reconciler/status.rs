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

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::crd::Member;
    use crate::planner::{plan, EnsembleView, StatefulSetView};
    use crate::testing::cluster_from_yaml;
    use crate::validate::validate;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::UNIX_EPOCH + SignedDuration::from_secs(seconds))
    }

    fn observed(ready: u32, ensemble: Option<EnsembleView>) -> Observed {
        Observed {
            statefulset: Some(StatefulSetView {
                replicas: 3,
                ready_replicas: ready,
                updated_replicas: 3,
                rolled_out: true,
                config_hash: None,
                outdated: Default::default(),
            }),
            ensemble,
        }
    }

    fn condition<'a>(s: &'a ZooKeeperClusterStatus, type_: &str) -> &'a Condition {
        s.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_)
            .unwrap()
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time_and_a_changed_one_gets_now() {
        let mut zkc =
            cluster_from_yaml("metadata: {name: zk, namespace: ns, generation: 1}\nspec: {}\n");
        let desired = validate(&zkc);
        let o = observed(3, None);
        let first = build(
            &zkc,
            desired.as_ref().ok(),
            &plan(&desired, &o),
            &o,
            at(100),
        );
        assert_eq!(condition(&first, "Available").last_transition_time, at(100));
        zkc.status = Some(first);

        let o = observed(3, None);
        let again = build(
            &zkc,
            desired.as_ref().ok(),
            &plan(&desired, &o),
            &o,
            at(200),
        );
        assert_eq!(condition(&again, "Available").last_transition_time, at(100));

        let o = observed(1, None);
        let lost = build(
            &zkc,
            desired.as_ref().ok(),
            &plan(&desired, &o),
            &o,
            at(300),
        );
        let available = condition(&lost, "Available");
        assert_eq!(
            (available.status.as_str(), &available.last_transition_time),
            ("False", &at(300))
        );
        assert_eq!(available.observed_generation, Some(1));
    }

    #[test]
    fn a_silent_ensemble_leaves_the_last_members_and_leader_in_place() {
        let mut zkc = cluster_from_yaml("metadata: {name: zk, namespace: ns}\nspec: {}\n");
        let desired = validate(&zkc);
        let view = EnsembleView {
            members: vec![Member {
                id: 1,
                host: "zk-0.zk-hs.ns.svc.cluster.local".to_string(),
                role: "participant".to_string(),
            }],
            leader: Some("zk-0".to_string()),
            config_version: Some("100000000".to_string()),
            modes: Default::default(),
        };
        let o = observed(3, Some(view));
        let first = build(&zkc, desired.as_ref().ok(), &plan(&desired, &o), &o, at(1));
        assert_eq!(first.leader.as_deref(), Some("zk-0"));
        zkc.status = Some(first.clone());

        let o = observed(3, None);
        let later = build(&zkc, desired.as_ref().ok(), &plan(&desired, &o), &o, at(2));
        assert_eq!(
            (&later.members, &later.leader, &later.config_version),
            (&first.members, &first.leader, &first.config_version)
        );
        assert_eq!(later.phase.as_deref(), Some("Running"));
    }
}
