//! zkrs-server: a ZooKeeper-compatible coordination server.
