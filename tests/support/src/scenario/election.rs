//! The Layer 2 election as upstream MetalLB runs it, for tests that predict the announcing node.

/// The node that announces `ip` when the speakers of `alive` (among `nodes`) run, every node
/// eligible: the first in the upstream election order.
pub fn expected_winner(ip: &str, nodes: &[&str], alive: &[&str]) -> String {
    ranked_nodes(ip, nodes, alive)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The election order for `ip` when the speakers of `alive` (among `nodes`) run, every node
/// eligible and able to announce.
pub fn ranked_nodes(ip: &str, nodes: &[&str], alive: &[&str]) -> Vec<String> {
    use metallb_core::l2::election::{
        Advertisement, ClusterView, NodeView, ServiceView, ranked_candidates,
    };
    let views: Vec<NodeView> = nodes
        .iter()
        .map(|n| NodeView {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    let members: std::collections::BTreeSet<String> = alive.iter().map(|s| s.to_string()).collect();
    let service = ServiceView {
        first_ip: ip.parse().ok(),
        has_serving_endpoint: true,
        ..Default::default()
    };
    let cluster = ClusterView {
        nodes: &views,
        members: Some(&members),
        ..Default::default()
    };
    ranked_candidates(&service, &[Advertisement::default()], cluster)
}
