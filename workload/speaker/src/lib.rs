//! # metallb-speaker
//!
//! Announces the addresses of LoadBalancer Services in Layer 2 mode, compatible with upstream
//! MetalLB's speaker: every speaker runs the same per-Service election
//! (`metallb_core::l2::election`) over the live members of a SWIM membership, and the winner
//! answers ARP and NDP for the Service's addresses and sends gratuitous announcements.
//!
//! * [`reconcile`]: Kubernetes objects in, this node's Layer 2 announcements out (no I/O).
//! * [`bgp_config`]: the BGP objects this node accepts, what it refuses and why (no I/O).
//! * [`bgp_peer`]: a peer's session settings, as accepted and as the sessions use them.
//! * [`bgp_plan`]: the accepted configuration and the Services in, this node's BGP peers and
//!   routes out (no I/O).
//! * [`table`]: the announcement table shared with the responders.
//! * [`adapters`]: the edges: raw-socket responders, interface scanning, membership gossip,
//!   the Kubernetes watches and status writes, metrics and health.

pub mod adapters;
pub mod backoff;
pub mod bgp_config;
pub mod bgp_peer;
pub mod bgp_plan;
pub mod effects;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod table;
