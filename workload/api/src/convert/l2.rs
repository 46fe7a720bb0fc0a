//! Nodes and L2Advertisements as the Layer 2 election sees them.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use metallb_core::l2::election::{Advertisement, NodeView};

use super::{name_of, selector};
use crate::L2Advertisement;

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

#[cfg(test)]
mod tests;
