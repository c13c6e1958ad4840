//! The ConfigMap holding zoo.cfg, and the hash of it that rolls the pods when it changes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use sha1::{Digest, Sha1};

use super::metadata;
use crate::validate::Cluster;

/// The ConfigMap key (and file name under `/conf`) of zoo.cfg.
pub const ZOO_CFG_KEY: &str = "zoo.cfg";

pub fn configmap_name(cluster: &str) -> String {
    format!("{cluster}-config")
}

pub fn configmap(c: &Cluster) -> ConfigMap {
    ConfigMap {
        metadata: metadata(c, configmap_name(&c.name), "server"),
        data: Some(BTreeMap::from([(
            ZOO_CFG_KEY.to_string(),
            c.zoo_cfg.text.clone(),
        )])),
        ..Default::default()
    }
}

/// A short hex digest of the rendered zoo.cfg: in the pod template, so a new file rolls
/// the members (a mounted ConfigMap changes under a running server, which reads it once).
pub fn config_hash(c: &Cluster) -> String {
    let digest = Sha1::digest(c.zoo_cfg.text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
