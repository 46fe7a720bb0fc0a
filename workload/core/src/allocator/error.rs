//! Why a Service cannot have (or keep) addresses, and why a pool set is refused.

use std::net::IpAddr;

use super::Port;

/// Why a Service cannot have, or keep, addresses. The texts follow upstream's
/// `AllocationFailed` / `ClearAssignment` event messages; [`AllocError::event_reason`] gives the
/// event reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// No candidate pool has a free address for the Service.
    #[error("no available IPs")]
    NoAvailableIps,
    /// The pool named by the `address-pool` annotation is full (for this Service).
    #[error("no available IPs in pool {0:?}")]
    PoolExhausted(String),
    /// The `address-pool` annotation names a pool that does not exist.
    #[error("unknown pool {0:?}")]
    UnknownPool(String),
    /// The pool's serviceAllocation does not admit the Service (namespace or labels).
    #[error("pool {0} not compatible for ip assignment")]
    Incompatible(String),
    /// A requested address is in no pool (or is a .0/.255 of an avoidBuggyIPs pool).
    #[error("{0} is not allowed in config")]
    NotInConfig(IpAddr),
    /// Two requested addresses are in different pools.
    #[error("requested IPs {0:?} are not all in one pool")]
    SplitAcrossPools(Vec<IpAddr>),
    /// Requested addresses are not in the pool the Service asks for.
    #[error("requested IPs are in pool {actual:?}, not in the requested pool {requested:?}")]
    WrongPool {
        /// The pool of the `address-pool` annotation.
        requested: String,
        /// The pool that holds the addresses.
        actual: String,
    },
    /// The requested addresses do not fit the Service's IP families.
    #[error("requested loadBalancer IPs {0:?} do not match the ipFamily of the service")]
    FamilyMismatch(Vec<IpAddr>),
    /// No address, more than two, or two of the same family.
    #[error("a service takes one IP, or two of different families")]
    BadIpCount,
    /// The address is used by another Service that it may not share with.
    #[error(transparent)]
    Sharing(#[from] SharingConflict),
    /// A Service this controller does not handle (another loadBalancerClass) holds the address.
    #[error("{ip} is held by {holder}, a Service this controller does not handle")]
    HeldElsewhere {
        /// The address.
        ip: IpAddr,
        /// One Service holding it.
        holder: String,
    },
    /// The Service has no cluster IP, so its family is unknown.
    #[error("the service has no cluster IP")]
    NoClusterIps,
    /// RequireDualStack with cluster IPs of one family.
    #[error("RequireDualStack needs cluster IPs of both families")]
    NotEnoughClusterIps,
    /// Restore: nothing to restore.
    #[error("the service holds no IPs")]
    NoCurrentIps,
    /// Restore: the held addresses no longer match the Service's IP families.
    #[error("current IPs {0:?} do not match the IP families of the service")]
    CurrentFamilyChanged(Vec<IpAddr>),
    /// Restore: the `address-pool` annotation now names another pool.
    #[error("the service asks for pool {requested:?} but its IPs are from pool {current:?}")]
    PoolChanged {
        /// The pool the addresses are from.
        current: String,
        /// The pool the annotation names.
        requested: String,
    },
    /// Restore: the requested addresses changed.
    #[error("requested IPs {requested:?} differ from the current IPs {current:?}")]
    RequestChanged {
        /// What the Service asks for now.
        requested: Vec<IpAddr>,
        /// What it holds.
        current: Vec<IpAddr>,
    },
}

impl AllocError {
    /// The upstream event reason for this error: `ClearAssignment` (Normal) when held addresses
    /// stopped being valid, `not enough clusterips` for RequireDualStack on a single stack, else
    /// `AllocationFailed` (Warning).
    pub fn event_reason(&self) -> &'static str {
        match self {
            Self::NotEnoughClusterIps => "not enough clusterips",
            Self::CurrentFamilyChanged(_)
            | Self::PoolChanged { .. }
            | Self::RequestChanged { .. } => "ClearAssignment",
            _ => "AllocationFailed",
        }
    }

    /// A short stable label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::NoAvailableIps | Self::PoolExhausted(_) => "exhausted",
            Self::UnknownPool(_) => "unknown_pool",
            Self::Incompatible(_) => "incompatible",
            Self::NotInConfig(_) | Self::SplitAcrossPools(_) | Self::WrongPool { .. } => {
                "not_in_pool"
            }
            Self::FamilyMismatch(_)
            | Self::BadIpCount
            | Self::NoClusterIps
            | Self::NotEnoughClusterIps
            | Self::CurrentFamilyChanged(_) => "family",
            Self::Sharing(_) | Self::HeldElsewhere { .. } => "sharing",
            Self::NoCurrentIps | Self::PoolChanged { .. } | Self::RequestChanged { .. } => {
                "changed"
            }
        }
    }
}

/// Why a Service may not use an address another Service holds (§3.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharingConflict {
    /// The sharing keys are absent, empty or different.
    #[error(
        "{ip} is already in use by {other}; services share an IP only when both set the same allow-shared-ip key"
    )]
    DifferentKey {
        /// The address.
        ip: IpAddr,
        /// One Service holding it.
        other: String,
    },
    /// Same key, but the backends differ (externalTrafficPolicy, or Local with another
    /// selector).
    #[error(
        "{ip} is shared by {other} with another backend: sharing services need the same externalTrafficPolicy (and selector when Local)"
    )]
    DifferentBackend {
        /// The address.
        ip: IpAddr,
        /// One Service holding it.
        other: String,
    },
    /// Same key and backend, but a port is already exposed on the address.
    #[error("port {port} is already used on {ip} by {other}")]
    PortInUse {
        /// The address.
        ip: IpAddr,
        /// The Service exposing the port.
        other: String,
        /// The port.
        port: Port,
    },
}

/// Why a set of pools is refused by [`super::Allocator::try_set_pools`]; the previous pools stay
/// in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolsError {
    /// A pool without a name.
    #[error("a pool has no name")]
    EmptyName,
    /// Two pools with one name.
    #[error("duplicate definition of pool {0:?}")]
    DuplicateName(String),
    /// A pool without addresses.
    #[error("pool {0:?} has no addresses")]
    NoAddresses(String),
    /// Two ranges (of one pool or of two) share addresses.
    #[error(
        "{range} in pool {pool:?} overlaps with already defined {other_range} in pool {other_pool:?}"
    )]
    Overlap {
        /// The pool of the later range.
        pool: String,
        /// The later range.
        range: String,
        /// The pool of the earlier range.
        other_pool: String,
        /// The earlier range.
        other_range: String,
    },
}
