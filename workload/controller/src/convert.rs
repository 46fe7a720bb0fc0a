//! Kubernetes objects into allocator inputs: the controller's checks of a configuration as a
//! whole (overlapping pools, advertisements naming unknown pools, decided by
//! [`metallb_core::config`]). The reading of single objects is shared with the speaker and the
//! charm in [`metallb_api::convert`], re-exported here.

use k8s_openapi::api::core::v1::Namespace;
use metallb_api::IPAddressPool;
use metallb_api::convert::pool;
use metallb_core::allocator::Pool;
use metallb_core::config::{ConfigError, check_overlaps, check_references};

pub use metallb_api::convert::{RequestError, current_ips, key, known_request, request};

/// Every pool, checked against each other: overlapping ranges make the whole set invalid.
pub fn pools(
    objects: &[IPAddressPool],
    namespaces: &[Namespace],
) -> Result<Vec<Pool>, ConfigError> {
    let mut sorted: Vec<&IPAddressPool> = objects.iter().collect();
    sorted.sort_by_key(|p| p.metadata.name.clone());
    let pools = sorted
        .iter()
        .map(|p| pool(p, namespaces))
        .collect::<Result<Vec<_>, _>>()?;
    check_overlaps(&pools)?;
    Ok(pools)
}

/// Advertisements may only name pools that exist.
pub fn check_advertisements(
    advertisements: &[metallb_api::L2Advertisement],
    pools: &[IPAddressPool],
) -> Result<(), ConfigError> {
    let names: Vec<&str> = pools
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    check_references(
        "L2Advertisement",
        advertisements.iter().map(|a| {
            (
                a.metadata.name.as_deref().unwrap_or_default(),
                a.spec.ip_address_pools.as_slice(),
            )
        }),
        &names,
    )
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
