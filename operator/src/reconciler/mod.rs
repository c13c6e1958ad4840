//! The kube-rs glue around the pure steps: read what is there, ask the planner, apply its
//! plan with server-side apply, publish its Events, write the status.
//!
//! * [`observe`]: the StatefulSet and the ensemble, the only reads of a reconcile;
//! * [`apply`]: server-side apply in the plan's order, then the orphan sweep;
//! * [`status`]: the status subresource, written by server-side apply too;
//! * [`ensemble`]: asking the members themselves (a trait, mocked in tests);
//! * [`events`]: publishing the plan's Events (a trait, captured in tests);
//! * [`lease`], [`http`], [`metrics`], [`run`]: leader election, `/metrics` and `/healthz`,
//!   and the `run` command that wires it all.

pub mod apply;
pub mod ensemble;
pub mod error;
pub mod events;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod observe;
pub mod run;
pub mod secret;
pub mod status;

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::runtime::controller::Action;
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn, Instrument as _};

use crate::addresses::MemberAddresses;
use crate::builders::{members_configmap, with_members};
use crate::crd::ZooKeeperCluster;
use crate::planner::{self, EventSpec, Plan, Reconfig, PROGRESSING};
use crate::validate::{validate, Cluster};

pub use error::Error;

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    /// Where members are reached (pod DNS names in a cluster).
    pub addresses: Arc<dyn MemberAddresses>,
    pub ensemble: Arc<dyn ensemble::Ensemble>,
    pub events: Arc<dyn events::EventSink>,
    pub metrics: Arc<metrics::Metrics>,
}

/// One reconcile of one cluster.
pub async fn reconcile(zkc: Arc<ZooKeeperCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = tracing::info_span!(
        "reconcile",
        name = %zkc.name_any(),
        namespace = %zkc.namespace().unwrap_or_default()
    );
    let started = Instant::now();
    let result = reconcile_inner(&zkc, &ctx).instrument(span).await;
    ctx.metrics.record(started.elapsed(), result.as_ref().err());
    result
}

async fn reconcile_inner(zkc: &ZooKeeperCluster, ctx: &Context) -> Result<Action, Error> {
    let desired = validate(zkc);
    // The members' pods read the super digest from the Secret: it exists before them.
    let password = match &desired {
        Ok(c) => Some(secret::super_password(&ctx.client, c).await?),
        Err(_) => None,
    };
    let observed = observe::observe(ctx, zkc, desired.as_ref().ok()).await?;
    let mut plan = planner::plan(&desired, &observed);
    if let (Ok(c), Some(voters)) = (&desired, &plan.members) {
        let members = members_configmap(c, ctx.addresses.as_ref(), voters);
        plan.apply = with_members(std::mem::take(&mut plan.apply), members);
    }
    let applied = apply::apply_plan(&ctx.client, zkc, &plan).await;
    if let (Ok(()), Ok(c), Some(change), Some(password)) = (
        applied.as_ref().map(|_| ()),
        &desired,
        plan.reconfig,
        password.as_deref(),
    ) {
        reconfigure(ctx, c, &observed, change, password, &mut plan).await;
    }
    let restarted = if applied.is_ok() {
        restart_pods(ctx, zkc, &plan.delete_pods).await
    } else {
        Ok(())
    };
    for object in applied.as_ref().map(Vec::as_slice).unwrap_or_default() {
        plan.events.push(EventSpec {
            warning: false,
            reason: "Deleted",
            note: format!("deleted {object}, which the spec no longer asks for"),
            action: "Delete",
        });
    }
    if let Err(e) = &applied {
        warn!(error = %e, category = e.category(), "apply failed");
        // The status says what went wrong; the error makes the controller retry with
        // backoff.
        if let Some(c) = plan.conditions.iter_mut().find(|c| c.type_ == PROGRESSING) {
            c.status = false;
            c.reason = e.category();
            c.message = e.to_string();
        }
        plan.events.push(EventSpec {
            warning: true,
            reason: e.category(),
            note: e.to_string(),
            action: "Apply",
        });
    } else if !plan.apply.is_empty() {
        info!(objects = plan.apply.len(), phase = plan.phase, "applied");
    }
    for event in &plan.events {
        ctx.events.publish(zkc, event).await;
    }
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    status::write(
        &ctx.client,
        zkc,
        &status::build(zkc, desired.as_ref().ok(), &plan, &observed, now),
    )
    .await?;
    applied?;
    restarted?;
    Ok(Action::requeue(plan.requeue))
}

/// Sends the plan's reconfig and reports how it went in an Event and the Progressing
/// condition. A refused or lost reconfig is not an error of the reconcile: the next one
/// starts again from what the ensemble committed.
async fn reconfigure(
    ctx: &Context,
    c: &Cluster,
    observed: &planner::Observed,
    change: Reconfig,
    password: &str,
    plan: &mut Plan,
) {
    let pods = observed.statefulset.as_ref().map_or(0, |s| s.replicas);
    let (reason, what) = match change {
        Reconfig::Add { id, .. } => ("MemberAdded", format!("server {id} added to the voters")),
        Reconfig::Remove { id, .. } => (
            "MemberRemoved",
            format!("server {id} removed from the voters"),
        ),
    };
    let result = ctx.ensemble.reconfig(c, pods, change, password).await;
    let (event, message) = match result {
        Ok(version) => {
            info!(?change, version = %version, "reconfig committed");
            (
                EventSpec {
                    warning: false,
                    reason,
                    note: format!("{what}: configuration version {version}"),
                    action: "Reconfig",
                },
                format!("{what}: configuration version {version}"),
            )
        }
        Err(e) => {
            warn!(?change, error = %e, "reconfig failed; the next reconcile looks again");
            (
                EventSpec {
                    warning: true,
                    reason: "ReconfigFailed",
                    note: e.to_string(),
                    action: "Reconfig",
                },
                format!("{e}; retrying from the committed configuration"),
            )
        }
    };
    plan.events.push(event);
    if let Some(p) = plan.conditions.iter_mut().find(|p| p.type_ == PROGRESSING) {
        p.message = message;
    }
}

/// Deletes the pods of a rolling restart; the StatefulSet controller recreates them with
/// the current template.
async fn restart_pods(ctx: &Context, zkc: &ZooKeeperCluster, pods: &[String]) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &zkc.namespace().unwrap_or_default());
    for name in pods {
        info!(pod = %name, "restarting a member with the new template");
        api.delete(name, &DeleteParams::default())
            .await
            .map_err(|source| Error::DeletePod {
                name: name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// After a failed reconcile: try again soon, but not in a tight loop.
pub fn error_policy(_zkc: Arc<ZooKeeperCluster>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, category = error.category(), "reconcile failed; retrying");
    Action::requeue(std::time::Duration::from_secs(15))
}

#[cfg(test)]
mod tests;
