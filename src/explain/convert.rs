//! Kubernetes objects into the inputs of `metallb_core` (allocator and L2 election), as the
//! controller and speaker build them. The charm may not depend on those crates, so the few
//! conversions explain needs live here; they follow `workload/controller/src/convert.rs` and
//! `workload/speaker/src/reconcile.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_api::{IPAddressPool, L2Advertisement, LabelSelector, annotations};
use metallb_core::allocator::{Family, FamilyPolicy, Pool, PoolAllocation, Port, ServiceRequest};
use metallb_core::iprange::IpRange;
use metallb_core::l2::election::{Advertisement, NodeView};
use metallb_core::selector::{Operator, Requirement, Selector};

/// The label selector of the speaker pods, as the charm renders the DaemonSet (`render.rs`).
pub const SPEAKER_SELECTOR: [(&str, &str); 2] = [("app", "metallb"), ("component", "speaker")];

/// A Kubernetes label selector as a core selector; `None` when an operator is unknown.
pub fn selector(s: &LabelSelector) -> Option<Selector> {
    let match_expressions = s
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            let operator = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return None,
            };
            Some(Requirement {
                key: e.key.clone(),
                operator,
                values: e.values.clone().unwrap_or_default(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Selector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions,
    })
}

/// Whether `labels` match one of `list`; an empty list matches everything, a selector that
/// cannot be understood matches nothing.
pub fn matches_any(list: &[LabelSelector], labels: &BTreeMap<String, String>) -> bool {
    list.is_empty() || list.iter().filter_map(selector).any(|s| s.matches(labels))
}

/// The name of an object (empty when it has none).
pub fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// An IPAddressPool as an allocator pool; namespace selectors are resolved against
/// `namespaces`. An error names the pool and what is wrong.
pub fn pool(object: &IPAddressPool, namespaces: &[Namespace]) -> Result<Pool, String> {
    let name = name_of(&object.metadata);
    let ranges = object
        .spec
        .addresses
        .iter()
        .map(|a| IpRange::parse(a).map_err(|e| format!("pool {name}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let allocation = match &object.spec.service_allocation {
        None => None,
        Some(sa) => {
            let convert = |list: &[LabelSelector]| -> Result<Vec<Selector>, String> {
                list.iter()
                    .map(|s| {
                        selector(s).ok_or_else(|| format!("pool {name}: bad selector operator"))
                    })
                    .collect()
            };
            let namespace_selectors = convert(&sa.namespace_selectors)?;
            let mut allowed: BTreeSet<String> = sa.namespaces.iter().cloned().collect();
            for ns in namespaces {
                let labels = ns.metadata.labels.clone().unwrap_or_default();
                if namespace_selectors.iter().any(|s| s.matches(&labels)) {
                    allowed.extend(ns.metadata.name.clone());
                }
            }
            Some(PoolAllocation {
                priority: sa.priority.unwrap_or(0),
                namespace_restricted: !sa.namespaces.is_empty()
                    || !sa.namespace_selectors.is_empty(),
                namespaces: allowed,
                service_selectors: convert(&sa.service_selectors)?,
            })
        }
    };
    Ok(Pool {
        name,
        ranges,
        auto_assign: object.spec.auto_assign.unwrap_or(true),
        avoid_buggy_ips: object.spec.avoid_buggy_ips,
        allocation,
    })
}

/// `namespace/name`.
pub fn key(service: &Service) -> String {
    format!(
        "{}/{}",
        service.metadata.namespace.clone().unwrap_or_default(),
        name_of(&service.metadata)
    )
}

/// The addresses in `status.loadBalancer.ingress` (hostnames ignored).
pub fn current_ips(service: &Service) -> Vec<IpAddr> {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_ref()?.parse().ok())
        .collect()
}

/// Whether the Service is of type LoadBalancer.
pub fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The Service's `spec.loadBalancerClass`, if any (the charm's MetalLB handles only Services
/// without one).
pub fn load_balancer_class(service: &Service) -> Option<String> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.clone())
}

/// Whether the charm's controller handles the Service (LoadBalancer, no class).
pub fn handled(service: &Service) -> bool {
    is_load_balancer(service) && load_balancer_class(service).is_none()
}

/// The allocator's view of a Service; an error explains a request that cannot be read.
pub fn request(service: &Service) -> Result<ServiceRequest, String> {
    let mut known = known_request(service);
    if known.families.is_empty() {
        return Err("the Service has no cluster IP, so its address family is unknown".into());
    }
    known.requested_ips = requested_ips(service)?;
    Ok(known)
}

/// Everything of the request but the requested addresses (what the allocator's `hold` needs).
pub fn known_request(service: &Service) -> ServiceRequest {
    let default_spec = ServiceSpec::default();
    let spec = service.spec.as_ref().unwrap_or(&default_spec);
    let anns = service.metadata.annotations.as_ref();
    let cluster_ips: Vec<IpAddr> = match &spec.cluster_ips {
        Some(ips) => ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
        None => spec
            .cluster_ip
            .iter()
            .filter_map(|ip| ip.parse().ok())
            .collect(),
    };
    let policy = match spec.ip_family_policy.as_deref() {
        Some("PreferDualStack") => FamilyPolicy::PreferDualStack,
        Some("RequireDualStack") => FamilyPolicy::RequireDualStack,
        _ => FamilyPolicy::SingleStack,
    };
    ServiceRequest {
        key: key(service),
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        labels: service
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        families: cluster_ips.iter().map(|ip| Family::of(*ip)).collect(),
        policy,
        ports: ports(service),
        sharing_key: annotations::get(anns, annotations::ALLOW_SHARED_IP).map(str::to_string),
        backend_key: backend_key(spec),
        requested_ips: vec![],
        requested_pool: annotations::get(anns, annotations::ADDRESS_POOL).map(str::to_string),
    }
}

/// The Service's (protocol, port) pairs.
pub fn ports(service: &Service) -> Vec<Port> {
    service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| Port {
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            port: p.port,
        })
        .collect()
}

/// Empty for externalTrafficPolicy Cluster, the selector for Local (sharing Services need
/// equal backends).
fn backend_key(spec: &ServiceSpec) -> String {
    if spec.external_traffic_policy.as_deref() == Some("Local") {
        spec.selector
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        String::new()
    }
}

/// The addresses a Service asks for (`loadBalancerIPs` annotation or `spec.loadBalancerIP`).
pub fn requested_ips(service: &Service) -> Result<Vec<IpAddr>, String> {
    let anns = service.metadata.annotations.as_ref();
    let annotation = annotations::get(anns, annotations::LOAD_BALANCER_IPS);
    let spec = service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_ip.as_deref())
        .filter(|s| !s.is_empty());
    match (annotation, spec) {
        (Some(_), Some(_)) => Err(
            "the Service sets both the metallb.io/loadBalancerIPs annotation and spec.loadBalancerIP"
                .into(),
        ),
        (Some(list), None) => list
            .split(',')
            .map(|s| {
                s.trim().parse::<IpAddr>().map_err(|_| {
                    format!("metallb.io/loadBalancerIPs: {:?} is not an IP address", s.trim())
                })
            })
            .collect(),
        (None, Some(ip)) => Ok(vec![ip.trim().parse().map_err(|_| {
            format!("spec.loadBalancerIP {ip:?} is not an IP address")
        })?]),
        (None, None) => Ok(vec![]),
    }
}

/// A Node as the election sees it. Fields the explanation does not know stay at their defaults
/// (the struct grows as the election learns about links).
#[allow(clippy::needless_update)]
pub fn node_view(node: &Node) -> NodeView {
    let condition = |kind: &str| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == kind && c.status == "True")
    };
    NodeView {
        name: name_of(&node.metadata),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        network_unavailable: condition("NetworkUnavailable"),
        not_ready: !condition("Ready"),
        ..Default::default()
    }
}

/// An L2Advertisement as the election sees it; `None` when a selector cannot be understood.
pub fn advertisement(object: &L2Advertisement) -> Option<Advertisement> {
    let convert = |list: &[LabelSelector]| list.iter().map(selector).collect::<Option<Vec<_>>>();
    let preferred = object
        .spec
        .preferred_node_selectors
        .iter()
        .map(|p| Some((p.weight, selector(&p.preference)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Advertisement {
        name: name_of(&object.metadata),
        node_selectors: convert(&object.spec.node_selectors)?,
        service_selectors: convert(&object.spec.service_selectors)?,
        interfaces: object.spec.interfaces.clone(),
        preferred,
    })
}

/// Whether an advertisement naming `names` / `selectors` selects `pool` (every pool when it
/// names none); the second value says how, for the explanation.
pub fn selects_pool(
    names: &[String],
    selectors: &[LabelSelector],
    pool: &IPAddressPool,
) -> (bool, String) {
    let name = name_of(&pool.metadata);
    if names.is_empty() && selectors.is_empty() {
        return (true, "names no pool, so applies to every pool".into());
    }
    if names.contains(&name) {
        return (true, format!("names pool {name}"));
    }
    let labels = pool.metadata.labels.clone().unwrap_or_default();
    if !selectors.is_empty()
        && selectors
            .iter()
            .filter_map(selector)
            .any(|s| s.matches(&labels))
    {
        return (
            true,
            format!("its ipAddressPoolSelectors match pool {name}"),
        );
    }
    let mut named = Vec::new();
    if !names.is_empty() {
        named.push(format!("names pools {}", names.join(", ")));
    }
    if !selectors.is_empty() {
        named.push(format!(
            "its ipAddressPoolSelectors do not match pool {name}"
        ));
    }
    (false, named.join("; "))
}

/// The nodes running a Ready speaker pod (the charm's speaker DaemonSet labels), sorted.
pub fn speaker_nodes(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            SPEAKER_SELECTOR
                .iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect()
}

/// Endpoints of the Service: (some endpoint can serve, nodes hosting a serving endpoint).
pub fn serving(service: &Service, slices: &[EndpointSlice]) -> (bool, BTreeSet<String>) {
    let mut any = false;
    let mut nodes = BTreeSet::new();
    for slice in slices.iter().filter(|s| {
        s.metadata.namespace == service.metadata.namespace
            && s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                == service.metadata.name.as_ref()
    }) {
        for endpoint in slice.endpoints.iter().flatten() {
            let conditions = endpoint.conditions.as_ref();
            // `serving` when reported, else `ready`; both default to true when absent.
            if conditions
                .and_then(|c| c.serving.or(c.ready))
                .unwrap_or(true)
            {
                any = true;
                nodes.extend(endpoint.node_name.clone());
            }
        }
    }
    (any, nodes)
}
