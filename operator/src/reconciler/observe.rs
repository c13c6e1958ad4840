//! The reads of a reconcile: the cluster's StatefulSet, and the ensemble once members run.

use std::time::Duration;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use tracing::debug;

use super::{Context, Error};
use crate::builders::{selector_string, CONFIG_HASH_ANNOTATION};
use crate::crd::ZooKeeperCluster;
use crate::planner::{Observed, StatefulSetView};
use crate::validate::Cluster;

/// How long the ensemble may take to answer before the status goes without it.
pub const ENSEMBLE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn observe(
    ctx: &Context,
    zkc: &ZooKeeperCluster,
    desired: Option<&Cluster>,
) -> Result<Observed, Error> {
    let name = zkc.name_any();
    let api: Api<StatefulSet> =
        Api::namespaced(ctx.client.clone(), &zkc.namespace().unwrap_or_default());
    let sts = api.get_opt(&name).await.map_err(|source| Error::Observe {
        name: name.clone(),
        source,
    })?;
    let mut statefulset = sts.as_ref().map(view);
    if let (Some(view), Some(sts), Some(c)) = (statefulset.as_mut(), &sts, desired) {
        let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &c.namespace);
        let list = pods
            .list(&ListParams::default().labels(&selector_string(c)))
            .await
            .map_err(|source| Error::ObservePods { source })?;
        view.outdated = outdated(sts, &name, &list.items);
    }
    let ensemble = match (desired, &statefulset) {
        (Some(c), Some(s)) if s.ready_replicas > 0 => {
            match tokio::time::timeout(ENSEMBLE_TIMEOUT, ctx.ensemble.observe(c, s.replicas)).await
            {
                Ok(Ok(v)) => Some(v),
                Ok(Err(e)) => {
                    debug!(error = %e, "the ensemble did not answer");
                    None
                }
                Err(_) => {
                    debug!("the ensemble did not answer in time");
                    None
                }
            }
        }
        _ => None,
    };
    Ok(Observed {
        statefulset,
        ensemble,
    })
}

/// The server ids whose pods carry another revision than the StatefulSet's update
/// revision (`controller-revision-hash`, as the StatefulSet controller labels them).
pub fn outdated(sts: &StatefulSet, name: &str, pods: &[Pod]) -> BTreeSet<u64> {
    let Some(revision) = sts
        .status
        .as_ref()
        .and_then(|s| s.update_revision.as_deref())
    else {
        return BTreeSet::new();
    };
    pods.iter()
        .filter(|p| {
            p.labels()
                .get("controller-revision-hash")
                .map(String::as_str)
                != Some(revision)
        })
        .filter_map(|p| {
            let ordinal: u64 = p
                .name_any()
                .strip_prefix(&format!("{name}-"))?
                .parse()
                .ok()?;
            Some(ordinal + 1)
        })
        .collect()
}

/// The planner's view of a StatefulSet.
pub fn view(sts: &StatefulSet) -> StatefulSetView {
    let count = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let status = sts.status.clone().unwrap_or_default();
    let rolled_out = status.observed_generation == sts.metadata.generation
        && status.current_revision == status.update_revision;
    StatefulSetView {
        replicas: count(sts.spec.replicas),
        ready_replicas: count(status.ready_replicas),
        updated_replicas: count(status.updated_replicas),
        rolled_out,
        config_hash: sts
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(CONFIG_HASH_ANNOTATION))
            .cloned(),
        outdated: BTreeSet::new(),
    }
}
