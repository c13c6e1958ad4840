//! From what is observed to what to do next: pure, so every decision is a unit test.
//!
//! The planner gets the validation result and what the reconciler read (the StatefulSet's
//! status, the ensemble's committed configuration) and returns the objects to apply, the
//! status conditions, the Events and how soon to look again. It keeps no memory: each
//! reconcile starts from observed state.
//!
//! In this version membership never changes on a running cluster: a `replicas` change once
//! the StatefulSet exists is reported (`Progressing=False`, `ScalingNotSupportedYet`) and
//! nothing of that spec is applied, so the running ensemble is never half-reconfigured.

use std::time::Duration;

use crate::builders::{build_all, config_hash, Owned};
use crate::crd::Member;
use crate::validate::{Cluster, ValidationError};

/// How soon to reconcile again while something is in flight.
pub const REQUEUE_BUSY: Duration = Duration::from_secs(10);
/// How soon to reconcile again when all is settled (a resync, in case a watch missed an
/// update or the ensemble changed behind our back).
pub const REQUEUE_IDLE: Duration = Duration::from_secs(300);

/// What the reconciler read about the cluster's StatefulSet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatefulSetView {
    /// `spec.replicas`: the size the running cluster has.
    pub replicas: u32,
    /// `status.readyReplicas`: members serving in a quorum.
    pub ready_replicas: u32,
    /// `status.updatedReplicas`: members on the latest template.
    pub updated_replicas: u32,
    /// Whether the StatefulSet controller has seen the latest spec and rolled it out
    /// (`observedGeneration == generation` and `currentRevision == updateRevision`).
    pub rolled_out: bool,
    /// The config hash in its pod template.
    pub config_hash: Option<String>,
}

/// What the ensemble says about itself (`/zookeeper/config` and `srvr`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsembleView {
    pub members: Vec<Member>,
    /// The leader's pod name.
    pub leader: Option<String>,
    /// The committed configuration's version (hex).
    pub config_version: Option<String>,
}

/// Everything observed for one reconcile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub statefulset: Option<StatefulSetView>,
    /// `None` when the ensemble could not be asked (not up yet, or unreachable).
    pub ensemble: Option<EnsembleView>,
}

/// A status condition, before the reconciler stamps it with times and the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionSpec {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

/// An Event to publish about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub warning: bool,
    pub reason: &'static str,
    pub note: String,
    /// What the operator did (the Event's `action`).
    pub action: &'static str,
}

/// The next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Objects to apply, in order. Empty when nothing may be applied.
    pub apply: Vec<Owned>,
    /// Whether labelled objects not in `apply` are to be deleted. Only after a full apply:
    /// a held or invalid spec leaves everything as it is.
    pub prune: bool,
    pub conditions: Vec<ConditionSpec>,
    pub phase: &'static str,
    pub events: Vec<EventSpec>,
    pub requeue: Duration,
    /// The size to report as `status.replicas` (what actually runs).
    pub replicas: Option<u32>,
    pub ready_replicas: Option<u32>,
}

/// The condition types, in the order they are written.
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
/// Things that do not stop the cluster but the user should know (an even size).
pub const WARNING: &str = "Warning";

pub fn plan(desired: &Result<Cluster, ValidationError>, observed: &Observed) -> Plan {
    let sts = observed.statefulset.as_ref();
    let running = sts.map(|s| s.replicas);
    let ready = sts.map(|s| s.ready_replicas);
    let mut events = Vec::new();
    let (available, degraded) = health(sts);

    let cluster = match desired {
        Err(e) => {
            events.push(EventSpec {
                warning: true,
                reason: "InvalidSpec",
                note: e.to_string(),
                action: "Validate",
            });
            let progressing = ConditionSpec {
                type_: PROGRESSING,
                status: false,
                reason: e.reason(),
                message: format!("the spec is invalid and was not applied: {e}"),
            };
            return Plan {
                apply: Vec::new(),
                prune: false,
                conditions: vec![available, progressing, degraded, no_warning()],
                phase: "Invalid",
                events,
                requeue: REQUEUE_IDLE,
                replicas: running,
                ready_replicas: ready,
            };
        }
        Ok(c) => c,
    };

    let warning = if cluster.warnings.is_empty() {
        no_warning()
    } else {
        let message = cluster.warnings.join("; ");
        events.push(EventSpec {
            warning: true,
            reason: "SpecWarning",
            note: message.clone(),
            action: "Validate",
        });
        ConditionSpec {
            type_: WARNING,
            status: true,
            reason: "SpecWarning",
            message,
        }
    };

    if let Some(now) = running.filter(|&n| n != cluster.replicas) {
        let message = format!(
            "replicas changed from {now} to {}: changing the membership of a running ensemble is not supported yet; nothing of this spec is applied until replicas is {now} again",
            cluster.replicas
        );
        events.push(EventSpec {
            warning: true,
            reason: "ScalingNotSupportedYet",
            note: message.clone(),
            action: "Scale",
        });
        return Plan {
            apply: Vec::new(),
            prune: false,
            conditions: vec![
                available,
                ConditionSpec {
                    type_: PROGRESSING,
                    status: false,
                    reason: "ScalingNotSupportedYet",
                    message,
                },
                degraded,
                warning,
            ],
            phase: phase(sts),
            events,
            requeue: REQUEUE_IDLE,
            replicas: running,
            ready_replicas: ready,
        };
    }

    let hash = config_hash(cluster);
    let progressing = match sts {
        None => {
            events.push(EventSpec {
                warning: false,
                reason: "Creating",
                note: format!("creating a {}-member ensemble", cluster.replicas),
                action: "Create",
            });
            ConditionSpec {
                type_: PROGRESSING,
                status: true,
                reason: "Creating",
                message: format!("creating {} members", cluster.replicas),
            }
        }
        Some(s) if s.config_hash.as_deref() != Some(hash.as_str()) => {
            events.push(EventSpec {
                warning: false,
                reason: "ConfigChanged",
                note: format!("zoo.cfg changed (hash {hash}): rolling the members"),
                action: "Update",
            });
            ConditionSpec {
                type_: PROGRESSING,
                status: true,
                reason: "ConfigChanged",
                message: "zoo.cfg changed: rolling the members".to_string(),
            }
        }
        Some(s) if !s.rolled_out || s.updated_replicas < s.replicas => ConditionSpec {
            type_: PROGRESSING,
            status: true,
            reason: "RollingOut",
            message: format!("{} of {} members updated", s.updated_replicas, s.replicas),
        },
        Some(s) if s.ready_replicas < s.replicas => ConditionSpec {
            type_: PROGRESSING,
            status: true,
            reason: "WaitingForMembers",
            message: format!("{} of {} members ready", s.ready_replicas, s.replicas),
        },
        Some(_) => ConditionSpec {
            type_: PROGRESSING,
            status: false,
            reason: "Reconciled",
            message: "every member runs the current spec and serves".to_string(),
        },
    };
    let requeue = if progressing.status {
        REQUEUE_BUSY
    } else {
        REQUEUE_IDLE
    };
    Plan {
        apply: build_all(cluster),
        prune: true,
        conditions: vec![available, progressing, degraded, warning],
        phase: phase(sts),
        events,
        requeue,
        replicas: Some(running.unwrap_or(cluster.replicas)),
        ready_replicas: Some(ready.unwrap_or(0)),
    }
}

fn no_warning() -> ConditionSpec {
    ConditionSpec {
        type_: WARNING,
        status: false,
        reason: "None",
        message: String::new(),
    }
}

/// Available: a quorum serves (a member is ready only while it serves in a quorum).
/// Degraded: the quorum serves with members missing, or no quorum at all.
fn health(sts: Option<&StatefulSetView>) -> (ConditionSpec, ConditionSpec) {
    let Some(s) = sts else {
        return (
            ConditionSpec {
                type_: AVAILABLE,
                status: false,
                reason: "NotCreated",
                message: "no members yet".to_string(),
            },
            ConditionSpec {
                type_: DEGRADED,
                status: false,
                reason: "NotCreated",
                message: "no members yet".to_string(),
            },
        );
    };
    let quorum = s.replicas / 2 + 1;
    let serving = s.ready_replicas >= quorum;
    let available = ConditionSpec {
        type_: AVAILABLE,
        status: serving,
        reason: if serving { "QuorumServing" } else { "NoQuorum" },
        message: format!(
            "{} of {} members serve; a quorum is {quorum}",
            s.ready_replicas, s.replicas
        ),
    };
    let missing = s.replicas.saturating_sub(s.ready_replicas);
    let degraded = ConditionSpec {
        type_: DEGRADED,
        status: missing > 0,
        reason: if missing > 0 {
            "MembersNotReady"
        } else {
            "AllMembersReady"
        },
        message: format!("{missing} of {} members not ready", s.replicas),
    };
    (available, degraded)
}

fn phase(sts: Option<&StatefulSetView>) -> &'static str {
    match sts {
        None => "Pending",
        Some(s) if s.ready_replicas >= s.replicas => "Running",
        Some(s) if s.ready_replicas > s.replicas / 2 => "Degraded",
        Some(_) => "Starting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::cluster_from_yaml;
    use crate::validate::validate;

    fn desired(yaml: &str) -> Result<Cluster, ValidationError> {
        validate(&cluster_from_yaml(yaml))
    }

    const THREE: &str = "metadata: {name: zk, namespace: ns, uid: u}\nspec: {}\n";

    fn running(c: &Cluster, replicas: u32, ready: u32) -> Observed {
        Observed {
            statefulset: Some(StatefulSetView {
                replicas,
                ready_replicas: ready,
                updated_replicas: replicas,
                rolled_out: true,
                config_hash: Some(config_hash(c)),
            }),
            ensemble: None,
        }
    }

    fn condition<'a>(p: &'a Plan, type_: &str) -> &'a ConditionSpec {
        p.conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition"))
    }

    #[test]
    fn a_new_cluster_is_created_whole_and_watched_closely() {
        let d = desired(THREE);
        let p = plan(&d, &Observed::default());
        assert_eq!(p.apply, build_all(d.as_ref().unwrap()));
        assert!(p.prune);
        assert_eq!(p.phase, "Pending");
        assert_eq!(condition(&p, PROGRESSING).reason, "Creating");
        assert!(!condition(&p, AVAILABLE).status);
        assert_eq!(p.requeue, REQUEUE_BUSY);
        assert_eq!(p.events[0].reason, "Creating");
        assert_eq!(p.replicas, Some(3));
    }

    #[test]
    fn a_settled_cluster_is_reapplied_and_left_idle() {
        let d = desired(THREE);
        let p = plan(&d, &running(d.as_ref().unwrap(), 3, 3));
        assert_eq!(p.apply.len(), 6);
        assert_eq!(p.phase, "Running");
        assert!(condition(&p, AVAILABLE).status);
        assert!(!condition(&p, DEGRADED).status);
        let progressing = condition(&p, PROGRESSING);
        assert_eq!(
            (progressing.status, progressing.reason),
            (false, "Reconciled")
        );
        assert_eq!(p.requeue, REQUEUE_IDLE);
        assert!(p.events.is_empty());
    }

    #[test]
    fn a_member_down_is_degraded_but_available() {
        let d = desired(THREE);
        let p = plan(&d, &running(d.as_ref().unwrap(), 3, 2));
        assert!(condition(&p, AVAILABLE).status);
        assert!(condition(&p, DEGRADED).status);
        assert_eq!(condition(&p, PROGRESSING).reason, "WaitingForMembers");
        assert_eq!(p.phase, "Degraded");
        assert_eq!(p.requeue, REQUEUE_BUSY);
    }

    #[test]
    fn without_a_quorum_the_cluster_is_not_available() {
        let d = desired(THREE);
        let p = plan(&d, &running(d.as_ref().unwrap(), 3, 1));
        let available = condition(&p, AVAILABLE);
        assert_eq!((available.status, available.reason), (false, "NoQuorum"));
        assert_eq!(p.phase, "Starting");
    }

    #[test]
    fn a_config_change_rolls_the_members_and_says_so() {
        let old = desired(THREE);
        let new =
            desired("metadata: {name: zk, namespace: ns}\nspec: {config: {tickTime: 1000}}\n");
        let p = plan(&new, &running(old.as_ref().unwrap(), 3, 3));
        assert_eq!(condition(&p, PROGRESSING).reason, "ConfigChanged");
        assert_eq!(p.events[0].reason, "ConfigChanged");
        assert!(!p.apply.is_empty());
    }

    #[test]
    fn a_rollout_in_flight_is_progressing() {
        let d = desired(THREE);
        let mut o = running(d.as_ref().unwrap(), 3, 3);
        if let Some(s) = o.statefulset.as_mut() {
            s.rolled_out = false;
            s.updated_replicas = 1;
        }
        let p = plan(&d, &o);
        assert_eq!(condition(&p, PROGRESSING).reason, "RollingOut");
        assert_eq!(p.requeue, REQUEUE_BUSY);
    }

    #[test]
    fn a_replicas_change_on_a_running_cluster_is_reported_not_attempted() {
        let three = desired(THREE);
        let five = desired("metadata: {name: zk, namespace: ns}\nspec: {replicas: 5}\n");
        let p = plan(&five, &running(three.as_ref().unwrap(), 3, 3));
        assert!(p.apply.is_empty());
        assert!(!p.prune);
        let progressing = condition(&p, PROGRESSING);
        assert_eq!(
            (progressing.status, progressing.reason),
            (false, "ScalingNotSupportedYet")
        );
        assert!(progressing.message.contains("from 3 to 5"));
        assert_eq!(p.events[0].reason, "ScalingNotSupportedYet");
        assert!(p.events[0].warning);
        assert_eq!(p.replicas, Some(3));
        assert!(condition(&p, AVAILABLE).status);
    }

    #[test]
    fn an_invalid_spec_applies_nothing_and_is_reported() {
        let bad = desired("metadata: {name: zk, namespace: ns}\nspec: {replicas: 4}\n");
        let good = desired(THREE);
        let p = plan(&bad, &running(good.as_ref().unwrap(), 3, 3));
        assert!(p.apply.is_empty());
        assert!(!p.prune);
        assert_eq!(p.phase, "Invalid");
        let progressing = condition(&p, PROGRESSING);
        assert_eq!(
            (progressing.status, progressing.reason),
            (false, "EvenReplicas")
        );
        assert!(
            condition(&p, AVAILABLE).status,
            "the running cluster still serves"
        );
        assert_eq!(p.events[0].reason, "InvalidSpec");
    }

    #[test]
    fn an_allowed_even_size_runs_with_a_warning_condition_and_event() {
        let d = desired(
            "metadata: {name: zk, namespace: ns}\nspec: {replicas: 4, allowEvenReplicas: true}\n",
        );
        let p = plan(&d, &Observed::default());
        assert!(!p.apply.is_empty());
        let warning = condition(&p, WARNING);
        assert!(warning.status);
        assert!(
            warning.message.contains("as 3 would"),
            "{}",
            warning.message
        );
        assert!(p
            .events
            .iter()
            .any(|e| e.warning && e.reason == "SpecWarning"));
    }
}
