//! An inclusive range of addresses of one family.

use std::fmt;
use std::iter::FusedIterator;
use std::net::IpAddr;

use super::{Cidr, family_bits, from_u128, span, to_u128};

/// An inclusive range of addresses of one family (`first() <= last()` always holds).
///
/// Equality compares how the range was written too: `10.0.0.0/31` and `10.0.0.0-10.0.0.1` hold
/// the same addresses but display differently, so they are different values; compare
/// `first()`/`last()` for address equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    first: IpAddr,
    last: IpAddr,
    /// The prefix length when the range was written as a CIDR.
    prefix: Option<u8>,
}

impl IpRange {
    /// The range `first..=last`; `None` when the families differ or `first > last`.
    pub fn from_bounds(first: IpAddr, last: IpAddr) -> Option<Self> {
        (first.is_ipv4() == last.is_ipv4() && to_u128(first) <= to_u128(last)).then_some(Self {
            first,
            last,
            prefix: None,
        })
    }

    /// The range of one prefix; it displays as the CIDR.
    pub fn from_cidr(cidr: Cidr) -> Self {
        Self {
            first: cidr.network(),
            last: cidr.last(),
            prefix: Some(cidr.prefix_len()),
        }
    }

    /// The first address.
    pub fn first(&self) -> IpAddr {
        self.first
    }

    /// The last address.
    pub fn last(&self) -> IpAddr {
        self.last
    }

    /// The prefix length, when the range was written as a CIDR.
    pub fn prefix_len(&self) -> Option<u8> {
        self.prefix
    }

    /// Whether the range holds IPv4 addresses.
    pub fn is_ipv4(&self) -> bool {
        self.first.is_ipv4()
    }

    /// Number of addresses (saturating at `u128::MAX` for `::/0`, which holds one more).
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

    /// Every address, lowest first, computed lazily (a `/64` is fine to iterate partially).
    pub fn iter(&self) -> Addresses {
        Addresses {
            like: self.first,
            next: to_u128(self.first),
            last: to_u128(self.last),
            done: false,
        }
    }

    /// The smallest list of CIDRs covering exactly this range, ascending (at most 2 × 128
    /// entries). MetalLB summarises `A-B` ranges this way; BGP aggregation and the charm's
    /// summary use it.
    pub fn cidrs(&self) -> Vec<Cidr> {
        let bits = family_bits(self.first);
        let end = to_u128(self.last);
        let mut start = to_u128(self.first);
        let mut out = Vec::new();
        loop {
            // The largest block aligned at `start` that does not pass `end`.
            let mut host_bits = if start == 0 {
                bits
            } else {
                start.trailing_zeros().min(bits)
            };
            while host_bits > 0 && start.checked_add(span(host_bits)).is_none_or(|e| e > end) {
                host_bits -= 1;
            }
            let len = u8::try_from(bits - host_bits).unwrap_or(0);
            if let Some(cidr) = Cidr::new(from_u128(self.first, start), len) {
                out.push(cidr);
            }
            match start
                .checked_add(span(host_bits))
                .and_then(|e| e.checked_add(1))
            {
                Some(next) if next <= end => start = next,
                _ => break,
            }
        }
        out
    }
}

impl IntoIterator for &IpRange {
    type Item = IpAddr;
    type IntoIter = Addresses;

    fn into_iter(self) -> Addresses {
        self.iter()
    }
}

/// The canonical form used in IPAddressPool `spec.addresses`: `network/len` for a CIDR (host
/// bits cleared), `first-last` without spaces for a range; IPv6 in RFC 5952 form.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(len) => write!(f, "{}/{len}", self.first),
            None => write!(f, "{}-{}", self.first, self.last),
        }
    }
}

/// Lazy iterator over the addresses of an [`IpRange`], from both ends.
#[derive(Debug, Clone)]
pub struct Addresses {
    like: IpAddr,
    next: u128,
    last: u128,
    done: bool,
}

impl Iterator for Addresses {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        if self.done {
            return None;
        }
        let ip = from_u128(self.like, self.next);
        if self.next >= self.last {
            self.done = true;
        } else {
            self.next += 1;
        }
        Some(ip)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let left = (self.last - self.next).checked_add(1);
        match left.and_then(|n| usize::try_from(n).ok()) {
            Some(n) => (n, Some(n)),
            None => (usize::MAX, None),
        }
    }

    fn nth(&mut self, n: usize) -> Option<IpAddr> {
        if self.done {
            return None;
        }
        match self.next.checked_add(n as u128) {
            Some(target) if target <= self.last => {
                self.next = target;
                self.next()
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

impl DoubleEndedIterator for Addresses {
    fn next_back(&mut self) -> Option<IpAddr> {
        if self.done {
            return None;
        }
        let ip = from_u128(self.like, self.last);
        if self.last <= self.next {
            self.done = true;
        } else {
            self.last -= 1;
        }
        Some(ip)
    }
}

impl FusedIterator for Addresses {}
