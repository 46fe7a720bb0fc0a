//! Which ranges of a pool no node can announce in Layer 2. With interfaces chosen automatically
//! (no advertisement names any), an address is answered for only on an interface whose network
//! holds it; a pool range outside the networks of every eligible node's links is then never
//! announced, and each of its Services would only show `announceFailed`. Reported before any
//! Service needs it.

use std::collections::BTreeSet;

use crate::iprange::IpRange;
use crate::l2::election::{Advertisement, ClusterView, LinkView};

/// The ranges of a pool that no eligible node can announce: for the L2Advertisements `ads` that
/// select the pool, the nodes they allow that may announce (see [`ClusterView::may_announce`])
/// and have published their links. Empty when no advertisement selects the pool, when no node
/// is eligible (the election reports that per Service), or when an eligible node has not
/// published its links (it is assumed to reach everything, as in the election).
pub fn unreachable_ranges(
    ranges: &[IpRange],
    ads: &[Advertisement],
    cluster: ClusterView<'_>,
) -> Vec<IpRange> {
    let mut eligible = cluster
        .nodes
        .iter()
        .filter(|n| cluster.may_announce(n))
        .filter(|n| ads.iter().any(|a| a.allows_node(n)))
        .peekable();
    if eligible.peek().is_none() {
        return Vec::new();
    }
    let mut reached = vec![false; ranges.len()];
    for node in eligible {
        let Some(links) = cluster.links.and_then(|l| l.get(&node.name)) else {
            return Vec::new();
        };
        let allowing: Vec<&Advertisement> = ads.iter().filter(|a| a.allows_node(node)).collect();
        let named: Option<BTreeSet<&str>> = if allowing.iter().any(|a| a.interfaces.is_empty()) {
            None
        } else {
            Some(
                allowing
                    .iter()
                    .flat_map(|a| a.interfaces.iter().map(String::as_str))
                    .collect(),
            )
        };
        for (range, reached) in ranges.iter().zip(reached.iter_mut()) {
            *reached |= links
                .iter()
                .any(|link| reaches(link, named.as_ref(), range));
        }
    }
    ranges
        .iter()
        .zip(reached)
        .filter(|(_, reached)| !reached)
        .map(|(range, _)| *range)
        .collect()
}

/// Whether `link` can announce some address of `range`: it is one of the interfaces named, or,
/// when none are, one of its networks overlaps the range.
fn reaches(link: &LinkView, named: Option<&BTreeSet<&str>>, range: &IpRange) -> bool {
    match named {
        Some(names) => names.contains(link.name.as_str()),
        None => link
            .networks
            .iter()
            .any(|network| IpRange::from_cidr(*network).overlaps(range)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::iprange::Cidr;
    use crate::l2::election::NodeView;
    use crate::selector::Selector;

    fn node(name: &str) -> NodeView {
        NodeView {
            name: name.into(),
            labels: BTreeMap::from([("kubernetes.io/hostname".into(), name.into())]),
            ..NodeView::default()
        }
    }

    fn link(name: &str, network: &str) -> LinkView {
        let (ip, len) = network.split_once('/').unwrap();
        LinkView {
            name: name.into(),
            networks: vec![Cidr::new(ip.parse().unwrap(), len.parse().unwrap()).unwrap()],
        }
    }

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| IpRange::parse(r).unwrap()).collect()
    }

    fn links(entries: &[(&str, Vec<LinkView>)]) -> BTreeMap<String, Vec<LinkView>> {
        entries
            .iter()
            .map(|(n, l)| (n.to_string(), l.clone()))
            .collect()
    }

    fn view<'a>(
        nodes: &'a [NodeView],
        links: &'a BTreeMap<String, Vec<LinkView>>,
    ) -> ClusterView<'a> {
        ClusterView {
            nodes,
            links: Some(links),
            ..ClusterView::default()
        }
    }

    #[test]
    fn a_range_outside_every_nodes_networks_is_unreachable() {
        let nodes = [node("a"), node("b")];
        let published = links(&[
            ("a", vec![link("eth0", "198.18.0.11/16")]),
            ("b", vec![link("eth0", "198.18.0.12/16")]),
        ]);
        let pool = ranges(&["198.18.100.240-198.18.100.247", "198.19.250.0/28"]);
        let ads = [Advertisement::default()];
        assert_eq!(
            unreachable_ranges(&pool, &ads, view(&nodes, &published)),
            ranges(&["198.19.250.0/28"])
        );
    }

    #[test]
    fn one_node_on_the_network_is_enough() {
        let nodes = [node("a"), node("b")];
        let published = links(&[
            ("a", vec![link("eth0", "198.18.0.11/16")]),
            (
                "b",
                vec![
                    link("eth0", "198.18.0.12/16"),
                    link("eth1", "198.19.250.1/24"),
                ],
            ),
        ]);
        let pool = ranges(&["198.19.250.0/28"]);
        let ads = [Advertisement::default()];
        assert!(unreachable_ranges(&pool, &ads, view(&nodes, &published)).is_empty());
        // ... unless the advertisement does not allow that node.
        let only_a = [Advertisement {
            node_selectors: vec![Selector {
                match_labels: BTreeMap::from([("kubernetes.io/hostname".into(), "a".into())]),
                ..Selector::default()
            }],
            ..Advertisement::default()
        }];
        assert_eq!(
            unreachable_ranges(&pool, &only_a, view(&nodes, &published)),
            pool
        );
    }

    #[test]
    fn named_interfaces_reach_any_address_when_the_node_has_them() {
        let nodes = [node("a")];
        let published = links(&[("a", vec![link("eth1", "198.18.0.11/16")])]);
        let pool = ranges(&["198.19.250.0/28"]);
        let named = |name: &str| Advertisement {
            interfaces: vec![name.into()],
            ..Advertisement::default()
        };
        assert!(unreachable_ranges(&pool, &[named("eth1")], view(&nodes, &published)).is_empty());
        assert_eq!(
            unreachable_ranges(&pool, &[named("eth9")], view(&nodes, &published)),
            pool
        );
    }

    #[test]
    fn nothing_is_concluded_without_advertisements_candidates_or_published_links() {
        let nodes = [node("a"), node("b")];
        let pool = ranges(&["198.19.250.0/28"]);
        let ads = [Advertisement::default()];
        let only_a = links(&[("a", vec![link("eth0", "198.18.0.11/16")])]);
        assert!(unreachable_ranges(&pool, &[], view(&nodes, &only_a)).is_empty());
        assert!(unreachable_ranges(&pool, &ads, view(&nodes, &only_a)).is_empty());
        let nobody = BTreeSet::new();
        let cluster = ClusterView {
            members: Some(&nobody),
            ..view(&nodes, &only_a)
        };
        assert!(unreachable_ranges(&pool, &ads, cluster).is_empty());
    }
}
