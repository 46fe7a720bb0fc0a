use super::*;

fn node(name: &str, labels: &[(&str, &str)]) -> NodeView {
    NodeView {
        name: name.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn selector(key: &str, value: &str) -> Selector {
    Selector {
        match_labels: [(key.to_string(), value.to_string())].into(),
        match_expressions: Vec::new(),
    }
}

fn service() -> ServiceView {
    ServiceView {
        first_ip: Some("198.18.100.10".parse().unwrap()),
        has_serving_endpoint: true,
        ..Default::default()
    }
}

fn all_nodes() -> Vec<NodeView> {
    vec![
        node("node-a", &[]),
        node("node-b", &[]),
        node("node-c", &[]),
    ]
}

fn view(nodes: &[NodeView]) -> ClusterView<'_> {
    ClusterView {
        nodes,
        ..Default::default()
    }
}

fn every_node() -> Vec<Advertisement> {
    vec![Advertisement {
        name: "all".into(),
        ..Default::default()
    }]
}

#[test]
fn hash_is_sha256_of_node_hash_sign_ip() {
    // Vectors computed with `echo -n 'node-c#198.18.100.10' | sha256sum`.
    let ip = "198.18.100.10".parse().unwrap();
    assert_eq!(
        node_hash("node-c", ip)[..8],
        [0x14, 0x09, 0x37, 0xa3, 0x6d, 0xf7, 0x5d, 0x5c]
    );
    assert_eq!(node_hash("node-a", ip)[..4], [0x69, 0x52, 0x9d, 0x83]);
}

#[test]
fn lowest_hash_wins_and_every_node_agrees() {
    let nodes = all_nodes();
    let ranked = ranked_candidates(&service(), &every_node(), view(&nodes));
    assert_eq!(ranked, ["node-c", "node-b", "node-a"]);
    assert_eq!(
        elect("node-c", &service(), &every_node(), view(&nodes)),
        Outcome::Announce { interfaces: None }
    );
    assert_eq!(
        elect("node-a", &service(), &every_node(), view(&nodes)),
        Outcome::NotOwner {
            winner: "node-c".into()
        }
    );
}

#[test]
fn dead_unavailable_and_excluded_nodes_are_not_candidates() {
    let mut nodes = all_nodes();
    let members: BTreeSet<String> = ["node-a".to_string(), "node-b".to_string()].into();
    let cluster = ClusterView {
        nodes: &nodes,
        members: Some(&members),
        ..Default::default()
    };
    assert_eq!(
        ranked_candidates(&service(), &every_node(), cluster),
        ["node-b", "node-a"]
    );

    nodes[1].network_unavailable = true;
    nodes[2].labels.insert(EXCLUDE_LABEL.into(), String::new());
    assert_eq!(
        ranked_candidates(&service(), &every_node(), view(&nodes)),
        ["node-a"]
    );
    let ignoring = ClusterView {
        ignore_exclude_label: true,
        ..view(&nodes)
    };
    assert_eq!(
        ranked_candidates(&service(), &every_node(), ignoring),
        ["node-c", "node-a"]
    );
}

#[test]
fn removing_a_loser_never_moves_the_address() {
    let nodes = all_nodes();
    for gone in ["node-a", "node-b"] {
        let members: BTreeSet<String> = nodes
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| n != gone)
            .collect();
        let cluster = ClusterView {
            members: Some(&members),
            ..view(&nodes)
        };
        assert_eq!(
            ranked_candidates(&service(), &every_node(), cluster)[0],
            "node-c"
        );
    }
}

#[test]
fn local_traffic_policy_keeps_only_nodes_with_endpoints() {
    let nodes = all_nodes();
    let svc = ServiceView {
        local_traffic: true,
        serving_nodes: ["node-a".to_string()].into(),
        ..service()
    };
    assert_eq!(
        ranked_candidates(&svc, &every_node(), view(&nodes)),
        ["node-a"]
    );
    let none = ServiceView {
        serving_nodes: BTreeSet::new(),
        ..svc
    };
    assert_eq!(
        elect("node-a", &none, &every_node(), view(&nodes)),
        Outcome::Nobody(NobodyReason::NoCandidates)
    );
}

#[test]
fn no_address_no_endpoints_no_advertisement() {
    let nodes = all_nodes();
    let no_ip = ServiceView {
        first_ip: None,
        ..service()
    };
    assert_eq!(
        elect("node-c", &no_ip, &every_node(), view(&nodes)),
        Outcome::Nobody(NobodyReason::NoAddress)
    );
    let no_ep = ServiceView {
        has_serving_endpoint: false,
        ..service()
    };
    assert_eq!(
        elect("node-c", &no_ep, &every_node(), view(&nodes)),
        Outcome::Nobody(NobodyReason::NoEndpoints)
    );
    assert_eq!(
        elect("node-c", &service(), &[], view(&nodes)),
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
}

#[test]
fn node_selectors_limit_candidates_and_local_eligibility() {
    let nodes = vec![
        node("node-a", &[("zone", "x")]),
        node("node-b", &[]),
        node("node-c", &[]),
    ];
    let ads = vec![Advertisement {
        node_selectors: vec![selector("zone", "x")],
        ..Default::default()
    }];
    assert_eq!(
        ranked_candidates(&service(), &ads, view(&nodes)),
        ["node-a"]
    );
    assert_eq!(
        elect("node-c", &service(), &ads, view(&nodes)),
        Outcome::Nobody(NobodyReason::NoMatchingAdvertisement)
    );
    assert_eq!(
        elect("node-a", &service(), &ads, view(&nodes)),
        Outcome::Announce { interfaces: None }
    );
}

#[test]
fn preferences_outrank_the_hash() {
    let nodes = vec![
        node("node-a", &[("fast", "yes")]),
        node("node-b", &[]),
        node("node-c", &[]),
    ];
    let ads = vec![Advertisement {
        preferred: vec![(50, selector("fast", "yes"))],
        ..Default::default()
    }];
    assert_eq!(
        ranked_candidates(&service(), &ads, view(&nodes))[0],
        "node-a"
    );
}

#[test]
fn interfaces_are_the_union_of_local_advertisements() {
    let nodes = all_nodes();
    let ads = vec![
        Advertisement {
            interfaces: vec!["eth1".into()],
            ..Default::default()
        },
        Advertisement {
            interfaces: vec!["eth2".into()],
            ..Default::default()
        },
    ];
    assert_eq!(
        elect("node-c", &service(), &ads, view(&nodes)),
        Outcome::Announce {
            interfaces: Some(["eth1".to_string(), "eth2".to_string()].into())
        }
    );
    let mut with_all = ads.clone();
    with_all.push(Advertisement::default());
    assert_eq!(
        elect("node-c", &service(), &with_all, view(&nodes)),
        Outcome::Announce { interfaces: None }
    );
}

#[test]
fn service_selectors_and_shared_addresses() {
    let nodes = all_nodes();
    let ads = vec![Advertisement {
        service_selectors: vec![selector("app", "web")],
        ..Default::default()
    }];
    assert_eq!(
        elect("node-c", &service(), &ads, view(&nodes)),
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
    let web = ServiceView {
        labels: [("app".to_string(), "web".to_string())].into(),
        ..service()
    };
    assert_eq!(
        elect("node-c", &web, &ads, view(&nodes)),
        Outcome::Announce { interfaces: None }
    );
    let shared = ServiceView {
        shares_ip: true,
        ..web
    };
    assert_eq!(
        elect("node-c", &shared, &ads, view(&nodes)),
        Outcome::Nobody(NobodyReason::SharedIpWithServiceSelectors)
    );
}

#[test]
fn without_membership_only_ready_nodes_are_candidates() {
    let mut nodes = all_nodes();
    nodes[2].not_ready = true;
    assert_eq!(
        ranked_candidates(&service(), &every_node(), view(&nodes)),
        ["node-b", "node-a"]
    );
    // With membership, readiness is not consulted: the membership is the liveness signal.
    let members: BTreeSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let cluster = ClusterView {
        members: Some(&members),
        ..view(&nodes)
    };
    assert_eq!(
        ranked_candidates(&service(), &every_node(), cluster)[0],
        "node-c"
    );
}

fn cidr(text: &str) -> Cidr {
    let (ip, len) = text.split_once('/').unwrap();
    Cidr::new(ip.parse().unwrap(), len.parse().unwrap()).unwrap()
}

fn link(name: &str, network: &str) -> LinkView {
    LinkView {
        name: name.into(),
        networks: vec![cidr(network)],
    }
}

#[test]
fn draining_nodes_rank_last_but_remain_candidates() {
    let mut nodes = all_nodes();
    let first = ranked_candidates(&service(), &every_node(), view(&nodes));
    let winner = first[0].clone();
    nodes
        .iter_mut()
        .find(|n| n.name == winner)
        .unwrap()
        .draining = true;
    let ranked = ranked_candidates(&service(), &every_node(), view(&nodes));
    assert_eq!(ranked.last(), Some(&winner), "{ranked:?}");
    assert_eq!(ranked.len(), 3);
    assert_eq!(
        elect(&winner, &service(), &every_node(), view(&nodes)),
        Outcome::NotOwner {
            winner: ranked[0].clone()
        }
    );
    // Every node draining: the order is the usual one again, and somebody still announces.
    for n in &mut nodes {
        n.draining = true;
    }
    assert_eq!(
        ranked_candidates(&service(), &every_node(), view(&nodes)),
        first
    );
}

#[test]
fn a_node_without_a_link_for_the_address_ranks_last() {
    let nodes = all_nodes();
    let first = ranked_candidates(&service(), &every_node(), view(&nodes));
    let winner = first[0].clone();
    // The winner's only link is on another network: it cannot answer, the next one wins.
    let mut links = BTreeMap::new();
    links.insert(winner.clone(), vec![link("eth0", "198.18.200.0/24")]);
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    let ranked = ranked_candidates(&service(), &every_node(), cluster);
    assert_eq!(ranked[..2], first[1..], "{ranked:?}");
    assert_eq!(ranked.last(), Some(&winner));
    // A link on the address's network makes it a candidate again.
    links.insert(
        winner.clone(),
        vec![
            link("eth0", "198.18.200.0/24"),
            link("eth1", "198.18.100.0/24"),
        ],
    );
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    assert_eq!(ranked_candidates(&service(), &every_node(), cluster), first);
    // An advertisement naming an interface asks for that interface, whatever its network.
    let named = vec![Advertisement {
        name: "eth2-only".into(),
        interfaces: vec!["eth2".into()],
        ..Default::default()
    }];
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    let ranked = ranked_candidates(&service(), &named, cluster);
    assert_eq!(ranked.last(), Some(&winner), "{ranked:?}");
    links.insert(winner.clone(), vec![link("eth2", "10.0.0.0/8")]);
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    assert_eq!(ranked_candidates(&service(), &named, cluster), first);
    // No node can announce (every link lost carrier): the usual order, so the usual winner
    // reports why.
    for n in &nodes {
        links.insert(n.name.clone(), Vec::new());
    }
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    assert_eq!(ranked_candidates(&service(), &every_node(), cluster), first);
    // A link beats draining: a draining node that can announce wins over one that cannot.
    let mut nodes = nodes;
    links.insert(first[1].clone(), vec![link("eth0", "198.18.100.0/24")]);
    nodes
        .iter_mut()
        .find(|n| n.name == first[1])
        .unwrap()
        .draining = true;
    let cluster = ClusterView {
        links: Some(&links),
        ..view(&nodes)
    };
    assert_eq!(
        ranked_candidates(&service(), &every_node(), cluster)[0],
        first[1]
    );
}
