//! The MetalLB objects the speaker tests and benchmarks apply, as typed `metallb_api` values
//! (a renamed field fails to compile); apply them with `test_support::scenario::apply`.

#![allow(dead_code)] // Each test binary uses some of them.

use metallb_api::{IPAddressPool, IPAddressPoolSpec, L2Advertisement, L2AdvertisementSpec};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// An IPAddressPool `name` with `addresses` (CIDRs or ranges).
pub fn pool(name: &str, addresses: &[&str]) -> IPAddressPool {
    let spec = IPAddressPoolSpec {
        addresses: strings(addresses),
        ..Default::default()
    };
    IPAddressPool::new(name, spec)
}

/// An L2Advertisement `name` of the pools `pools` (every pool when empty), on `interfaces`
/// (every interface when empty).
pub fn l2(name: &str, pools: &[&str], interfaces: &[&str]) -> L2Advertisement {
    l2_with(name, pools, interfaces, None)
}

/// [`l2`] with a periodic gratuitous ARP interval (e.g. `"1s"`).
pub fn l2_with(
    name: &str,
    pools: &[&str],
    interfaces: &[&str],
    gratuitous_arp_interval: Option<&str>,
) -> L2Advertisement {
    let spec = L2AdvertisementSpec {
        ip_address_pools: strings(pools),
        interfaces: strings(interfaces),
        gratuitous_arp_interval: gratuitous_arp_interval.map(str::to_string),
        ..Default::default()
    };
    L2Advertisement::new(name, spec)
}
