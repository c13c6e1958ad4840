//! The cluster's Services: headless (members' DNS names), client, admin/metrics. The
//! registry's is in `registry.rs`.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{metadata, selector_labels};
use crate::validate::Cluster;
use crate::zoo_cfg::{headless_service_name, ADMIN_PORT, CLIENT_PORT, ELECTION_PORT, PEER_PORT};

fn port(name: &str, port: u16) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port: i32::from(port),
        target_port: Some(IntOrString::String(name.to_string())),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

/// The headless Service behind the members' `server.N` names. Not-ready members are
/// published: peers must find each other before any of them can be ready (ready means
/// serving in a quorum).
pub fn headless_service(c: &Cluster) -> Service {
    Service {
        metadata: metadata(c, headless_service_name(&c.name), "server"),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(c)),
            ports: Some(vec![
                port("client", CLIENT_PORT),
                port("peer", PEER_PORT),
                port("election", ELECTION_PORT),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The client Service: only members serving in a quorum receive connections.
pub fn client_service(c: &Cluster) -> Service {
    Service {
        metadata: metadata(c, c.name.clone(), "server"),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            selector: Some(selector_labels(c)),
            ports: Some(vec![port("client", CLIENT_PORT)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn admin_service_name(cluster: &str) -> String {
    format!("{cluster}-admin")
}

/// The HTTP admin commands and, when metrics are on, Prometheus' `/metrics`. Every member
/// is listed, ready or not, so a member without a quorum can still be inspected. Its
/// component label `admin` is what the chart's ServiceMonitor for clusters selects.
pub fn admin_service(c: &Cluster) -> Service {
    let mut ports = vec![port("admin", ADMIN_PORT)];
    if let Some(p) = c.metrics_port {
        ports.push(port("metrics", p));
    }
    Service {
        metadata: metadata(c, admin_service_name(&c.name), "admin"),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(c)),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}
