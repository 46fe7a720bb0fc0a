//! # metallb-speaker
//!
//! Announces the addresses of LoadBalancer Services in Layer 2 mode, compatible with upstream
//! MetalLB's speaker: every speaker runs the same per-Service election
//! (`metallb_core::l2::election`) over the live members of a SWIM membership, and the winner
//! answers ARP and NDP for the Service's addresses and sends gratuitous announcements.
//!
//! * [`plan`]: the planning, no I/O: one snapshot of the watch caches per pass in, this node's
//!   Layer 2 decisions ([`plan::l2`]) and BGP peers and routes ([`plan::bgp`]) out, from one
//!   reading of the Services both protocols share.
//! * [`bgp_config`]: the BGP objects this node accepts, what it refuses and why (no I/O).
//! * [`bgp_peer`]: a peer's session settings, as accepted and as the sessions use them.
//! * [`table`]: the announcement table shared with the responders.
//! * [`adapters`]: the edges: raw-socket responders, interface scanning, membership gossip,
//!   the Kubernetes watches and status writes, metrics and health.

pub mod adapters;
pub mod backoff;
pub mod bgp_config;
pub mod bgp_peer;
pub mod duration;
pub mod effects;
pub mod metrics;
pub mod plan;
pub mod run;
pub mod table;
