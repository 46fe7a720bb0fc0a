//! Nodes, L2Advertisements and EndpointSlices as the Layer 2 election sees them.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use metallb_core::l2::election::{Advertisement, NodeView};

use super::{name_of, selector};
use crate::L2Advertisement;

/// The label EndpointSlices carry with their Service's name.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A Node as the election sees it: its conditions, and draining when cordoned
/// (`spec.unschedulable`) or tainted `NoExecute`.
pub fn node_view(node: &Node) -> NodeView {
    let condition = |kind: &str| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == kind && c.status == "True")
    };
    let spec = node.spec.as_ref();
    let cordoned = spec.and_then(|s| s.unschedulable) == Some(true);
    let no_execute = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .any(|t| t.effect == "NoExecute");
    NodeView {
        name: name_of(&node.metadata),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        network_unavailable: condition("NetworkUnavailable"),
        not_ready: !condition("Ready"),
        draining: cordoned || no_execute,
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

/// Endpoints of a Service: (some endpoint can serve, nodes hosting a serving endpoint). An
/// endpoint serves when its `serving` condition says so, else its `ready` one; both default to
/// true when absent.
pub fn serving<S: Borrow<EndpointSlice>>(
    service: &Service,
    slices: &[S],
) -> (bool, BTreeSet<String>) {
    let mut any = false;
    let mut nodes = BTreeSet::new();
    let namespace = service.metadata.namespace.as_deref();
    let name = service.metadata.name.as_deref();
    for slice in slices.iter().map(Borrow::borrow) {
        let labels = slice.metadata.labels.as_ref();
        if slice.metadata.namespace.as_deref() != namespace
            || labels
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str)
                != name
        {
            continue;
        }
        for endpoint in slice.endpoints.iter().flatten() {
            let conditions = endpoint.conditions.as_ref();
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

#[cfg(test)]
mod tests;
