//! The controller's allocation decisions (behaviour reference §3), as a pure state machine:
//! pools in ([`Allocator::try_set_pools`]), Services in ([`Allocator::restore`],
//! [`Allocator::allocate`], [`Allocator::assign`], [`Allocator::release`]), decisions out.
//!
//! Intended use by the controller (one pass, §3.2 and §3.9): set the pools; release Services
//! that are gone; [`Allocator::restore`] every Service that has addresses in its status (most
//! addresses first), then [`Allocator::add_missing_family`] for PreferDualStack ones; then
//! [`Allocator::allocate`] the rest; write what changed; read [`Allocator::counters`] for pool
//! status and metrics. Before the first pools are installed ([`Allocator::is_configured`]) no
//! Service is touched. A Service whose request cannot be read keeps what it holds through
//! [`Allocator::hold`]; addresses of Services the controller does not handle (another
//! loadBalancerClass) are recorded with [`Allocator::reserve`] and never handed out.
//!
//! Upstream traps fixed here (behaviour reference §2.4, §7, §8):
//! * unrestricted pools are tried in name order, not Go map order: reproducible results;
//! * restart safety: [`Allocator::restore`] re-claims held addresses with full validation, and
//!   nothing can take an address another Service holds (issues #1774, #2443, #2479);
//! * a pool change never gives one address to two Services (issue #1591): allocations outside
//!   every pool are released first, renamed/split pools keep addresses ([`PoolsUpdate`]);
//! * [`Allocator::add_missing_family`] checks the cluster-IP families (issue #2724);
//! * a pool whose namespace restriction resolves to no namespace admits no Service (upstream let
//!   explicit requests through);
//! * requested IPs ignore autoAssign but not avoidBuggyIPs or serviceAllocation (as upstream).
//!
//! Performance: the next free address is found through merged runs of occupied addresses per
//! family (`O(log n)`), never by scanning the pool, so `/64` pools and thousands of Services
//! are cheap (`cargo bench -p metallb-core`).

mod error;
mod occupied;
mod pool;
mod request;
mod select;
mod sharing;
mod state;
mod usage;
mod validate;

pub use error::{AllocError, PoolsError, SharingConflict};
pub use pool::{METRIC_NAMES, Pool, PoolAllocation, PoolCounters};
pub use request::{Family, FamilyPolicy, Port, ServiceRequest};
pub use state::{Allocator, PoolsUpdate};

use std::net::IpAddr;

/// What a Service got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The pool the addresses belong to (`ip-allocated-from-pool`).
    pub pool: String,
    /// One address, or two of different families: IPv4 first for fresh dual-stack
    /// allocations, the requested order for requested IPs, appended for a PreferDualStack
    /// upgrade.
    pub ips: Vec<IpAddr>,
}
