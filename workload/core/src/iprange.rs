//! Address ranges: CIDRs and `A-B` ranges of one family, as MetalLB pools and the charm's
//! `iprange` option write them. Arithmetic is on `u128`, so IPv6 ranges of any size are cheap.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    first: IpAddr,
    last: IpAddr,
    /// The prefix length when the range was written as a CIDR.
    prefix: Option<u8>,
}

/// A range item that could not be parsed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{item:?}: {reason}")]
pub struct RangeError {
    /// The item as written.
    pub item: String,
    /// Why it is not a range.
    pub reason: String,
}

/// The numeric value of an address (IPv4 in the low 32 bits).
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of `family` (the family of `like`) with numeric value `value`.
pub fn from_u128(like: IpAddr, value: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

impl IpRange {
    /// Parses one item: `a.b.c.d/n`, `x::/n` (host bits are ignored, as upstream) or `A-B`.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let text = text.trim();
        let err = |reason: String| RangeError {
            item: text.to_string(),
            reason,
        };
        if let Some((start, end)) = text.split_once('-') {
            let (start, end) = (start.trim(), end.trim());
            let first: IpAddr = start
                .parse()
                .map_err(|_| err(format!("range start {start:?} is not an IP address")))?;
            let last: IpAddr = end
                .parse()
                .map_err(|_| err(format!("range end {end:?} is not an IP address")))?;
            if first.is_ipv4() != last.is_ipv4() {
                return Err(err("a range cannot mix IPv4 and IPv6".into()));
            }
            if to_u128(first) > to_u128(last) {
                return Err(err(format!("start {first} is after end {last}")));
            }
            return Ok(Self {
                first,
                last,
                prefix: None,
            });
        }
        if let Some((addr, len)) = text.split_once('/') {
            let ip: IpAddr = addr
                .trim()
                .parse()
                .map_err(|_| err(format!("{addr:?} is not an IP address")))?;
            let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
            let len: u8 = len
                .trim()
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| err(format!("prefix length must be 0 to {max}")))?;
            let host_bits = u32::from(max - len);
            let mask: u128 = if host_bits >= 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            let base = to_u128(ip) & !mask;
            return Ok(Self {
                first: from_u128(ip, base),
                last: from_u128(ip, base | mask),
                prefix: Some(len),
            });
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            let len = if ip.is_ipv4() { 32 } else { 128 };
            return Err(err(format!(
                "a single address needs a prefix length ({ip}/{len}) or a range ({ip}-{ip})"
            )));
        }
        Err(err("not a CIDR (a.b.c.d/n) or a range (A-B)".into()))
    }

    /// The first address.
    pub fn first(&self) -> IpAddr {
        self.first
    }

    /// The last address.
    pub fn last(&self) -> IpAddr {
        self.last
    }

    /// Whether the range holds IPv4 addresses.
    pub fn is_ipv4(&self) -> bool {
        self.first.is_ipv4()
    }

    /// Number of addresses (saturating at `u128::MAX` for `::/0`).
    pub fn size(&self) -> u128 {
        (to_u128(self.last) - to_u128(self.first)).saturating_add(1)
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4()
            && to_u128(self.first) <= to_u128(ip)
            && to_u128(ip) <= to_u128(self.last)
    }

    /// Whether two ranges share an address.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.is_ipv4() == other.is_ipv4()
            && to_u128(self.first) <= to_u128(other.last)
            && to_u128(other.first) <= to_u128(self.last)
    }

    /// The smallest list of CIDRs covering exactly this range, ascending.
    pub fn cidrs(&self) -> Vec<(IpAddr, u8)> {
        let bits: u32 = if self.is_ipv4() { 32 } else { 128 };
        let mut out = Vec::new();
        let mut start = to_u128(self.first);
        let end = to_u128(self.last);
        loop {
            // The largest block aligned at `start` that does not pass `end`.
            let align = if start == 0 {
                bits
            } else {
                start.trailing_zeros().min(bits)
            };
            let mut size_bits = align;
            while size_bits > 0 {
                let span = if size_bits >= 128 {
                    u128::MAX
                } else {
                    (1u128 << size_bits) - 1
                };
                if start.checked_add(span).is_some_and(|e| e <= end) {
                    break;
                }
                size_bits -= 1;
            }
            let prefix = u8::try_from(bits - size_bits).unwrap_or(0);
            out.push((from_u128(self.first, start), prefix));
            let span = if size_bits >= 128 {
                u128::MAX
            } else {
                (1u128 << size_bits) - 1
            };
            match start.checked_add(span).and_then(|e| e.checked_add(1)) {
                Some(next) if next <= end => start = next,
                _ => break,
            }
        }
        out
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(len) => write!(f, "{}/{len}", self.first),
            None => write!(f, "{}-{}", self.first, self.last),
        }
    }
}

/// Parses a comma-separated list (the charm's `iprange` option): whitespace ignored, at least
/// one item, no two items overlapping. The error names the bad item.
pub fn parse_list(value: &str) -> Result<Vec<IpRange>, String> {
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
    let ranges = items
        .iter()
        .map(|i| IpRange::parse(i).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if a.overlaps(b) {
                return Err(format!("{:?} overlaps {:?}", items[j], items[i]));
            }
        }
    }
    Ok(ranges)
}

/// Total number of addresses in `ranges` (saturating).
pub fn total_size(ranges: &[IpRange]) -> u128 {
    ranges
        .iter()
        .map(IpRange::size)
        .fold(0u128, u128::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(value: &str) -> Vec<String> {
        parse_list(value)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn accepts_cidrs_and_ranges_of_both_families_with_whitespace() {
        assert_eq!(
            texts(" 198.18.0.240 - 198.18.0.247 ,2001:db8::/120,, 198.18.1.0/24 "),
            [
                "198.18.0.240-198.18.0.247",
                "2001:db8::/120",
                "198.18.1.0/24"
            ]
        );
        assert_eq!(texts("198.18.0.5/24"), ["198.18.0.0/24"]);
        assert_eq!(
            texts("2001:db8::1 - 2001:db8::ff"),
            ["2001:db8::1-2001:db8::ff"]
        );
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
            ("2001:db8::/129", "prefix length must be 0 to 128"),
            (
                "198.18.0.0/24, 198.18.0.128-198.18.0.130",
                "\"198.18.0.128-198.18.0.130\" overlaps \"198.18.0.0/24\"",
            ),
            ("2001:db8::/64, 2001:db8::5/128", "overlaps"),
        ] {
            let err = parse_list(value).unwrap_err();
            assert!(err.contains(expected), "{value:?}: {err}");
        }
    }

    #[test]
    fn size_membership_and_huge_ranges() {
        let r = parse_list("198.18.0.0/28, 198.18.1.1-198.18.1.3, 2001:db8::/120").unwrap();
        assert_eq!(total_size(&r), 16 + 3 + 256);
        assert!(r[1].contains("198.18.1.2".parse().unwrap()));
        assert!(!r[1].contains("198.18.1.4".parse().unwrap()));
        assert!(!r[0].contains("2001:db8::".parse().unwrap()));
        assert_eq!(IpRange::parse("::/0").unwrap().size(), u128::MAX);
        assert_eq!(IpRange::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
    }

    #[test]
    fn ranges_summarise_to_minimal_cidrs() {
        let show = |t: &str| -> Vec<String> {
            IpRange::parse(t)
                .unwrap()
                .cidrs()
                .iter()
                .map(|(ip, l)| format!("{ip}/{l}"))
                .collect()
        };
        assert_eq!(
            show("198.18.0.1-198.18.0.6"),
            [
                "198.18.0.1/32",
                "198.18.0.2/31",
                "198.18.0.4/31",
                "198.18.0.6/32"
            ]
        );
        assert_eq!(show("198.18.0.0/24"), ["198.18.0.0/24"]);
        assert_eq!(show("0.0.0.0/0"), ["0.0.0.0/0"]);
        assert_eq!(show("::/0"), ["::/0"]);
        assert_eq!(
            show("2001:db8::-2001:db8::2"),
            ["2001:db8::/127", "2001:db8::2/128"]
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_list(&text);
        }

        #[test]
        fn cidrs_cover_the_range_exactly(a in 0u32.., b in 0u32..) {
            let (lo, hi) = (a.min(b), a.max(b));
            let range = IpRange::parse(&format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi))).unwrap();
            let cidrs = range.cidrs();
            let mut next = u128::from(lo);
            for (ip, len) in &cidrs {
                proptest::prop_assert_eq!(to_u128(*ip), next);
                next += 1u128 << (32 - u32::from(*len));
            }
            proptest::prop_assert_eq!(next, u128::from(hi) + 1);
        }
    }
}
