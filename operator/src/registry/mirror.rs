//! The kube glue of the mirror: server-side applies the [`Mirror`] of each new view
//! (Services before their EndpointSlices), then deletes the gateway's objects that the view
//! no longer has (slices before their Services), found by label.
//!
//! An apply that did not change since the last successful one is skipped; a failed sync is
//! tried again with a backoff, or sooner when the registry changes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use super::endpointslices::{mirror, selector, Mirror, Target, MANAGER};
use super::model::Snapshot;

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
    #[error("listing the gateway's {kind}s: {source}")]
    List {
        kind: &'static str,
        source: kube::Error,
    },
    #[error("deleting {kind} {name}: {source}")]
    Delete {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
}

/// Applies the mirror of every new snapshot until the task is dropped.
pub async fn run(client: Client, target: Target, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
    let mut applied = Applied::default();
    let mut backoff: Option<Duration> = None;
    loop {
        let snap = snapshots.borrow_and_update().clone();
        // Before the first read of the registry the view is empty, not known to be empty:
        // syncing it would delete every mirrored object.
        if snap.connected || snap.index > 0 {
            match sync(&client, &target, &mirror(&target, &snap.view), &mut applied).await {
                Ok(deleted) => {
                    backoff = None;
                    for d in deleted {
                        info!(object = %d, "deleted the mirror of a service that is gone");
                    }
                }
                Err(e) => {
                    let next = backoff.map_or(Duration::from_secs(1), |b| {
                        (b * 2).min(Duration::from_secs(60))
                    });
                    warn!(error = %e, retry_in = ?next, "mirroring the registry failed");
                    backoff = Some(next);
                }
            }
        }
        let retry = async {
            match backoff {
                Some(b) => tokio::time::sleep(b).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            () = retry => {}
        }
    }
}

/// What was last applied successfully, by kind and name.
#[derive(Debug, Default)]
pub struct Applied(BTreeMap<(&'static str, String), serde_json::Value>);

/// Applies `desired` and deletes what it no longer has; returns the deleted objects as
/// `Kind/name`.
pub async fn sync(
    client: &Client,
    target: &Target,
    desired: &Mirror,
    applied: &mut Applied,
) -> Result<Vec<String>, MirrorError> {
    let ns = &target.namespace;
    for s in &desired.services {
        apply(client, ns, s, applied).await?;
    }
    for s in &desired.endpoint_slices {
        apply(client, ns, s, applied).await?;
    }
    let mut deleted = Vec::new();
    let wanted: BTreeSet<&str> = desired
        .endpoint_slices
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    prune::<EndpointSlice>(client, target, &wanted, applied, &mut deleted).await?;
    let wanted: BTreeSet<&str> = desired
        .services
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    prune::<Service>(client, target, &wanted, applied, &mut deleted).await?;
    Ok(deleted)
}

async fn apply<K>(
    client: &Client,
    ns: &str,
    object: &K,
    applied: &mut Applied,
) -> Result<(), MirrorError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::Resource
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let kind = <K as k8s_openapi::Resource>::KIND;
    let name = object.name_any();
    let value = serde_json::to_value(object).unwrap_or_default();
    if applied.0.get(&(kind, name.clone())) == Some(&value) {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map_err(|source| MirrorError::Apply {
        kind,
        name: name.clone(),
        source,
    })?;
    applied.0.insert((kind, name), value);
    Ok(())
}

async fn prune<K>(
    client: &Client,
    target: &Target,
    wanted: &BTreeSet<&str>,
    applied: &mut Applied,
    deleted: &mut Vec<String>,
) -> Result<(), MirrorError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + k8s_openapi::Resource
        + Clone
        + DeserializeOwned
        + Debug,
{
    let kind = <K as k8s_openapi::Resource>::KIND;
    let api: Api<K> = Api::namespaced(client.clone(), &target.namespace);
    let list = api
        .list(&ListParams::default().labels(&selector(&target.cluster)))
        .await
        .map_err(|source| MirrorError::List { kind, source })?;
    for object in list {
        let name = object.name_any();
        if wanted.contains(name.as_str()) {
            continue;
        }
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            // Someone else deleted it first: it is gone either way.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(MirrorError::Delete { kind, name, source }),
        }
        applied.0.remove(&(kind, name.clone()));
        deleted.push(format!("{kind}/{name}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
