//! The ConfigMaps the members start from: `<name>-config` with zoo.cfg's settings (its
//! hash rolls the pods when it changes), and `<name>-members` with the membership, which
//! changes with every scaling step and rolls nothing.
//!
//! A member never runs from these files directly: `zkrs-operator prepare-member`
//! (`crate::member_start`) writes its own zoo.cfg in its data volume from them, since a
//! reconfiguring member rewrites its zoo.cfg and keeps its committed membership beside it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use sha1::{Digest, Sha1};

use super::metadata;
use crate::addresses::MemberAddresses;
use crate::crd::MAX_REPLICAS;
use crate::validate::Cluster;

/// The ConfigMap key (and file name under `/conf`) of zoo.cfg's settings, without the
/// membership.
pub const ZOO_CFG_KEY: &str = "zoo.cfg";
/// The members ConfigMap's key with the `server.N` line of every id a member may have.
pub const SERVERS_KEY: &str = "servers";
/// The members ConfigMap's key with the ids of the committed configuration's voters.
pub const VOTERS_KEY: &str = "voters";

pub fn members_configmap_name(cluster: &str) -> String {
    format!("{cluster}-members")
}

/// The membership a starting member reads: every possible member's line (a joiner finds its
/// own there) and the voters of the committed configuration, as the operator last read it.
pub fn members_configmap(
    c: &Cluster,
    addresses: &dyn MemberAddresses,
    voters: &[u64],
) -> ConfigMap {
    let max = u64::try_from(MAX_REPLICAS).unwrap_or(15);
    let servers: String = (1..=max)
        .map(|id| format!("{}\n", addresses.server_line(c, id)))
        .collect();
    let voters: Vec<String> = voters.iter().map(u64::to_string).collect();
    ConfigMap {
        metadata: metadata(c, members_configmap_name(&c.name), "server"),
        data: Some(BTreeMap::from([
            (SERVERS_KEY.to_string(), servers),
            (VOTERS_KEY.to_string(), format!("{}\n", voters.join(","))),
        ])),
        ..Default::default()
    }
}

/// zoo.cfg without the `server.N` lines: the members come from the members ConfigMap.
pub fn settings_text(c: &Cluster) -> String {
    c.zoo_cfg
        .text
        .lines()
        .filter(|l| !l.starts_with("server."))
        .map(|l| format!("{l}\n"))
        .collect()
}

pub fn configmap_name(cluster: &str) -> String {
    format!("{cluster}-config")
}

pub fn configmap(c: &Cluster) -> ConfigMap {
    ConfigMap {
        metadata: metadata(c, configmap_name(&c.name), "server"),
        data: Some(BTreeMap::from([(
            ZOO_CFG_KEY.to_string(),
            settings_text(c),
        )])),
        ..Default::default()
    }
}

/// A short hex digest of the rendered zoo.cfg: in the pod template, so a new file rolls
/// the members (a mounted ConfigMap changes under a running server, which reads it once).
pub fn config_hash(c: &Cluster) -> String {
    let digest = Sha1::digest(settings_text(c).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
