//! # metallb-core
//!
//! Pure decision logic shared by the charm, the controller and the speaker: no async runtime, no
//! Kubernetes client, no sockets, no clock, no environment. Inputs in, decisions out. The
//! crate's `clippy.toml` bans the clock, the environment and processes.
//!
//! * [`iprange`]: address ranges (`a.b.c.d/n`, `A-B`, IPv4 and IPv6) and the `iprange` list rules.
//! * [`allocator`]: which address a LoadBalancer Service gets, MetalLB-compatible.
//! * [`bfd`]: BFD control packets and the session state machine.
//! * [`bgp`]: BGP-4 messages: encoding, strict decoding, packing into UPDATEs; the session
//!   state machine; what is said to a peer; communities; the aggregation-length rule.
//! * [`config`]: why a configuration cannot be used ([`config::ConfigError`]) and the checks
//!   of a configuration as a whole.
//! * [`l2`]: the Layer 2 election, the ARP/NDP frames and the interfaces an address is
//!   answered on.
//! * [`membership`]: the header inside sealed membership packets and the replay guard.
//! * [`selector`]: label selectors evaluated against label maps.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod allocator;
pub mod bfd;
pub mod bgp;
pub mod config;
pub mod iprange;
pub mod l2;
pub mod membership;
pub mod selector;
