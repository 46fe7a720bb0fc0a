use super::*;

use metallb_core::bgp::AggregationLengths;
use metallb_core::bgp::fsm::PeerAs;
use metallb_core::iprange::IpRange;
use serde_json::json;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::sync::Arc;

use crate::bgp_config::Advertisement;
use crate::plan::Snapshot;

/// The plan of node-a for `services` and `slices`.
fn plan_of(
    services: Vec<Arc<Service>>,
    slices: Vec<Arc<EndpointSlice>>,
    accepted: &Accepted,
) -> Plan {
    let snapshot = Snapshot {
        services,
        slices,
        ..Snapshot::default()
    };
    plan("node-a", &snapshot.handled_services(None), accepted)
}

fn service(name: &str, ip: &str, labels: serde_json::Value) -> Arc<Service> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
        }))
        .unwrap(),
    )
}

fn slice(service: &str) -> Arc<EndpointSlice> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-1"), "namespace": "default",
                "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["198.18.0.11"], "nodeName": "node-a"}],
        }))
        .unwrap(),
    )
}

fn peer(name: &str) -> Peer {
    Peer {
        name: name.into(),
        address: "198.18.0.3".parse().unwrap(),
        port: 179,
        local_as: 64512,
        peer_as: PeerAs::Exact(64513),
        hold_time: 90,
        keepalive_time: None,
        connect_time: None,
        router_id: Ipv4Addr::new(198, 18, 0, 11),
        password: None,
        source_address: None,
        ebgp_multi_hop: false,
        graceful_restart: false,
        bfd: None,
        dual_stack: false,
    }
}

fn ad(name: &str, ranges: &[&str], v4: u8) -> Advertisement {
    Advertisement {
        name: name.into(),
        ranges: ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
        lengths: AggregationLengths { v4, v6: 128 },
        local_pref: None,
        communities: vec![],
        large_communities: vec![],
        service_selectors: vec![],
        peers: vec![],
    }
}

fn prefixes(plan: &Plan, peer: &str) -> Vec<String> {
    plan.routes
        .get(peer)
        .into_iter()
        .flatten()
        .map(|r| format!("{}/{}", r.prefix.addr, r.prefix.len))
        .collect()
}

#[test]
fn addresses_are_aggregated_to_the_advertisement_length() {
    let services = vec![service("web", "198.18.100.10", json!({}))];
    let slices = vec![slice("web")];
    let accepted = Accepted {
        peers: vec![peer("router")],
        advertisements: vec![
            ad("agg", &["198.18.100.0/24"], 24),
            ad("host", &["198.18.100.0/24"], 32),
        ],
        problems: vec![],
    };
    let plan = plan_of(services, slices, &accepted);
    assert_eq!(
        prefixes(&plan, "router"),
        ["198.18.100.0/24", "198.18.100.10/32"]
    );
    let advertised = &plan.services[&("default".to_string(), "web".to_string())];
    assert_eq!(advertised.peers, BTreeSet::from(["router".to_string()]));
}

#[test]
fn advertisements_reach_only_their_peers_and_selected_services() {
    let services = vec![
        service("web", "198.18.100.10", json!({"tier": "web"})),
        service("db", "198.18.100.11", json!({"tier": "db"})),
        service("outside", "198.18.101.1", json!({"tier": "web"})),
    ];
    let slices = vec![slice("web"), slice("db"), slice("outside")];
    let mut only_web = ad("web", &["198.18.100.0/24"], 32);
    only_web.peers = vec!["a".into()];
    only_web.service_selectors =
        vec![serde_json::from_value(json!({"matchLabels": {"tier": "web"}})).unwrap()];
    let accepted = Accepted {
        peers: vec![peer("a"), peer("b")],
        advertisements: vec![only_web],
        problems: vec![],
    };
    let plan = plan_of(services, slices, &accepted);
    assert_eq!(prefixes(&plan, "a"), ["198.18.100.10/32"]);
    assert!(prefixes(&plan, "b").is_empty());
}
