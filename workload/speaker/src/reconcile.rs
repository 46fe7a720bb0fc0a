//! Kubernetes objects in, this node's Layer 2 decisions out: for every LoadBalancer Service, the
//! election outcome seen from this node. No I/O; the run loop feeds it the watch caches. The
//! objects are read by [`metallb_api::convert`], as the controller and the charm read them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::annotations::{self, ALLOW_SHARED_IP};
use metallb_api::convert::{
    advertisement, current_ips, handled, node_view, pool_of, selects_pool, serving,
};
use metallb_api::{IPAddressPool, L2Advertisement};
use metallb_core::iprange::IpRange;
use metallb_core::l2::election::{
    self, Advertisement, ClusterView, LinkView, NodeView, Outcome, ServiceView,
};
use metallb_core::l2::interface::answers_on;
use metallb_core::l2::reach;

use crate::adapters::interfaces::Interface;
use crate::table::Table;

/// What the decisions are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// This node.
    pub local_node: &'a str,
    /// Only Services of this loadBalancerClass (`None`: Services without a class).
    pub lb_class: Option<&'a str>,
    /// Every Service.
    pub services: &'a [Arc<Service>],
    /// Every EndpointSlice.
    pub slices: &'a [Arc<EndpointSlice>],
    /// Every Node.
    pub nodes: &'a [Arc<Node>],
    /// The IPAddressPools of the MetalLB namespace.
    pub pools: &'a [Arc<IPAddressPool>],
    /// The L2Advertisements of the MetalLB namespace.
    pub advertisements: &'a [Arc<L2Advertisement>],
    /// Live speakers (`None`: membership disabled, every Node counts).
    pub members: Option<&'a BTreeSet<String>>,
    /// Ignore the exclude-from-external-load-balancers label.
    pub ignore_exclude_label: bool,
    /// The links (interfaces up with carrier) each node published, this one's included.
    pub links: Option<&'a BTreeMap<String, Vec<LinkView>>>,
    /// Periodic gratuitous announcements for addresses whose advertisements set no interval
    /// (`--gratuitous-arp-interval`); `None`: only after a change.
    pub gratuitous_interval: Option<Duration>,
}

impl<'a> Inputs<'a> {
    /// The cluster as the election sees it, over `nodes` (the Nodes as views).
    fn cluster<'v>(&self, nodes: &'v [NodeView]) -> ClusterView<'v>
    where
        'a: 'v,
    {
        ClusterView {
            nodes,
            members: self.members,
            ignore_exclude_label: self.ignore_exclude_label,
            links: self.links,
        }
    }

    /// The L2Advertisements that select `pool`.
    fn advertisements_of<'p>(
        &self,
        pool: &'p IPAddressPool,
    ) -> impl Iterator<Item = &'a L2Advertisement> + use<'a, 'p> {
        self.advertisements
            .iter()
            .filter(move |a| {
                selects_pool(
                    &a.spec.ip_address_pools,
                    &a.spec.ip_address_pool_selectors,
                    pool,
                )
            })
            .map(|a| &**a)
    }
}

/// The decision for one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Service namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// The Service's addresses.
    pub ips: Vec<IpAddr>,
    /// The election outcome on this node.
    pub outcome: Outcome,
    /// How often the addresses are announced gratuitously while this node announces them
    /// (the shortest `gratuitousARPInterval` of the applicable advertisements, else the
    /// speaker's default); `None`: only after a change.
    pub gratuitous_interval: Option<Duration>,
}

impl Decision {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The periodic gratuitous interval an advertisement asks for (`None`: absent, zero or
/// malformed; the API server refuses malformed durations).
pub fn gratuitous_interval(ad: &L2Advertisement) -> Option<Duration> {
    let text = ad.spec.gratuitous_arp_interval.as_deref()?;
    let seconds = crate::bgp_config::duration_seconds(text)?;
    (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
}

/// One line per pool with ranges that no node can announce in Layer 2 (see
/// [`metallb_core::l2::reach`]), e.g. "IPAddressPool far: no node has an interface in the network
/// of 198.19.250.0/28"; pools whose addresses do not parse are the controller's to report.
pub fn unreachable_pools(inputs: Inputs<'_>) -> Vec<String> {
    let nodes: Vec<NodeView> = inputs.nodes.iter().map(|n| node_view(n)).collect();
    let cluster = inputs.cluster(&nodes);
    let mut lines = Vec::new();
    for pool in inputs.pools {
        let Ok(ranges) = pool
            .spec
            .addresses
            .iter()
            .map(|a| IpRange::parse(a))
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let ads: Vec<Advertisement> = inputs
            .advertisements_of(pool)
            .filter_map(advertisement)
            .collect();
        let unreachable = reach::unreachable_ranges(&ranges, &ads, cluster);
        if !unreachable.is_empty() {
            let list: Vec<String> = unreachable.iter().map(ToString::to_string).collect();
            lines.push(format!(
                "IPAddressPool {}: no node has an interface in the network of {}",
                pool.metadata.name.as_deref().unwrap_or_default(),
                list.join(", ")
            ));
        }
    }
    lines
}

/// The decision for every LoadBalancer Service this speaker handles.
pub fn decide(inputs: Inputs<'_>) -> Vec<Decision> {
    let nodes: Vec<NodeView> = inputs.nodes.iter().map(|n| node_view(n)).collect();
    let cluster = inputs.cluster(&nodes);
    let mut decisions = Vec::new();
    for service in inputs.services {
        if !handled(service, inputs.lb_class) {
            continue;
        }
        let ips = current_ips(service);
        let Some(first) = ips.first().copied() else {
            continue;
        };
        let pool_ads: Vec<&L2Advertisement> = match pool_of(service, first, inputs.pools) {
            Some(pool) => inputs.advertisements_of(pool).collect(),
            None => Vec::new(),
        };
        let ads: Vec<Advertisement> = pool_ads.iter().filter_map(|a| advertisement(a)).collect();
        let gratuitous_interval = pool_ads
            .iter()
            .filter_map(|a| gratuitous_interval(a))
            .min()
            .or(inputs.gratuitous_interval);
        let (has_serving_endpoint, serving_nodes) = serving(service, inputs.slices);
        let spec = service.spec.as_ref();
        let view = ServiceView {
            labels: service.metadata.labels.clone().unwrap_or_default(),
            first_ip: Some(first),
            shares_ip: annotations::get(service.metadata.annotations.as_ref(), ALLOW_SHARED_IP)
                .is_some(),
            local_traffic: spec.and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local"),
            serving_nodes,
            has_serving_endpoint,
        };
        decisions.push(Decision {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
            ips,
            outcome: election::elect(inputs.local_node, &view, &ads, cluster),
            gratuitous_interval,
        });
    }
    decisions
}

/// The announcement table for `decisions`: the addresses of the Services this node announces.
pub fn table(decisions: &[Decision]) -> Table {
    Table::from_entries(decisions.iter().flat_map(|d| match &d.outcome {
        Outcome::Announce { interfaces } => {
            d.ips.iter().map(|ip| (*ip, interfaces.clone())).collect()
        }
        _ => Vec::new(),
    }))
}

/// Addresses of a Service this node won but cannot announce here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unannounced {
    /// The interfaces its advertisements name (`None`: they name none, and no interface here
    /// is on the network of `ips`).
    pub requested: Option<Vec<String>>,
    /// The addresses no interface here answers for.
    pub ips: Vec<IpAddr>,
    /// Whether that is every address of the Service: it is not announced at all.
    pub all: bool,
}

impl Unannounced {
    /// Why, for the `announceFailed` event.
    pub fn reason(&self) -> String {
        match &self.requested {
            Some(names) => format!(
                "none of the interfaces {names:?} of its L2Advertisements can announce on this node"
            ),
            None => format!(
                "no interface of this node is on a network containing {}; name the interfaces \
                 in its L2Advertisement to announce there",
                self.ips
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Services this node won but cannot announce (all or some of their addresses) on the
/// interfaces `available`: none of the interfaces their advertisements name is here
/// (upstream's `announceFailed`), or, when they name none, no interface is on an address's
/// network. Keyed by `namespace/name`.
pub fn unannounced(
    decisions: &[Decision],
    available: &[Interface],
) -> BTreeMap<String, Unannounced> {
    decisions
        .iter()
        .filter_map(|d| {
            let Outcome::Announce { interfaces } = &d.outcome else {
                return None;
            };
            let ips: Vec<IpAddr> = d
                .ips
                .iter()
                .copied()
                .filter(|ip| {
                    !available
                        .iter()
                        .any(|i| answers_on(*ip, interfaces.as_ref(), &i.name, &i.networks))
                })
                .collect();
            if ips.is_empty() {
                return None;
            }
            let all = ips.len() == d.ips.len();
            Some((
                d.key(),
                Unannounced {
                    requested: interfaces.as_ref().map(|n| n.iter().cloned().collect()),
                    ips,
                    all,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
