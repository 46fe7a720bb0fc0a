//! The allocator's state and its operations: pools in, decisions out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::pool::{Pool, PoolCounters};
use super::request::{Family, FamilyPolicy, ServiceRequest};
use super::usage::Usage;
use super::validate::validate;
use super::{AllocError, Allocation, PoolsError};

/// What one Service holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holding {
    pub(super) pool: String,
    pub(super) ips: Vec<IpAddr>,
}

/// What a pool change did to existing allocations (§3.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolsUpdate {
    /// Services whose addresses no pool allows any more; they were released and need a new
    /// allocation (the controller's reprocess-all does it).
    pub released: Vec<String>,
    /// Services whose addresses now belong to another pool (rename, split): `(service, from,
    /// to)`; addresses unchanged, only `ip-allocated-from-pool` changes.
    pub moved: Vec<(String, String, String)>,
}

/// How an address is claimed (which checks apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// A new allocation or an explicit request: every rule, including the `address-pool`
    /// annotation; addresses held by Services of other controllers are refused.
    Fresh,
    /// Addresses the Service already has in its status (restart recovery): kept even when a
    /// Service of another controller claims them too (nothing is taken away on a conflict this
    /// controller did not make).
    Status,
    /// A PreferDualStack Service gaining its second family.
    Upgrade,
}

/// Pools and allocations. Deterministic: the same calls in the same order give the same
/// answers. Invariant: an address has several users only if the sharing rules (§3.5) allow it,
/// and an address a Service of another controller holds ([`Self::reserve`]) is never handed to
/// a Service that did not already hold it.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    pub(super) pools: BTreeMap<String, Pool>,
    pub(super) holdings: BTreeMap<String, Holding>,
    pub(super) usage: Usage,
    /// Addresses held by Services this controller does not handle, by Service key.
    pub(super) reserved: BTreeMap<String, Vec<IpAddr>>,
    /// Whether pools were installed at least once.
    pub(super) configured: bool,
}

impl Allocator {
    /// An allocator with no pools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates `pools` (names, addresses, no overlap) and, if they are valid, installs them
    /// like [`Self::set_pools`]. On error nothing changes: the previous pools stay in force.
    pub fn try_set_pools(&mut self, pools: Vec<Pool>) -> Result<PoolsUpdate, PoolsError> {
        validate(&pools)?;
        Ok(self.install(pools))
    }

    /// Replaces the pools without validating them, and returns the released Services. Prefer
    /// [`Self::try_set_pools`]; with overlapping pools an address belongs to the first pool by
    /// name that allows it.
    ///
    /// Allocations whose addresses no single pool allows any more (pool deleted or shrunk,
    /// avoidBuggyIPs turned on over a .0/.255) are released; allocations now inside another pool
    /// (rename, split) move to it without changing addresses. Addresses are never handed to a
    /// second Service by a pool change (upstream issue #1591).
    pub fn set_pools(&mut self, pools: Vec<Pool>) -> Vec<String> {
        self.install(pools).released
    }

    fn install(&mut self, pools: Vec<Pool>) -> PoolsUpdate {
        self.configured = true;
        self.pools = pools.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut update = PoolsUpdate::default();
        let keys: Vec<String> = self.holdings.keys().cloned().collect();
        for key in keys {
            let Some(holding) = self.holdings.get(&key) else {
                continue;
            };
            let now = self
                .pool_of(&holding.ips, Some(&holding.pool))
                .map(|p| p.name.clone());
            match now {
                Some(pool) if pool == holding.pool => {}
                Some(pool) => {
                    if let Some(h) = self.holdings.get_mut(&key) {
                        update
                            .moved
                            .push((key.clone(), h.pool.clone(), pool.clone()));
                        h.pool = pool;
                    }
                }
                None => {
                    self.release(&key);
                    update.released.push(key);
                }
            }
        }
        update
    }

    /// Whether pools were installed at least once ([`Self::try_set_pools`] or
    /// [`Self::set_pools`]): before that, the allocator knows no configuration and the controller
    /// must not change any Service (an empty allocator would find every held address invalid).
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// Records that `key`, a Service this controller does not handle (another
    /// loadBalancerClass), holds `ips` (replacing what was recorded for it). Those addresses are
    /// never handed to another Service and count as in use in the pools' counters; they are not
    /// subject to the pools (a pool change never releases them). Returns whether an address
    /// recorded before is no longer (it may be free now).
    pub fn reserve(&mut self, key: &str, ips: &[IpAddr]) -> bool {
        if ips.is_empty() {
            return self.unreserve(key);
        }
        let mut wanted = ips.to_vec();
        wanted.sort();
        wanted.dedup();
        if self.reserved.get(key) == Some(&wanted) {
            return false;
        }
        let freed = self.unreserve(key);
        for ip in &wanted {
            self.usage.add_foreign(*ip, key);
        }
        self.reserved.insert(key.to_string(), wanted);
        freed
    }

    /// Forgets what [`Self::reserve`] recorded for `key`; returns whether it held anything.
    pub fn unreserve(&mut self, key: &str) -> bool {
        let Some(ips) = self.reserved.remove(key) else {
            return false;
        };
        for ip in ips {
            self.usage.remove_foreign(ip, key);
        }
        true
    }

    /// The keys of every Service recorded with [`Self::reserve`], sorted.
    pub fn reservations(&self) -> impl Iterator<Item = (&str, &[IpAddr])> {
        self.reserved
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The Services this controller does not handle that hold `ip`, sorted.
    pub fn foreign_users_of(&self, ip: IpAddr) -> Vec<String> {
        self.usage
            .foreign(ip)
            .map(|users| users.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The pools, by name.
    pub fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.values()
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.get(name)
    }

    /// The name of the pool `ip` belongs to (whether or not it may be handed out).
    pub fn pool_of_ip(&self, ip: IpAddr) -> Option<&str> {
        self.pools
            .values()
            .find(|p| p.contains(ip))
            .map(|p| p.name.as_str())
    }

    /// What `key` holds.
    pub fn allocation(&self, key: &str) -> Option<Allocation> {
        self.holdings.get(key).map(|h| Allocation {
            pool: h.pool.clone(),
            ips: h.ips.clone(),
        })
    }

    /// The keys of every Service holding addresses, sorted.
    pub fn holders(&self) -> Vec<String> {
        self.holdings.keys().cloned().collect()
    }

    /// The Service keys holding `ip`, sorted.
    pub fn users_of(&self, ip: IpAddr) -> Vec<String> {
        self.usage
            .get(ip)
            .map(|u| u.users.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every address in use with its users, ascending.
    pub fn addresses_in_use(&self) -> impl Iterator<Item = (IpAddr, Vec<&str>)> {
        self.usage
            .iter()
            .map(|(ip, u)| (*ip, u.users.keys().map(String::as_str).collect()))
    }

    /// Capacity and use of a pool (`None` for an unknown pool); addresses the pool may hand out
    /// that Services of other controllers hold count as in use. Cost: the occupied runs inside
    /// the pool, not its size.
    pub fn counters(&self, pool: &str) -> Option<PoolCounters> {
        let pool = self.pools.get(pool)?;
        let (v4_total, v6_total) = pool.capacity();
        let mut c = PoolCounters {
            v4_total,
            v6_total,
            ..PoolCounters::default()
        };
        for range in &pool.ranges {
            // Foreign holders of addresses the pool never hands out (avoidBuggyIPs) take
            // nothing from its capacity.
            let unusable = self
                .usage
                .foreign_in(range)
                .filter(|ip| pool.is_buggy(*ip) && self.usage.get(*ip).is_none())
                .count() as u128;
            let used = self.usage.count_in(range) - unusable;
            if range.is_ipv4() {
                c.v4_in_use = c.v4_in_use.saturating_add(used);
            } else {
                c.v6_in_use = c.v6_in_use.saturating_add(used);
            }
        }
        Some(c)
    }

    /// Counters of every pool, by name.
    pub fn all_counters(&self) -> BTreeMap<String, PoolCounters> {
        self.pools
            .keys()
            .filter_map(|name| Some((name.clone(), self.counters(name)?)))
            .collect()
    }

    /// The pool allowing every address in `ips`, preferring `current`.
    fn pool_of(&self, ips: &[IpAddr], current: Option<&str>) -> Option<&Pool> {
        let fits = |p: &&Pool| !ips.is_empty() && ips.iter().all(|ip| p.allows(*ip));
        current
            .and_then(|c| self.pools.get(c))
            .filter(fits)
            .or_else(|| self.pools.values().find(fits))
    }

    /// Releases whatever `key` holds; returns whether it held anything (the controller then
    /// reprocesses pending Services, which may now fit — upstream `TestDeleteRecyclesIP`).
    pub fn release(&mut self, key: &str) -> bool {
        let Some(holding) = self.holdings.remove(key) else {
            return false;
        };
        for ip in holding.ips {
            self.usage.remove(ip, key);
        }
        true
    }

    /// Gives `svc` exactly `ips` (an explicit request): checks pool membership, compatibility,
    /// the requested pool and sharing (§3.6), then replaces what `svc` held atomically. On error
    /// nothing changes.
    pub fn assign(
        &mut self,
        svc: &ServiceRequest,
        ips: &[IpAddr],
    ) -> Result<Allocation, AllocError> {
        self.assign_checked(svc, ips, Claim::Fresh)
    }

    fn assign_checked(
        &mut self,
        svc: &ServiceRequest,
        ips: &[IpAddr],
        claim: Claim,
    ) -> Result<Allocation, AllocError> {
        match ips {
            [_] => {}
            [a, b] if Family::of(*a) != Family::of(*b) => {}
            _ => return Err(AllocError::BadIpCount),
        }
        let current = self.holdings.get(&svc.key).map(|h| h.pool.as_str());
        let pool = match self.pool_of(ips, current) {
            Some(pool) => pool,
            None => {
                return Err(
                    match ips.iter().find(|ip| self.pool_of(&[**ip], None).is_none()) {
                        Some(bad) => AllocError::NotInConfig(*bad),
                        None => AllocError::SplitAcrossPools(ips.to_vec()),
                    },
                );
            }
        };
        if !pool.compatible(svc) {
            return Err(AllocError::Incompatible(pool.name.clone()));
        }
        if claim == Claim::Fresh
            && let Some(requested) = svc.requested_pool.as_ref().filter(|r| **r != pool.name)
        {
            return Err(AllocError::WrongPool {
                requested: requested.clone(),
                actual: pool.name.clone(),
            });
        }
        let pool = pool.name.clone();
        if claim != Claim::Status {
            let held = self.holdings.get(&svc.key).map(|h| h.ips.as_slice());
            for ip in ips {
                if held.is_some_and(|h| h.contains(ip)) {
                    continue;
                }
                if let Some(holder) = self.usage.foreign(*ip).and_then(|f| f.first()) {
                    return Err(AllocError::HeldElsewhere {
                        ip: *ip,
                        holder: holder.clone(),
                    });
                }
            }
        }
        for ip in ips {
            if let Some(u) = self.usage.get(*ip) {
                u.check(*ip, svc)?;
            }
        }
        self.release(&svc.key);
        for ip in ips {
            self.usage.add(*ip, svc);
        }
        self.holdings.insert(
            svc.key.clone(),
            Holding {
                pool: pool.clone(),
                ips: ips.to_vec(),
            },
        );
        Ok(Allocation {
            pool,
            ips: ips.to_vec(),
        })
    }

    /// Re-claims the addresses a Service already has in `status.loadBalancer.ingress` (restart
    /// recovery §3.9, and every reconcile §3.2 steps 6–8). Checks, in upstream order: cluster
    /// IPs (RequireDualStack needs both families), the held families against the Service's
    /// (PreferDualStack over dual-stack cluster IPs may hold one), the [`Self::assign`] rules
    /// (pool membership, compatibility, buggy IPs, sharing), the `address-pool` annotation, and
    /// the requested IPs (as a set). On error the Service is released and should be allocated
    /// again; [`AllocError::event_reason`] says which event to emit.
    ///
    /// Feed every Service that holds addresses through `restore` before allocating for any
    /// pending one, so a restart never moves an address or hands one out twice (upstream issues
    /// #1774, #2443, #2479 — fixed upstream only after v0.13.10, which the charm pinned).
    pub fn restore(
        &mut self,
        svc: &ServiceRequest,
        current: &[IpAddr],
    ) -> Result<Allocation, AllocError> {
        let result = self.check_restore(svc, current);
        if result.is_err() {
            self.release(&svc.key);
        }
        result
    }

    fn check_restore(
        &mut self,
        svc: &ServiceRequest,
        current: &[IpAddr],
    ) -> Result<Allocation, AllocError> {
        svc.check_cluster_ips()?;
        if current.is_empty() {
            return Err(AllocError::NoCurrentIps);
        }
        if !svc.fits_families(current) {
            return Err(AllocError::CurrentFamilyChanged(current.to_vec()));
        }
        let allocation = self.assign_checked(svc, current, Claim::Status)?;
        if let Some(requested) = svc
            .requested_pool
            .as_ref()
            .filter(|r| **r != allocation.pool)
        {
            return Err(AllocError::PoolChanged {
                current: allocation.pool,
                requested: requested.clone(),
            });
        }
        let set = |ips: &[IpAddr]| ips.iter().copied().collect::<BTreeSet<_>>();
        if !svc.requested_ips.is_empty() && set(&svc.requested_ips) != set(current) {
            return Err(AllocError::RequestChanged {
                requested: svc.requested_ips.clone(),
                current: current.to_vec(),
            });
        }
        Ok(allocation)
    }

    /// Keeps the addresses a Service has in its status when its request cannot be read (a bad
    /// `loadBalancerIPs` annotation or `spec.loadBalancerIP`): `svc` carries what could be read
    /// (namespace, labels, ports, sharing key, backend). Checks only what does not depend on the
    /// unreadable part: one address or two of different families, pool membership, the pool's
    /// serviceAllocation and sharing with other holders. On error the Service is released (the
    /// controller then clears its status, with an event); on success its addresses are never
    /// handed to another Service until it changes.
    pub fn hold(
        &mut self,
        svc: &ServiceRequest,
        current: &[IpAddr],
    ) -> Result<Allocation, AllocError> {
        if current.is_empty() {
            self.release(&svc.key);
            return Err(AllocError::NoCurrentIps);
        }
        let result = self.assign_checked(svc, current, Claim::Status);
        if result.is_err() {
            self.release(&svc.key);
        }
        result
    }

    /// Allocates addresses for `svc` (§3.3), in order of precedence:
    /// 1. requested IPs: their families must equal the cluster-IP families, then [`Self::assign`]
    ///    (any pool; autoAssign ignored, but not avoidBuggyIPs or serviceAllocation);
    /// 2. the requested pool: what `svc` holds there, else its first free addresses (autoAssign
    ///    ignored, compatibility required);
    /// 3. what `svc` already holds, if it still suits its families;
    /// 4. pinned pools by priority, then unrestricted pools by name
    ///    ([`Self::auto_candidates`](Allocator)).
    ///
    /// On success the previous allocation of `svc` is replaced; on error it is kept.
    pub fn allocate(&mut self, svc: &ServiceRequest) -> Result<Allocation, AllocError> {
        svc.check_cluster_ips()?;
        if !svc.requested_ips.is_empty() {
            let mut wanted = svc.cluster_families();
            wanted.sort();
            let mut given: Vec<Family> =
                svc.requested_ips.iter().map(|ip| Family::of(*ip)).collect();
            given.sort();
            if given != wanted {
                return Err(AllocError::FamilyMismatch(svc.requested_ips.clone()));
            }
            return self.assign(svc, &svc.requested_ips);
        }
        let current = self.holdings.get(&svc.key).cloned();
        if let Some(name) = &svc.requested_pool {
            let pool = self
                .pools
                .get(name)
                .ok_or_else(|| AllocError::UnknownPool(name.clone()))?;
            if !pool.compatible(svc) {
                return Err(AllocError::Incompatible(name.clone()));
            }
            let fresh = self.best_in(&[pool], svc);
            if let Some(current) = current.filter(|h| h.pool == *name && svc.fits_families(&h.ips))
                && let Ok(allocation) = self.assign(svc, &current.ips)
            {
                return Ok(allocation);
            }
            let ips = fresh.ok_or_else(|| AllocError::PoolExhausted(name.clone()))?;
            return self.assign(svc, &ips);
        }
        if let Some(current) = current.filter(|h| svc.fits_families(&h.ips))
            && let Ok(allocation) = self.assign(svc, &current.ips)
        {
            return Ok(allocation);
        }
        let found = self
            .auto_candidates(svc)
            .iter()
            .find_map(|candidates| self.best_in(candidates, svc));
        match found {
            Some(ips) => self.assign(svc, &ips),
            None => Err(AllocError::NoAvailableIps),
        }
    }

    /// For a PreferDualStack Service over dual-stack cluster IPs that holds one address: adds
    /// the missing family from the **same** pool (§2.4, §3.2 step 9), appended after the held
    /// address. `Ok(None)` when nothing applies (other policy, single-stack cluster IPs,
    /// requested IPs, nothing or two held); an error (upstream event `AdditionalAssignFailed`)
    /// leaves the held address in place.
    ///
    /// Guard for upstream issue #2724 / PR #2726: upstream did not check the cluster-IP families
    /// here, so a single-stack Service in a dual-stack pool got a second address and lost both
    /// on the next reconcile.
    pub fn add_missing_family(
        &mut self,
        svc: &ServiceRequest,
    ) -> Result<Option<Allocation>, AllocError> {
        if svc.policy != FamilyPolicy::PreferDualStack
            || !svc.is_dual_stack()
            || !svc.requested_ips.is_empty()
        {
            return Ok(None);
        }
        let Some(holding) = self.holdings.get(&svc.key) else {
            return Ok(None);
        };
        let [held] = holding.ips.as_slice() else {
            return Ok(None);
        };
        let held = *held;
        let Some(pool) = self.pools.get(&holding.pool) else {
            return Ok(None);
        };
        if !pool.compatible(svc) {
            return Err(AllocError::Incompatible(pool.name.clone()));
        }
        let extra = self
            .first_free(pool, Family::of(held).other(), svc)
            .ok_or_else(|| AllocError::PoolExhausted(pool.name.clone()))?;
        self.assign_checked(svc, &[held, extra], Claim::Upgrade)
            .map(Some)
    }
}
