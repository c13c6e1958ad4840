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
pub mod status;

use std::sync::Arc;
use std::time::Instant;

use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use tracing::{info, warn, Instrument as _};

use crate::crd::ZooKeeperCluster;
use crate::planner::{self, EventSpec, PROGRESSING};
use crate::validate::validate;

pub use error::Error;

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
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
    let observed = observe::observe(ctx, zkc, desired.as_ref().ok()).await?;
    let mut plan = planner::plan(&desired, &observed);
    let applied = apply::apply_plan(&ctx.client, zkc, &plan).await;
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
    Ok(Action::requeue(plan.requeue))
}

/// After a failed reconcile: try again soon, but not in a tight loop.
pub fn error_policy(_zkc: Arc<ZooKeeperCluster>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, category = error.category(), "reconcile failed; retrying");
    Action::requeue(std::time::Duration::from_secs(15))
}

#[cfg(test)]
mod tests;
