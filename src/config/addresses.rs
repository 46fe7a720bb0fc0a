//! The `iprange` option: the addresses MetalLB may hand out. Beyond the syntax (rules in
//! `metallb_core::iprange`), it refuses what Kubernetes would refuse in an IPAddressPool
//! (IPv4-mapped IPv6 addresses, more items than the CRD takes) and what no operator means to
//! announce (loopback, multicast, link-local, broadcast, "this network", a CIDR with host bits
//! set), naming the item.

use std::net::IpAddr;

use metallb_core::iprange::{IpRange, parse_ranges};

use super::{ConfigProblem, problem};

/// The most items an IPAddressPool takes (`spec.addresses` maxItems in the CRD).
const MAX_ITEMS: usize = 1024;
/// The longest item an IPAddressPool takes.
const MAX_ITEM_LEN: usize = 100;
/// What to type, in messages.
const EXAMPLE: &str = "for example 192.168.1.240-192.168.1.247 or 192.168.1.240/29";

/// Address blocks that must never be handed out, with why.
const SPECIAL: [(&str, &str); 10] = [
    (
        "0.0.0.0/8",
        "\"this network\" (0.0.0.0/8) is not assignable",
    ),
    (
        "127.0.0.0/8",
        "loopback addresses (127.0.0.0/8) never leave a host",
    ),
    (
        "169.254.0.0/16",
        "link-local addresses (169.254.0.0/16) are not routed",
    ),
    (
        "224.0.0.0/4",
        "multicast addresses (224.0.0.0/4) cannot be a Service address",
    ),
    (
        "240.0.0.0/4",
        "reserved addresses (240.0.0.0/4, with the broadcast address)",
    ),
    ("::/128", "the unspecified address (::) is not assignable"),
    ("::1/128", "the loopback address (::1) never leaves a host"),
    (
        "::ffff:0:0/96",
        "IPv4-mapped IPv6 addresses are refused by Kubernetes: write the IPv4 addresses",
    ),
    (
        "fe80::/10",
        "link-local addresses (fe80::/10) are not routed",
    ),
    (
        "ff00::/8",
        "multicast addresses (ff00::/8) cannot be a Service address",
    ),
];

/// Parses and checks `iprange`; the error names the bad item.
pub fn parse_iprange(value: &str) -> Result<Vec<IpRange>, ConfigProblem> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(ConfigProblem::missing(
            "iprange",
            format!("set iprange to the addresses MetalLB may hand out ({EXAMPLE})"),
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(problem(
            "iprange",
            items[MAX_ITEMS],
            format!("at most {MAX_ITEMS} items (an IPAddressPool holds no more)"),
        ));
    }
    for item in &items {
        check_item(item)?;
    }
    parse_ranges(value).map_err(|e| {
        let item = e.item().unwrap_or(value).to_string();
        problem("iprange", &item, e.to_string())
    })
}

/// The checks of one item beyond its syntax.
fn check_item(item: &str) -> Result<(), ConfigProblem> {
    let bad = |reason: String| problem("iprange", item, reason);
    if item.len() > MAX_ITEM_LEN {
        return Err(bad(format!("longer than {MAX_ITEM_LEN} characters")));
    }
    let range = IpRange::parse(item).map_err(|e| bad(e.kind.to_string()))?;
    if let Some((network, len)) = host_bits_set(item) {
        let single = if network.is_ipv4() { 32 } else { 128 };
        let address = item.split('/').next().unwrap_or(item).trim();
        return Err(bad(format!(
            "host bits are set: write {network}/{len} for the whole network or {address}/{single} for one address"
        )));
    }
    for (block, reason) in SPECIAL {
        let special = IpRange::parse(block).map_err(|e| bad(e.to_string()))?;
        if range.overlaps(&special) {
            return Err(bad(reason.to_string()));
        }
    }
    Ok(())
}

/// For `a/n` whose address is not the network's first address: the network and `n`.
fn host_bits_set(item: &str) -> Option<(IpAddr, u8)> {
    let (address, len) = item.split_once('/')?;
    let address: IpAddr = address.trim().parse().ok()?;
    let range = IpRange::parse(item).ok()?;
    let len = len.trim().parse::<u8>().ok()?;
    (range.first() != address).then_some((range.first(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: &str) -> ConfigProblem {
        parse_iprange(value).expect_err(value)
    }

    #[test]
    fn good_values_parse_in_order() {
        let ranges =
            parse_iprange("198.18.0.240-198.18.0.247, 2001:db8::/120,198.18.1.0/24").unwrap();
        assert_eq!(ranges.len(), 3);
    }

    #[test]
    fn empty_asks_to_set_it() {
        let p = refused("  ");
        assert_eq!(p.option, "iprange");
        assert!(p.to_string().starts_with("set iprange"), "{p}");
    }

    #[test]
    fn each_refusal_names_its_item() {
        for (value, item, words) in [
            ("198.18.0.1/32, 10.0.0.5/24", "10.0.0.5/24", "10.0.0.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0", "this network"),
            ("127.0.0.1/32", "127.0.0.1/32", "loopback"),
            ("224.0.0.1-224.0.0.9", "224.0.0.1-224.0.0.9", "multicast"),
            ("169.254.1.0/24", "169.254.1.0/24", "link-local"),
            ("255.255.255.255/32", "255.255.255.255/32", "broadcast"),
            (
                "::ffff:198.18.0.1/128",
                "::ffff:198.18.0.1/128",
                "IPv4-mapped",
            ),
            ("fe80::/64", "fe80::/64", "link-local"),
            ("ff02::1/128", "ff02::1/128", "multicast"),
            ("::1/128", "::1/128", "loopback"),
            (
                "198.18.0.1-198.18.0.300",
                "198.18.0.1-198.18.0.300",
                "198.18.0.300",
            ),
            ("198.18.0.0/24, 198.18.0.7/32", "198.18.0.7/32", "overlaps"),
        ] {
            let p = refused(value);
            assert_eq!(p.item, item, "{value}: {p}");
            assert!(p.to_string().contains(words), "{value}: {p}");
        }
    }

    #[test]
    fn more_items_than_a_pool_holds_are_refused() {
        let many: Vec<String> = (0..1025)
            .map(|i| format!("198.18.{}.{}/32", i / 256, i % 256))
            .collect();
        let p = refused(&many.join(","));
        assert_eq!(p.item, "198.18.4.0/32");
    }
}
