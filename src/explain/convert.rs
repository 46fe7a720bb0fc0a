//! The reading of Kubernetes objects explain needs beyond [`metallb_api::convert`] (shared
//! with the controller and speaker, re-exported here): the speaker pods' nodes, how an
//! advertisement selects a pool, and why a request cannot be read, in the explanation's words.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use metallb_api::{IPAddressPool, LabelSelector, deploy};

pub use metallb_api::convert::{
    RequestError, advertisement, current_ips, handled, is_load_balancer, key, known_request,
    load_balancer_class, matches_any, name_of, node_view, pool, ports, request, requested_ips,
    selects_pool, serving,
};

/// The label selector of the speaker pods, as the charm renders the DaemonSet
/// ([`metallb_api::deploy`]).
pub const SPEAKER_SELECTOR: [(&str, &str); 2] = [
    (deploy::LABEL_APP, deploy::APP),
    (deploy::LABEL_COMPONENT, deploy::SPEAKER),
];

/// Whether an advertisement naming `names` / `selectors` selects `pool` ([`selects_pool`]),
/// and how, for the explanation.
pub fn pool_selection(
    names: &[String],
    selectors: &[LabelSelector],
    pool: &IPAddressPool,
) -> (bool, String) {
    let name = name_of(&pool.metadata);
    let selected = selects_pool(names, selectors, pool);
    if names.is_empty() && selectors.is_empty() {
        return (selected, "names no pool, so applies to every pool".into());
    }
    if names.contains(&name) {
        return (selected, format!("names pool {name}"));
    }
    if selected {
        return (
            selected,
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
    (selected, named.join("; "))
}

/// Why the Service's request cannot be read, naming what the user wrote (the controller's
/// events word it as upstream MetalLB does, [`RequestError`]'s `Display`).
pub fn request_problem(error: &RequestError) -> String {
    match error {
        RequestError::NoClusterIp => {
            "the Service has no cluster IP, so its address family is unknown".into()
        }
        RequestError::BothRequested => {
            "the Service sets both the metallb.io/loadBalancerIPs annotation and spec.loadBalancerIP"
                .into()
        }
        RequestError::BadAnnotationIp(entry) => format!(
            "metallb.io/loadBalancerIPs: {:?} is not an IP address",
            entry.trim()
        ),
        RequestError::BadSpecIp(ip) => format!("spec.loadBalancerIP {ip:?} is not an IP address"),
    }
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
