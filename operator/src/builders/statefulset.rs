//! The StatefulSet running the members.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapProjection, Container, ContainerPort, EnvVar, EnvVarSource,
    ExecAction, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ProjectedVolumeSource, SecretKeySelector, SecurityContext, TCPSocketAction, Volume,
    VolumeMount, VolumeProjection, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    config_hash, configmap_name, labels, members_configmap_name, metadata, selector_labels,
    super_secret_name, DIGEST_KEY,
};
use crate::crd::ReclaimPolicy;
use crate::validate::Cluster;
use crate::zoo_cfg::{
    headless_service_name, ADMIN_PORT, CLIENT_PORT, DATA_DIR, ELECTION_PORT, PEER_PORT,
};

/// The pod template annotation holding [`config_hash`].
pub const CONFIG_HASH_ANNOTATION: &str = "zkrs.io/config-hash";
/// The members' container.
pub const CONTAINER_NAME: &str = "zookeeper";
/// The init container that writes the member's zoo.cfg in its volume.
pub const PREPARE_CONTAINER_NAME: &str = "prepare";
/// Where the ConfigMaps are mounted.
const CONF_DIR: &str = "/conf";
/// The zoo.cfg a member runs from: its own copy in its volume (see `member_start`).
const RUNTIME_ZOO_CFG: &str = "/data/zoo.cfg";
/// The environment variable with the pod's name (the downward API), whose ordinal is the
/// member's id.
pub const POD_NAME_ENV: &str = "POD_NAME";
/// The environment variable with the super user's digest (from the Secret).
pub const SUPER_DIGEST_ENV: &str = "ZKRS_SUPER_DIGEST";
/// The uid and gid the image's user has; the volume is made writable for it via fsGroup.
const USER_ID: i64 = 1000;

pub fn statefulset(c: &Cluster) -> StatefulSet {
    let retention = match c.reclaim_policy {
        ReclaimPolicy::Retain => "Retain",
        ReclaimPolicy::Delete => "Delete",
    };
    StatefulSet {
        metadata: metadata(c, c.name.clone(), "server"),
        spec: StatefulSetSpec {
            replicas: Some(i32::try_from(c.replicas).unwrap_or(i32::MAX)),
            service_name: Some(headless_service_name(&c.name)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(c)),
                ..Default::default()
            },
            // All members start together: a member is ready only once a quorum serves, so
            // OrderedReady would wait for member 0 forever.
            pod_management_policy: Some("Parallel".to_string()),
            // The operator restarts members itself, followers first and the leader last,
            // each once every member serves (planner::rolling).
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".to_string()),
                ..Default::default()
            }),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(retention.to_string()),
                    when_scaled: Some(retention.to_string()),
                },
            ),
            template: pod_template(c),
            volume_claim_templates: Some(vec![volume_claim(c)]),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn pod_template(c: &Cluster) -> PodTemplateSpec {
    let pod = &c.pod;
    // The user's labels first, so the operator's (which the selectors use) win a clash.
    let mut pod_labels = pod.labels.clone().unwrap_or_default();
    pod_labels.extend(labels(c, "server"));
    let mut annotations = pod.annotations.clone().unwrap_or_default();
    annotations.insert(CONFIG_HASH_ANNOTATION.to_string(), config_hash(c));
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            init_containers: Some(vec![prepare_container(c)]),
            containers: vec![container(c)],
            volumes: Some(vec![Volume {
                name: "config".to_string(),
                projected: Some(ProjectedVolumeSource {
                    sources: Some(
                        [configmap_name(&c.name), members_configmap_name(&c.name)]
                            .into_iter()
                            .map(|name| VolumeProjection {
                                config_map: Some(ConfigMapProjection {
                                    name,
                                    ..Default::default()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            security_context: Some(
                pod.security_context
                    .clone()
                    .unwrap_or_else(default_pod_security_context),
            ),
            affinity: Some(pod.affinity.clone().unwrap_or_else(|| default_affinity(c))),
            node_selector: pod.node_selector.clone(),
            tolerations: pod.tolerations.clone(),
            topology_spread_constraints: pod.topology_spread_constraints.clone(),
            priority_class_name: pod.priority_class_name.clone(),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
    }
}

/// Writes the member's own zoo.cfg in its volume: from its last committed membership on a
/// restart, as a joiner when it is not a voter yet (`zkrs-operator prepare-member`).
fn prepare_container(c: &Cluster) -> Container {
    Container {
        name: PREPARE_CONTAINER_NAME.to_string(),
        image: Some(c.image.clone()),
        image_pull_policy: c.image_pull_policy.clone(),
        command: Some(vec![
            "zkrs-operator".to_string(),
            "prepare-member".to_string(),
            "--conf".to_string(),
            CONF_DIR.to_string(),
            "--data".to_string(),
            DATA_DIR.to_string(),
        ]),
        env: Some(vec![
            EnvVar {
                name: POD_NAME_ENV.to_string(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            EnvVar {
                name: SUPER_DIGEST_ENV.to_string(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: super_secret_name(&c.name),
                        key: DIGEST_KEY.to_string(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ]),
        resources: c.resources.clone(),
        volume_mounts: Some(mounts()),
        security_context: Some(container_security_context()),
        ..Default::default()
    }
}

fn mounts() -> Vec<VolumeMount> {
    vec![
        VolumeMount {
            name: "data".to_string(),
            mount_path: DATA_DIR.to_string(),
            ..Default::default()
        },
        VolumeMount {
            name: "config".to_string(),
            mount_path: CONF_DIR.to_string(),
            read_only: Some(true),
            ..Default::default()
        },
    ]
}

fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container(c: &Cluster) -> Container {
    let zoo_cfg = RUNTIME_ZOO_CFG.to_string();
    let mut ports = vec![
        container_port("client", CLIENT_PORT),
        container_port("peer", PEER_PORT),
        container_port("election", ELECTION_PORT),
        container_port("admin", ADMIN_PORT),
    ];
    if let Some(p) = c.metrics_port {
        ports.push(container_port("metrics", p));
    }
    let client_port = IntOrString::String("client".to_string());
    Container {
        name: CONTAINER_NAME.to_string(),
        image: Some(c.image.clone()),
        image_pull_policy: c.image_pull_policy.clone(),
        command: Some(vec!["zkrs-server".to_string(), zoo_cfg.clone()]),
        env: Some(vec![EnvVar {
            name: "RUST_LOG".to_string(),
            value: Some("info".to_string()),
            ..Default::default()
        }]),
        ports: Some(ports),
        resources: c.resources.clone(),
        volume_mounts: Some(mounts()),
        // Ready means serving in a quorum: `status` reads srvr's Mode line and exits 0 only
        // for leader, follower, observer or standalone. `ruok` would say imok without one.
        readiness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(vec![
                    "zkrs-server".to_string(),
                    "status".to_string(),
                    zoo_cfg,
                ]),
            }),
            period_seconds: Some(10),
            timeout_seconds: Some(8),
            failure_threshold: Some(3),
            ..Default::default()
        }),
        // Alive means the process answers on its client port; losing the quorum is not a
        // reason to restart a member (that would only slow the quorum's return).
        liveness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: client_port.clone(),
                ..Default::default()
            }),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            failure_threshold: Some(6),
            ..Default::default()
        }),
        // Replaying a long transaction log happens before the client port opens: give it
        // up to 10 minutes before liveness starts counting.
        startup_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: client_port,
                ..Default::default()
            }),
            period_seconds: Some(5),
            failure_threshold: Some(120),
            ..Default::default()
        }),
        security_context: Some(container_security_context()),
        ..Default::default()
    }
}

fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(port),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

fn default_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(USER_ID),
        run_as_group: Some(USER_ID),
        fs_group: Some(USER_ID),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

/// Prefer one member per node, without refusing to schedule when there are fewer nodes.
fn default_affinity(c: &Cluster) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels(c)),
                            ..Default::default()
                        }),
                        topology_key: "kubernetes.io/hostname".to_string(),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn volume_claim(c: &Cluster) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".to_string()),
            labels: Some(selector_labels(c)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            storage_class_name: c.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    c.storage_size.clone(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
