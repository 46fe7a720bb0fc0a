//! The announcement table: which addresses this node answers for, and on which interfaces.
//! Written by the reconcile loop, read by every responder thread.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

/// Where an address is announced: `None` means every eligible interface.
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

    /// Whether `ip` is announced on interface `name`.
    pub fn announces(&self, ip: IpAddr, interface: &str) -> bool {
        match self.entries.get(&ip) {
            Some(None) => true,
            Some(Some(names)) => names.contains(interface),
            None => false,
        }
    }

    /// Every announced address with its interface filter.
    pub fn entries(&self) -> impl Iterator<Item = (&IpAddr, &InterfaceFilter)> {
        self.entries.iter()
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
    fn filters_of_a_shared_address_merge_and_all_wins() {
        let ip: IpAddr = "198.18.100.1".parse().unwrap();
        let eth1 = Some(BTreeSet::from(["eth1".to_string()]));
        let eth2 = Some(BTreeSet::from(["eth2".to_string()]));
        let table = Table::from_entries([(ip, eth1.clone()), (ip, eth2)]);
        assert!(table.announces(ip, "eth1") && table.announces(ip, "eth2"));
        assert!(!table.announces(ip, "eth3"));
        let table = Table::from_entries([(ip, eth1), (ip, None)]);
        assert!(table.announces(ip, "eth3"));
        assert!(!table.announces("198.18.100.2".parse().unwrap(), "eth1"));
    }
}
