//! The table of addresses in use, with the two indexes that keep allocation fast: occupied runs
//! per family (next-free search in `O(log n)`) and, per sharing key, addresses grouped by their
//! terms (backend and ports in use), so finding a shareable address visits groups, not
//! addresses. Addresses held by Services the controller does not handle are occupied too.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::occupied::Occupied;
use super::request::{Family, Port, ServiceRequest};
use super::sharing::AddressUse;
use crate::iprange::{IpRange, to_u128};

/// Addresses with at least one user.
#[derive(Debug, Clone, Default)]
pub(super) struct Usage {
    by_ip: BTreeMap<IpAddr, AddressUse>,
    v4: Occupied,
    v6: Occupied,
    /// Non-empty sharing key -> terms -> addresses whose users share under that key and terms.
    by_sharing_key: BTreeMap<String, BTreeMap<Terms, BTreeSet<IpAddr>>>,
    /// Addresses held by Services the controller does not handle (another loadBalancerClass):
    /// occupied for everyone else, never shared.
    foreign: BTreeMap<IpAddr, BTreeSet<String>>,
}

/// The terms of a shared address: backend key and every port its users expose (sorted).
type Terms = (String, Vec<Port>);

fn terms(u: &AddressUse) -> Terms {
    let mut ports: Vec<Port> = u.users.values().flatten().cloned().collect();
    ports.sort();
    ports.dedup();
    (u.backend_key.clone(), ports)
}

impl Usage {
    /// The users of `ip`.
    pub(super) fn get(&self, ip: IpAddr) -> Option<&AddressUse> {
        self.by_ip.get(&ip)
    }

    /// Every address in use, ascending (IPv4 first).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&IpAddr, &AddressUse)> {
        self.by_ip.iter()
    }

    /// The occupied runs of one family.
    pub(super) fn occupied(&self, family: Family) -> &Occupied {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn occupied_mut(&mut self, ip: IpAddr) -> &mut Occupied {
        match Family::of(ip) {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// The lowest address in `range` that `svc` may share with its current users (same
    /// sharing key and backend, no common port) and that `skip` does not exclude.
    pub(super) fn lowest_shareable(
        &self,
        svc: &ServiceRequest,
        range: &IpRange,
        skip: impl Fn(IpAddr) -> bool,
    ) -> Option<IpAddr> {
        let groups = self.by_sharing_key.get(svc.shares()?)?;
        groups
            .iter()
            .filter(|((backend, ports), _)| {
                *backend == svc.backend_key
                    && !svc.ports.iter().any(|p| ports.binary_search(p).is_ok())
            })
            .filter_map(|(_, set)| {
                set.range(range.first()..=range.last())
                    .copied()
                    .find(|ip| !skip(*ip))
            })
            .min()
    }

    /// Takes `ip` out of its sharing group (before its users change).
    fn ungroup(&mut self, ip: IpAddr) {
        let Some(u) = self.by_ip.get(&ip) else {
            return;
        };
        let Some(key) = u.shares() else {
            return;
        };
        let t = terms(u);
        if let Some(groups) = self.by_sharing_key.get_mut(key) {
            if let Some(set) = groups.get_mut(&t) {
                set.remove(&ip);
                if set.is_empty() {
                    groups.remove(&t);
                }
            }
            if groups.is_empty() {
                self.by_sharing_key.remove(key);
            }
        }
    }

    /// Puts `ip` into the sharing group of its current terms (after its users changed).
    fn group(&mut self, ip: IpAddr) {
        let Some(u) = self.by_ip.get(&ip) else {
            return;
        };
        let Some(key) = u.shares() else {
            return;
        };
        self.by_sharing_key
            .entry(key.to_string())
            .or_default()
            .entry(terms(u))
            .or_default()
            .insert(ip);
    }

    /// Adds `svc` as a user of `ip` (the caller has checked the sharing rules). A fresh address
    /// takes the Service's terms.
    pub(super) fn add(&mut self, ip: IpAddr, svc: &ServiceRequest) {
        self.ungroup(ip);
        let entry = self
            .by_ip
            .entry(ip)
            .or_insert_with(|| AddressUse::for_service(svc));
        let fresh = entry.users.is_empty();
        entry.users.insert(svc.key.clone(), svc.ports.clone());
        if fresh {
            self.occupied_mut(ip).insert(to_u128(ip));
        }
        self.group(ip);
    }

    /// The Services this controller does not handle that hold `ip` (empty when none).
    pub(super) fn foreign(&self, ip: IpAddr) -> Option<&BTreeSet<String>> {
        self.foreign.get(&ip)
    }

    /// Whether a Service this controller does not handle holds `ip`.
    pub(super) fn is_foreign(&self, ip: IpAddr) -> bool {
        self.foreign.contains_key(&ip)
    }

    /// The addresses in `range` held by Services this controller does not handle.
    pub(super) fn foreign_in(&self, range: &IpRange) -> impl Iterator<Item = IpAddr> + '_ {
        self.foreign
            .range(range.first()..=range.last())
            .map(|(ip, _)| *ip)
    }

    /// Records that `key`, a Service this controller does not handle, holds `ip`.
    pub(super) fn add_foreign(&mut self, ip: IpAddr, key: &str) {
        self.foreign.entry(ip).or_default().insert(key.to_string());
        self.occupied_mut(ip).insert(to_u128(ip));
    }

    /// Forgets that `key` holds `ip`; frees the address when nobody else uses it.
    pub(super) fn remove_foreign(&mut self, ip: IpAddr, key: &str) {
        let Some(holders) = self.foreign.get_mut(&ip) else {
            return;
        };
        holders.remove(key);
        if holders.is_empty() {
            self.foreign.remove(&ip);
            if !self.by_ip.contains_key(&ip) {
                self.occupied_mut(ip).remove(to_u128(ip));
            }
        }
    }

    /// Removes `key` from the users of `ip`; frees the address when it was the last one.
    pub(super) fn remove(&mut self, ip: IpAddr, key: &str) {
        if !self
            .by_ip
            .get(&ip)
            .is_some_and(|u| u.users.contains_key(key))
        {
            return;
        }
        self.ungroup(ip);
        let Some(entry) = self.by_ip.get_mut(&ip) else {
            return;
        };
        entry.users.remove(key);
        if entry.users.is_empty() {
            self.by_ip.remove(&ip);
            if !self.foreign.contains_key(&ip) {
                self.occupied_mut(ip).remove(to_u128(ip));
            }
        } else {
            self.group(ip);
        }
    }

    /// Addresses in use within `range`, by Services of this controller or others.
    pub(super) fn count_in(&self, range: &IpRange) -> u128 {
        self.occupied(Family::of(range.first()))
            .count_in(to_u128(range.first()), to_u128(range.last()))
    }
}
