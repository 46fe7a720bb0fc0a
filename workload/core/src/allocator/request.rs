//! What the allocator needs to know about a Service.

use std::net::IpAddr;

use litemap::LiteMap;

use super::AllocError;

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

    /// The other family.
    pub fn other(self) -> Self {
        match self {
            Self::V4 => Self::V6,
            Self::V6 => Self::V4,
        }
    }
}

/// `spec.ipFamilyPolicy` (absent means SingleStack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FamilyPolicy {
    /// One address of the primary family (the default).
    #[default]
    SingleStack,
    /// Two addresses from one pool if a candidate pool has both families, else one.
    PreferDualStack,
    /// Two addresses from one pool, or none; needs two cluster IPs.
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

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// A Service as the allocator sees it (built by the controller from the Service object).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRequest {
    /// `namespace/name`.
    pub key: String,
    /// Namespace (for pools' `namespaces` / resolved `namespaceSelectors`).
    pub namespace: String,
    /// Labels (for pools' `serviceSelectors`), as a sorted vector.
    pub labels: LiteMap<String, String>,
    /// Families of the cluster IPs, primary first (`spec.ipFamilies` order; one or two).
    pub families: Vec<Family>,
    /// IP family policy.
    pub policy: FamilyPolicy,
    /// Ports (for sharing).
    pub ports: Vec<Port>,
    /// `allow-shared-ip` key, if any (an empty key does not share).
    pub sharing_key: Option<String>,
    /// Backend key: empty for externalTrafficPolicy Cluster, the canonical selector string for
    /// Local (two sharing Services must have equal backend keys).
    pub backend_key: String,
    /// Requested addresses (`loadBalancerIPs` annotation or `spec.loadBalancerIP`), in order.
    pub requested_ips: Vec<IpAddr>,
    /// Requested pool (`address-pool` annotation).
    pub requested_pool: Option<String>,
}

impl ServiceRequest {
    /// The distinct cluster-IP families, primary first.
    pub fn cluster_families(&self) -> Vec<Family> {
        let mut out: Vec<Family> = Vec::with_capacity(2);
        for f in &self.families {
            if !out.contains(f) {
                out.push(*f);
            }
        }
        out
    }

    /// Whether the cluster IPs are dual-stack (two different families).
    pub fn is_dual_stack(&self) -> bool {
        self.cluster_families().len() == 2
    }

    /// The families the Service wants addresses for, primary first: both for dual-stack cluster
    /// IPs with a dual-stack policy, else the primary one.
    pub fn wanted_families(&self) -> Vec<Family> {
        let families = self.cluster_families();
        match (self.policy, families.as_slice()) {
            (FamilyPolicy::SingleStack, [first, ..]) => vec![*first],
            _ => families,
        }
    }

    /// The sharing key, if it allows sharing (non-empty).
    pub fn shares(&self) -> Option<&str> {
        self.sharing_key.as_deref().filter(|k| !k.is_empty())
    }

    /// Refuses a Service without cluster IPs, and RequireDualStack without two cluster-IP
    /// families (upstream event `not enough clusterips`).
    pub fn check_cluster_ips(&self) -> Result<(), AllocError> {
        let families = self.cluster_families();
        if families.is_empty() {
            return Err(AllocError::NoClusterIps);
        }
        if self.policy == FamilyPolicy::RequireDualStack && families.len() < 2 {
            return Err(AllocError::NotEnoughClusterIps);
        }
        Ok(())
    }

    /// Whether addresses of these families suit the Service (§2.4): the same families as it
    /// wants, or, for PreferDualStack over dual-stack cluster IPs, a non-empty subset of them.
    pub fn fits_families(&self, ips: &[IpAddr]) -> bool {
        let mut got: Vec<Family> = ips.iter().map(|ip| Family::of(*ip)).collect();
        got.sort();
        got.dedup();
        if got.len() != ips.len() || got.is_empty() {
            return false;
        }
        let mut wanted = self.wanted_families();
        wanted.sort();
        if self.policy == FamilyPolicy::PreferDualStack {
            got.iter().all(|f| wanted.contains(f))
        } else {
            got == wanted
        }
    }
}
