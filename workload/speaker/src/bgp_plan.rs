//! Kubernetes objects in, this node's BGP plan out: the peers to keep sessions with (BGPPeers
//! whose node selectors match this node) and the routes to announce to each (Services whose
//! pool a BGPAdvertisement selects, with the announce rules: serving endpoints, and for
//! `externalTrafficPolicy: Local` one on this node). No I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::{BGPAdvertisement, BGPPeer, IPAddressPool};
use metallb_controller::convert::{current_ips, handled, selector};
use metallb_core::bgp::Prefix;
use metallb_core::iprange::IpRange;
use metallb_core::selector::any_matches;

/// A peer this node keeps a session with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    /// BGPPeer name.
    pub name: String,
    /// The peer's address and port.
    pub address: IpAddr,
    /// The peer's port.
    pub port: u16,
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS.
    pub peer_as: u32,
    /// Proposed hold time in seconds.
    pub hold_time: u16,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// TCP MD5 password.
    pub password: Option<String>,
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

/// The plan: peers, and the routes for each peer (by peer name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Peers of this node.
    pub peers: Vec<Peer>,
    /// Routes per peer name.
    pub routes: BTreeMap<String, BTreeSet<Route>>,
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
    /// IPAddressPools.
    pub pools: &'a [Arc<IPAddressPool>],
    /// BGPPeers.
    pub peers: &'a [Arc<BGPPeer>],
    /// BGPAdvertisements.
    pub advertisements: &'a [Arc<BGPAdvertisement>],
}

/// `"65000:100"` as a standard community, `"large:1:2:3"` as a large one.
pub fn parse_community(text: &str) -> Option<Result<u32, (u32, u32, u32)>> {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [a, b] => Some(Ok(
            (u32::from(a.parse::<u16>().ok()?) << 16) | u32::from(b.parse::<u16>().ok()?)
        )),
        ["large", a, b, c] => Some(Err((a.parse().ok()?, b.parse().ok()?, c.parse().ok()?))),
        _ => None,
    }
}

fn hold_seconds(text: Option<&str>) -> u16 {
    // Go durations as upstream writes them ("90s", "1m30s"); default 90 s.
    let Some(text) = text else { return 90 };
    let mut total = 0u64;
    let mut number = String::new();
    for ch in text.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().unwrap_or(0);
                total += n * match ch {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => return 90,
        }
    }
    u16::try_from(total).unwrap_or(u16::MAX)
}

fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| a.address.parse().ok())
}

fn selects_pool(ad: &BGPAdvertisement, pool: &IPAddressPool) -> bool {
    let (names, selectors) = (
        &ad.spec.ip_address_pools,
        &ad.spec.ip_address_pool_selectors,
    );
    if names.is_empty() && selectors.is_empty() {
        return true;
    }
    let labels = pool.metadata.labels.clone().unwrap_or_default();
    names
        .iter()
        .any(|n| Some(n.as_str()) == pool.metadata.name.as_deref())
        || selectors
            .iter()
            .filter_map(selector)
            .any(|s| s.matches(&labels))
}

fn matches_all(list: &[metallb_api::LabelSelector], labels: &BTreeMap<String, String>) -> bool {
    if list.is_empty() {
        return true;
    }
    let selectors: Vec<_> = list.iter().filter_map(selector).collect();
    any_matches(&selectors, labels)
}

/// The plan for this node.
pub fn plan(inputs: &BgpInputs<'_>) -> Plan {
    let node_name = inputs.local_node.metadata.name.clone().unwrap_or_default();
    let node_labels = inputs
        .local_node
        .metadata
        .labels
        .clone()
        .unwrap_or_default();
    let mut plan = Plan::default();
    for peer in inputs.peers {
        let spec = &peer.spec;
        if !matches_all(&spec.node_selectors, &node_labels) {
            continue;
        }
        let (Some(address), Some(peer_as)) = (
            spec.peer_address.as_deref().and_then(|a| a.parse().ok()),
            spec.peer_asn,
        ) else {
            continue;
        };
        let router_id = spec
            .router_id
            .as_deref()
            .and_then(|r| r.parse().ok())
            .or_else(|| node_ipv4(inputs.local_node))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        plan.peers.push(Peer {
            name: peer.metadata.name.clone().unwrap_or_default(),
            address,
            port: spec.peer_port.unwrap_or(179),
            local_as: spec.my_asn,
            peer_as,
            hold_time: hold_seconds(spec.hold_time.as_deref()),
            router_id,
            password: spec.password.clone().filter(|p| !p.is_empty()),
        });
    }
    plan.peers.sort();
    for service in inputs.services {
        if !handled(service, inputs.lb_class) {
            continue;
        }
        let (any, nodes) = crate::reconcile::serving(service, inputs.slices);
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
        for ip in current_ips(service) {
            let Some(pool) = inputs.pools.iter().find(|p| {
                p.spec
                    .addresses
                    .iter()
                    .any(|a| IpRange::parse(a).is_ok_and(|r| r.contains(ip)))
            }) else {
                continue;
            };
            for ad in inputs.advertisements {
                if !selects_pool(ad, pool)
                    || !matches_all(&ad.spec.node_selectors, &node_labels)
                    || !matches_all(&ad.spec.service_selectors, &service_labels)
                {
                    continue;
                }
                let full = if ip.is_ipv4() { 32 } else { 128 };
                let len = if ip.is_ipv4() {
                    ad.spec.aggregation_length
                } else {
                    ad.spec.aggregation_length_v6
                };
                let len = len
                    .and_then(|l| u8::try_from(l).ok())
                    .filter(|l| *l <= full)
                    .unwrap_or(full);
                let network = IpRange::parse(&format!("{ip}/{len}"))
                    .map(|r| r.first())
                    .unwrap_or(ip);
                let Some(prefix) = Prefix::new(network, len) else {
                    continue;
                };
                let (mut communities, mut large) = (Vec::new(), Vec::new());
                for c in &ad.spec.communities {
                    match parse_community(c) {
                        Some(Ok(n)) => communities.push(n),
                        Some(Err(l)) => large.push(l),
                        None => {}
                    }
                }
                let route = Route {
                    prefix,
                    local_pref: ad.spec.local_pref,
                    communities,
                    large_communities: large,
                };
                for peer in &plan.peers {
                    if ad.spec.peers.is_empty() || ad.spec.peers.contains(&peer.name) {
                        plan.routes
                            .entry(peer.name.clone())
                            .or_default()
                            .insert(route.clone());
                    }
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_and_hold_times_parse() {
        assert_eq!(parse_community("65000:100"), Some(Ok((65000 << 16) | 100)));
        assert_eq!(
            parse_community("large:4200000001:1:2"),
            Some(Err((4_200_000_001, 1, 2)))
        );
        assert_eq!(parse_community("70000:1"), None);
        assert_eq!(hold_seconds(Some("90s")), 90);
        assert_eq!(hold_seconds(Some("1m30s")), 90);
        assert_eq!(hold_seconds(Some("3s")), 3);
        assert_eq!(hold_seconds(None), 90);
    }
}
