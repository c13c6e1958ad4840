//! The Kubernetes objects that mirror the registry: per registered service a selector-less
//! headless Service and the EndpointSlices of its live members, so cluster DNS answers with
//! the providers' addresses (`NAME-svc-SERVICE.NS.svc`). Pure: the same view gives the same
//! objects.
//!
//! One slice per address type and port: a slice's ports apply to all its endpoints, and
//! members may listen on different ports. Names are valid DNS labels; a service name that
//! is not one (upper case, dots, underscores, too long) is mangled stably: lower-cased,
//! other characters turned into `-`, and a hash of the original appended, so two names
//! never collide.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use sha1::{Digest as _, Sha1};

use super::address::HostKind;
use super::model::{Member, View};

/// The field manager of the gateway's applies, and its `managed-by` labels' value.
pub const MANAGER: &str = "zkrs-registry";
/// The label naming the cluster whose registry an object mirrors.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The annotation with the registry's own name of the service.
pub const SERVICE_ANNOTATION: &str = "zkrs.io/registry-service";
/// Kubernetes' cap on endpoints per slice.
const MAX_ENDPOINTS: usize = 1000;
const MAX_LABEL: usize = 63;

/// Whose objects these are.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub namespace: String,
    /// The ZooKeeperCluster's name: the objects' name prefix and instance label.
    pub cluster: String,
    /// Set on every object when known, so they go with the cluster.
    pub owner: Option<OwnerReference>,
}

/// What the gateway applies for one view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mirror {
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
}

/// The label selector of every object the gateway of `cluster` made.
pub fn selector(cluster: &str) -> String {
    format!("app.kubernetes.io/managed-by={MANAGER},{INSTANCE_LABEL}={cluster}")
}

/// The objects for every service of `view` that has members. A service without members
/// gets none: its Service would resolve to nothing, and its old objects are deleted.
pub fn mirror(target: &Target, view: &View) -> Mirror {
    let mut out = Mirror::default();
    for (service, members) in &view.services {
        if members.is_empty() {
            continue;
        }
        let name = service_object_name(&target.cluster, service);
        let mut groups: BTreeMap<(HostKind, u16), Vec<&Member>> = BTreeMap::new();
        for m in members {
            groups
                .entry((m.endpoint.kind, m.endpoint.port))
                .or_default()
                .push(m);
        }
        let mut ports: Vec<u16> = groups.keys().map(|(_, p)| *p).collect();
        ports.sort_unstable();
        ports.dedup();
        out.services
            .push(service_object(target, service, &name, &ports));
        for ((kind, port), members) in groups {
            let endpoints = endpoints(&members);
            for (i, chunk) in endpoints.chunks(MAX_ENDPOINTS).enumerate() {
                let kind_name = match kind {
                    HostKind::IPv4 => "ipv4",
                    HostKind::IPv6 => "ipv6",
                    HostKind::Fqdn => "fqdn",
                };
                let suffix = if i == 0 {
                    String::new()
                } else {
                    format!("-{}", i + 1)
                };
                out.endpoint_slices.push(EndpointSlice {
                    metadata: meta(
                        target,
                        service,
                        format!("{name}-{kind_name}-{port}{suffix}"),
                        Some(&name),
                    ),
                    address_type: kind_label(kind).to_string(),
                    endpoints: Some(chunk.to_vec()),
                    ports: Some(vec![EndpointPort {
                        name: Some(port_name(port)),
                        port: Some(i32::from(port)),
                        protocol: Some("TCP".to_string()),
                        ..Default::default()
                    }]),
                });
            }
        }
    }
    out
}

fn kind_label(kind: HostKind) -> &'static str {
    match kind {
        HostKind::IPv4 => "IPv4",
        HostKind::IPv6 => "IPv6",
        HostKind::Fqdn => "FQDN",
    }
}

fn port_name(port: u16) -> String {
    format!("port-{port}")
}

/// One endpoint per distinct address (a slice's endpoints must be unique), named after
/// the first member with that address, so each has its own DNS name under the Service.
fn endpoints(members: &[&Member]) -> Vec<Endpoint> {
    let mut by_address: BTreeMap<&str, &Member> = BTreeMap::new();
    for m in members {
        by_address.entry(m.endpoint.host.as_str()).or_insert(m);
    }
    by_address
        .into_iter()
        .map(|(address, m)| Endpoint {
            addresses: vec![address.to_string()],
            hostname: Some(dns_label(&m.id, MAX_LABEL)),
            conditions: Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            ..Default::default()
        })
        .collect()
}

fn service_object(target: &Target, service: &str, name: &str, ports: &[u16]) -> Service {
    Service {
        metadata: meta(target, service, name.to_string(), None),
        spec: Some(ServiceSpec {
            // Headless: DNS answers with the members' own addresses.
            cluster_ip: Some("None".to_string()),
            ports: Some(
                ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(port_name(*p)),
                        port: i32::from(*p),
                        target_port: Some(IntOrString::Int(i32::from(*p))),
                        protocol: Some("TCP".to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn meta(target: &Target, service: &str, name: String, slice_of: Option<&str>) -> ObjectMeta {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        ),
        (INSTANCE_LABEL.to_string(), target.cluster.clone()),
    ]);
    if let Some(svc) = slice_of {
        labels.insert("kubernetes.io/service-name".to_string(), svc.to_string());
        labels.insert(
            "endpointslice.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        );
    }
    ObjectMeta {
        name: Some(name),
        namespace: Some(target.namespace.clone()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            SERVICE_ANNOTATION.to_string(),
            service.to_string(),
        )])),
        owner_references: target.owner.clone().map(|o| vec![o]),
        ..Default::default()
    }
}

/// The mirrored Service's name: `CLUSTER-svc-SERVICE`, a DNS-1035 label.
pub fn service_object_name(cluster: &str, service: &str) -> String {
    dns_label(&format!("{cluster}-svc-{service}"), MAX_LABEL)
}

/// `text` if it is a DNS label of at most `max` characters that starts with a letter;
/// otherwise a label made of it: lower case, runs of other characters as one `-`, cut to
/// fit, and 8 hex digits of the SHA-1 of `text` appended.
pub fn dns_label(text: &str, max: usize) -> String {
    let valid = !text.is_empty()
        && text.len() <= max
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        return text.to_string();
    }
    let mut cleaned = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            cleaned.push(c);
        } else if !cleaned.ends_with('-') && !cleaned.is_empty() {
            cleaned.push('-');
        }
    }
    let hash = Sha1::digest(text.as_bytes());
    let hash: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    if !cleaned.starts_with(|c: char| c.is_ascii_lowercase()) {
        cleaned.insert(0, 'x');
    }
    cleaned.truncate(max - hash.len() - 1);
    let cleaned = cleaned.trim_end_matches('-');
    format!("{cleaned}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{view, RawTree};

    fn target() -> Target {
        Target {
            namespace: "ns".to_string(),
            cluster: "zk".to_string(),
            owner: None,
        }
    }

    fn tree(nodes: &[(&str, &str)]) -> RawTree {
        nodes
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_service_gets_a_headless_service_and_a_slice_per_address_type_and_port() {
        let v = view(&tree(&[
            ("hello/provider0000000001", "rmi://10.0.0.1:1099/Hello"),
            ("hello/provider0000000002", "rmi://10.0.0.2:1099/Hello"),
            ("hello/provider0000000003", "[fd00::3]:1099"),
            ("hello/provider0000000004", "10.0.0.4:2000"),
            ("idle", ""),
        ]));
        let m = mirror(&target(), &v);
        assert_eq!(
            m.services.len(),
            1,
            "a service without members gets nothing"
        );
        let svc = &m.services[0];
        assert_eq!(svc.metadata.name.as_deref(), Some("zk-svc-hello"));
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert!(spec.selector.is_none());
        let ports: Vec<i32> = spec
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(ports, [1099, 2000]);
        let slices: Vec<(&str, &str, usize)> = m
            .endpoint_slices
            .iter()
            .map(|s| {
                (
                    s.metadata.name.as_deref().unwrap(),
                    s.address_type.as_str(),
                    s.endpoints.as_ref().unwrap().len(),
                )
            })
            .collect();
        assert_eq!(
            slices,
            [
                ("zk-svc-hello-ipv4-1099", "IPv4", 2),
                ("zk-svc-hello-ipv4-2000", "IPv4", 1),
                ("zk-svc-hello-ipv6-1099", "IPv6", 1),
            ]
        );
        let labels = m.endpoint_slices[0].metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/service-name"], "zk-svc-hello");
        assert_eq!(labels["endpointslice.kubernetes.io/managed-by"], MANAGER);
        let e = &m.endpoint_slices[0].endpoints.as_ref().unwrap()[0];
        assert_eq!(e.addresses, ["10.0.0.1"]);
        assert_eq!(e.hostname.as_deref(), Some("provider0000000001"));
    }

    #[test]
    fn names_are_dns_labels_and_mangling_is_stable_and_distinct() {
        assert_eq!(service_object_name("zk", "billing"), "zk-svc-billing");
        let a = service_object_name("zk", "Billing.Service");
        let b = service_object_name("zk", "billing-service");
        let c = service_object_name("zk", "billing_service");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, service_object_name("zk", "Billing.Service"));
        let long = service_object_name("zk", &"x".repeat(200));
        for name in [a, c, long, dns_label("___", 63), dns_label("9lives", 63)] {
            assert!(name.len() <= 63, "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
    }

    #[test]
    fn a_curator_instance_and_a_host_name_are_mirrored_too() {
        let v = view(&tree(&[(
            "pay/7c1d-aa",
            r#"{"name":"pay","id":"7c1d-aa","address":"pay-0.pay.ns.svc","port":8080}"#,
        )]));
        let m = mirror(&target(), &v);
        assert_eq!(m.endpoint_slices[0].address_type, "FQDN");
        assert_eq!(
            m.endpoint_slices[0].endpoints.as_ref().unwrap()[0].addresses,
            ["pay-0.pay.ns.svc"]
        );
    }
}
