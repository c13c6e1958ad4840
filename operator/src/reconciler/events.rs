//! Publishing the plan's Events on the cluster object (a trait, so tests capture them).

use futures::future::BoxFuture;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use tracing::warn;

use crate::crd::ZooKeeperCluster;
use crate::planner::EventSpec;

pub trait EventSink: Send + Sync {
    fn publish<'a>(&'a self, zkc: &'a ZooKeeperCluster, event: &'a EventSpec) -> BoxFuture<'a, ()>;
}

/// Events through the Events API, aggregated by kube's recorder.
pub struct KubeEvents {
    recorder: Recorder,
}

impl KubeEvents {
    pub fn new(client: Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: crate::builders::MANAGER.to_string(),
            instance,
        };
        KubeEvents {
            recorder: Recorder::new(client, reporter),
        }
    }
}

impl EventSink for KubeEvents {
    fn publish<'a>(&'a self, zkc: &'a ZooKeeperCluster, e: &'a EventSpec) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let event = Event {
                type_: if e.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: e.reason.to_string(),
                note: Some(e.note.chars().take(1000).collect()),
                action: e.action.to_string(),
                secondary: None,
            };
            // An Event that cannot be written is not worth failing the reconcile for.
            if let Err(err) = self.recorder.publish(&event, &zkc.object_ref(&())).await {
                warn!(error = %err, reason = e.reason, "could not publish an Event");
            }
        })
    }
}
