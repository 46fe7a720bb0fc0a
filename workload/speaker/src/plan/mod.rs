//! The speaker's planning, in one place and without I/O: one [`Snapshot`] of the watch caches
//! per pass in, this node's Layer 2 decisions ([`l2`]) and BGP plan ([`bgp`]) out.
//!
//! What both protocols share is read here once per pass: which Services this speaker handles
//! (type LoadBalancer of its loadBalancerClass, with an address), and the endpoint facts the
//! announce rules need ([`HandledService`]: serving endpoints, `externalTrafficPolicy: Local`
//! and the nodes with a serving endpoint). Neither protocol's module calls into the other.
//! The objects are read by [`metallb_api::convert`], as the controller and the charm read them
//! (advertisements select pools with its one `selects_pool`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::convert::{current_ips, handled, local_traffic, serving};
use metallb_api::{
    BFDProfile, BGPAdvertisement, BGPPeer, Community, IPAddressPool, L2Advertisement,
};
use metallb_core::l2::election::LinkView;

use crate::bgp_config::{self, ConfigInputs, InForce, Problem};

pub mod bgp;
pub mod l2;

/// A Service by namespace and name.
pub type ServiceKey = (String, String);

/// The watch caches as one pass reads them: every watched kind the planning uses, read once.
/// A new watched kind is a field here (and one line in the run loop's list of watches).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every Service.
    pub services: Vec<Arc<Service>>,
    /// Every EndpointSlice.
    pub slices: Vec<Arc<EndpointSlice>>,
    /// Every Node.
    pub nodes: Vec<Arc<Node>>,
    /// The IPAddressPools of the MetalLB namespace.
    pub pools: Vec<Arc<IPAddressPool>>,
    /// The L2Advertisements of the MetalLB namespace.
    pub l2_advertisements: Vec<Arc<L2Advertisement>>,
    /// The BGPPeers of the MetalLB namespace.
    pub bgp_peers: Vec<Arc<BGPPeer>>,
    /// The BGPAdvertisements of the MetalLB namespace.
    pub bgp_advertisements: Vec<Arc<BGPAdvertisement>>,
    /// The Community aliases of the MetalLB namespace.
    pub communities: Vec<Arc<Community>>,
    /// The Secrets of the MetalLB namespace (BGPPeer `passwordSecret`).
    pub secrets: Vec<Arc<Secret>>,
    /// The BFDProfiles of the MetalLB namespace.
    pub bfd_profiles: Vec<Arc<BFDProfile>>,
}

impl Snapshot {
    /// The Node named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .map(|n| &**n)
    }

    /// The Services this speaker handles, with what the announce rules of both protocols read.
    pub fn handled_services(&self, lb_class: Option<&str>) -> Vec<HandledService<'_>> {
        self.services
            .iter()
            .filter(|service| handled(service, lb_class))
            .filter_map(|service| HandledService::new(service, &self.slices))
            .collect()
    }
}

/// A Service this speaker handles and that has an address, with its endpoints as the announce
/// rules of both protocols read them.
#[derive(Debug, Clone, PartialEq)]
pub struct HandledService<'a> {
    /// The Service.
    pub service: &'a Service,
    /// Its addresses (never empty).
    pub ips: Vec<IpAddr>,
    /// Whether some endpoint can serve.
    pub has_serving_endpoint: bool,
    /// The nodes hosting a serving endpoint.
    pub serving_nodes: BTreeSet<String>,
    /// `externalTrafficPolicy: Local`: only nodes with a serving endpoint may announce it.
    pub local_traffic: bool,
}

impl<'a> HandledService<'a> {
    /// The Service's view over `slices`; `None` when it has no address yet.
    fn new(service: &'a Service, slices: &[Arc<EndpointSlice>]) -> Option<Self> {
        let ips = current_ips(service);
        if ips.is_empty() {
            return None;
        }
        let (has_serving_endpoint, serving_nodes) = serving(service, slices);
        Some(HandledService {
            service,
            ips,
            has_serving_endpoint,
            serving_nodes,
            local_traffic: local_traffic(service),
        })
    }

    /// `(namespace, name)`.
    pub fn key(&self) -> ServiceKey {
        (
            self.service.metadata.namespace.clone().unwrap_or_default(),
            self.service.metadata.name.clone().unwrap_or_default(),
        )
    }

    /// Whether `node` may announce the Service as far as its endpoints go: some endpoint
    /// serves, and under `externalTrafficPolicy: Local` one is on `node`.
    pub fn endpoints_allow(&self, node: &str) -> bool {
        self.has_serving_endpoint && (!self.local_traffic || self.serving_nodes.contains(node))
    }
}

/// What a pass plans from besides the [`Snapshot`]: this speaker and its membership.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// This node.
    pub local_node: &'a str,
    /// Only Services of this loadBalancerClass (`None`: Services without a class).
    pub lb_class: Option<&'a str>,
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

/// One pass's plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The Layer 2 decision for every handled Service with an address.
    pub decisions: Vec<l2::Decision>,
    /// Pools no node can announce in Layer 2 ([`l2::unreachable_pools`]).
    pub unreachable_pools: Vec<String>,
    /// The BGP plan; `None` while this node is not in the Node cache (the sessions are left
    /// as they are).
    pub bgp: Option<bgp::Plan>,
    /// The BGP configuration problems found (refused objects keep the version in force).
    pub problems: Vec<Problem>,
}

/// Plans one pass: the Layer 2 decisions, then the BGP configuration accepted against
/// `in_force` (updated) and the BGP plan under it.
pub fn plan(snapshot: &Snapshot, context: &Context<'_>, in_force: &mut InForce) -> Planned {
    let services = snapshot.handled_services(context.lb_class);
    let inputs = l2::Inputs {
        context,
        snapshot,
        services: &services,
    };
    let decisions = l2::decide(&inputs);
    let unreachable_pools = l2::unreachable_pools(&inputs);
    let (bgp, problems) = match snapshot.node(context.local_node) {
        Some(local) => {
            let accepted = bgp_config::accept(
                &ConfigInputs {
                    local_node: local,
                    pools: &snapshot.pools,
                    peers: &snapshot.bgp_peers,
                    advertisements: &snapshot.bgp_advertisements,
                    communities: &snapshot.communities,
                    secrets: &snapshot.secrets,
                    bfd_profiles: &snapshot.bfd_profiles,
                },
                in_force,
            );
            let plan = bgp::plan(context.local_node, &services, &accepted);
            (Some(plan), accepted.problems)
        }
        None => (None, Vec::new()),
    };
    Planned {
        decisions,
        unreachable_pools,
        bgp,
        problems,
    }
}

#[cfg(test)]
mod tests;
