//! The accepted configuration ([`crate::bgp_config`]) and the Services in, this node's BGP plan
//! out: the peers to keep sessions with and the routes to announce to each (Services whose
//! address is in a pool an accepted BGPAdvertisement selects, with the announce rules: serving
//! endpoints, and for `externalTrafficPolicy: Local` one on this node). No I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::convert::{current_ips, handled, matches_any};
use metallb_core::bgp::Prefix;
use metallb_core::iprange::Cidr;

use crate::bgp_config::Accepted;
use crate::bgp_peer::Peer;

pub use metallb_core::bgp::advertise::Route;

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
