//! The service registry gateway's objects, when `spec.registry.enabled`: a Deployment of
//! `zkrs-operator registry-gateway` (the same image as the members), its ServiceAccount, the
//! RoleBinding that lets it manage the mirrored Services and EndpointSlices in the cluster's
//! namespace only, and the `NAME-registry` Service in front of its HTTP API.
//!
//! The gateway's pods carry their own `app.kubernetes.io/name`, so no selector of the
//! members (client Service, StatefulSet, PodDisruptionBudget) ever matches them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, HTTPGetAction, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SecurityContext, Service, ServiceAccount,
    ServicePort, ServiceSpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, metadata, Owned, INSTANCE_LABEL};
use crate::crd::ServiceType;
use crate::validate::Cluster;
use crate::zoo_cfg::CLIENT_PORT;

/// The ClusterRole the chart and `manifests/install.yaml` install with the gateway's
/// permissions; each cluster's RoleBinding grants it in that cluster's namespace only.
pub const GATEWAY_CLUSTER_ROLE: &str = "zkrs-registry-gateway";
/// The gateway pods' `app.kubernetes.io/name`.
const GATEWAY_APP: &str = "zookeeper-registry";
const COMPONENT: &str = "registry";
const PORT_NAME: &str = "registry";
/// The uid and gid of the image's user.
const USER_ID: i64 = 1000;

pub fn registry_service_name(cluster: &str) -> String {
    format!("{cluster}-registry")
}

/// The gateway's objects in apply order (its identity before the pods that use it), or
/// none when the registry is not enabled.
pub fn registry_objects(c: &Cluster) -> Vec<Owned> {
    if c.registry.is_none() {
        return Vec::new();
    }
    let mut out = vec![
        Owned::ServiceAccount(service_account(c)),
        Owned::RoleBinding(role_binding(c)),
    ];
    out.extend(registry_service(c).map(Owned::Service));
    out.push(Owned::Deployment(deployment(c)));
    out
}

/// The labels that select the gateway's pods.
fn gateway_selector(c: &Cluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            GATEWAY_APP.to_string(),
        ),
        (INSTANCE_LABEL.to_string(), c.name.clone()),
    ])
}

fn service_account(c: &Cluster) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(c, registry_service_name(&c.name), COMPONENT),
        ..Default::default()
    }
}

fn role_binding(c: &Cluster) -> RoleBinding {
    RoleBinding {
        metadata: metadata(c, registry_service_name(&c.name), COMPONENT),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: GATEWAY_CLUSTER_ROLE.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: registry_service_name(&c.name),
            namespace: Some(c.namespace.clone()),
            ..Default::default()
        }]),
    }
}

/// The `NAME-registry` Service in front of the gateway's API, when enabled.
pub fn registry_service(c: &Cluster) -> Option<Service> {
    let (registry_port, service_type) = c.registry?;
    let type_ = match service_type {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    Some(Service {
        metadata: metadata(c, registry_service_name(&c.name), COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some(type_.to_string()),
            selector: Some(gateway_selector(c)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: i32::from(registry_port),
                target_port: Some(IntOrString::String(PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn deployment(c: &Cluster) -> Deployment {
    let mut pod_labels = labels(c, COMPONENT);
    pod_labels.extend(gateway_selector(c));
    Deployment {
        metadata: metadata(c, registry_service_name(&c.name), COMPONENT),
        spec: DeploymentSpec {
            // One gateway: its state is a view of ZooKeeper, rebuilt in a moment on restart.
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(gateway_selector(c)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(registry_service_name(&c.name)),
                    containers: vec![container(c)],
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(USER_ID),
                        run_as_group: Some(USER_ID),
                        run_as_non_root: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn container(c: &Cluster) -> Container {
    let port = c.registry.map_or(8081, |(p, _)| p);
    let connect = format!(
        "{}.{}.svc.{}:{CLIENT_PORT}",
        c.name, c.namespace, c.cluster_domain
    );
    let mut command: Vec<String> = [
        "zkrs-operator",
        "registry-gateway",
        "--connect",
        &connect,
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--namespace",
        &c.namespace,
        "--cluster",
        &c.name,
        "--mirror-endpointslices",
    ]
    .map(str::to_string)
    .to_vec();
    if let Some(uid) = &c.uid {
        // The mirrored objects then go with the cluster.
        command.extend(["--owner-uid".to_string(), uid.clone()]);
    }
    let health = || Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".to_string()),
            port: IntOrString::String(PORT_NAME.to_string()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Default::default()
    };
    Container {
        name: "registry-gateway".to_string(),
        image: Some(c.image.clone()),
        image_pull_policy: c.image_pull_policy.clone(),
        command: Some(command),
        env: Some(vec![EnvVar {
            name: "RUST_LOG".to_string(),
            value: Some("info".to_string()),
            ..Default::default()
        }]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: i32::from(port),
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("10m".to_string())),
                ("memory".to_string(), Quantity("32Mi".to_string())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_string(),
                Quantity("128Mi".to_string()),
            )])),
            ..Default::default()
        }),
        readiness_probe: Some(health()),
        liveness_probe: Some(Probe {
            failure_threshold: Some(6),
            ..health()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
