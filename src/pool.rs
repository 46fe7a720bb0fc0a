//! The `iprange` option: comma-separated CIDRs and `A-B` ranges, IPv4 and IPv6, whitespace
//! ignored. Errors name the bad item and say why.

use std::net::IpAddr;

/// One parsed item: an inclusive address range and its canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    text: String,
    canonical: String,
    first: IpAddr,
    last: IpAddr,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn parse_item(text: &str) -> Result<Item, String> {
    if let Some((start, end)) = text.split_once('-') {
        let (start, end) = (start.trim(), end.trim());
        let first: IpAddr = start
            .parse()
            .map_err(|_| format!("{text:?}: range start {start:?} is not an IP address"))?;
        let last: IpAddr = end
            .parse()
            .map_err(|_| format!("{text:?}: range end {end:?} is not an IP address"))?;
        if first.is_ipv4() != last.is_ipv4() {
            return Err(format!("{text:?}: a range cannot mix IPv4 and IPv6"));
        }
        if to_u128(first) > to_u128(last) {
            return Err(format!("{text:?}: start {first} is after end {last}"));
        }
        return Ok(Item {
            text: text.to_string(),
            canonical: format!("{first}-{last}"),
            first,
            last,
        });
    }
    if let Some((addr, len)) = text.split_once('/') {
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: {addr:?} is not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len: u32 = len
            .trim()
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{text:?}: prefix length must be 0 to {max}"))?;
        let host_bits = max - len;
        let mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let base = to_u128(ip) & !mask;
        let (first, last) = match ip {
            IpAddr::V4(_) => (
                IpAddr::from(std::net::Ipv4Addr::from(base as u32)),
                IpAddr::from(std::net::Ipv4Addr::from((base | mask) as u32)),
            ),
            IpAddr::V6(_) => (
                IpAddr::from(std::net::Ipv6Addr::from(base)),
                IpAddr::from(std::net::Ipv6Addr::from(base | mask)),
            ),
        };
        return Ok(Item {
            text: text.to_string(),
            canonical: format!("{first}/{len}"),
            first,
            last,
        });
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        let len = if ip.is_ipv4() { 32 } else { 128 };
        return Err(format!(
            "{text:?}: a single address needs a prefix length ({ip}/{len}) or a range ({ip}-{ip})"
        ));
    }
    Err(format!("{text:?}: not a CIDR (a.b.c.d/n) or a range (A-B)"))
}

/// How many addresses canonical items (from [`parse_iprange`]) hold.
pub fn size(items: &[String]) -> u128 {
    items
        .iter()
        .filter_map(|i| parse_item(i).ok())
        .map(|i| (to_u128(i.last) - to_u128(i.first)).saturating_add(1))
        .fold(0u128, u128::saturating_add)
}

/// Whether `ip` is inside one of the canonical items.
pub fn contains(items: &[String], ip: IpAddr) -> bool {
    items.iter().filter_map(|i| parse_item(i).ok()).any(|i| {
        i.first.is_ipv4() == ip.is_ipv4()
            && to_u128(i.first) <= to_u128(ip)
            && to_u128(ip) <= to_u128(i.last)
    })
}

/// Parses the option into the canonical items for an IPAddressPool.
pub fn parse_iprange(value: &str) -> Result<Vec<String>, String> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(
            "no addresses given: set CIDRs or ranges, for example 192.168.1.240-192.168.1.247"
                .into(),
        );
    }
    let parsed = items
        .iter()
        .map(|i| parse_item(i))
        .collect::<Result<Vec<Item>, String>>()?;
    for (i, a) in parsed.iter().enumerate() {
        for b in &parsed[i + 1..] {
            let same_family = a.first.is_ipv4() == b.first.is_ipv4();
            if same_family
                && to_u128(a.first) <= to_u128(b.last)
                && to_u128(b.first) <= to_u128(a.last)
            {
                return Err(format!("{:?} overlaps {:?}", b.text, a.text));
            }
        }
    }
    Ok(parsed.into_iter().map(|i| i.canonical).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cidrs_and_ranges_of_both_families_with_whitespace() {
        assert_eq!(
            parse_iprange(" 198.18.0.240 - 198.18.0.247 ,2001:db8::/120,, 198.18.1.0/24 ").unwrap(),
            [
                "198.18.0.240-198.18.0.247",
                "2001:db8::/120",
                "198.18.1.0/24"
            ]
        );
        assert_eq!(parse_iprange("198.18.0.5/24").unwrap(), ["198.18.0.0/24"]);
    }

    #[test]
    fn size_and_membership() {
        let items = parse_iprange("198.18.0.0/28, 198.18.1.1-198.18.1.3, 2001:db8::/120").unwrap();
        assert_eq!(size(&items), 16 + 3 + 256);
        assert!(contains(&items, "198.18.1.2".parse().unwrap()));
        assert!(!contains(&items, "198.18.1.4".parse().unwrap()));
        assert!(contains(&items, "2001:db8::ff".parse().unwrap()));
        assert_eq!(size(&parse_iprange("::/0").unwrap()), u128::MAX);
    }

    #[test]
    fn every_rule_names_the_bad_item() {
        for (value, expected) in [
            ("", "no addresses"),
            (" , ", "no addresses"),
            (
                "198.18.0.300-198.18.0.310",
                "\"198.18.0.300-198.18.0.310\": range start",
            ),
            ("banana", "\"banana\": not a CIDR"),
            (
                "198.18.0.7",
                "\"198.18.0.7\": a single address needs a prefix length (198.18.0.7/32)",
            ),
            ("2001:db8::1", "2001:db8::1/128"),
            (
                "198.18.0.9-198.18.0.1",
                "start 198.18.0.9 is after end 198.18.0.1",
            ),
            ("198.18.0.1-2001:db8::1", "cannot mix IPv4 and IPv6"),
            ("198.18.0.0/33", "prefix length must be 0 to 32"),
            (
                "198.18.0.0/24, 198.18.0.128-198.18.0.130",
                "\"198.18.0.128-198.18.0.130\" overlaps \"198.18.0.0/24\"",
            ),
            ("2001:db8::/64, 2001:db8::5/128", "overlaps"),
        ] {
            let err = parse_iprange(value).unwrap_err();
            assert!(err.contains(expected), "{value:?}: {err}");
        }
    }
}
