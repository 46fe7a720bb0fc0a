//! Kubernetes objects into allocator inputs: the controller's checks of a configuration as a
//! whole (overlapping pools, advertisements naming unknown pools). The reading of single
//! objects is shared with the speaker and the charm in [`metallb_api::convert`], re-exported
//! here.

use k8s_openapi::api::core::v1::Namespace;
use metallb_api::IPAddressPool;
use metallb_api::convert::pool;
use metallb_core::allocator::{Pool, PoolsError};
use metallb_core::iprange::IpRange;

pub use metallb_api::convert::{RequestError, current_ips, key, known_request, request};

/// Why a configuration cannot be used, naming the object at fault (its events say so too).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The kind of the object at fault (`IPAddressPool`, `L2Advertisement`).
    pub kind: &'static str,
    /// Its name (in the MetalLB namespace).
    pub name: String,
    /// What is wrong, naming the object.
    pub message: String,
}

impl ConfigError {
    /// An error about the IPAddressPool `name`.
    pub fn pool(name: &str, message: String) -> Self {
        Self {
            kind: "IPAddressPool",
            name: name.to_string(),
            message,
        }
    }

    /// A pool set the allocator refused.
    pub fn from_pools(err: &PoolsError) -> Self {
        let name = match err {
            PoolsError::EmptyName => "",
            PoolsError::DuplicateName(name) | PoolsError::NoAddresses(name) => name,
            PoolsError::Overlap { pool, .. } => pool,
        };
        Self::pool(name, err.to_string())
    }
}

/// Every pool, checked against each other: overlapping ranges make the whole set invalid.
pub fn pools(
    objects: &[IPAddressPool],
    namespaces: &[Namespace],
) -> Result<Vec<Pool>, ConfigError> {
    let mut sorted: Vec<&IPAddressPool> = objects.iter().collect();
    sorted.sort_by_key(|p| p.metadata.name.clone());
    let pools = sorted
        .iter()
        .map(|p| {
            pool(p, namespaces).map_err(|message| {
                ConfigError::pool(p.metadata.name.as_deref().unwrap_or_default(), message)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<(&str, &IpRange)> = pools
        .iter()
        .flat_map(|p| p.ranges.iter().map(move |r| (p.name.as_str(), r)))
        .collect();
    for (i, (pa, a)) in all.iter().enumerate() {
        for (pb, b) in &all[i + 1..] {
            if a.overlaps(b) {
                return Err(ConfigError::pool(
                    pb,
                    format!("CIDR {b} of pool {pb} overlaps with {a} of pool {pa}"),
                ));
            }
        }
    }
    Ok(pools)
}

/// Advertisements may only name pools that exist.
pub fn check_advertisements(
    advertisements: &[metallb_api::L2Advertisement],
    pools: &[IPAddressPool],
) -> Result<(), ConfigError> {
    for ad in advertisements {
        for name in &ad.spec.ip_address_pools {
            if !pools
                .iter()
                .any(|p| p.metadata.name.as_deref() == Some(name))
            {
                let ad_name = ad.metadata.name.clone().unwrap_or_default();
                return Err(ConfigError {
                    kind: "L2Advertisement",
                    message: format!(
                        "L2Advertisement {ad_name} references unknown IPAddressPool {name}"
                    ),
                    name: ad_name,
                });
            }
        }
    }
    Ok(())
}

/// The pools of a configuration, checked as a whole: pools (ranges, selectors, overlaps) and
/// the advertisements' references to them.
pub fn configuration(
    pool_objects: &[IPAddressPool],
    namespaces: &[Namespace],
    advertisements: &[metallb_api::L2Advertisement],
) -> Result<Vec<Pool>, ConfigError> {
    let valid = pools(pool_objects, namespaces)?;
    check_advertisements(advertisements, pool_objects)?;
    Ok(valid)
}
