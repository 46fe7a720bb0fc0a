//! The accepted configuration ([`crate::bgp_config`]) and the Services in, this node's BGP plan
//! out: the peers to keep sessions with and the routes to announce to each (Services whose
//! address is in a pool an accepted BGPAdvertisement selects, with the announce rules: serving
//! endpoints, and for `externalTrafficPolicy: Local` one on this node). No I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::convert::{current_ips, handled, matches_any};
use metallb_core::bfd::session::Config as BfdConfig;
use metallb_core::bgp::Prefix;
use metallb_core::bgp::fsm::PeerAs;
use metallb_core::iprange::Cidr;

use crate::bgp_config::Accepted;

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

/// BFD settings of a session, from its BFDProfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BfdSettings {
    /// Timers, multiplier, passive mode.
    pub config: BfdConfig,
    /// The lowest TTL a multihop session accepts (`minimumTtl`, default 254).
    pub minimum_ttl: u8,
}

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

/// A Service by namespace and name.
pub type ServiceKey = (String, String);

/// What this node advertises of one Service, and to which peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advertised {
    /// The Service's addresses that are advertised.
    pub ips: BTreeSet<IpAddr>,
    /// BGPPeer names they are advertised to.
    pub peers: BTreeSet<String>,
}

/// The plan: peers, and the routes for each peer (by peer name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Peers of this node.
    pub peers: Vec<Peer>,
    /// Routes per peer name.
    pub routes: BTreeMap<String, BTreeSet<Route>>,
    /// The Services advertised, for their status objects, events and metrics.
    pub services: BTreeMap<ServiceKey, Advertised>,
}

/// What the plan is computed from.
pub struct BgpInputs<'a> {
    /// This node.
    pub local_node: &'a Node,
    /// Only Services of this loadBalancerClass.
    pub lb_class: Option<&'a str>,
    /// Every Service.
    pub services: &'a [Arc<Service>],
    /// Every EndpointSlice.
    pub slices: &'a [Arc<EndpointSlice>],
}

/// The plan for this node under the accepted configuration.
pub fn plan(inputs: &BgpInputs<'_>, accepted: &Accepted) -> Plan {
    let node_name = inputs.local_node.metadata.name.clone().unwrap_or_default();
    let mut plan = Plan {
        peers: accepted.peers.clone(),
        ..Plan::default()
    };
    plan.peers.sort();
    for service in inputs.services {
        if !handled(service, inputs.lb_class) {
            continue;
        }
        let (any, nodes) = metallb_api::convert::serving(service, inputs.slices);
        let local = nodes.contains(&node_name);
        let local_policy = service
            .spec
            .as_ref()
            .and_then(|s| s.external_traffic_policy.as_deref())
            == Some("Local");
        if !any || (local_policy && !local) {
            continue;
        }
        let service_labels = service.metadata.labels.clone().unwrap_or_default();
        let key = (
            service.metadata.namespace.clone().unwrap_or_default(),
            service.metadata.name.clone().unwrap_or_default(),
        );
        for ip in current_ips(service) {
            for ad in &accepted.advertisements {
                if !ad.ranges.iter().any(|r| r.contains(ip))
                    || !matches_any(&ad.service_selectors, &service_labels)
                {
                    continue;
                }
                let len = if ip.is_ipv4() {
                    ad.lengths.v4
                } else {
                    ad.lengths.v6
                };
                let Some(prefix) = Cidr::new(ip, len).and_then(|c| Prefix::new(c.network(), len))
                else {
                    continue;
                };
                let route = Route {
                    prefix,
                    local_pref: ad.local_pref,
                    communities: ad.communities.clone(),
                    large_communities: ad.large_communities.clone(),
                };
                for peer in &plan.peers {
                    if ad.peers.is_empty() || ad.peers.contains(&peer.name) {
                        plan.routes
                            .entry(peer.name.clone())
                            .or_default()
                            .insert(route.clone());
                        let advertised = plan.services.entry(key.clone()).or_default();
                        advertised.ips.insert(ip);
                        advertised.peers.insert(peer.name.clone());
                    }
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests;
