//! IPAddressPools as allocator pools, and which pool an address or an advertisement is of.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use metallb_core::allocator::{Pool, PoolAllocation};
use metallb_core::config::ConfigError;
use metallb_core::iprange::IpRange;
use metallb_core::selector::Selector;

use super::{name_of, selector};
use crate::IPAddressPool;
use crate::annotations::{self, IP_ALLOCATED_FROM_POOL};

/// An IPAddressPool as an allocator pool; namespace selectors are resolved against
/// `namespaces`. The error names the pool and what is wrong.
pub fn pool(object: &IPAddressPool, namespaces: &[Namespace]) -> Result<Pool, ConfigError> {
    let name = name_of(&object.metadata);
    let ranges = object
        .spec
        .addresses
        .iter()
        .map(|a| {
            IpRange::parse(a).map_err(|error| ConfigError::Range {
                pool: name.clone(),
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allocation = match &object.spec.service_allocation {
        None => None,
        Some(sa) => {
            let convert = |list: &[LabelSelector]| -> Result<Vec<Selector>, ConfigError> {
                list.iter()
                    .map(|s| {
                        selector(s)
                            .ok_or_else(|| ConfigError::BadSelectorOperator { pool: name.clone() })
                    })
                    .collect()
            };
            let namespace_selectors = convert(&sa.namespace_selectors)?;
            let mut allowed: BTreeSet<String> = sa.namespaces.iter().cloned().collect();
            for ns in namespaces {
                let labels = ns.metadata.labels.clone().unwrap_or_default();
                if namespace_selectors.iter().any(|s| s.matches(&labels)) {
                    allowed.extend(ns.metadata.name.clone());
                }
            }
            Some(PoolAllocation {
                priority: sa.priority.unwrap_or(0),
                namespace_restricted: !sa.namespaces.is_empty()
                    || !sa.namespace_selectors.is_empty(),
                namespaces: allowed,
                service_selectors: convert(&sa.service_selectors)?,
            })
        }
    };
    Ok(Pool {
        name,
        ranges,
        auto_assign: object.spec.auto_assign.unwrap_or(true),
        avoid_buggy_ips: object.spec.avoid_buggy_ips,
        allocation,
    })
}

/// Whether an advertisement naming the pools `names` and `selectors` (its `ipAddressPools`
/// and `ipAddressPoolSelectors`) applies to `pool`: by name, by pool selector, or to every pool
/// when it names none. A selector that cannot be understood selects nothing.
pub fn selects_pool(names: &[String], selectors: &[LabelSelector], pool: &IPAddressPool) -> bool {
    if names.is_empty() && selectors.is_empty() {
        return true;
    }
    let name = pool.metadata.name.as_deref().unwrap_or_default();
    let labels = pool.metadata.labels.clone().unwrap_or_default();
    names.iter().any(|n| n == name)
        || selectors
            .iter()
            .filter_map(selector)
            .any(|s| s.matches(&labels))
}

/// The pool `ip` of `service` came from: the one its `metallb.io/ip-allocated-from-pool`
/// annotation names when that pool exists, else the first pool of `pools` containing `ip`.
pub fn pool_of<'a, P: Borrow<IPAddressPool>>(
    service: &Service,
    ip: IpAddr,
    pools: &'a [P],
) -> Option<&'a IPAddressPool> {
    let named = annotations::get(
        service.metadata.annotations.as_ref(),
        IP_ALLOCATED_FROM_POOL,
    );
    let pools = pools.iter().map(Borrow::borrow);
    if let Some(name) = named
        && let Some(pool) = pools
            .clone()
            .find(|p| p.metadata.name.as_deref() == Some(name))
    {
        return Some(pool);
    }
    pools.into_iter().find(|p| {
        p.spec
            .addresses
            .iter()
            .any(|a| IpRange::parse(a).is_ok_and(|r| r.contains(ip)))
    })
}

#[cfg(test)]
mod tests;
