//! The PodDisruptionBudget: voluntary evictions (drains) take one member at a time.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{metadata, selector_labels};
use crate::validate::Cluster;

pub fn pdb(c: &Cluster) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(c, c.name.clone(), "server"),
        spec: Some(PodDisruptionBudgetSpec {
            // One at a time whatever the size: with 3 members that keeps a quorum, and with
            // more the operator's own changes never race an eviction for the same margin.
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(c)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
