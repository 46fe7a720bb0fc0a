//! The `explain` action: why one LoadBalancer Service has (or lacks) an address, and who
//! announces it.
//!
//! Pure: [`explain`] takes objects already read from the API ([`Inputs`], read by `Cluster::explain_inputs`)
//! and returns an [`Explanation`]; [`text`] renders it like `juju status`, and serde gives the
//! JSON form. The allocation verdicts come from `metallb_core`'s allocator replaying what the
//! controller does (every Service holding addresses restored first, then this one), and the
//! Layer 2 ranking from `metallb_core::l2::election`, so the reasons cannot drift from the
//! rules the workload applies.
//!
//! * [`convert`]: objects into core inputs (as the controller and speaker build them).
//! * [`pools`]: the allocation replay, the verdict for each pool.
//! * [`sharing`]: other Services on the same addresses and whether they may share.
//! * [`announce`]: L2 and BGP advertisements, the election ranking, the BGP peers.
//! * [`events`]: the Service's last events.
//! * [`format`]: the plain-text form.

mod announce;
mod convert;
mod events;
mod format;
mod pools;
mod sharing;
#[cfg(test)]
mod tests;

use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::{BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement, ServiceL2Status};
use serde::Serialize;

pub use convert::SPEAKER_SELECTOR;
pub use format::text;

/// Why the action cannot explain: bad parameters, or the Service is not one MetalLB serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// No `service` parameter.
    #[error("set service=NAMESPACE/NAME (the LoadBalancer Service to explain)")]
    MissingService,
    /// `service` is not `NAMESPACE/NAME`.
    #[error("service={0:?} is not NAMESPACE/NAME (for example service=default/web)")]
    BadService(String),
    /// `format` is not `text` or `json`.
    #[error("format={0:?} is not text or json")]
    BadFormat(String),
    /// The Service does not exist.
    #[error("Service {0} not found")]
    NotFound(String),
    /// The Service is not of type LoadBalancer.
    #[error(
        "Service {service} is of type {kind}, not LoadBalancer: MetalLB gives addresses only to LoadBalancer Services"
    )]
    NotLoadBalancer {
        /// `namespace/name`.
        service: String,
        /// Its `spec.type`.
        kind: String,
    },
    /// The API failed while reading what explain needs.
    #[error("{0}")]
    Api(String),
}

/// The output form the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text, like `juju status`.
    Text,
    /// The [`Explanation`] as JSON.
    Json,
}

/// The action's parameters, checked: `(namespace, name, format)`.
pub fn params(
    service: Option<&serde_json::Value>,
    format: Option<&serde_json::Value>,
) -> Result<(String, String, Format), ExplainError> {
    let raw = match service {
        None | Some(serde_json::Value::Null) => return Err(ExplainError::MissingService),
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(ExplainError::BadService(other.to_string())),
    };
    if raw.is_empty() {
        return Err(ExplainError::MissingService);
    }
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    let (namespace, name) = match raw.split_once('/') {
        Some((ns, name)) if valid(ns) && valid(name) => (ns.to_string(), name.to_string()),
        _ => return Err(ExplainError::BadService(raw)),
    };
    let format = match format.and_then(serde_json::Value::as_str) {
        None | Some("text") => Format::Text,
        Some("json") => Format::Json,
        Some(other) => return Err(ExplainError::BadFormat(other.to_string())),
    };
    Ok((namespace, name, format))
}

/// Everything [`explain`] reads, fetched beforehand.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The namespace of the charm's MetalLB (pools, advertisements, peers, speakers).
    pub metallb_namespace: String,
    /// The Service to explain.
    pub service: Service,
    /// Every Service of the cluster (the one explained may be among them).
    pub services: Vec<Service>,
    /// Every Namespace (pools' namespace selectors).
    pub namespaces: Vec<Namespace>,
    /// The IPAddressPools of the MetalLB namespace.
    pub pools: Vec<IPAddressPool>,
    /// The L2Advertisements of the MetalLB namespace.
    pub l2_advertisements: Vec<L2Advertisement>,
    /// The BGPAdvertisements of the MetalLB namespace.
    pub bgp_advertisements: Vec<BGPAdvertisement>,
    /// The BGPPeers of the MetalLB namespace.
    pub bgp_peers: Vec<BGPPeer>,
    /// Every Node.
    pub nodes: Vec<Node>,
    /// The pods of the MetalLB namespace (the speakers among them).
    pub pods: Vec<Pod>,
    /// The Service's EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// The ServiceL2Status objects of the MetalLB namespace.
    pub l2_statuses: Vec<ServiceL2Status>,
    /// Events about the Service.
    pub events: Vec<Event>,
}

/// Why one Service has (or lacks) an address, and who announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `namespace/name`.
    pub service: String,
    /// One line: what it has, or why it has nothing.
    pub summary: String,
    /// `status.loadBalancer.ingress` addresses.
    pub addresses: Vec<String>,
    /// Requested addresses (`metallb.io/loadBalancerIPs` or `spec.loadBalancerIP`).
    pub requested_ips: Vec<String>,
    /// The pool asked for (`metallb.io/address-pool`).
    pub requested_pool: Option<String>,
    /// The controller's `metallb.io/ip-allocated-from-pool` annotation.
    pub allocated_from_pool: Option<String>,
    /// `spec.loadBalancerClass`: set means another load balancer serves it.
    pub load_balancer_class: Option<String>,
    /// A problem of the pools as a whole (the controller keeps the configuration it accepted
    /// before).
    pub config_problem: Option<String>,
    /// Every IPAddressPool of the MetalLB namespace, with why it was or was not used.
    pub pools: Vec<PoolVerdict>,
    /// The Service's addresses that other Services hold too.
    pub sharing: Vec<SharedAddress>,
    /// Layer 2: advertisements, election ranking and winner.
    pub layer2: Layer2,
    /// BGP: advertisements and the peers the address goes to.
    pub bgp: Bgp,
    /// The Service's last events, oldest first.
    pub events: Vec<EventLine>,
}

/// One reason, with a stable code for scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable code (`autoAssignOff`, `full`, `requestedOutside`, ...).
    pub code: &'static str,
    /// The reason in words.
    pub message: String,
}

impl Reason {
    /// A reason.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// One IPAddressPool and why it was or was not used for the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolVerdict {
    /// Pool name.
    pub name: String,
    /// `spec.addresses`.
    pub addresses: Vec<String>,
    /// `spec.autoAssign`.
    pub auto_assign: bool,
    /// `spec.serviceAllocation.priority`, when the pool has a serviceAllocation.
    pub priority: Option<i32>,
    /// Addresses held by Services (this one included).
    pub in_use: u128,
    /// Addresses the pool can hand out.
    pub size: u128,
    /// Whether the Service's address comes (or would come) from this pool.
    pub used: bool,
    /// Why (first reason first).
    pub reasons: Vec<Reason>,
}

/// An address of the Service that other Services hold too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedAddress {
    /// The address.
    pub ip: String,
    /// The Service's `metallb.io/allow-shared-ip` key.
    pub sharing_key: Option<String>,
    /// The other holders.
    pub others: Vec<OtherHolder>,
}

/// Another Service holding an address, and whether the two may share it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtherHolder {
    /// `namespace/name`.
    pub service: String,
    /// Its `metallb.io/allow-shared-ip` key.
    pub sharing_key: Option<String>,
    /// Its ports (`80/TCP`).
    pub ports: Vec<String>,
    /// Whether the sharing rules let both hold the address.
    pub may_share: bool,
    /// Why.
    pub reason: String,
}

/// An advertisement and whether it applies to the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvertisementMatch {
    /// Advertisement name.
    pub name: String,
    /// Whether it applies (selects the Service's pool and the Service).
    pub applies: bool,
    /// How it selects (or misses) the pool and the Service.
    pub reason: String,
    /// The nodes its nodeSelectors allow (every node when it has none).
    pub nodes: Vec<String>,
}

/// A node left out of the election, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    /// Node name.
    pub node: String,
    /// Why it is no candidate.
    pub reason: String,
}

/// Layer 2 announcement of the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Layer2 {
    /// The pool the advertisements were matched against.
    pub pool: Option<String>,
    /// Every L2Advertisement, applying or not.
    pub advertisements: Vec<AdvertisementMatch>,
    /// Nodes running a Ready speaker pod (the election's members, in the API's view).
    pub speaker_nodes: Vec<String>,
    /// Candidates in election order (the first announces).
    pub ranking: Vec<String>,
    /// Nodes that are no candidates, and why.
    pub excluded: Vec<Excluded>,
    /// The node that announces, in the API's view.
    pub winner: Option<String>,
    /// Why nobody announces, when nobody does.
    pub nobody: Option<String>,
    /// The nodes the speakers recorded in ServiceL2Status as announcing.
    pub recorded: Vec<String>,
}

/// A BGP peer the Service's address is advertised to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRoute {
    /// BGPPeer name.
    pub name: String,
    /// `spec.peerAddress`.
    pub address: String,
    /// `spec.peerASN` (or dynamic).
    pub asn: String,
    /// The advertisements that send the address to it.
    pub advertisements: Vec<String>,
    /// The nodes with a Ready speaker that open the session and advertise the address.
    pub nodes: Vec<String>,
}

/// BGP advertisement of the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Bgp {
    /// Every BGPAdvertisement, applying or not.
    pub advertisements: Vec<AdvertisementMatch>,
    /// The peers the address goes to.
    pub peers: Vec<PeerRoute>,
}

/// One event about the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine {
    /// When it last happened (RFC 3339), empty when unknown.
    pub time: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// Who reported it (`reportingController` or `source.component`).
    pub source: String,
    /// How many times it happened.
    pub count: i32,
}

/// At most this many events are shown.
pub const MAX_EVENTS: usize = 10;

/// Explains the Service of `inputs`.
pub fn explain(inputs: &Inputs) -> Result<Explanation, ExplainError> {
    let service = &inputs.service;
    let key = convert::key(service);
    if !convert::is_load_balancer(service) {
        let kind = service
            .spec
            .as_ref()
            .and_then(|s| s.type_.clone())
            .unwrap_or_else(|| "ClusterIP".into());
        return Err(ExplainError::NotLoadBalancer { service: key, kind });
    }
    let anns = service.metadata.annotations.as_ref();
    let annotation = |name: &str| metallb_api::annotations::get(anns, name).map(str::to_string);
    let current = convert::current_ips(service);
    let class = convert::load_balancer_class(service);
    let allocation = pools::allocation(inputs, class.as_deref());
    let pool_of_address = annotation(metallb_api::annotations::IP_ALLOCATED_FROM_POOL)
        .or_else(|| allocation.pool_of_current.clone());
    let layer2 = announce::layer2(inputs, pool_of_address.as_deref(), &current);
    let bgp = announce::bgp(inputs, pool_of_address.as_deref(), &current);
    Ok(Explanation {
        service: key,
        summary: allocation.summary,
        addresses: current.iter().map(ToString::to_string).collect(),
        requested_ips: match convert::requested_ips(service) {
            Ok(ips) => ips.iter().map(ToString::to_string).collect(),
            Err(_) => annotation(metallb_api::annotations::LOAD_BALANCER_IPS)
                .into_iter()
                .chain(
                    service
                        .spec
                        .as_ref()
                        .and_then(|s| s.load_balancer_ip.clone()),
                )
                .collect(),
        },
        requested_pool: annotation(metallb_api::annotations::ADDRESS_POOL),
        allocated_from_pool: annotation(metallb_api::annotations::IP_ALLOCATED_FROM_POOL),
        load_balancer_class: class,
        config_problem: allocation.config_problem,
        pools: allocation.pools,
        sharing: sharing::shared(inputs, &allocation.world, &current),
        layer2,
        bgp,
        events: events::last(&inputs.events),
    })
}

/// Runs the action: checks `params` (`service`, `format`), reads the cluster through `kube`,
/// and returns the action results: `summary` (one line) and `explanation` (the text, or the
/// JSON document as a string, which `juju run` prints as it is and `jq` can read).
pub fn action(
    kube: &crate::k8s::KubeSource,
    metallb_namespace: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, ExplainError> {
    let (namespace, name, format) = self::params(params.get("service"), params.get("format"))?;
    let cluster =
        crate::k8s::Cluster::connect(kube).map_err(|e| ExplainError::Api(e.to_string()))?;
    let inputs = cluster.explain_inputs(metallb_namespace, &namespace, &name)?;
    let explanation = explain(&inputs)?;
    let rendered = match format {
        Format::Text => text(&explanation),
        Format::Json => serde_json::to_string_pretty(&explanation)
            .map_err(|e| ExplainError::Api(format!("encoding the explanation: {e}")))?,
    };
    Ok(serde_json::json!({"summary": explanation.summary, "explanation": rendered}))
}
