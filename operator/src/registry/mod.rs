//! The service registry exposed to Kubernetes: `zkrs-operator registry-gateway`.
//!
//! Providers register in ZooKeeper as the course teaches (ephemeral sequential znodes under
//! `/registry/<service>/` whose data is their address) or as Curator's service discovery
//! does (`<base>/<service>/<id>` holding a JSON instance). The gateway follows that tree
//! with a watch and serves it over HTTP/JSON, and mirrors each service into a selector-less
//! Service with EndpointSlices so cluster DNS finds live providers. One module per job:
//!
//! * [`address`]: a znode's data read as an endpoint (bad data is an error, never a panic);
//! * [`model`]: pure, from the znodes to services and members, with change indexes;
//! * [`watcher`]: the ZooKeeper side, one persistent recursive watch, no polling;
//! * [`gateway`]: the HTTP/JSON API, long polls included;
//! * [`endpointslices`]: pure, from the model to the Services and EndpointSlices;
//! * [`mirror`]: the kube side, server-side apply of those and deletion of vanished ones;
//! * [`cli`]: the subcommand that wires them.

pub mod address;
pub mod cli;
pub mod endpointslices;
pub mod gateway;
pub mod mirror;
pub mod model;
pub mod watcher;
