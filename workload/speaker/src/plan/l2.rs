//! The Layer 2 decisions: for every Service this speaker handles, the election outcome seen from
//! this node, and the pools no node can announce. No I/O; [`super::plan`] feeds it one
//! [`Snapshot`] per pass.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use metallb_api::annotations::{self, ALLOW_SHARED_IP};
use metallb_api::convert::{advertisement, node_view, pool_of, selects_pool};
use metallb_api::{IPAddressPool, L2Advertisement};
use metallb_core::iprange::IpRange;
use metallb_core::l2::election::{
    self, Advertisement, ClusterView, NodeView, Outcome, ServiceView,
};
use metallb_core::l2::interface::answers_on;
use metallb_core::l2::reach;

use super::{Context, HandledService, Snapshot};
use crate::adapters::interfaces::Interface;
use crate::duration::duration_seconds;
use crate::table::Table;

/// What the decisions are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// This speaker and its membership.
    pub context: &'a Context<'a>,
    /// The caches (Nodes, IPAddressPools, L2Advertisements).
    pub snapshot: &'a Snapshot,
    /// The Services this speaker handles ([`Snapshot::handled_services`]).
    pub services: &'a [HandledService<'a>],
}

impl<'a> Inputs<'a> {
    /// The cluster as the election sees it, over `nodes` (the Nodes as views).
    fn cluster<'v>(&self, nodes: &'v [NodeView]) -> ClusterView<'v>
    where
        'a: 'v,
    {
        ClusterView {
            nodes,
            members: self.context.members,
            ignore_exclude_label: self.context.ignore_exclude_label,
            links: self.context.links,
        }
    }

    /// The Nodes as the election sees them.
    fn node_views(&self) -> Vec<NodeView> {
        self.snapshot.nodes.iter().map(|n| node_view(n)).collect()
    }

    /// The L2Advertisements that select `pool`.
    fn advertisements_of<'p>(
        &self,
        pool: &'p IPAddressPool,
    ) -> impl Iterator<Item = &'a L2Advertisement> + use<'a, 'p> {
        self.snapshot
            .l2_advertisements
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
    let seconds = duration_seconds(text)?;
    (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)))
}

/// One line per pool with ranges that no node can announce in Layer 2 (see
/// [`metallb_core::l2::reach`]), e.g. "IPAddressPool far: no node has an interface in the network
/// of 198.19.250.0/28"; pools whose addresses do not parse are the controller's to report.
pub fn unreachable_pools(inputs: &Inputs<'_>) -> Vec<String> {
    let nodes = inputs.node_views();
    let cluster = inputs.cluster(&nodes);
    let mut lines = Vec::new();
    for pool in &inputs.snapshot.pools {
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

/// The decision for every Service this speaker handles.
pub fn decide(inputs: &Inputs<'_>) -> Vec<Decision> {
    let nodes = inputs.node_views();
    let cluster = inputs.cluster(&nodes);
    let context = inputs.context;
    let mut decisions = Vec::new();
    for handled in inputs.services {
        let service = handled.service;
        let Some(first) = handled.ips.first().copied() else {
            continue;
        };
        let pool_ads: Vec<&L2Advertisement> = match pool_of(service, first, &inputs.snapshot.pools)
        {
            Some(pool) => inputs.advertisements_of(pool).collect(),
            None => Vec::new(),
        };
        let ads: Vec<Advertisement> = pool_ads.iter().filter_map(|a| advertisement(a)).collect();
        let gratuitous_interval = pool_ads
            .iter()
            .filter_map(|a| gratuitous_interval(a))
            .min()
            .or(context.gratuitous_interval);
        let view = ServiceView {
            labels: service.metadata.labels.clone().unwrap_or_default(),
            first_ip: Some(first),
            shares_ip: annotations::get(service.metadata.annotations.as_ref(), ALLOW_SHARED_IP)
                .is_some(),
            local_traffic: handled.local_traffic,
            serving_nodes: handled.serving_nodes.clone(),
            has_serving_endpoint: handled.has_serving_endpoint,
        };
        let (namespace, name) = handled.key();
        decisions.push(Decision {
            namespace,
            name,
            ips: handled.ips.clone(),
            outcome: election::elect(context.local_node, &view, &ads, cluster),
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
