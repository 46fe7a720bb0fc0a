//! One prefix (`a.b.c.d/n`, `2001:db8::/64`).

use std::fmt;
use std::net::IpAddr;

use super::{family_bits, from_u128, span, to_u128};

/// A prefix: a network address (host bits zero) and a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: IpAddr,
    len: u8,
}

impl Cidr {
    /// The prefix of length `len` containing `ip` (host bits are cleared); `None` when `len` is
    /// longer than the family allows.
    pub fn new(ip: IpAddr, len: u8) -> Option<Self> {
        let bits = family_bits(ip);
        let host_bits = bits.checked_sub(u32::from(len))?;
        let network = from_u128(ip, to_u128(ip) & !span(host_bits));
        Some(Self { network, len })
    }

    /// The network (first) address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The last address.
    pub fn last(&self) -> IpAddr {
        from_u128(self.network, to_u128(self.network) | span(self.host_bits()))
    }

    /// Number of host bits.
    pub fn host_bits(&self) -> u32 {
        family_bits(self.network).saturating_sub(u32::from(self.len))
    }

    /// Number of addresses (saturating at `u128::MAX` for `::/0`).
    pub fn size(&self) -> u128 {
        span(self.host_bits()).saturating_add(1)
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.network.is_ipv4()
            && (to_u128(ip) & !span(self.host_bits())) == to_u128(self.network)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}
