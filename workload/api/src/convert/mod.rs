//! Kubernetes objects read as the inputs of `metallb_core` (allocator and L2 election), the one
//! reading shared by the controller, the speaker and the charm's `explain`, so all three see a
//! configuration the same way. Pure functions: no I/O, no clock.
//!
//! - [`selector`]: label selectors;
//! - [`pool`]: IPAddressPools as allocator pools, which pool an address or advertisement is of;
//! - [`service`]: Services as allocator requests, their addresses and class;
//! - [`l2`]: Nodes, L2Advertisements and EndpointSlices as the election sees them.

pub mod endpoints;
pub mod l2;
pub mod pool;
pub mod selector;
pub mod service;

pub use endpoints::{local_traffic, serving};
pub use l2::{advertisement, node_view};
pub use pool::{pool, pool_of, selects_pool};
pub use selector::{matches_any, selector};
pub use service::{
    RequestError, current_ips, handled, is_load_balancer, key, known_request, load_balancer_class,
    ports, request, requested_ips,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The name of an object (empty when it has none).
pub fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}
