//! Where Prometheus finds the workloads' metrics: the controller pod's address and the address
//! of every node the speakers are meant to run on (they listen on the node's address).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use metallb_api::deploy::{APP, CONTROLLER, LABEL_APP, LABEL_COMPONENT, METRICS_PORT};

use super::{Cluster, K8sError, classify};
use crate::cos::scrape::Targets;

impl Cluster {
    /// The scrape targets: the running controller pod in `namespace`, and every node matching
    /// `node_selector` (whether or not a speaker runs there yet: a silent target is what tells
    /// Prometheus a speaker is missing). Two lists, one per kind.
    pub fn scrape_targets(
        &self,
        namespace: &str,
        node_selector: &BTreeMap<String, String>,
    ) -> Result<Targets, K8sError> {
        self.block_on(async {
            let selector: Vec<String> = node_selector
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            let nodes: Api<Node> = Api::all(self.client.clone());
            let nodes = nodes
                .list(&ListParams::default().labels(&selector.join(",")))
                .await
                .map_err(|e| classify("listing the speakers' nodes", e))?;
            let speakers = nodes
                .items
                .iter()
                .filter_map(|node| {
                    let name = node.metadata.name.clone()?;
                    let address = node_address(node)?;
                    Some((name, target(address)))
                })
                .collect();
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            let controller = pods
                .list(
                    &ListParams::default()
                        .labels(&format!("{LABEL_APP}={APP},{LABEL_COMPONENT}={CONTROLLER}")),
                )
                .await
                .map_err(|e| classify("listing the controller pods", e))?
                .items
                .iter()
                .filter(|pod| {
                    pod.metadata.deletion_timestamp.is_none()
                        && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                })
                .find_map(|pod| pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok())
                .map(target);
            Ok(Targets {
                controller,
                speakers,
            })
        })
    }
}

/// The node's first InternalIP (what `status.hostIP` of its pods is), IPv4 first.
fn node_address(node: &Node) -> Option<IpAddr> {
    let addresses: Vec<IpAddr> = node
        .status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse().ok())
        .collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(addresses.first())
        .copied()
}

/// `address:port` with IPv6 in brackets.
fn target(address: IpAddr) -> String {
    std::net::SocketAddr::new(address, METRICS_PORT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_put_ipv6_in_brackets_and_prefer_ipv4() {
        assert_eq!(target("198.18.0.11".parse().unwrap()), "198.18.0.11:7472");
        assert_eq!(target("2001:db8::b".parse().unwrap()), "[2001:db8::b]:7472");
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "status": {"addresses": [
                {"type": "Hostname", "address": "n"},
                {"type": "InternalIP", "address": "2001:db8::b"},
                {"type": "InternalIP", "address": "198.18.0.11"},
            ]}
        }))
        .unwrap();
        assert_eq!(node_address(&node), Some("198.18.0.11".parse().unwrap()));
    }
}
