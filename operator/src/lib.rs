//! zkrs-operator: runs `ZooKeeperCluster` resources as StatefulSets of zkrs-server.
//!
//! A reconcile is a pipeline of steps, one module each:
//! * [`crd`]: the resource's types and its CustomResourceDefinition;
//! * [`validate`]: the raw resource to a validated model with every default filled in;
//! * [`zoo_cfg`]: the members' zoo.cfg, written by the server's own renderer;
//! * [`builders`]: pure functions from the model to every object the cluster owns;
//! * [`addresses`]: where each member is reached (pod DNS names in a cluster);
//! * [`planner`]: pure, from what is observed to the next step;
//! * [`reconciler`]: the kube-rs glue that applies the plan and writes the status;
//! * [`member_start`]: what a member's pod does before the server starts.
//!
//! [`registry`] is the `registry-gateway` command: the service registry over HTTP and as
//! EndpointSlices.

pub mod addresses;
pub mod builders;
pub mod crd;
pub mod member_start;
pub mod planner;
pub mod reconciler;
pub mod registry;
pub mod validate;
pub mod zoo_cfg;

#[cfg(test)]
mod testing;
