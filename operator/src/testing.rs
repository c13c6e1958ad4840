//! Helpers shared by the unit tests: clusters from small YAML fixtures.

use crate::crd::ZooKeeperCluster;

/// A `ZooKeeperCluster` from YAML holding at least `metadata` and `spec`; `apiVersion` and
/// `kind` are filled in when missing, so fixtures stay short.
pub fn cluster_from_yaml(yaml: &str) -> ZooKeeperCluster {
    let mut value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("fixture is YAML");
    if let serde_yaml::Value::Mapping(m) = &mut value {
        m.entry("apiVersion".into())
            .or_insert_with(|| "zkrs.io/v1alpha1".into());
        m.entry("kind".into())
            .or_insert_with(|| "ZooKeeperCluster".into());
    }
    serde_yaml::from_value(value).expect("fixture is a ZooKeeperCluster")
}
