//! Kubernetes objects into allocator inputs.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use litemap::LiteMap;
use metallb_api::IPAddressPool;
use metallb_api::annotations;
use metallb_core::allocator::{
    Family, FamilyPolicy, Pool, PoolAllocation, PoolsError, Port, ServiceRequest,
};
use metallb_core::iprange::IpRange;
use metallb_core::selector::{Operator, Requirement, Selector};

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

/// An IPAddressPool as an allocator pool; namespace selectors are resolved against `namespaces`.
pub fn pool(object: &IPAddressPool, namespaces: &[Namespace]) -> Result<Pool, String> {
    let name = object.metadata.name.clone().unwrap_or_default();
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

/// Why a configuration cannot be used, naming the object at fault (its events say so too).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The kind of the object at fault (`IPAddressPool`, `L2Advertisement`).
    pub kind: &'static str,
    /// Its name (in the MetalLB namespace).
    pub name: String,
    /// What is wrong, naming the object.
    pub message: String,
}

impl ConfigError {
    /// An error about the IPAddressPool `name`.
    pub fn pool(name: &str, message: String) -> Self {
        Self {
            kind: "IPAddressPool",
            name: name.to_string(),
            message,
        }
    }

    /// A pool set the allocator refused.
    pub fn from_pools(err: &PoolsError) -> Self {
        let name = match err {
            PoolsError::EmptyName => "",
            PoolsError::DuplicateName(name) | PoolsError::NoAddresses(name) => name,
            PoolsError::Overlap { pool, .. } => pool,
        };
        Self::pool(name, err.to_string())
    }
}

/// Every pool, checked against each other: overlapping ranges make the whole set invalid.
pub fn pools(
    objects: &[IPAddressPool],
    namespaces: &[Namespace],
) -> Result<Vec<Pool>, ConfigError> {
    let mut sorted: Vec<&IPAddressPool> = objects.iter().collect();
    sorted.sort_by_key(|p| p.metadata.name.clone());
    let pools = sorted
        .iter()
        .map(|p| {
            pool(p, namespaces).map_err(|message| {
                ConfigError::pool(p.metadata.name.as_deref().unwrap_or_default(), message)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<(&str, &IpRange)> = pools
        .iter()
        .flat_map(|p| p.ranges.iter().map(move |r| (p.name.as_str(), r)))
        .collect();
    for (i, (pa, a)) in all.iter().enumerate() {
        for (pb, b) in &all[i + 1..] {
            if a.overlaps(b) {
                return Err(ConfigError::pool(
                    pb,
                    format!("CIDR {b} of pool {pb} overlaps with {a} of pool {pa}"),
                ));
            }
        }
    }
    Ok(pools)
}

/// Advertisements may only name pools that exist.
pub fn check_advertisements(
    advertisements: &[metallb_api::L2Advertisement],
    pools: &[IPAddressPool],
) -> Result<(), ConfigError> {
    for ad in advertisements {
        for name in &ad.spec.ip_address_pools {
            if !pools
                .iter()
                .any(|p| p.metadata.name.as_deref() == Some(name))
            {
                let ad_name = ad.metadata.name.clone().unwrap_or_default();
                return Err(ConfigError {
                    kind: "L2Advertisement",
                    message: format!(
                        "L2Advertisement {ad_name} references unknown IPAddressPool {name}"
                    ),
                    name: ad_name,
                });
            }
        }
    }
    Ok(())
}

/// The pools of a configuration, checked as a whole: pools (ranges, selectors, overlaps) and
/// the advertisements' references to them.
pub fn configuration(
    pool_objects: &[IPAddressPool],
    namespaces: &[Namespace],
    advertisements: &[metallb_api::L2Advertisement],
) -> Result<Vec<Pool>, ConfigError> {
    let valid = pools(pool_objects, namespaces)?;
    check_advertisements(advertisements, pool_objects)?;
    Ok(valid)
}

/// `namespace/name`.
pub fn key(service: &Service) -> String {
    format!(
        "{}/{}",
        service.metadata.namespace.clone().unwrap_or_default(),
        service.metadata.name.clone().unwrap_or_default()
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

/// Whether this controller handles the Service (type LoadBalancer and the class filter).
pub fn handled(service: &Service, lb_class: Option<&str>) -> bool {
    let spec = service.spec.as_ref();
    let class = spec.and_then(|s| s.load_balancer_class.as_deref());
    spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer") && class == lb_class
}

/// The allocator's view of a Service; an error explains a request that cannot be parsed.
pub fn request(service: &Service) -> Result<ServiceRequest, String> {
    let mut known = known_request(service);
    if known.families.is_empty() {
        return Err("the service has no cluster IP".into());
    }
    known.requested_ips = requested_ips(service)?;
    Ok(known)
}

/// What can be read of a Service's request whatever its requested addresses say: everything
/// but them (families empty without cluster IPs). For a Service whose [`request`] fails, this
/// is what [`metallb_core::allocator::Allocator::hold`] needs to keep its addresses.
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
    let families: Vec<Family> = cluster_ips.iter().map(|ip| Family::of(*ip)).collect();
    let policy = match spec.ip_family_policy.as_deref() {
        Some("PreferDualStack") => FamilyPolicy::PreferDualStack,
        Some("RequireDualStack") => FamilyPolicy::RequireDualStack,
        _ => FamilyPolicy::SingleStack,
    };
    let backend_key = if spec.external_traffic_policy.as_deref() == Some("Local") {
        spec.selector
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        String::new()
    };
    ServiceRequest {
        key: key(service),
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        // Already sorted and unique (a BTreeMap's order): stored as an exactly sized vector.
        labels: LiteMap::from_sorted_store_unchecked(
            service
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        families,
        policy,
        ports: spec
            .ports
            .iter()
            .flatten()
            .map(|p| Port {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: p.port,
            })
            .collect(),
        sharing_key: annotations::get(anns, annotations::ALLOW_SHARED_IP).map(str::to_string),
        backend_key,
        requested_ips: vec![],
        requested_pool: annotations::get(anns, annotations::ADDRESS_POOL).map(str::to_string),
    }
}

/// The addresses a Service asks for (`loadBalancerIPs` annotation or `spec.loadBalancerIP`).
fn requested_ips(service: &Service) -> Result<Vec<IpAddr>, String> {
    let anns = service.metadata.annotations.as_ref();
    let requested_annotation = annotations::get(anns, annotations::LOAD_BALANCER_IPS);
    let requested_spec = service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_ip.as_deref())
        .filter(|s| !s.is_empty());
    match (requested_annotation, requested_spec) {
        (Some(_), Some(_)) => Err(
            "service can not have both the loadBalancerIPs annotation and spec.loadBalancerIP"
                .into(),
        ),
        (Some(list), None) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| format!("invalid requested IP {s:?}"))
            })
            .collect(),
        (None, Some(ip)) => {
            Ok(vec![ip.trim().parse().map_err(|_| {
                format!("invalid spec.loadBalancerIP {ip:?}")
            })?])
        }
        (None, None) => Ok(vec![]),
    }
}
