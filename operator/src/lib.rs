//! zkrs-operator: reconciles `ZooKeeperCluster` resources (not started yet: see the issue tracker).
