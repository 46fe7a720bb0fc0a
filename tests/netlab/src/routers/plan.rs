//! The BGP plan of a test network: one router at the client's addresses, in its own AS,
//! peering with every node over IPv4 and IPv6.

use std::net::IpAddr;

use crate::network::Host;

/// The router's AS.
pub const ROUTER_AS: u32 = 64513;
/// The nodes' AS (the speakers' `myASN`).
pub const NODES_AS: u32 = 64512;

/// The router's neighbours: every node's IPv4 and IPv6 address, in node order, IPv4 first.
pub fn neighbors(nodes: &[Host]) -> Vec<IpAddr> {
    nodes
        .iter()
        .flat_map(|n| [IpAddr::V4(n.ipv4), IpAddr::V6(n.ipv6)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_a_neighbour_on_both_families() {
        let nodes = [Host::planned("t", "a", 11), Host::planned("t", "b", 12)];
        let text: Vec<String> = neighbors(&nodes).iter().map(IpAddr::to_string).collect();
        assert_eq!(
            text,
            ["198.18.0.11", "2001:db8::b", "198.18.0.12", "2001:db8::c"]
        );
    }
}
