//! From what is observed to what to do next: pure, so every decision is a unit test.
//!
//! The planner gets the validation result and what the reconciler read (the StatefulSet's
//! status, the ensemble's committed configuration) and returns the objects to apply, the
//! status conditions, the Events and how soon to look again. It keeps no memory: each
//! reconcile starts from observed state.
//!
//! A `replicas` change on a running cluster is a rolling reconfiguration, one member at a
//! time ([`membership`]): the StatefulSet's size and the `reconfig` to send follow from the
//! ensemble's committed configuration, never from what an earlier reconcile intended. While
//! the ensemble does not answer, the size stays as it is.

pub mod membership;
pub mod rolling;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::builders::{build_all, config_hash, Owned};
use crate::crd::Member;
use crate::validate::{Cluster, ValidationError};

pub use membership::{MemberMode, MembershipView, Step};

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
    /// The server ids whose pods run an older template than the StatefulSet's.
    pub outdated: BTreeSet<u64>,
}

/// What the ensemble says about itself (`/zookeeper/config` and `srvr`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsembleView {
    pub members: Vec<Member>,
    /// The leader's pod name.
    pub leader: Option<String>,
    /// The committed configuration's version (hex).
    pub config_version: Option<String>,
    /// What each pod's member says, by server id.
    pub modes: BTreeMap<u64, MemberMode>,
}

impl EnsembleView {
    /// The membership as the planner needs it, with the StatefulSet's size.
    pub fn membership(&self, pods: u32) -> MembershipView {
        MembershipView {
            voters: self
                .members
                .iter()
                .filter(|m| m.role == "participant")
                .map(|m| m.id)
                .collect(),
            version: self
                .config_version
                .as_deref()
                .and_then(|v| i64::from_str_radix(v, 16).ok())
                .unwrap_or(0),
            pods,
            modes: self.modes.clone(),
        }
    }
}

/// A reconfiguration the reconciler is to send, from the committed `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconfig {
    Add { id: u64, version: i64 },
    Remove { id: u64, version: i64 },
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
    /// The reconfiguration to send after the objects are applied.
    pub reconfig: Option<Reconfig>,
    /// Pods to delete (one at a time) so that they restart with the current template.
    pub delete_pods: Vec<String>,
    /// The voters the members ConfigMap is to list (what pods start from), when known:
    /// the committed configuration's, or the desired ids for a new cluster.
    pub members: Option<Vec<u64>>,
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
                reconfig: None,
                delete_pods: Vec::new(),
                members: None,
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

    let membership = membership_step(cluster, observed, &mut events);
    if let Some(m) = membership {
        let sized = sized(cluster, m.pods);
        return Plan {
            apply: build_all(&sized),
            prune: true,
            conditions: vec![available, m.progressing, degraded, warning],
            phase: phase(sts),
            events,
            requeue: REQUEUE_BUSY,
            replicas: running,
            ready_replicas: ready,
            reconfig: m.reconfig,
            delete_pods: Vec::new(),
            members: m.members,
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
    let (progressing, delete_pods) = match rolling_restart(cluster, observed, &mut events) {
        Some((condition, pods)) => (condition, pods),
        None => (progressing, Vec::new()),
    };
    let requeue = if progressing.status {
        REQUEUE_BUSY
    } else {
        REQUEUE_IDLE
    };
    let members = match (sts, &observed.ensemble) {
        (None, _) => Some((1..=u64::from(cluster.replicas)).collect()),
        (Some(_), Some(e)) => Some(e.membership(cluster.replicas).voters.into_iter().collect()),
        (Some(_), None) => None,
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
        reconfig: None,
        delete_pods,
        members,
    }
}

/// The next restart of a rolling restart, when pods run an older template: the condition
/// and the pod to delete, if any.
fn rolling_restart(
    cluster: &Cluster,
    observed: &Observed,
    events: &mut Vec<EventSpec>,
) -> Option<(ConditionSpec, Vec<String>)> {
    let sts = observed.statefulset.as_ref()?;
    if sts.outdated.is_empty() {
        return None;
    }
    let condition = |message: String| ConditionSpec {
        type_: PROGRESSING,
        status: true,
        reason: "RollingRestart",
        message,
    };
    let Some(ensemble) = &observed.ensemble else {
        return Some((
            condition(format!(
                "{} member(s) to restart; waiting for the ensemble to answer",
                sts.outdated.len()
            )),
            Vec::new(),
        ));
    };
    match rolling::next_restart(&ensemble.membership(sts.replicas), &sts.outdated) {
        rolling::Restart::Done => None,
        rolling::Restart::Wait { message } => Some((condition(message), Vec::new())),
        rolling::Restart::Pod { id } => {
            let pod = format!("{}-{}", cluster.name, id - 1);
            events.push(EventSpec {
                warning: false,
                reason: "RestartingMember",
                note: format!(
                    "restarting {pod} with the new pod template ({} left, the leader last)",
                    sts.outdated.len()
                ),
                action: "Restart",
            });
            Some((
                condition(format!(
                    "restarting {pod}; {} member(s) on the old template",
                    sts.outdated.len()
                )),
                vec![pod],
            ))
        }
    }
}

/// The membership part of a plan that is not settled.
struct MembershipPlan {
    pods: u32,
    progressing: ConditionSpec,
    reconfig: Option<Reconfig>,
    members: Option<Vec<u64>>,
}

/// `cluster` with the StatefulSet size `pods` (what runs while the membership changes).
fn sized(cluster: &Cluster, pods: u32) -> Cluster {
    let mut c = cluster.clone();
    c.replicas = pods;
    c
}

/// The next membership step of a running cluster, or None when the membership is as
/// desired (or the cluster is new: it is created at its size).
fn membership_step(
    cluster: &Cluster,
    observed: &Observed,
    events: &mut Vec<EventSpec>,
) -> Option<MembershipPlan> {
    let sts = observed.statefulset.as_ref()?;
    let progressing = |reason: &'static str, message: String| ConditionSpec {
        type_: PROGRESSING,
        status: true,
        reason,
        message,
    };
    let Some(ensemble) = &observed.ensemble else {
        if sts.replicas == cluster.replicas {
            return None;
        }
        return Some(MembershipPlan {
            pods: sts.replicas,
            progressing: progressing(
                "WaitingForEnsemble",
                format!(
                    "scaling from {} to {} members waits for the ensemble to answer: the membership changes only from its committed configuration",
                    sts.replicas, cluster.replicas
                ),
            ),
            reconfig: None,
            members: None,
        });
    };
    let view = ensemble.membership(sts.replicas);
    let members = Some(view.voters.iter().copied().collect());
    let step = membership::next_step(cluster.replicas, &view);
    let voters = view.voters.len();
    let (pods, condition, reconfig) = match step {
        Step::Settled => return None,
        Step::AddPod { pods } => {
            events.push(EventSpec {
                warning: false,
                reason: "AddingMember",
                note: format!(
                    "starting pod {}-{} as a joiner ({voters} voters, {} desired)",
                    cluster.name,
                    pods - 1,
                    cluster.replicas
                ),
                action: "Scale",
            });
            (
                pods,
                progressing(
                    "AddingMember",
                    format!("starting server {pods}, which joins as a non-voting follower"),
                ),
                None,
            )
        }
        Step::ShrinkPods { pods } => {
            events.push(EventSpec {
                warning: false,
                reason: "RemovingPods",
                note: format!(
                    "stopping the pods above {}-{}: their members are no longer voters",
                    cluster.name,
                    pods.saturating_sub(1)
                ),
                action: "Scale",
            });
            (
                pods,
                progressing(
                    "RemovingPods",
                    format!("stopping the members above server {pods}, which left the ensemble"),
                ),
                None,
            )
        }
        Step::Add { id, version } => (
            view.pods,
            progressing(
                "Reconfiguring",
                format!("adding server {id} to the voters (from config version {version:x})"),
            ),
            Some(Reconfig::Add { id, version }),
        ),
        Step::Remove { id, version } => (
            view.pods,
            progressing(
                "Reconfiguring",
                format!("removing server {id} from the voters (from config version {version:x})"),
            ),
            Some(Reconfig::Remove { id, version }),
        ),
        Step::Wait { reason, message } => (view.pods, progressing(reason, message), None),
    };
    Some(MembershipPlan {
        pods,
        progressing: condition,
        reconfig,
        members,
    })
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
                outdated: BTreeSet::new(),
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

    fn ensemble(voters: u64, modes: &[(u64, MemberMode)]) -> EnsembleView {
        EnsembleView {
            members: (1..=voters)
                .map(|id| Member {
                    id,
                    host: format!("zk-{}.zk-hs.ns.svc.cluster.local", id - 1),
                    role: "participant".to_string(),
                })
                .collect(),
            leader: Some("zk-0".to_string()),
            config_version: Some("100000000".to_string()),
            modes: modes.iter().copied().collect(),
        }
    }

    fn statefulset_replicas(p: &Plan) -> Option<i32> {
        p.apply.iter().find_map(|o| match o {
            Owned::StatefulSet(s) => s.spec.replicas,
            _ => None,
        })
    }

    #[test]
    fn a_replicas_change_without_the_ensembles_answer_keeps_the_size() {
        let three = desired(THREE);
        let five = desired("metadata: {name: zk, namespace: ns}\nspec: {replicas: 5}\n");
        let p = plan(&five, &running(three.as_ref().unwrap(), 3, 3));
        assert_eq!(statefulset_replicas(&p), Some(3));
        assert_eq!(p.reconfig, None);
        assert_eq!(p.members, None, "the members ConfigMap is left as it is");
        let progressing = condition(&p, PROGRESSING);
        assert_eq!(
            (progressing.status, progressing.reason),
            (true, "WaitingForEnsemble")
        );
        assert!(progressing.message.contains("from 3 to 5"));
        assert_eq!(p.replicas, Some(3));
    }

    #[test]
    fn growing_starts_one_joiner_then_adds_it_once_it_follows() {
        let three = desired(THREE);
        let five = desired("metadata: {name: zk, namespace: ns}\nspec: {replicas: 5}\n");
        let serving = [
            (1, MemberMode::Leader),
            (2, MemberMode::Follower),
            (3, MemberMode::Follower),
        ];
        let mut o = running(three.as_ref().unwrap(), 3, 3);
        o.ensemble = Some(ensemble(3, &serving));
        let p = plan(&five, &o);
        assert_eq!(statefulset_replicas(&p), Some(4));
        assert_eq!(p.members, Some(vec![1, 2, 3]));
        assert_eq!(p.events[0].reason, "AddingMember");
        assert_eq!(condition(&p, PROGRESSING).reason, "AddingMember");
        assert_eq!(p.requeue, REQUEUE_BUSY);

        let mut o = running(three.as_ref().unwrap(), 4, 4);
        let mut modes = serving.to_vec();
        modes.push((4, MemberMode::Follower));
        o.ensemble = Some(ensemble(3, &modes));
        let p = plan(&five, &o);
        assert_eq!(statefulset_replicas(&p), Some(4));
        assert_eq!(
            p.reconfig,
            Some(Reconfig::Add {
                id: 4,
                version: 0x1_0000_0000
            })
        );
        assert_eq!(condition(&p, PROGRESSING).reason, "Reconfiguring");
    }

    #[test]
    fn a_step_that_is_not_safe_waits_and_says_why() {
        let three = desired(THREE);
        let five = desired("metadata: {name: zk, namespace: ns}\nspec: {replicas: 5}\n");
        let mut o = running(three.as_ref().unwrap(), 4, 3);
        o.ensemble = Some(ensemble(
            3,
            &[
                (1, MemberMode::Leader),
                (2, MemberMode::NotServing),
                (3, MemberMode::Follower),
                (4, MemberMode::Follower),
            ],
        ));
        let p = plan(&five, &o);
        assert_eq!(p.reconfig, None);
        assert_eq!(statefulset_replicas(&p), Some(4));
        let progressing = condition(&p, PROGRESSING);
        assert_eq!(progressing.reason, "MembersNotServing");
        assert!(progressing.message.contains('2'), "{}", progressing.message);
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
