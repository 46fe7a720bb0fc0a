//! A peer this node keeps a BGP session with: the settings [`crate::bgp_config`] accepts from a
//! BGPPeer (and its BFDProfile and password Secret), that [`crate::plan::bgp`] routes to and the
//! session adapter uses.

use std::net::{IpAddr, Ipv4Addr};

use metallb_core::bfd::session::Config as BfdConfig;
use metallb_core::bgp::advertise::Peering;
use metallb_core::bgp::fsm::PeerAs;

/// A peer this node keeps a session with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    /// BGPPeer name.
    pub name: String,
    /// The peer's address and port.
    pub address: IpAddr,
    /// The peer's port.
    pub port: u16,
    /// Our AS on this session (`localASN`, else `myASN`).
    pub local_as: u32,
    /// The AS the peer must open with (`peerASN`, or any internal/external AS with
    /// `dynamicASN`).
    pub peer_as: PeerAs,
    /// Proposed hold time in seconds.
    pub hold_time: u16,
    /// Keepalive interval in seconds (default: a third of the hold time).
    pub keepalive_time: Option<u16>,
    /// Fixed reconnect interval in seconds (`connectTime`; default: a backoff from 1 to 60 s).
    pub connect_time: Option<u16>,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// TCP MD5 password (`password`, else the `passwordSecret`'s).
    pub password: Option<String>,
    /// Local address to connect from.
    pub source_address: Option<IpAddr>,
    /// eBGP peer more than one hop away (TTL 255 instead of 1).
    pub ebgp_multi_hop: bool,
    /// Graceful restart (RFC 4724): the peer keeps our routes while we restart.
    pub graceful_restart: bool,
    /// BFD with the settings of the referenced BFDProfile.
    pub bfd: Option<BfdSettings>,
    /// Both address families on the session (`dualStackAddressFamily`): IPv6 routes over an
    /// IPv4 session and the reverse, with this node's address of the other family as next hop.
    pub dual_stack: bool,
}

impl Peer {
    /// The settings that decide what is said over the session (see
    /// [`metallb_core::bgp::advertise`]).
    pub fn peering(&self) -> Peering {
        Peering {
            local_as: self.local_as,
            peer_as: self.peer_as,
            ebgp_multi_hop: self.ebgp_multi_hop,
            graceful_restart: self.graceful_restart,
        }
    }
}

/// BFD settings of a session, from its BFDProfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BfdSettings {
    /// Timers, multiplier, passive mode.
    pub config: BfdConfig,
    /// The lowest TTL a multihop session accepts (`minimumTtl`, default 254).
    pub minimum_ttl: u8,
}
