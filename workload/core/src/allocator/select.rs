//! Choosing pools and addresses (§3.3 pool order and family logic, §3.4 first free address).

use std::net::IpAddr;

use super::Allocator;
use super::pool::Pool;
use super::request::{Family, FamilyPolicy, ServiceRequest};
use crate::iprange::{IpRange, from_u128, to_u128};

impl Allocator {
    /// Pools for automatic allocation, in the order they are tried: first the *pinned* pools
    /// (autoAssign, with `serviceAllocation`, compatible with the Service) by priority — positive
    /// ascending, then 0/unset — ties by name; then the unrestricted autoAssign pools by name.
    ///
    /// Upstream tries unrestricted pools in Go map order (random); name order is compatible and
    /// makes allocation reproducible (behaviour reference §8).
    pub(super) fn auto_candidates(&self, svc: &ServiceRequest) -> [Vec<&Pool>; 2] {
        let mut pinned: Vec<&Pool> = self
            .pools
            .values()
            .filter(|p| p.auto_assign && p.is_restricted() && p.compatible(svc))
            .collect();
        pinned.sort_by(|a, b| {
            let key = |p: &Pool| (p.priority() <= 0, p.priority());
            key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
        });
        let open = self
            .pools
            .values()
            .filter(|p| p.auto_assign && !p.is_restricted())
            .collect();
        [pinned, open]
    }

    /// The addresses `svc` gets from the first suitable pool among `candidates`: both wanted
    /// families from one pool; else, for PreferDualStack, one address of the primary family from
    /// the first pool that has one, else of the secondary. Fresh dual-stack pairs are IPv4
    /// first.
    pub(super) fn best_in(
        &self,
        candidates: &[&Pool],
        svc: &ServiceRequest,
    ) -> Option<Vec<IpAddr>> {
        match svc.wanted_families().as_slice() {
            [single] => candidates
                .iter()
                .find_map(|p| self.first_free(p, *single, svc))
                .map(|ip| vec![ip]),
            [primary, secondary] => {
                let both = candidates.iter().find_map(|p| {
                    let a = self.first_free(p, *primary, svc)?;
                    let b = self.first_free(p, *secondary, svc)?;
                    Some(if a.is_ipv4() { vec![a, b] } else { vec![b, a] })
                });
                match (both, svc.policy) {
                    (Some(ips), _) => Some(ips),
                    (None, FamilyPolicy::PreferDualStack) => [*primary, *secondary]
                        .iter()
                        .find_map(|f| candidates.iter().find_map(|p| self.first_free(p, *f, svc)))
                        .map(|ip| vec![ip]),
                    (None, _) => None,
                }
            }
            _ => None,
        }
    }

    /// The lowest address of `family` in `pool` that `svc` may use (§3.4): ranges in
    /// `spec.addresses` order, the first range that yields one wins; within a range the lowest
    /// of (a) the first unused address, (b) an address `svc` already holds, (c) an address it
    /// may share (same sharing key, same backend, no common port). avoidBuggyIPs skips IPv4
    /// .0/.255.
    ///
    /// Cost: one ordered-map lookup per occupied run skipped (runs are merged, so usually one),
    /// plus one lookup per group of shared addresses with distinct terms under the Service's
    /// sharing key — never a scan of the pool or of the addresses in use.
    pub(super) fn first_free(
        &self,
        pool: &Pool,
        family: Family,
        svc: &ServiceRequest,
    ) -> Option<IpAddr> {
        pool.ranges_of(family)
            .find_map(|range| self.first_free_in(pool, range, svc))
    }

    fn first_free_in(&self, pool: &Pool, range: &IpRange, svc: &ServiceRequest) -> Option<IpAddr> {
        let usable = |ip: IpAddr| {
            !pool.is_buggy(ip) && self.usage.get(ip).is_none_or(|u| u.check(ip, svc).is_ok())
        };
        let unused = self.first_unused(pool, range);
        let held = self
            .holdings
            .get(&svc.key)
            .into_iter()
            .flat_map(|h| h.ips.iter().copied())
            .filter(|ip| range.contains(*ip) && usable(*ip));
        // An address also held by a Service of another controller is not joined.
        let shared = self.usage.lowest_shareable(svc, range, |ip| {
            pool.is_buggy(ip) || self.usage.is_foreign(ip)
        });
        unused.into_iter().chain(held).chain(shared).min()
    }

    /// The lowest address of `range` nobody uses (and not buggy in `pool`).
    fn first_unused(&self, pool: &Pool, range: &IpRange) -> Option<IpAddr> {
        let occupied = self.usage.occupied(Family::of(range.first()));
        let last = to_u128(range.last());
        let mut n = to_u128(range.first());
        loop {
            n = occupied.next_free(n)?;
            if n > last {
                return None;
            }
            let ip = from_u128(range.first(), n);
            if !pool.is_buggy(ip) {
                return Some(ip);
            }
            n = n.checked_add(1)?;
        }
    }
}
