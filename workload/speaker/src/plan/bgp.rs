//! The accepted configuration ([`crate::bgp_config`]) and the Services this speaker handles in,
//! this node's BGP plan out: the peers to keep sessions with and the routes to announce to each
//! (Services whose address is in a pool an accepted BGPAdvertisement selects, and whose
//! endpoints allow this node: [`HandledService::endpoints_allow`]). No I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use metallb_api::convert::matches_any;
use metallb_core::bgp::Prefix;
use metallb_core::iprange::Cidr;

use super::{HandledService, ServiceKey};
use crate::bgp_config::Accepted;
use crate::bgp_peer::Peer;

pub use metallb_core::bgp::advertise::Route;

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

/// The plan for this node (`local_node`) under the accepted configuration, for the Services
/// this speaker handles.
pub fn plan(local_node: &str, services: &[HandledService<'_>], accepted: &Accepted) -> Plan {
    let mut plan = Plan {
        peers: accepted.peers.clone(),
        ..Plan::default()
    };
    plan.peers.sort();
    for handled in services {
        if !handled.endpoints_allow(local_node) {
            continue;
        }
        let service = handled.service;
        let service_labels = service.metadata.labels.clone().unwrap_or_default();
        let key = handled.key();
        for ip in handled.ips.iter().copied() {
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
