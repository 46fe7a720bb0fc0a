//! What the allocator needs to know about a Service.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() { Self::V4 } else { Self::V6 }
    }
}

/// `spec.ipFamilyPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FamilyPolicy {
    /// One address (the default).
    #[default]
    SingleStack,
    /// Two if a pool has both families, else one.
    PreferDualStack,
    /// Two, from one pool, or none.
    RequireDualStack,
}

/// A (protocol, port) the Service exposes; used for sharing conflicts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Port number.
    pub port: i32,
}

/// A Service as the allocator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRequest {
    /// `namespace/name`.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Labels (for pools' serviceSelectors).
    pub labels: BTreeMap<String, String>,
    /// Families of the cluster IPs, primary first (one or two).
    pub families: Vec<Family>,
    /// IP family policy.
    pub policy: FamilyPolicy,
    /// Ports (for sharing).
    pub ports: Vec<Port>,
    /// `allow-shared-ip` key, if any.
    pub sharing_key: Option<String>,
    /// Backend key: empty for externalTrafficPolicy Cluster, the selector for Local.
    pub backend_key: String,
    /// Requested addresses (`loadBalancerIPs` annotation or `spec.loadBalancerIP`).
    pub requested_ips: Vec<IpAddr>,
    /// Requested pool (`address-pool` annotation).
    pub requested_pool: Option<String>,
}

impl ServiceRequest {
    /// The families the Service wants addresses for: both for dual-stack cluster IPs with a
    /// dual-stack policy, else the primary one.
    pub fn wanted_families(&self) -> Vec<Family> {
        match (self.policy, self.families.as_slice()) {
            (FamilyPolicy::SingleStack, [first, ..]) => vec![*first],
            (_, families) => families.to_vec(),
        }
    }
}
