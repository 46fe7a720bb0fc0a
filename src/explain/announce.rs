//! Who announces the Service: the L2Advertisements and the election ranking
//! (`metallb_core::l2::election`), the BGPAdvertisements and the BGPPeers the address goes to.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use metallb_api::{IPAddressPool, LabelSelector, annotations};
use metallb_core::l2::election::{
    self, ClusterView, EXCLUDE_LABEL, NobodyReason, NodeView, Outcome, ServiceView,
};

use super::convert;
use super::{AdvertisementMatch, Bgp, Excluded, Inputs, Layer2, PeerRoute};

/// An advertisement's selectors, whatever its kind.
struct Selectors<'a> {
    name: String,
    pools: &'a [String],
    pool_selectors: &'a [LabelSelector],
    service_selectors: &'a [LabelSelector],
    node_selectors: &'a [LabelSelector],
}

fn service_labels(inputs: &Inputs) -> BTreeMap<String, String> {
    inputs.service.metadata.labels.clone().unwrap_or_default()
}

/// Whether the advertisement applies to the Service (through its pool), and how.
fn matched(
    inputs: &Inputs,
    pool: Option<&IPAddressPool>,
    ad: &Selectors<'_>,
) -> AdvertisementMatch {
    let (selects, mut reason) = match pool {
        Some(pool) => convert::pool_selection(ad.pools, ad.pool_selectors, pool),
        None => (false, "the Service has no address from a pool".to_string()),
    };
    let serves = convert::matches_any(ad.service_selectors, &service_labels(inputs));
    if !serves {
        reason.push_str("; its serviceSelectors do not match the Service's labels");
    } else if !ad.service_selectors.is_empty() {
        reason.push_str("; its serviceSelectors match the Service");
    }
    let nodes = inputs
        .nodes
        .iter()
        .filter(|n| {
            convert::matches_any(
                ad.node_selectors,
                &n.metadata.labels.clone().unwrap_or_default(),
            )
        })
        .map(|n| convert::name_of(&n.metadata))
        .collect();
    AdvertisementMatch {
        name: ad.name.clone(),
        applies: selects && serves,
        reason,
        nodes,
    }
}

fn pool_named<'a>(inputs: &'a Inputs, name: Option<&str>) -> Option<&'a IPAddressPool> {
    let name = name?;
    inputs
        .pools
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(name))
}

/// The election's view of the Service.
fn service_view(inputs: &Inputs, first_ip: Option<IpAddr>) -> ServiceView {
    let service = &inputs.service;
    let (has_serving_endpoint, serving_nodes) = convert::serving(service, &inputs.endpoint_slices);
    ServiceView {
        labels: service_labels(inputs),
        first_ip,
        shares_ip: annotations::get(
            service.metadata.annotations.as_ref(),
            annotations::ALLOW_SHARED_IP,
        )
        .is_some(),
        local_traffic: local_traffic(inputs),
        serving_nodes,
        has_serving_endpoint,
    }
}

fn local_traffic(inputs: &Inputs) -> bool {
    metallb_api::convert::local_traffic(&inputs.service)
}

fn nobody(reason: NobodyReason) -> String {
    match reason {
        NobodyReason::NoAddress => "the Service has no address".into(),
        NobodyReason::NoEndpoints => "no endpoint of the Service is serving".into(),
        NobodyReason::NoAdvertisement => "no L2Advertisement applies to the Service".into(),
        NobodyReason::SharedIpWithServiceSelectors => {
            "the Service shares its address (allow-shared-ip) and an applying L2Advertisement has serviceSelectors: MetalLB does not announce that".into()
        }
        NobodyReason::NoCandidates | NobodyReason::NoMatchingAdvertisement => {
            "no node is a candidate (see the excluded nodes)".into()
        }
    }
}

/// Layer 2: the advertisements matched against `pool`, the ranking for the first address of
/// `current`, the winner, and what the speakers recorded.
pub(super) fn layer2(inputs: &Inputs, pool: Option<&str>, current: &[IpAddr]) -> Layer2 {
    let pool_object = pool_named(inputs, pool);
    let mut objects: Vec<_> = inputs.l2_advertisements.iter().collect();
    objects.sort_by_key(|a| convert::name_of(&a.metadata));
    let advertisements: Vec<AdvertisementMatch> = objects
        .iter()
        .map(|ad| {
            matched(
                inputs,
                pool_object,
                &Selectors {
                    name: convert::name_of(&ad.metadata),
                    pools: &ad.spec.ip_address_pools,
                    pool_selectors: &ad.spec.ip_address_pool_selectors,
                    service_selectors: &ad.spec.service_selectors,
                    node_selectors: &ad.spec.node_selectors,
                },
            )
        })
        .collect();
    // The election gets the advertisements of the pool, as the speakers do; it applies the
    // serviceSelectors itself.
    let ads: Vec<_> = objects
        .iter()
        .filter(|ad| {
            pool_object.is_some_and(|p| {
                convert::selects_pool(
                    &ad.spec.ip_address_pools,
                    &ad.spec.ip_address_pool_selectors,
                    p,
                )
            })
        })
        .filter_map(|ad| convert::advertisement(ad))
        .collect();
    let members = convert::speaker_nodes(&inputs.pods);
    let nodes: Vec<NodeView> = inputs.nodes.iter().map(convert::node_view).collect();
    let cluster = ClusterView {
        nodes: &nodes,
        members: Some(&members),
        ..Default::default()
    };
    let view = service_view(inputs, current.first().copied());
    let ranking = election::ranked_candidates(&view, &ads, cluster);
    let local = ranking.first().cloned().unwrap_or_default();
    let (winner, nobody) = match election::elect(&local, &view, &ads, cluster) {
        Outcome::Announce { .. } => (Some(local), None),
        Outcome::NotOwner { winner } => (Some(winner), None),
        Outcome::Nobody(reason) => (None, Some(self::nobody(reason))),
    };
    let serving: Vec<_> = ads
        .iter()
        .filter(|a| {
            a.service_selectors.is_empty()
                || metallb_core::selector::any_matches(&a.service_selectors, &view.labels)
        })
        .collect();
    let excluded = if current.is_empty() {
        Vec::new()
    } else {
        nodes
            .iter()
            .filter(|n| !ranking.contains(&n.name))
            .map(|n| Excluded {
                node: n.name.clone(),
                reason: if !members.contains(&n.name) {
                    "no Ready speaker pod runs on it".into()
                } else if n.network_unavailable {
                    "its NetworkUnavailable condition is True".into()
                } else if n.labels.contains_key(EXCLUDE_LABEL) {
                    format!("it is labelled {EXCLUDE_LABEL}")
                } else if !serving.iter().any(|a| {
                    a.node_selectors.is_empty()
                        || metallb_core::selector::any_matches(&a.node_selectors, &n.labels)
                }) {
                    "no applying L2Advertisement's nodeSelectors select it".into()
                } else if view.local_traffic && !view.serving_nodes.contains(&n.name) {
                    "externalTrafficPolicy is Local and no serving endpoint runs on it".into()
                } else {
                    "not a candidate".into()
                },
            })
            .collect()
    };
    let key = convert::key(&inputs.service);
    let recorded: BTreeSet<String> = inputs
        .l2_statuses
        .iter()
        .filter_map(|s| s.status.as_ref())
        .filter(|s| {
            format!(
                "{}/{}",
                s.service_namespace.as_deref().unwrap_or_default(),
                s.service_name.as_deref().unwrap_or_default()
            ) == key
        })
        .filter_map(|s| s.node.clone())
        .collect();
    Layer2 {
        pool: pool.map(str::to_string),
        advertisements,
        speaker_nodes: members.into_iter().collect(),
        ranking,
        excluded,
        winner,
        nobody,
        recorded: recorded.into_iter().collect(),
    }
}

/// BGP: the advertisements matched against `pool`, and the peers the address goes to.
pub(super) fn bgp(inputs: &Inputs, pool: Option<&str>, current: &[IpAddr]) -> Bgp {
    let pool_object = pool_named(inputs, pool);
    let mut objects: Vec<_> = inputs.bgp_advertisements.iter().collect();
    objects.sort_by_key(|a| convert::name_of(&a.metadata));
    let matches: Vec<(AdvertisementMatch, &metallb_api::BGPAdvertisement)> = objects
        .into_iter()
        .map(|ad| {
            let m = matched(
                inputs,
                pool_object,
                &Selectors {
                    name: convert::name_of(&ad.metadata),
                    pools: &ad.spec.ip_address_pools,
                    pool_selectors: &ad.spec.ip_address_pool_selectors,
                    service_selectors: &ad.spec.service_selectors,
                    node_selectors: &ad.spec.node_selectors,
                },
            );
            (m, ad)
        })
        .collect();
    let members = convert::speaker_nodes(&inputs.pods);
    let (_, serving_nodes) = convert::serving(&inputs.service, &inputs.endpoint_slices);
    let local = local_traffic(inputs);
    let mut peers_sorted: Vec<_> = inputs.bgp_peers.iter().collect();
    peers_sorted.sort_by_key(|p| convert::name_of(&p.metadata));
    let peers = if current.is_empty() {
        Vec::new()
    } else {
        peers_sorted
            .into_iter()
            .filter_map(|peer| {
                let name = convert::name_of(&peer.metadata);
                let via: Vec<&metallb_api::BGPAdvertisement> = matches
                    .iter()
                    .filter(|(m, ad)| {
                        m.applies && (ad.spec.peers.is_empty() || ad.spec.peers.contains(&name))
                    })
                    .map(|(_, ad)| *ad)
                    .collect();
                if via.is_empty() {
                    return None;
                }
                let nodes = inputs
                    .nodes
                    .iter()
                    .filter(|n| {
                        let name = convert::name_of(&n.metadata);
                        let labels = n.metadata.labels.clone().unwrap_or_default();
                        members.contains(&name)
                            && (!local || serving_nodes.contains(&name))
                            && convert::matches_any(&peer.spec.node_selectors, &labels)
                            && via
                                .iter()
                                .any(|ad| convert::matches_any(&ad.spec.node_selectors, &labels))
                    })
                    .map(|n| convert::name_of(&n.metadata))
                    .collect();
                Some(PeerRoute {
                    address: peer
                        .spec
                        .peer_address
                        .clone()
                        .or_else(|| {
                            peer.spec
                                .interface
                                .as_ref()
                                .map(|i| format!("interface {i}"))
                        })
                        .unwrap_or_default(),
                    asn: match (peer.spec.peer_asn, &peer.spec.dynamic_asn) {
                        (Some(asn), _) => asn.to_string(),
                        (None, Some(dynamic)) => format!("{dynamic:?}").to_lowercase(),
                        (None, None) => String::new(),
                    },
                    advertisements: via
                        .iter()
                        .map(|ad| convert::name_of(&ad.metadata))
                        .collect(),
                    nodes,
                    name,
                })
            })
            .collect()
    };
    Bgp {
        advertisements: matches.into_iter().map(|(m, _)| m).collect(),
        peers,
    }
}
