//! BGP-4 messages (RFC 4271) as values: encoding and strict decoding of OPEN (with the
//! multiprotocol, 4-octet AS, graceful restart and route refresh capabilities), UPDATE (with
//! MP_REACH/MP_UNREACH for IPv6, standard and large communities, LOCAL_PREF), NOTIFICATION and
//! KEEPALIVE, and packing of announcements into UPDATEs within the 4,096-byte limit.
//!
//! Decoding never panics: a malformed message yields the NOTIFICATION (code, subcode, data) the
//! RFC prescribes, which the session sends before it resets.

pub mod advertise;
pub mod aggregation;
pub mod community;
mod decode;
mod encode;
pub mod fsm;
mod pack;

pub use aggregation::{AggregationError, AggregationLengths, check_aggregation};
pub use decode::{DecodeError, decode};
pub use encode::encode;
pub use pack::pack_announcements;

use std::net::{IpAddr, Ipv4Addr};

/// The largest BGP message (RFC 4271).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The fixed header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// The AS number placed in the 2-octet OPEN field when the real one does not fit (RFC 6793).
pub const AS_TRANS: u16 = 23456;
/// Address family IPv4.
pub const AFI_IPV4: u16 = 1;
/// Address family IPv6.
pub const AFI_IPV6: u16 = 2;
/// Subsequent address family unicast.
pub const SAFI_UNICAST: u8 = 1;

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
}

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The sender's AS (4-octet; the 2-octet field carries [`AS_TRANS`] when it does not fit).
    pub asn: u32,
    /// Proposed hold time in seconds (0, or at least 3).
    pub hold_time: u16,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Capabilities (RFC 5492).
    pub capabilities: Vec<Capability>,
}

/// An OPEN capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Multiprotocol extensions (RFC 4760) for one family.
    Multiprotocol {
        /// Address family.
        afi: u16,
        /// Subsequent address family.
        safi: u8,
    },
    /// Route refresh (RFC 2918).
    RouteRefresh,
    /// Graceful restart (RFC 4724).
    GracefulRestart {
        /// The restart state bit: the sender has restarted.
        restarting: bool,
        /// How long the peer keeps routes while we restart, in seconds (12 bits).
        restart_time: u16,
        /// Families whose forwarding state survives a restart: (afi, safi, preserved).
        families: Vec<(u16, u8, bool)>,
    },
    /// 4-octet AS numbers (RFC 6793), with the sender's AS.
    FourOctetAs(u32),
    /// Anything else, kept as received.
    Unknown {
        /// Capability code.
        code: u8,
        /// Value.
        value: Vec<u8>,
    },
}

/// A prefix of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    /// Network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Prefix {
    /// A prefix; `None` when `len` exceeds the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let width = if addr.is_ipv4() { 32 } else { 128 };
        (len <= width).then_some(Prefix { addr, len })
    }

    /// Bytes of the prefix in NLRI encoding (length octet, then the significant octets).
    pub fn encoded_len(&self) -> usize {
        1 + usize::from(self.len).div_ceil(8)
    }
}

/// A path attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// ORIGIN: 0 IGP, 1 EGP, 2 INCOMPLETE.
    Origin(u8),
    /// AS_PATH as AS_SEQUENCE segments of 4-octet ASNs.
    AsPath(Vec<u32>),
    /// NEXT_HOP (IPv4 NLRI).
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC.
    Med(u32),
    /// LOCAL_PREF (iBGP).
    LocalPref(u32),
    /// COMMUNITIES (RFC 1997).
    Communities(Vec<u32>),
    /// LARGE_COMMUNITY (RFC 8092).
    LargeCommunities(Vec<(u32, u32, u32)>),
    /// MP_REACH_NLRI (RFC 4760).
    MpReach {
        /// Address family.
        afi: u16,
        /// Subsequent address family.
        safi: u8,
        /// Next hops (one global, or global and link-local for IPv6).
        next_hops: Vec<IpAddr>,
        /// Announced prefixes.
        nlri: Vec<Prefix>,
    },
    /// MP_UNREACH_NLRI (RFC 4760).
    MpUnreach {
        /// Address family.
        afi: u16,
        /// Subsequent address family.
        safi: u8,
        /// Withdrawn prefixes.
        withdrawn: Vec<Prefix>,
    },
    /// Anything else, kept as received.
    Unknown {
        /// Attribute flags.
        flags: u8,
        /// Type code.
        code: u8,
        /// Value.
        value: Vec<u8>,
    },
}

/// An UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// Withdrawn IPv4 routes.
    pub withdrawn: Vec<Prefix>,
    /// Path attributes.
    pub attributes: Vec<Attribute>,
    /// Announced IPv4 prefixes.
    pub nlri: Vec<Prefix>,
}

/// A NOTIFICATION message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data.
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
