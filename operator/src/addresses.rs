//! Where each member is reached: the one place that turns a server id into addresses.
//!
//! In a cluster a member is its pod's stable DNS name under the headless Service and binds
//! its client port on every interface ([`PodDns`]). The trait is the seam for any other
//! network (the scaling tests run members as processes on loopback addresses of their own).

use crate::validate::Cluster;
use crate::zoo_cfg::{member_host, Layout, CLIENT_PORT, ELECTION_PORT, PEER_PORT};

/// The addresses of a cluster's members, by server id (pod ordinal + 1).
pub trait MemberAddresses: Send + Sync {
    /// The host in server `id`'s `server.N` line (peers connect to it).
    fn peer_host(&self, c: &Cluster, id: u64) -> String;
    /// The client address in server `id`'s line: where its client port listens.
    fn client_bind(&self, c: &Cluster, id: u64) -> String;
    /// `host:port` where the operator reaches server `id`'s client port.
    fn client_address(&self, c: &Cluster, id: u64) -> String;

    /// Server `id`'s line in a dynamic configuration, as `reconfig -add` and the members'
    /// files take it: `server.N=host:2888:3888:participant;bind:2181`.
    fn server_line(&self, c: &Cluster, id: u64) -> String {
        format!(
            "server.{id}={}:{PEER_PORT}:{ELECTION_PORT}:participant;{}",
            self.peer_host(c, id),
            self.client_bind(c, id)
        )
    }
}

/// Pods' DNS names; every member's client port on all interfaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodDns;

impl MemberAddresses for PodDns {
    fn peer_host(&self, c: &Cluster, id: u64) -> String {
        let layout = Layout {
            name: &c.name,
            namespace: &c.namespace,
            cluster_domain: &c.cluster_domain,
            replicas: c.replicas,
            metrics_port: c.metrics_port,
        };
        member_host(
            &layout,
            u32::try_from(id.saturating_sub(1)).unwrap_or(u32::MAX),
        )
    }

    fn client_bind(&self, _c: &Cluster, _id: u64) -> String {
        format!("0.0.0.0:{CLIENT_PORT}")
    }

    fn client_address(&self, c: &Cluster, id: u64) -> String {
        format!("{}:{CLIENT_PORT}", self.peer_host(c, id))
    }
}
