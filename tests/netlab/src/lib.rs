//! Test networks of Linux network namespaces, for tests, benchmarks and the lab.
//!
//! [`Network`] builds hosts on a bridge in namespaces of their own (addresses from the
//! benchmarking and documentation ranges, [`TEST_RANGES`], held unreachable in this process's
//! namespace by [`hold_test_ranges`]); [`namespace`] runs commands and threads inside them;
//! [`serve_http`] and [`forward`] are small servers; [`clients`] drives real clients (`arping`,
//! `ndisc6`, `curl`, `tcpdump`) and plain HTTP GETs; [`routers`] starts real BGP routers (FRR,
//! BIRD, GoBGP) and reads their RIBs. Nothing here knows of MetalLB or Kubernetes: the
//! MetalLB scenarios are built on it in `test-support`.
//!
//! Everything needs root and iproute2 ([`available`]), except the pure parts (address plan,
//! router configurations), which have unit tests.

pub mod clients;
pub mod namespace;
pub mod network;
pub mod process;
pub mod ranges;
pub mod routers;
pub mod servers;

pub use clients::{
    TrafficProbe, TrafficReport, arping, arping_on, capture_arp, curl, first_reply_from, http_get,
    http_get_any, http_get_from, http_get_path, ndisc6,
};
pub use namespace::{
    available, enter, in_netns, namespaces_with_prefix, netns_exec, remove_namespace, run,
    spawn_in_netns,
};
pub use network::{Host, Network, POOL_V4, POOL_V6};
pub use process::spawn_tied;
pub use ranges::{TEST_RANGES, hold_test_ranges};
pub use routers::{
    Bird, FRR_BFD_FAST, Frr, FrrBgp, Gobgp, Router, bird_config, frr_config, gobgp_config,
};
pub use servers::{StopOnDrop, forward, serve_http};
