//! The controller's allocation decisions (behaviour reference §3), as a pure state machine.
//!
//! Differences from upstream, on purpose:
//! * unrestricted pools are tried in name order, not Go map order, so results are deterministic;
//! * a pool restricted to namespaces that resolve to none is incompatible with every Service
//!   (upstream let explicit requests through in that case);
//! * the controller feeds [`Allocator::assign`] with Services that already hold addresses before
//!   any pending Service is allocated (restart safety, §3.9).

mod pool;
mod request;
mod state;

pub use pool::{Pool, PoolAllocation, PoolCounters};
pub use request::{Family, FamilyPolicy, Port, ServiceRequest};
pub use state::Allocator;

use std::net::IpAddr;

/// What a Service got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The pool the addresses belong to.
    pub pool: String,
    /// One address, or two of different families (IPv4 first for fresh dual-stack allocations).
    pub ips: Vec<IpAddr>,
}

/// Why a Service cannot have (or keep) addresses; the texts go into `AllocationFailed` events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// No pool has a free address for the Service.
    #[error("no available IPs")]
    NoAvailableIps,
    /// The `address-pool` annotation names a pool that does not exist.
    #[error("unknown pool {0:?}")]
    UnknownPool(String),
    /// The pool's serviceAllocation does not admit the Service.
    #[error("pool {0} not compatible for ip assignment")]
    Incompatible(String),
    /// A requested address is in no pool (or is a .0/.255 of an avoidBuggyIPs pool).
    #[error("{0} is not allowed in config")]
    NotInConfig(IpAddr),
    /// Requested addresses are not in the pool the Service asks for.
    #[error("requested IPs are in pool {actual}, not in the requested pool {requested}")]
    WrongPool {
        /// The pool of the `address-pool` annotation.
        requested: String,
        /// The pool that holds the addresses.
        actual: String,
    },
    /// The requested addresses do not fit the Service's IP families.
    #[error("requested IPs {0:?} do not match the service's IP families")]
    FamilyMismatch(Vec<IpAddr>),
    /// More than two addresses, or two of the same family.
    #[error("a service takes one IP, or two of different families")]
    BadIpCount,
    /// The address is used by another Service that it may not share with.
    #[error("{0}")]
    Sharing(String),
}
