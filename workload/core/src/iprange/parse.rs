//! Text to ranges: one item, and the comma-separated list rules of the charm's `iprange`.

use std::net::IpAddr;
use std::str::FromStr;

use super::{Cidr, IpRange, ListError, RangeError, RangeErrorKind};

impl IpRange {
    /// Parses one item: `a.b.c.d/n`, `x::/n` (host bits ignored, as upstream) or `A-B`
    /// (whitespace around the item and around `-` ignored; both ends of one family; A ≤ B).
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let item = text.trim();
        parse_item(item).map_err(|kind| RangeError {
            item: item.to_string(),
            kind,
        })
    }
}

impl FromStr for IpRange {
    type Err = RangeError;

    fn from_str(text: &str) -> Result<Self, RangeError> {
        Self::parse(text)
    }
}

fn parse_item(item: &str) -> Result<IpRange, RangeErrorKind> {
    if item.is_empty() {
        return Err(RangeErrorKind::Empty);
    }
    if let Some((start, end)) = item.split_once('-') {
        let address = |part: &str| {
            let part = part.trim();
            part.parse::<IpAddr>()
                .map_err(|_| RangeErrorKind::BadRangeEnd(part.to_string()))
        };
        let (start, end) = (address(start)?, address(end)?);
        if start.is_ipv4() != end.is_ipv4() {
            return Err(RangeErrorKind::MixedFamilies { start, end });
        }
        return IpRange::from_bounds(start, end)
            .ok_or(RangeErrorKind::StartAfterEnd { start, end });
    }
    if let Some((address, len)) = item.split_once('/') {
        let address = address.trim();
        let ip: IpAddr = address
            .parse()
            .map_err(|_| RangeErrorKind::BadCidrAddress(address.to_string()))?;
        let len = len.trim();
        let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
        let bad_len = || RangeErrorKind::BadPrefixLength {
            text: len.to_string(),
            max,
        };
        // `u8::from_str` accepts a leading `+`; a prefix length is plain digits.
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_len());
        }
        let len: u8 = len.parse().map_err(|_| bad_len())?;
        let cidr = Cidr::new(ip, len).ok_or_else(bad_len)?;
        return Ok(IpRange::from_cidr(cidr));
    }
    match item.parse::<IpAddr>() {
        Ok(ip) => Err(RangeErrorKind::BareAddress { ip }),
        Err(_) => Err(RangeErrorKind::Unrecognised),
    }
}

/// Parses a comma-separated list (the charm's `iprange` option): whitespace ignored, empty
/// items between commas skipped, at least one item, no two items sharing an address. The error
/// names the bad item (both items for an overlap).
pub fn parse_ranges(value: &str) -> Result<Vec<IpRange>, ListError> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(ListError::Empty);
    }
    let ranges = items
        .iter()
        .map(|item| IpRange::parse(item))
        .collect::<Result<Vec<_>, _>>()?;
    // Lists are short (a handful of items); pairwise checking reports the first overlapping pair
    // in the order the user wrote them.
    for (j, b) in ranges.iter().enumerate() {
        if let Some(i) = ranges[..j].iter().position(|a| a.overlaps(b)) {
            return Err(ListError::Overlap {
                item: items[j].to_string(),
                other: items[i].to_string(),
            });
        }
    }
    Ok(ranges)
}

/// [`parse_ranges`] with the error rendered as text (for status messages).
pub fn parse_list(value: &str) -> Result<Vec<IpRange>, String> {
    parse_ranges(value).map_err(|e| e.to_string())
}

/// Total number of addresses in `ranges` (saturating).
pub fn total_size(ranges: &[IpRange]) -> u128 {
    ranges
        .iter()
        .map(IpRange::size)
        .fold(0u128, u128::saturating_add)
}
