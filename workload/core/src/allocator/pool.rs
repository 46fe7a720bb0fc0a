//! An address pool as the allocator uses it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::request::{Family, ServiceRequest};
use crate::iprange::{IpRange, to_u128};
use crate::selector::{Selector, any_matches};

/// `spec.serviceAllocation` of a pool, with namespace selectors already resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolAllocation {
    /// Lower positive numbers are preferred; 0 comes after every positive priority.
    pub priority: i32,
    /// Whether `namespaces` or `namespaceSelectors` were given.
    pub namespace_restricted: bool,
    /// Namespaces admitted (the listed ones plus those the selectors matched).
    pub namespaces: BTreeSet<String>,
    /// Services admitted by label (any selector); empty admits every Service.
    pub service_selectors: Vec<Selector>,
}

/// An IPAddressPool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Pool name.
    pub name: String,
    /// Address ranges, in `spec.addresses` order.
    pub ranges: Vec<IpRange>,
    /// Used for automatic allocation.
    pub auto_assign: bool,
    /// Never hand out IPv4 .0 and .255.
    pub avoid_buggy_ips: bool,
    /// Restrictions and priority.
    pub allocation: Option<PoolAllocation>,
}

/// Capacity and use of a pool, for its status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolCounters {
    /// IPv4 addresses that can be handed out.
    pub v4_total: u128,
    /// IPv6 addresses that can be handed out.
    pub v6_total: u128,
    /// IPv4 addresses held by at least one Service.
    pub v4_in_use: u128,
    /// IPv6 addresses held by at least one Service.
    pub v6_in_use: u128,
}

impl Pool {
    /// A pool with no restrictions.
    pub fn new(name: &str, ranges: Vec<IpRange>) -> Self {
        Self {
            name: name.to_string(),
            ranges,
            auto_assign: true,
            avoid_buggy_ips: false,
            allocation: None,
        }
    }

    /// Whether `ip` is an IPv4 .0 or .255 this pool must not hand out.
    pub fn is_buggy(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.avoid_buggy_ips && matches!(v4.octets()[3], 0 | 255),
            IpAddr::V6(_) => false,
        }
    }

    /// Whether the pool may hand out `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        !self.is_buggy(ip) && self.ranges.iter().any(|r| r.contains(ip))
    }

    /// Whether the pool's serviceAllocation admits the Service.
    pub fn compatible(&self, svc: &ServiceRequest) -> bool {
        match &self.allocation {
            None => true,
            Some(a) => {
                (!a.namespace_restricted || a.namespaces.contains(&svc.namespace))
                    && (a.service_selectors.is_empty()
                        || any_matches(&a.service_selectors, &svc.labels))
            }
        }
    }

    /// Counters given the addresses in use (any pool's; only this pool's ranges count).
    pub fn counters<T>(&self, used: &BTreeMap<IpAddr, T>) -> PoolCounters {
        let mut c = PoolCounters::default();
        for range in &self.ranges {
            let mut total = range.size();
            if self.avoid_buggy_ips && range.is_ipv4() {
                total -= buggy_in(to_u128(range.first()), to_u128(range.last()));
            }
            let in_use = used.range(range.first()..=range.last()).count() as u128;
            match Family::of(range.first()) {
                Family::V4 => {
                    c.v4_total = c.v4_total.saturating_add(total);
                    c.v4_in_use += in_use;
                }
                Family::V6 => {
                    c.v6_total = c.v6_total.saturating_add(total);
                    c.v6_in_use += in_use;
                }
            }
        }
        c
    }
}

/// How many values in `[lo, hi]` end in .0 or .255 (IPv4).
fn buggy_in(lo: u128, hi: u128) -> u128 {
    // Values <= x with x % 256 == 0: x / 256 + 1; with x % 256 == 255: (x + 1) / 256.
    let upto = |x: u128| x / 256 + 1 + (x + 1) / 256;
    let below = if lo == 0 { 0 } else { upto(lo - 1) };
    upto(hi) - below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buggy_counting() {
        assert_eq!(buggy_in(0, 255), 2);
        assert_eq!(buggy_in(1, 254), 0);
        assert_eq!(buggy_in(0, 511), 4);
        assert_eq!(buggy_in(255, 256), 2);
        let mut pool = Pool::new("p", vec![IpRange::parse("198.18.0.0/23").unwrap()]);
        pool.avoid_buggy_ips = true;
        let used: BTreeMap<IpAddr, ()> = BTreeMap::new();
        assert_eq!(pool.counters(&used).v4_total, 512 - 4);
    }
}
