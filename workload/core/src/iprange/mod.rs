//! Address ranges: CIDRs and `A-B` ranges of one family, as MetalLB's IPAddressPool
//! `spec.addresses` and the charm's `iprange` option write them.
//!
//! * [`IpRange`]: one inclusive range (`first()..=last()`), with lazy iteration
//!   ([`IpRange::iter`]), [`IpRange::contains`], [`IpRange::size`] and the minimal covering
//!   CIDR list ([`IpRange::cidrs`]).
//! * [`Cidr`]: one prefix, as produced by the summarisation.
//! * [`parse_ranges`]: the list rules (comma-separated, whitespace ignored, no overlaps), with
//!   typed errors ([`ListError`], [`RangeError`]) that name the offending item.
//!
//! Arithmetic is on `u128` (IPv4 in the low 32 bits), so IPv6 ranges of any size are cheap and
//! are never materialised.
//!
//! **Host bits.** `10.0.0.5/24` is accepted and means `10.0.0.0/24`, as upstream MetalLB does
//! (it uses Go's `net.ParseCIDR` and keeps only the network, behaviour reference §1.1); the
//! canonical form ([`std::fmt::Display`]) then shows the network address.

mod cidr;
mod error;
mod parse;
mod range;

pub use cidr::Cidr;
pub use error::{ListError, RangeError, RangeErrorKind};
pub use parse::{parse_list, parse_ranges, total_size};
pub use range::{Addresses, IpRange};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The numeric value of an address (IPv4 in the low 32 bits).
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of the family of `like` with numeric value `value` (an IPv4 value above
/// `u32::MAX` saturates to `255.255.255.255`).
pub fn from_u128(like: IpAddr, value: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// The number of address bits of the family of `ip` (32 or 128).
pub fn family_bits(ip: IpAddr) -> u32 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// `2^host_bits - 1`, the offset of the last address of a block with `host_bits` host bits.
pub(crate) fn span(host_bits: u32) -> u128 {
    if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    }
}

#[cfg(test)]
mod tests;
