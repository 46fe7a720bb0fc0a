//! # metallb-core
//!
//! Pure decision logic shared by the charm, the controller and the speaker: no async runtime, no
//! Kubernetes client, no sockets, no clock. Inputs in, decisions out.
//!
//! * [`iprange`]: address ranges (`a.b.c.d/n`, `A-B`, IPv4 and IPv6) and the `iprange` list rules.
//! * [`allocator`]: which address a LoadBalancer Service gets, MetalLB-compatible.
//! * [`selector`]: label selectors evaluated against label maps.

pub mod allocator;
pub mod iprange;
pub mod selector;
