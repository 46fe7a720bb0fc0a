//! What a speaker says to one BGP peer, as pure functions: the capabilities it offers, the TTL
//! of its packets and the BFD hop mode, the path attributes of a route, and the UPDATEs that
//! take the peer from the routes it was sent to the routes it should have (withdrawals first,
//! then announcements grouped by attributes and packed), with the End-of-RIB markers. The
//! speaker's session adapter computes nothing of this; it only sends it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::bfd::Hops;
use crate::bgp::fsm::PeerAs;
use crate::bgp::{
    AFI_IPV4, AFI_IPV6, Attribute, Capability, Message, Prefix, SAFI_UNICAST, Update, encode,
    pack_announcements,
};

/// How long a peer keeps our routes while we restart (graceful restart), in seconds.
pub const RESTART_TIME: u16 = 120;
/// TTL of eBGP sessions to directly connected peers.
pub const TTL_SINGLE_HOP: u32 = 1;
/// TTL of every other session (iBGP, multi-hop eBGP).
pub const TTL_MULTI_HOP: u32 = 255;
/// Withdrawals per UPDATE, well within 4,096 bytes (5 bytes per IPv4 /32, 17 per IPv6 /128).
const WITHDRAW_V4: usize = 700;
const WITHDRAW_V6: usize = 200;

/// A route with its attributes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The prefix.
    pub prefix: Prefix,
    /// LOCAL_PREF (sent to iBGP peers only).
    pub local_pref: Option<u32>,
    /// Standard communities.
    pub communities: Vec<u32>,
    /// Large communities.
    pub large_communities: Vec<(u32, u32, u32)>,
}

/// The settings of a session that decide what is said over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peering {
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS, as configured.
    pub peer_as: PeerAs,
    /// `ebgpMultiHop`: the eBGP peer is further than one hop away.
    pub ebgp_multi_hop: bool,
    /// Graceful restart is enabled toward this peer.
    pub graceful_restart: bool,
}

impl Peering {
    fn internal(&self) -> bool {
        self.peer_as.is_internal(self.local_as)
    }
}

/// The next hops of the routes sent over one session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NextHops {
    /// For IPv4 routes (none: IPv4 routes are not sent).
    pub v4: Option<Ipv4Addr>,
    /// For IPv6 routes, global first (empty: IPv6 routes are not sent).
    pub v6: Vec<IpAddr>,
}

/// The capabilities we offer: IPv4 and IPv6 unicast, and graceful restart when enabled
/// (`restarted`: this process has not had a session with the peer yet, so the peer may still
/// hold routes from a previous run; forwarding survives a speaker restart, as the data plane is
/// the kernel's).
pub fn capabilities(peering: &Peering, restarted: bool) -> Vec<Capability> {
    let mut capabilities = vec![
        Capability::Multiprotocol {
            afi: AFI_IPV4,
            safi: SAFI_UNICAST,
        },
        Capability::Multiprotocol {
            afi: AFI_IPV6,
            safi: SAFI_UNICAST,
        },
    ];
    if peering.graceful_restart {
        capabilities.push(Capability::GracefulRestart {
            restarting: restarted,
            restart_time: RESTART_TIME,
            families: vec![
                (AFI_IPV4, SAFI_UNICAST, true),
                (AFI_IPV6, SAFI_UNICAST, true),
            ],
        });
    }
    capabilities
}

/// The TTL (hop limit) of a session's packets: 1 toward a directly connected eBGP peer (as
/// routers do by default), 255 for iBGP and multi-hop eBGP.
pub fn ttl(peering: &Peering) -> u32 {
    if !peering.internal() && !peering.ebgp_multi_hop {
        TTL_SINGLE_HOP
    } else {
        TTL_MULTI_HOP
    }
}

/// How far the BFD peer is: multihop (RFC 5883) for an eBGP peer configured as further away
/// (`ebgpMultiHop`), as routers decide it; single hop otherwise.
pub fn bfd_hops(peering: &Peering, minimum_ttl: u8) -> Hops {
    if peering.ebgp_multi_hop && !peering.internal() {
        Hops::Multi { minimum_ttl }
    } else {
        Hops::Single
    }
}

/// The attributes of `route` (next hops are added by the packer): our AS in the path and no
/// LOCAL_PREF toward eBGP peers; an empty path and LOCAL_PREF (default 100) toward iBGP peers.
pub fn attributes(peering: &Peering, route: &Route) -> Vec<Attribute> {
    let ibgp = peering.internal();
    let mut attrs = vec![
        Attribute::Origin(0),
        Attribute::AsPath(if ibgp { vec![] } else { vec![peering.local_as] }),
    ];
    if ibgp {
        attrs.push(Attribute::LocalPref(route.local_pref.unwrap_or(100)));
    }
    if !route.communities.is_empty() {
        attrs.push(Attribute::Communities(route.communities.clone()));
    }
    if !route.large_communities.is_empty() {
        attrs.push(Attribute::LargeCommunities(route.large_communities.clone()));
    }
    attrs
}

/// The next hops of a session from `local`: the session's own address for its family (routes
/// of the other family are not sent), and `other_family`, this node's address of the other
/// family when the session carries both (`dualStackAddressFamily`).
pub fn next_hops(local: IpAddr, other_family: Option<IpAddr>) -> NextHops {
    match local {
        IpAddr::V4(v4) => NextHops {
            v4: Some(v4),
            v6: other_family.filter(IpAddr::is_ipv6).into_iter().collect(),
        },
        IpAddr::V6(v6) => NextHops {
            v4: v6.to_ipv4_mapped().or(match other_family {
                Some(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            }),
            v6: vec![IpAddr::V6(v6)],
        },
    }
}

/// The UPDATEs that take the peer from `sent` to `wanted`: withdrawals of what is gone, then
/// the new or changed routes, grouped by attributes.
pub fn updates(
    peering: &Peering,
    hops: &NextHops,
    sent: &BTreeSet<Route>,
    wanted: &BTreeSet<Route>,
) -> Vec<Update> {
    let wanted_prefixes: BTreeSet<Prefix> = wanted.iter().map(|r| r.prefix).collect();
    let (mut withdraw_v4, mut withdraw_v6) = (Vec::new(), Vec::new());
    for route in sent.iter().filter(|r| !wanted_prefixes.contains(&r.prefix)) {
        if route.prefix.addr.is_ipv4() {
            withdraw_v4.push(route.prefix);
        } else {
            withdraw_v6.push(route.prefix);
        }
    }
    let mut out: Vec<Update> = withdraw_v4
        .chunks(WITHDRAW_V4)
        .map(|c| Update {
            withdrawn: c.to_vec(),
            ..Update::default()
        })
        .collect();
    out.extend(withdraw_v6.chunks(WITHDRAW_V6).map(|c| Update {
        attributes: vec![Attribute::MpUnreach {
            afi: AFI_IPV6,
            safi: SAFI_UNICAST,
            withdrawn: c.to_vec(),
        }],
        ..Update::default()
    }));
    let mut groups: BTreeMap<Vec<u8>, (Vec<Attribute>, Vec<Prefix>)> = BTreeMap::new();
    for route in wanted.iter().filter(|r| !sent.contains(r)) {
        let attrs = attributes(peering, route);
        let key = encode(&Message::Update(Update {
            attributes: attrs.clone(),
            ..Update::default()
        }));
        groups
            .entry(key)
            .or_insert_with(|| (attrs, Vec::new()))
            .1
            .push(route.prefix);
    }
    for (_, (attrs, prefixes)) in groups {
        out.extend(pack_announcements(&attrs, &prefixes, hops.v4, &hops.v6));
    }
    out
}

/// The End-of-RIB markers (RFC 4724): an empty UPDATE for IPv4, an empty MP_UNREACH for IPv6.
pub fn end_of_rib() -> [Update; 2] {
    [
        Update::default(),
        Update {
            attributes: vec![Attribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: vec![],
            }],
            ..Update::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::decode;

    fn peering(local_as: u32, peer_as: u32) -> Peering {
        Peering {
            local_as,
            peer_as: PeerAs::Exact(peer_as),
            ebgp_multi_hop: false,
            graceful_restart: false,
        }
    }

    fn route(ip: &str, len: u8, local_pref: Option<u32>) -> Route {
        Route {
            prefix: Prefix::new(ip.parse().unwrap(), len).unwrap(),
            local_pref,
            communities: vec![(65000 << 16) | 100],
            large_communities: vec![],
        }
    }

    #[test]
    fn a_dual_stack_session_carries_the_other_family_with_the_sibling_address() {
        let v4: IpAddr = "198.18.0.11".parse().unwrap();
        let v6: IpAddr = "2001:db8::b".parse().unwrap();
        let node_v4 = Ipv4Addr::new(198, 18, 0, 11);
        assert_eq!(
            next_hops(v4, None),
            NextHops {
                v4: Some(node_v4),
                v6: vec![]
            },
            "single family: no IPv6 next hop, so no IPv6 route"
        );
        assert_eq!(
            next_hops(v6, None),
            NextHops {
                v4: None,
                v6: vec![v6]
            }
        );
        assert_eq!(
            next_hops(v4, Some(v6)),
            NextHops {
                v4: Some(node_v4),
                v6: vec![v6]
            }
        );
        assert_eq!(
            next_hops(v6, Some(v4)),
            NextHops {
                v4: Some(node_v4),
                v6: vec![v6]
            }
        );
        assert_eq!(next_hops(v4, Some(v4)).v6, Vec::<IpAddr>::new());
    }

    #[test]
    fn single_hop_ebgp_uses_ttl_one_and_the_rest_ttl_255() {
        let mut p = peering(64512, 64513);
        assert_eq!(ttl(&p), 1);
        assert_eq!(bfd_hops(&p, 254), Hops::Single);
        p.ebgp_multi_hop = true;
        assert_eq!(ttl(&p), 255);
        assert_eq!(bfd_hops(&p, 254), Hops::Multi { minimum_ttl: 254 });
        let mut internal = peering(64512, 64512);
        assert_eq!(ttl(&internal), 255);
        internal.ebgp_multi_hop = true;
        assert_eq!(bfd_hops(&internal, 254), Hops::Single);
    }

    #[test]
    fn graceful_restart_is_offered_only_when_enabled_with_the_restart_bit_first() {
        let mut p = peering(64512, 64513);
        let gr = |caps: &[Capability]| {
            caps.iter().find_map(|c| match c {
                Capability::GracefulRestart {
                    restarting,
                    restart_time,
                    families,
                } => Some((*restarting, *restart_time, families.len())),
                _ => None,
            })
        };
        assert_eq!(gr(&capabilities(&p, true)), None);
        p.graceful_restart = true;
        assert_eq!(gr(&capabilities(&p, true)), Some((true, RESTART_TIME, 2)));
        assert_eq!(gr(&capabilities(&p, false)), Some((false, RESTART_TIME, 2)));
        // The markers are valid UPDATEs: nothing withdrawn or announced.
        for marker in end_of_rib() {
            let bytes = encode(&Message::Update(marker.clone()));
            assert_eq!(decode(&bytes).map(|(m, _)| m), Ok(Message::Update(marker)));
        }
    }

    #[test]
    fn ebgp_routes_carry_our_as_and_no_local_pref_ibgp_the_reverse() {
        let r = route("198.18.100.10", 32, Some(150));
        let e = attributes(&peering(64512, 64513), &r);
        assert!(e.contains(&Attribute::AsPath(vec![64512])));
        assert!(!e.iter().any(|a| matches!(a, Attribute::LocalPref(_))));
        let i = attributes(&peering(64512, 64512), &r);
        assert!(i.contains(&Attribute::AsPath(vec![])));
        assert!(i.contains(&Attribute::LocalPref(150)));
    }

    #[test]
    fn changes_become_withdrawals_and_announcements() {
        let p = peering(64512, 64513);
        let hops = next_hops("198.18.0.11".parse().unwrap(), None);
        let a = route("198.18.100.10", 32, None);
        let b = route("198.18.100.11", 32, None);
        let v6 = route("2001:db8::64:a", 128, None);
        let sent = BTreeSet::from([a.clone(), v6.clone()]);
        let wanted = BTreeSet::from([a.clone(), b.clone()]);
        let out = updates(&p, &hops, &sent, &wanted);
        // Withdraw the IPv6 route (MP_UNREACH), announce b with our address as next hop.
        assert!(out.iter().any(|u| u.attributes.iter().any(
            |a| matches!(a, Attribute::MpUnreach { withdrawn, .. } if withdrawn == &vec![v6.prefix])
        )));
        let announce = out.iter().find(|u| !u.nlri.is_empty()).unwrap();
        assert_eq!(announce.nlri, vec![b.prefix]);
        assert!(
            announce
                .attributes
                .contains(&Attribute::NextHop(Ipv4Addr::new(198, 18, 0, 11)))
        );
        assert!(updates(&p, &hops, &wanted, &wanted).is_empty());
    }
}
