//! The per-Service Layer 2 election (upstream MetalLB's algorithm): every speaker computes the
//! same ordered candidate list from the same inputs, and the first candidate announces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::iprange::Cidr;
use crate::l2::interface::answers_on;
use crate::selector::{Selector, any_matches};

/// The label that takes a node out of load balancing.
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// A Node as the election sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeView {
    /// Node name (also the membership name).
    pub name: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Condition `NetworkUnavailable` is `True`.
    pub network_unavailable: bool,
    /// Condition `Ready` is not `True` (only consulted when membership is disabled).
    pub not_ready: bool,
    /// Going into maintenance: cordoned (`spec.unschedulable`) or tainted `NoExecute`. Ranked
    /// after every other node, so its addresses move before its pods are evicted, yet still a
    /// candidate when no other node is.
    pub draining: bool,
}

/// An interface of a node that can announce (up, with carrier), as the node publishes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkView {
    /// Interface name.
    pub name: String,
    /// The networks of its addresses.
    pub networks: Vec<Cidr>,
}

/// An L2Advertisement that applies to the Service's pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advertisement {
    /// Advertisement name (for messages).
    pub name: String,
    /// Nodes allowed to announce; empty means every node.
    pub node_selectors: Vec<Selector>,
    /// Services using this advertisement; empty means every Service.
    pub service_selectors: Vec<Selector>,
    /// Interfaces to announce from; empty means every interface.
    pub interfaces: Vec<String>,
    /// Weighted node preferences.
    pub preferred: Vec<(i32, Selector)>,
}

impl Advertisement {
    /// Whether the advertisement lets `node` announce (its node selectors).
    pub fn allows_node(&self, node: &NodeView) -> bool {
        self.node_selectors.is_empty() || any_matches(&self.node_selectors, &node.labels)
    }

    /// Whether some link of a node can announce `ip` for the advertisements `ads` that allow it
    /// (the interfaces they name, else an interface on the address's network).
    fn reachable(ads: &[&Advertisement], ip: IpAddr, links: &[LinkView]) -> bool {
        let requested: Option<BTreeSet<String>> = if ads.iter().any(|a| a.interfaces.is_empty()) {
            None
        } else {
            Some(
                ads.iter()
                    .flat_map(|a| a.interfaces.iter().cloned())
                    .collect(),
            )
        };
        links
            .iter()
            .any(|l| answers_on(ip, requested.as_ref(), &l.name, &l.networks))
    }

    fn serves(&self, labels: &BTreeMap<String, String>) -> bool {
        self.service_selectors.is_empty() || any_matches(&self.service_selectors, labels)
    }
}

/// A Service as the election sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    /// Service labels.
    pub labels: BTreeMap<String, String>,
    /// The first address in `status.loadBalancer.ingress`.
    pub first_ip: Option<IpAddr>,
    /// The Service carries an `allow-shared-ip` annotation.
    pub shares_ip: bool,
    /// `externalTrafficPolicy: Local`.
    pub local_traffic: bool,
    /// Nodes hosting at least one serving endpoint.
    pub serving_nodes: BTreeSet<String>,
    /// Some endpoint can serve (`serving` or, when absent, `ready`), on any node or none.
    pub has_serving_endpoint: bool,
}

/// What the cluster looks like to one speaker.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterView<'a> {
    /// Every Node known to the API.
    pub nodes: &'a [NodeView],
    /// Live members of the speaker membership; `None` when membership is disabled (every Ready
    /// Node is then assumed to run a speaker).
    pub members: Option<&'a BTreeSet<String>>,
    /// Ignore the exclude-from-external-load-balancers label.
    pub ignore_exclude_label: bool,
    /// The links each node published (its interfaces that are up with carrier). A node that
    /// published none (an older speaker, or before its first report) is assumed able to announce
    /// everywhere; one that did ranks after every node that can announce the address.
    pub links: Option<&'a BTreeMap<String, Vec<LinkView>>>,
}

impl ClusterView<'_> {
    /// Whether `node` can take part in an election at all: a live speaker (or Ready, without
    /// membership), its network available, not excluded from load balancers.
    pub fn may_announce(&self, node: &NodeView) -> bool {
        let live = match self.members {
            Some(members) => members.contains(&node.name),
            None => !node.not_ready,
        };
        live && !node.network_unavailable
            && (self.ignore_exclude_label || !node.labels.contains_key(EXCLUDE_LABEL))
    }
}

/// The outcome of the election for one Service, from one node's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This node announces, on these interfaces (`None`: every eligible interface).
    Announce {
        /// Interfaces named by the applicable advertisements on this node.
        interfaces: Option<BTreeSet<String>>,
    },
    /// Another node announces (named).
    NotOwner {
        /// The winning node.
        winner: String,
    },
    /// Nobody announces, for this reason.
    Nobody(NobodyReason),
}

/// Why nobody announces a Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NobodyReason {
    /// The Service has no address yet.
    NoAddress,
    /// No endpoint can serve traffic.
    NoEndpoints,
    /// No advertisement applies to the Service.
    NoAdvertisement,
    /// A shared-IP Service with service selectors on its advertisements (not announced upstream either).
    SharedIpWithServiceSelectors,
    /// No node is eligible.
    NoCandidates,
    /// This node is not allowed by any applicable advertisement (others may announce).
    NoMatchingAdvertisement,
}

impl NobodyReason {
    /// A short, stable description.
    pub fn label(self) -> &'static str {
        match self {
            NobodyReason::NoAddress => "noIPAllocated",
            NobodyReason::NoEndpoints => "notOwner: no serving endpoints",
            NobodyReason::NoAdvertisement => "noAdvertisement",
            NobodyReason::SharedIpWithServiceSelectors => "sharedIPWithServiceSelectors",
            NobodyReason::NoCandidates => "noCandidates",
            NobodyReason::NoMatchingAdvertisement => "noMatchingAdvertisement",
        }
    }
}

/// The ordering key of a node for a Service address: `SHA-256(node + "#" + ip)`.
pub fn node_hash(node: &str, ip: IpAddr) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(node.as_bytes());
    hasher.update(b"#");
    hasher.update(ip.to_string().as_bytes());
    hasher.finalize().into()
}

/// Candidates in election order (first announces): eligible nodes (live, allowed by an
/// advertisement) sorted with the nodes that cannot announce the address on any of their links
/// last, then the draining ones, then by preference weight (highest first), then by
/// [`node_hash`] (lowest first). Nodes that cannot announce stay candidates so that, when no node
/// can, the usual winner reports why (`announceFailed`) instead of the address going silent.
pub fn ranked_candidates(
    service: &ServiceView,
    ads: &[Advertisement],
    cluster: ClusterView<'_>,
) -> Vec<String> {
    let Some(ip) = service.first_ip else {
        return Vec::new();
    };
    let ads: Vec<&Advertisement> = ads.iter().filter(|a| a.serves(&service.labels)).collect();
    let mut ranked: Vec<(bool, bool, i64, [u8; 32], &str)> = cluster
        .nodes
        .iter()
        .filter(|n| cluster.may_announce(n))
        .filter(|n| ads.iter().any(|a| a.allows_node(n)))
        .filter(|n| !service.local_traffic || service.serving_nodes.contains(&n.name))
        .map(|n| {
            let reachable = match cluster.links.and_then(|l| l.get(&n.name)) {
                None => true,
                Some(links) => {
                    let allowing: Vec<&Advertisement> =
                        ads.iter().copied().filter(|a| a.allows_node(n)).collect();
                    Advertisement::reachable(&allowing, ip, links)
                }
            };
            let weight: i64 = ads
                .iter()
                .flat_map(|a| &a.preferred)
                .filter(|(_, s)| s.matches(&n.labels))
                .map(|(w, _)| i64::from(*w))
                .sum();
            (
                !reachable,
                n.draining,
                -weight,
                node_hash(&n.name, ip),
                n.name.as_str(),
            )
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .map(|(_, _, _, _, name)| name.to_string())
        .collect()
}

/// Runs the election for `service` as seen from node `local`.
pub fn elect(
    local: &str,
    service: &ServiceView,
    ads: &[Advertisement],
    cluster: ClusterView<'_>,
) -> Outcome {
    if service.first_ip.is_none() {
        return Outcome::Nobody(NobodyReason::NoAddress);
    }
    if !service.has_serving_endpoint {
        return Outcome::Nobody(NobodyReason::NoEndpoints);
    }
    let applicable: Vec<&Advertisement> =
        ads.iter().filter(|a| a.serves(&service.labels)).collect();
    if applicable.is_empty() {
        return Outcome::Nobody(NobodyReason::NoAdvertisement);
    }
    if service.shares_ip && applicable.iter().any(|a| !a.service_selectors.is_empty()) {
        return Outcome::Nobody(NobodyReason::SharedIpWithServiceSelectors);
    }
    let local_node = cluster.nodes.iter().find(|n| n.name == local);
    let local_ads: Vec<&Advertisement> = applicable
        .iter()
        .copied()
        .filter(|a| local_node.is_some_and(|n| a.allows_node(n)))
        .collect();
    if local_ads.is_empty() {
        return Outcome::Nobody(NobodyReason::NoMatchingAdvertisement);
    }
    let ranked = ranked_candidates(service, ads, cluster);
    match ranked.into_iter().next() {
        None => Outcome::Nobody(NobodyReason::NoCandidates),
        Some(winner) if winner == local => {
            let interfaces = if local_ads.iter().any(|a| a.interfaces.is_empty()) {
                None
            } else {
                Some(
                    local_ads
                        .iter()
                        .flat_map(|a| a.interfaces.iter().cloned())
                        .collect(),
                )
            };
            Outcome::Announce { interfaces }
        }
        Some(winner) => Outcome::NotOwner { winner },
    }
}

#[cfg(test)]
mod tests;
