//! The announcement table: which addresses this node answers for, and on which interfaces.
//! Written by the reconcile loop, read by every responder thread.
//!
//! An address whose advertisements name interfaces is answered for on those; otherwise on the
//! interfaces that are on its network ([`metallb_core::l2::interface::answers_on`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use metallb_core::iprange::Cidr;
use metallb_core::l2::interface::answers_on;

/// Where an address is announced: the interfaces the advertisements name, or `None` when they
/// name none (then: the interfaces on the address's network).
pub type InterfaceFilter = Option<BTreeSet<String>>;

/// Addresses this node announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    entries: BTreeMap<IpAddr, InterfaceFilter>,
}

impl Table {
    /// A table from (address, interfaces) pairs; filters of a shared address are merged.
    pub fn from_entries(entries: impl IntoIterator<Item = (IpAddr, InterfaceFilter)>) -> Self {
        let mut table = Table::default();
        for (ip, filter) in entries {
            let merged = match (table.entries.remove(&ip), filter) {
                (None, f) => f,
                (Some(None), _) | (Some(_), None) => None,
                (Some(Some(mut a)), Some(b)) => {
                    a.extend(b);
                    Some(a)
                }
            };
            table.entries.insert(ip, merged);
        }
        table
    }

    /// Whether `ip` is answered for on interface `name`, whose networks are `networks`.
    pub fn announces(&self, ip: IpAddr, name: &str, networks: &[Cidr]) -> bool {
        self.entries
            .get(&ip)
            .is_some_and(|filter| answers_on(ip, filter.as_ref(), name, networks))
    }

    /// Every announced address with its interface filter.
    pub fn entries(&self) -> impl Iterator<Item = (&IpAddr, &InterfaceFilter)> {
        self.entries.iter()
    }

    /// The interface filter of `ip`, when it is announced.
    pub fn filter(&self, ip: IpAddr) -> Option<&InterfaceFilter> {
        self.entries.get(&ip)
    }

    /// Whether `ip` is announced at all.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.entries.contains_key(&ip)
    }
}

/// The table shared between the reconcile loop and the responders.
pub type SharedTable = Arc<RwLock<Table>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_of_a_shared_address_merge_and_the_network_rule_wins() {
        let ip: IpAddr = "198.18.100.1".parse().unwrap();
        let on_link = [Cidr::new("198.18.0.11".parse().unwrap(), 16).unwrap()];
        let eth1 = Some(BTreeSet::from(["eth1".to_string()]));
        let eth2 = Some(BTreeSet::from(["eth2".to_string()]));
        let table = Table::from_entries([(ip, eth1.clone()), (ip, eth2)]);
        assert!(table.announces(ip, "eth1", &[]) && table.announces(ip, "eth2", &[]));
        assert!(!table.announces(ip, "eth3", &on_link));
        // One advertisement names no interface: the address goes where its network is.
        let table = Table::from_entries([(ip, eth1), (ip, None)]);
        assert!(table.announces(ip, "eth3", &on_link));
        assert!(!table.announces(ip, "eth1", &[]));
        assert!(!table.announces("198.18.100.2".parse().unwrap(), "eth3", &on_link));
    }
}
