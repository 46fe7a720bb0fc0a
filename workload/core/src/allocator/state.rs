//! The allocator's state: who holds which address, and the rules for handing out more.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::pool::{Pool, PoolCounters};
use super::request::{Family, FamilyPolicy, Port, ServiceRequest};
use super::{AllocError, Allocation};
use crate::iprange::{from_u128, to_u128};

/// What one Service holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holding {
    pool: String,
    ips: Vec<IpAddr>,
}

/// Who uses one address, and on which terms.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AddressUse {
    sharing_key: Option<String>,
    backend_key: String,
    /// Service key -> its ports.
    users: BTreeMap<String, Vec<Port>>,
}

/// Pools and allocations. Deterministic: the same calls give the same answers.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    pools: BTreeMap<String, Pool>,
    holdings: BTreeMap<String, Holding>,
    used: BTreeMap<IpAddr, AddressUse>,
}

impl Allocator {
    /// An allocator with no pools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the pools. Allocations whose addresses no pool allows any more are released
    /// (their keys are returned, to be allocated again); allocations now inside another pool
    /// (rename, split) move to it without changing addresses.
    pub fn set_pools(&mut self, pools: Vec<Pool>) -> Vec<String> {
        self.pools = pools.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut released = Vec::new();
        let keys: Vec<String> = self.holdings.keys().cloned().collect();
        for key in keys {
            let Some(holding) = self.holdings.get(&key) else {
                continue;
            };
            match self.pool_of(&holding.ips) {
                Some(pool) => {
                    let pool = pool.name.clone();
                    if let Some(h) = self.holdings.get_mut(&key) {
                        h.pool = pool;
                    }
                }
                None => {
                    self.release(&key);
                    released.push(key);
                }
            }
        }
        released
    }

    /// The pools, by name.
    pub fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.values()
    }

    /// What `key` holds.
    pub fn allocation(&self, key: &str) -> Option<Allocation> {
        self.holdings.get(key).map(|h| Allocation {
            pool: h.pool.clone(),
            ips: h.ips.clone(),
        })
    }

    /// The keys of every Service holding addresses.
    pub fn holders(&self) -> Vec<String> {
        self.holdings.keys().cloned().collect()
    }

    /// The Service keys holding `ip`.
    pub fn users_of(&self, ip: IpAddr) -> Vec<String> {
        self.used
            .get(&ip)
            .map(|u| u.users.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Counters of a pool.
    pub fn counters(&self, pool: &str) -> Option<PoolCounters> {
        self.pools.get(pool).map(|p| p.counters(&self.used))
    }

    /// The pool allowing every address in `ips`.
    fn pool_of(&self, ips: &[IpAddr]) -> Option<&Pool> {
        self.pools
            .values()
            .find(|p| !ips.is_empty() && ips.iter().all(|ip| p.allows(*ip)))
    }

    /// Releases whatever `key` holds; returns whether it held anything.
    pub fn release(&mut self, key: &str) -> bool {
        let Some(holding) = self.holdings.remove(key) else {
            return false;
        };
        for ip in holding.ips {
            if let Some(u) = self.used.get_mut(&ip) {
                u.users.remove(key);
                if u.users.is_empty() {
                    self.used.remove(&ip);
                }
            }
        }
        true
    }

    /// The quick form of [`Self::sharing_ok`], without building a message.
    fn may_use(&self, ip: IpAddr, svc: &ServiceRequest) -> bool {
        let Some(u) = self.used.get(&ip) else {
            return true;
        };
        u.users.iter().all(|(k, _)| *k == svc.key)
            || (matches!((&svc.sharing_key, &u.sharing_key), (Some(a), Some(b)) if !a.is_empty() && a == b)
                && u.backend_key == svc.backend_key
                && u.users
                    .iter()
                    .filter(|(k, _)| **k != svc.key)
                    .all(|(_, ports)| !svc.ports.iter().any(|p| ports.contains(p))))
    }

    /// Whether `svc` may use `ip` next to its current users (§3.5).
    fn sharing_ok(&self, ip: IpAddr, svc: &ServiceRequest) -> Result<(), AllocError> {
        let Some(u) = self.used.get(&ip) else {
            return Ok(());
        };
        let others: Vec<(&String, &Vec<Port>)> =
            u.users.iter().filter(|(k, _)| **k != svc.key).collect();
        let Some((first_other, _)) = others.first() else {
            return Ok(());
        };
        let shared = matches!((&svc.sharing_key, &u.sharing_key), (Some(a), Some(b)) if !a.is_empty() && a == b);
        if !shared {
            return Err(AllocError::Sharing(format!(
                "{ip} is already used by {first_other}; give both services the same allow-shared-ip key to share it"
            )));
        }
        if u.backend_key != svc.backend_key {
            return Err(AllocError::Sharing(format!(
                "{ip} is shared by services with a different backend (externalTrafficPolicy Local needs the same selector)"
            )));
        }
        for (other, ports) in others {
            if let Some(port) = svc.ports.iter().find(|p| ports.contains(p)) {
                return Err(AllocError::Sharing(format!(
                    "port {}/{} is already used on {ip} by {other}",
                    port.port, port.protocol
                )));
            }
        }
        Ok(())
    }

    /// Gives `svc` exactly `ips` (explicit request, or re-claiming after a restart), checking
    /// pool membership, compatibility, the requested pool and sharing (§3.6).
    pub fn assign(
        &mut self,
        svc: &ServiceRequest,
        ips: &[IpAddr],
    ) -> Result<Allocation, AllocError> {
        match ips {
            [_] => {}
            [a, b] if Family::of(*a) != Family::of(*b) => {}
            _ => return Err(AllocError::BadIpCount),
        }
        let pool = match self.pool_of(ips) {
            Some(pool) => pool,
            None => {
                let bad = ips
                    .iter()
                    .find(|ip| !self.pools.values().any(|p| p.allows(**ip)))
                    .or(ips.first())
                    .copied()
                    .ok_or(AllocError::BadIpCount)?;
                return Err(AllocError::NotInConfig(bad));
            }
        };
        if !pool.compatible(svc) {
            return Err(AllocError::Incompatible(pool.name.clone()));
        }
        if let Some(requested) = svc.requested_pool.as_ref().filter(|r| **r != pool.name) {
            return Err(AllocError::WrongPool {
                requested: requested.clone(),
                actual: pool.name.clone(),
            });
        }
        let pool_name = pool.name.clone();
        for ip in ips {
            self.sharing_ok(*ip, svc)?;
        }
        self.release(&svc.key);
        for ip in ips {
            let entry = self.used.entry(*ip).or_insert_with(|| AddressUse {
                sharing_key: svc.sharing_key.clone(),
                backend_key: svc.backend_key.clone(),
                users: BTreeMap::new(),
            });
            if entry.users.is_empty() {
                entry.sharing_key = svc.sharing_key.clone();
                entry.backend_key = svc.backend_key.clone();
            }
            entry.users.insert(svc.key.clone(), svc.ports.clone());
        }
        self.holdings.insert(
            svc.key.clone(),
            Holding {
                pool: pool_name.clone(),
                ips: ips.to_vec(),
            },
        );
        Ok(Allocation {
            pool: pool_name,
            ips: ips.to_vec(),
        })
    }

    /// Allocates addresses for `svc` (§3.3): requested addresses, else the requested pool, else
    /// what it already holds, else its pinned pools by priority, else unrestricted pools by name.
    pub fn allocate(&mut self, svc: &ServiceRequest) -> Result<Allocation, AllocError> {
        if !svc.requested_ips.is_empty() {
            let wanted: BTreeSet<Family> = svc.families.iter().copied().collect();
            let given: Vec<Family> = svc.requested_ips.iter().map(|ip| Family::of(*ip)).collect();
            if given.iter().any(|f| !wanted.contains(f)) {
                return Err(AllocError::FamilyMismatch(svc.requested_ips.clone()));
            }
            return self.assign(svc, &svc.requested_ips.clone());
        }
        if let Some(name) = &svc.requested_pool {
            let pool = self
                .pools
                .get(name)
                .ok_or_else(|| AllocError::UnknownPool(name.clone()))?;
            if !pool.compatible(svc) {
                return Err(AllocError::Incompatible(name.clone()));
            }
            if let Some(current) = self
                .holdings
                .get(&svc.key)
                .filter(|h| h.pool == *name)
                .cloned()
            {
                return self.assign(svc, &current.ips);
            }
            let ips = self
                .best_in(std::slice::from_ref(name), svc)
                .ok_or(AllocError::NoAvailableIps)?;
            return self.assign(svc, &ips);
        }
        let current = self.holdings.get(&svc.key).map(|h| h.ips.clone());
        if let Some(Ok(allocation)) = current.map(|ips| self.assign(svc, &ips)) {
            return Ok(allocation);
        }
        let mut pinned: Vec<&Pool> = self
            .pools
            .values()
            .filter(|p| p.auto_assign && p.allocation.is_some() && p.compatible(svc))
            .filter(|p| {
                p.allocation.as_ref().is_some_and(|a| {
                    !a.namespace_restricted || a.namespaces.contains(&svc.namespace)
                })
            })
            .collect();
        pinned.sort_by_key(|p| {
            let priority = p.allocation.as_ref().map_or(0, |a| a.priority);
            (priority <= 0, priority, p.name.clone())
        });
        let pinned: Vec<String> = pinned.iter().map(|p| p.name.clone()).collect();
        let open: Vec<String> = self
            .pools
            .values()
            .filter(|p| p.auto_assign && p.allocation.is_none())
            .map(|p| p.name.clone())
            .collect();
        for candidates in [pinned, open] {
            if let Some(ips) = self.best_in(&candidates, svc) {
                return self.assign(svc, &ips);
            }
        }
        Err(AllocError::NoAvailableIps)
    }

    /// The addresses `svc` would get from the first suitable pool among `candidates` (§3.3 family
    /// logic): both families from one pool when wanted, else (PreferDualStack) the primary, else
    /// the secondary.
    fn best_in(&self, candidates: &[String], svc: &ServiceRequest) -> Option<Vec<IpAddr>> {
        let wanted = svc.wanted_families();
        let free: Vec<(Option<IpAddr>, Option<IpAddr>)> = candidates
            .iter()
            .filter_map(|name| self.pools.get(name))
            .map(|p| {
                (
                    self.first_free(p, Family::V4, svc),
                    self.first_free(p, Family::V6, svc),
                )
            })
            .collect();
        let pick = |f: Family, pair: &(Option<IpAddr>, Option<IpAddr>)| match f {
            Family::V4 => pair.0,
            Family::V6 => pair.1,
        };
        match wanted.as_slice() {
            [single] => free
                .iter()
                .find_map(|pair| pick(*single, pair))
                .map(|ip| vec![ip]),
            [primary, secondary] => {
                let both = free.iter().find_map(|pair| {
                    let (a, b) = (pick(*primary, pair)?, pick(*secondary, pair)?);
                    // Fresh dual-stack allocations are IPv4 first.
                    Some(if a.is_ipv4() { vec![a, b] } else { vec![b, a] })
                });
                match (both, svc.policy) {
                    (Some(ips), _) => Some(ips),
                    (None, FamilyPolicy::PreferDualStack) => free
                        .iter()
                        .find_map(|pair| pick(*primary, pair))
                        .or_else(|| free.iter().find_map(|pair| pick(*secondary, pair)))
                        .map(|ip| vec![ip]),
                    (None, _) => None,
                }
            }
            _ => None,
        }
    }

    /// The lowest address of `family` in `pool` that `svc` may use (§3.4).
    fn first_free(&self, pool: &Pool, family: Family, svc: &ServiceRequest) -> Option<IpAddr> {
        for range in pool
            .ranges
            .iter()
            .filter(|r| Family::of(r.first()) == family)
        {
            let (mut n, last) = (to_u128(range.first()), to_u128(range.last()));
            loop {
                let ip = from_u128(range.first(), n);
                if !pool.is_buggy(ip) && self.may_use(ip, svc) {
                    return Some(ip);
                }
                if n >= last {
                    break;
                }
                n += 1;
            }
        }
        None
    }
}
