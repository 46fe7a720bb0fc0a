use super::*;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use metallb_core::l2::election::NobodyReason;
use serde_json::json;
use std::sync::Arc;

fn service(name: &str, ip: &str, extra: serde_json::Value) -> Arc<Service> {
    let mut value = json!({
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    });
    if let serde_json::Value::Object(fields) = extra {
        for (k, v) in fields {
            value["spec"][k] = v;
        }
    }
    Arc::new(serde_json::from_value(value).unwrap())
}

fn node(name: &str, conditions: serde_json::Value) -> Arc<Node> {
    Arc::new(
        serde_json::from_value(
            json!({"metadata": {"name": name}, "status": {"conditions": conditions}}),
        )
        .unwrap(),
    )
}

fn ready(name: &str) -> Arc<Node> {
    node(name, json!([{"type": "Ready", "status": "True"}]))
}

fn pool(name: &str, addresses: &[&str], labels: serde_json::Value) -> Arc<IPAddressPool> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"addresses": addresses},
        }))
        .unwrap(),
    )
}

fn ad(name: &str, spec: serde_json::Value) -> Arc<L2Advertisement> {
    Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap())
}

fn slice(service: &str, endpoints: serde_json::Value) -> Arc<EndpointSlice> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-x"), "namespace": "apps",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": endpoints,
        }))
        .unwrap(),
    )
}

struct World {
    services: Vec<Arc<Service>>,
    slices: Vec<Arc<EndpointSlice>>,
    nodes: Vec<Arc<Node>>,
    pools: Vec<Arc<IPAddressPool>>,
    ads: Vec<Arc<L2Advertisement>>,
}

impl World {
    fn decide(&self, local: &str) -> Vec<Decision> {
        let snapshot = Snapshot {
            services: self.services.clone(),
            slices: self.slices.clone(),
            nodes: self.nodes.clone(),
            pools: self.pools.clone(),
            l2_advertisements: self.ads.clone(),
            ..Snapshot::default()
        };
        let context = Context {
            local_node: local,
            lb_class: None,
            members: None,
            ignore_exclude_label: false,
            links: None,
            gratuitous_interval: None,
        };
        decide(&Inputs {
            context: &context,
            snapshot: &snapshot,
            services: &snapshot.handled_services(None),
        })
    }
}

fn world() -> World {
    World {
        services: vec![service("web", "198.18.100.10", json!({}))],
        slices: vec![slice(
            "web",
            json!([{"addresses": ["10.0.0.1"], "nodeName": "n1"}]),
        )],
        nodes: vec![ready("n1"), ready("n2")],
        pools: vec![pool("lab", &["198.18.100.0/24"], json!({"tier": "a"}))],
        ads: vec![ad("all", json!({}))],
    }
}

fn winner(decisions: &[Decision]) -> Option<String> {
    decisions.iter().find_map(|d| match &d.outcome {
        Outcome::NotOwner { winner } => Some(winner.clone()),
        _ => None,
    })
}

#[test]
fn exactly_one_node_announces_and_the_others_name_it() {
    let w = world();
    let (a, b) = (w.decide("n1"), w.decide("n2"));
    let announcers = [&a, &b]
        .iter()
        .filter(|d| matches!(d[0].outcome, Outcome::Announce { .. }))
        .count();
    assert_eq!(announcers, 1);
    let named = winner(&a).or(winner(&b)).unwrap();
    assert!(named == "n1" || named == "n2");
    let t = table(if winner(&a).is_none() { &a } else { &b });
    let on_link = [metallb_core::iprange::Cidr::new("198.18.0.11".parse().unwrap(), 16).unwrap()];
    assert!(t.announces("198.18.100.10".parse().unwrap(), "eth0", &on_link));
}

#[test]
fn advertisements_select_pools_by_name_and_by_label() {
    let mut w = world();
    w.ads = vec![ad("other", json!({"ipAddressPools": ["elsewhere"]}))];
    assert_eq!(
        w.decide("n1")[0].outcome,
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
    w.ads = vec![ad(
        "by-label",
        json!({"ipAddressPoolSelectors": [{"matchLabels": {"tier": "a"}}]}),
    )];
    assert_ne!(
        w.decide("n1")[0].outcome,
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
    w.ads = vec![ad(
        "by-name",
        json!({"ipAddressPools": ["lab"], "interfaces": ["eth9"]}),
    )];
    let decisions = [w.decide("n1"), w.decide("n2")].concat();
    assert!(decisions.iter().any(|d| d.outcome
        == Outcome::Announce {
            interfaces: Some(["eth9".to_string()].into())
        }));
}

#[test]
fn the_pool_annotation_wins_over_address_containment() {
    let mut w = world();
    w.pools.push(pool("named", &["198.18.200.0/24"], json!({})));
    w.ads = vec![ad("named-only", json!({"ipAddressPools": ["named"]}))];
    assert_eq!(
        w.decide("n1")[0].outcome,
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
    let mut annotated = (*w.services[0]).clone();
    annotated.metadata.annotations = Some(
        [(
            "metallb.io/ip-allocated-from-pool".to_string(),
            "named".to_string(),
        )]
        .into(),
    );
    w.services = vec![Arc::new(annotated)];
    assert_ne!(
        w.decide("n1")[0].outcome,
        Outcome::Nobody(NobodyReason::NoAdvertisement)
    );
}

#[test]
fn endpoints_that_cannot_serve_do_not_count() {
    let mut w = world();
    w.slices = vec![slice(
        "web",
        json!([{"addresses": ["10.0.0.1"], "nodeName": "n1", "conditions": {"ready": false, "serving": false}}]),
    )];
    assert_eq!(
        w.decide("n1")[0].outcome,
        Outcome::Nobody(NobodyReason::NoEndpoints)
    );
    // `serving` wins over `ready` (terminating endpoints still serve).
    w.slices = vec![slice(
        "web",
        json!([{"addresses": ["10.0.0.1"], "nodeName": "n2", "conditions": {"ready": false, "serving": true}}]),
    )];
    w.services = vec![service(
        "web",
        "198.18.100.10",
        json!({"externalTrafficPolicy": "Local"}),
    )];
    assert_eq!(
        w.decide("n2")[0].outcome,
        Outcome::Announce { interfaces: None }
    );
    assert_eq!(
        w.decide("n1")[0].outcome,
        Outcome::NotOwner {
            winner: "n2".into()
        }
    );
}

#[test]
fn other_types_classes_and_unassigned_services_are_skipped() {
    let mut w = world();
    w.services = vec![
        service("plain", "198.18.100.11", json!({"type": "ClusterIP"})),
        service(
            "classy",
            "198.18.100.12",
            json!({"loadBalancerClass": "other"}),
        ),
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "pending", "namespace": "apps"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
            }))
            .unwrap(),
        ),
    ];
    assert!(w.decide("n1").is_empty());
}

fn interface(name: &str, networks: &[&str]) -> Interface {
    Interface {
        name: name.into(),
        index: 2,
        mac: [2, 0, 0, 0, 0, 1],
        arp: true,
        link_local: None,
        networks: networks
            .iter()
            .map(|n| {
                let (ip, len) = n.split_once('/').unwrap();
                metallb_core::iprange::Cidr::new(ip.parse().unwrap(), len.parse().unwrap()).unwrap()
            })
            .collect(),
    }
}

#[test]
fn missing_interfaces_are_reported() {
    let mut w = world();
    w.ads = vec![ad("pinned", json!({"interfaces": ["eth1"]}))];
    let decisions = [w.decide("n1"), w.decide("n2")].concat();
    let failed = unannounced(&decisions, &[interface("eth0", &["198.18.0.11/16"])]);
    let only = failed.values().next().unwrap();
    assert_eq!(only.requested, Some(vec!["eth1".to_string()]));
    assert!(only.all);
    assert!(only.reason().contains("\"eth1\""), "{}", only.reason());
    // The named interface needs no address on the network.
    assert!(unannounced(&decisions, &[interface("eth1", &[])]).is_empty());
}

#[test]
fn without_named_interfaces_an_address_off_every_network_is_reported() {
    let mut w = world();
    w.services = vec![Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.18.100.10"}, {"ip": "2001:db8::64:a"}]}},
        }))
        .unwrap(),
    )];
    w.pools = vec![pool(
        "lab",
        &["198.18.100.0/24", "2001:db8::64:0/112"],
        json!({}),
    )];
    let decisions = [w.decide("n1"), w.decide("n2")].concat();
    // On the IPv4 network only: the IPv6 address is reported, the Service still announced.
    let v4_only = [
        interface("eth0", &["198.18.0.11/16"]),
        interface("eth1", &["198.18.200.11/24"]),
    ];
    let failed = unannounced(&decisions, &v4_only);
    let partial = failed.get("apps/web").expect("reported");
    assert_eq!(partial.ips, ["2001:db8::64:a".parse::<IpAddr>().unwrap()]);
    assert!(!partial.all && partial.requested.is_none());
    assert!(
        partial.reason().contains("2001:db8::64:a"),
        "{}",
        partial.reason()
    );
    // On neither network: not announced at all.
    let elsewhere = unannounced(&decisions, &[interface("eth1", &["198.18.200.11/24"])]);
    assert!(elsewhere["apps/web"].all);
    // On both: nothing to report.
    let both = [interface("eth0", &["198.18.0.11/16", "2001:db8::b/64"])];
    assert!(unannounced(&decisions, &both).is_empty());
}
