//! An address pool as the allocator uses it: membership, compatibility and capacity.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::request::{Family, ServiceRequest};
use crate::iprange::{IpRange, to_u128};
use crate::selector::{Selector, any_matches};

/// `spec.serviceAllocation` of a pool, with namespace selectors already resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolAllocation {
    /// Lower positive numbers are preferred; 0 (unset) and negative numbers come after every
    /// positive priority; ties are broken by pool name.
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
    /// Used for automatic allocation (`spec.autoAssign`, default true).
    pub auto_assign: bool,
    /// Never hand out IPv4 .0 and .255 (`spec.avoidBuggyIPs`).
    pub avoid_buggy_ips: bool,
    /// `spec.serviceAllocation`: restrictions and priority.
    pub allocation: Option<PoolAllocation>,
}

/// Metric names of [`PoolCounters::metrics`] (upstream names; label `pool`).
pub const METRIC_NAMES: [&str; 6] = [
    "metallb_allocator_addresses_total",
    "metallb_allocator_ipv4_addresses_total",
    "metallb_allocator_ipv6_addresses_total",
    "metallb_allocator_addresses_in_use_total",
    "metallb_allocator_ipv4_addresses_in_use_total",
    "metallb_allocator_ipv6_addresses_in_use_total",
];

/// Capacity and use of a pool, for its status (`assignedIPv4`, `availableIPv4`, ...) and the
/// allocator metrics. Capacities saturate at `u128::MAX`; callers clamp to `i64` as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolCounters {
    /// IPv4 addresses that can be handed out.
    pub v4_total: u128,
    /// IPv6 addresses that can be handed out.
    pub v6_total: u128,
    /// IPv4 addresses held by at least one Service (a shared address counts once).
    pub v4_in_use: u128,
    /// IPv6 addresses held by at least one Service (a shared address counts once).
    pub v6_in_use: u128,
}

impl PoolCounters {
    /// Capacity of both families.
    pub fn total(&self) -> u128 {
        self.v4_total.saturating_add(self.v6_total)
    }

    /// Addresses in use, both families.
    pub fn in_use(&self) -> u128 {
        self.v4_in_use.saturating_add(self.v6_in_use)
    }

    /// Free IPv4 addresses (`status.availableIPv4`).
    pub fn v4_available(&self) -> u128 {
        self.v4_total.saturating_sub(self.v4_in_use)
    }

    /// Free IPv6 addresses (`status.availableIPv6`).
    pub fn v6_available(&self) -> u128 {
        self.v6_total.saturating_sub(self.v6_in_use)
    }

    /// `(metric name, value)` for every allocator gauge, in [`METRIC_NAMES`] order.
    pub fn metrics(&self) -> [(&'static str, u128); 6] {
        let values = [
            self.total(),
            self.v4_total,
            self.v6_total,
            self.in_use(),
            self.v4_in_use,
            self.v6_in_use,
        ];
        [0, 1, 2, 3, 4, 5].map(|i| (METRIC_NAMES[i], values[i]))
    }
}

impl Pool {
    /// A pool with no restrictions (autoAssign on, avoidBuggyIPs off).
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

    /// Whether `ip` is in one of the pool's ranges (buggy or not).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// Whether the pool may hand out `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        !self.is_buggy(ip) && self.contains(ip)
    }

    /// Whether the pool has `serviceAllocation` and so is never an unrestricted fallback.
    pub fn is_restricted(&self) -> bool {
        self.allocation.is_some()
    }

    /// The priority for ordering pinned pools (0 when unset).
    pub fn priority(&self) -> i32 {
        self.allocation.as_ref().map_or(0, |a| a.priority)
    }

    /// Whether the pool's serviceAllocation admits the Service: namespace in the resolved set
    /// (when restricted) and labels matching any service selector (when given).
    ///
    /// Deliberate difference: a pool whose namespace restriction resolves to no namespace admits
    /// no Service (upstream admitted explicit requests from every namespace then, §1.1).
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

    /// The ranges of one family, in `spec.addresses` order.
    pub fn ranges_of(&self, family: Family) -> impl Iterator<Item = &IpRange> {
        self.ranges
            .iter()
            .filter(move |r| Family::of(r.first()) == family)
    }

    /// Capacity per family (IPv4, IPv6): every address of the ranges, minus the IPv4 .0/.255
    /// when avoidBuggyIPs (§3.10; an exact count, equal to upstream's per-CIDR rule).
    pub fn capacity(&self) -> (u128, u128) {
        let (mut v4, mut v6) = (0u128, 0u128);
        for range in &self.ranges {
            let mut size = range.size();
            if range.is_ipv4() {
                if self.avoid_buggy_ips {
                    size -= buggy_in(to_u128(range.first()), to_u128(range.last()));
                }
                v4 = v4.saturating_add(size);
            } else {
                v6 = v6.saturating_add(size);
            }
        }
        (v4, v6)
    }
}

/// How many values in `[lo, hi]` end in .0 or .255 (IPv4 values, so no overflow).
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
        assert_eq!(buggy_in(0, u128::from(u32::MAX)), 2 << 24);
        let mut pool = Pool::new("p", vec![IpRange::parse("198.18.0.0/23").unwrap()]);
        pool.avoid_buggy_ips = true;
        assert_eq!(pool.capacity(), (512 - 4, 0));
        let mut pool = Pool::new(
            "p",
            vec![
                IpRange::parse("198.18.0.10-198.18.0.20").unwrap(),
                IpRange::parse("2001:db8::/64").unwrap(),
            ],
        );
        pool.avoid_buggy_ips = true;
        assert_eq!(pool.capacity(), (11, 1 << 64));
    }

    #[test]
    fn counters_and_metrics() {
        let c = PoolCounters {
            v4_total: 10,
            v6_total: 100,
            v4_in_use: 3,
            v6_in_use: 1,
        };
        assert_eq!(
            (c.total(), c.in_use(), c.v4_available(), c.v6_available()),
            (110, 4, 7, 99)
        );
        assert_eq!(
            c.metrics()[3],
            ("metallb_allocator_addresses_in_use_total", 4)
        );
        assert_eq!(c.metrics()[0], ("metallb_allocator_addresses_total", 110));
    }
}
