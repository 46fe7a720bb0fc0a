//! Why an address item or list was refused; every error names the item as the user wrote it.

use std::net::IpAddr;

/// One item (`a.b.c.d/n` or `A-B`) that is not a valid range.
///
/// Renders as `"<item>": <reason>`, for example
/// `"192.168.1.300-192.168.1.310": not an IP address range: "192.168.1.300" is not an IP address`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{item:?}: {kind}")]
pub struct RangeError {
    /// The item as written (trimmed).
    pub item: String,
    /// What is wrong with it.
    pub kind: RangeErrorKind,
}

/// The reason an item is not a range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeErrorKind {
    /// Nothing was written.
    #[error("empty item: write a CIDR (a.b.c.d/n) or a range (A-B)")]
    Empty,
    /// One end of an `A-B` range is not an address.
    #[error("not an IP address range: {0:?} is not an IP address")]
    BadRangeEnd(String),
    /// The ends of a range are of different families.
    #[error("not an IP address range: {start} and {end} mix IPv4 and IPv6")]
    MixedFamilies {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// The start of a range is after its end.
    #[error("not an IP address range: start {start} is after end {end}")]
    StartAfterEnd {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// The address part of a CIDR is not an address.
    #[error("not a CIDR: {0:?} is not an IP address")]
    BadCidrAddress(String),
    /// The prefix length of a CIDR is not a number in range.
    #[error("not a CIDR: prefix length {text:?} must be a number from 0 to {max}")]
    BadPrefixLength {
        /// The prefix length as written.
        text: String,
        /// 32 or 128.
        max: u8,
    },
    /// A single address without a prefix length.
    #[error(
        "a single address needs a prefix length ({ip}/{len}) or a range ({ip}-{ip})",
        len = if ip.is_ipv4() { 32 } else { 128 }
    )]
    BareAddress {
        /// The address.
        ip: IpAddr,
    },
    /// Neither a CIDR nor a range.
    #[error("not a CIDR (a.b.c.d/n) or a range (A-B)")]
    Unrecognised,
}

/// A list of items (the charm's `iprange`) that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// No item at all.
    #[error("no addresses given: set CIDRs or ranges, for example 192.168.1.240-192.168.1.247")]
    Empty,
    /// One item is invalid.
    #[error(transparent)]
    Item(#[from] RangeError),
    /// Two items share addresses.
    #[error("{item:?} overlaps {other:?}")]
    Overlap {
        /// The later item, as written.
        item: String,
        /// The earlier item it overlaps, as written.
        other: String,
    },
}

impl ListError {
    /// The item the error is about (`None` for an empty list).
    pub fn item(&self) -> Option<&str> {
        match self {
            Self::Empty => None,
            Self::Item(e) => Some(&e.item),
            Self::Overlap { item, .. } => Some(item),
        }
    }
}
