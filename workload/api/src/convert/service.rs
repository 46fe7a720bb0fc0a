//! Services as allocator requests: what they ask for, what they hold, and whose they are.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use litemap::LiteMap;
use metallb_core::allocator::{Family, FamilyPolicy, Port, ServiceRequest};

use super::name_of;
use crate::annotations;

/// Why a Service's request cannot be read. The messages are the controller's (its
/// `AllocationFailed` events, worded as upstream MetalLB's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No cluster IP, so the address family is unknown.
    #[error("the service has no cluster IP")]
    NoClusterIp,
    /// Both the `metallb.io/loadBalancerIPs` annotation and `spec.loadBalancerIP` are set.
    #[error("service can not have both the loadBalancerIPs annotation and spec.loadBalancerIP")]
    BothRequested,
    /// An entry of the `metallb.io/loadBalancerIPs` annotation (as written, untrimmed) is not
    /// an IP address.
    #[error("invalid requested IP {0:?}")]
    BadAnnotationIp(String),
    /// `spec.loadBalancerIP` is not an IP address.
    #[error("invalid spec.loadBalancerIP {0:?}")]
    BadSpecIp(String),
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

/// The Service's `spec.loadBalancerClass`, if any.
pub fn load_balancer_class(service: &Service) -> Option<String> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.clone())
}

/// Whether a MetalLB serving the loadBalancerClass `lb_class` (`None`: Services without a
/// class) handles the Service: type LoadBalancer and exactly that class.
pub fn handled(service: &Service, lb_class: Option<&str>) -> bool {
    let class = service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref());
    is_load_balancer(service) && class == lb_class
}

/// The allocator's view of a Service; an error explains a request that cannot be read.
pub fn request(service: &Service) -> Result<ServiceRequest, RequestError> {
    let mut known = known_request(service);
    if known.families.is_empty() {
        return Err(RequestError::NoClusterIp);
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
    let policy = match spec.ip_family_policy.as_deref() {
        Some("PreferDualStack") => FamilyPolicy::PreferDualStack,
        Some("RequireDualStack") => FamilyPolicy::RequireDualStack,
        _ => FamilyPolicy::SingleStack,
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
        families: cluster_ips.iter().map(|ip| Family::of(*ip)).collect(),
        policy,
        ports: ports(service),
        sharing_key: annotations::get(anns, annotations::ALLOW_SHARED_IP).map(str::to_string),
        backend_key: backend_key(spec),
        requested_ips: vec![],
        requested_pool: annotations::get(anns, annotations::ADDRESS_POOL).map(str::to_string),
    }
}

/// The Service's (protocol, port) pairs; the protocol defaults to TCP.
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

/// Empty for externalTrafficPolicy Cluster, the selector for Local (Services sharing an
/// address need equal backends).
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

/// The addresses a Service asks for (`metallb.io/loadBalancerIPs` annotation or
/// `spec.loadBalancerIP`).
pub fn requested_ips(service: &Service) -> Result<Vec<IpAddr>, RequestError> {
    let anns = service.metadata.annotations.as_ref();
    let annotation = annotations::get(anns, annotations::LOAD_BALANCER_IPS);
    let spec = service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_ip.as_deref())
        .filter(|s| !s.is_empty());
    match (annotation, spec) {
        (Some(_), Some(_)) => Err(RequestError::BothRequested),
        (Some(list), None) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| RequestError::BadAnnotationIp(s.to_string()))
            })
            .collect(),
        (None, Some(ip)) => Ok(vec![
            ip.trim()
                .parse()
                .map_err(|_| RequestError::BadSpecIp(ip.to_string()))?,
        ]),
        (None, None) => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests;
