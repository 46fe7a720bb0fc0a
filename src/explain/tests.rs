//! `explain` on fixed objects: each pool reason, sharing, the ranking, the no-address cases,
//! the parameters and both output forms.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use metallb_api::{BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement, ServiceL2Status};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

const NS: &str = "metallb-system";

fn object<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn pool(name: &str, spec: Value) -> IPAddressPool {
    object(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": NS}, "spec": spec,
    }))
}

/// A LoadBalancer Service in `ns` with an IPv4 cluster IP, merged with `extra`.
fn service(ns: &str, name: &str, extra: Value) -> Service {
    let mut base = json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                 "selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]},
    });
    merge(&mut base, extra);
    object(base)
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

fn holding(ns: &str, name: &str, ip: &str, extra: Value) -> Service {
    let mut s = service(ns, name, extra);
    s.status = Some(object(json!({"loadBalancer": {"ingress": [{"ip": ip}]}})));
    s
}

fn node(name: &str, labels: Value) -> Node {
    object(json!({
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }))
}

fn speaker(node: &str, ready: bool) -> Pod {
    object(json!({
        "metadata": {"name": format!("speaker-{node}"), "namespace": NS,
                     "labels": {"app": "metallb", "component": "speaker"}},
        "spec": {"nodeName": node, "containers": []},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
}

fn l2_ad(name: &str, spec: Value) -> L2Advertisement {
    object(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
        "metadata": {"name": name, "namespace": NS}, "spec": spec,
    }))
}

/// An EndpointSlice of `apps/web` with one ready endpoint on each of `nodes`.
fn endpoints(nodes: &[&str]) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    let endpoints: Vec<Value> = nodes
        .iter()
        .map(|n| json!({"addresses": ["10.1.0.1"], "nodeName": n, "conditions": {"ready": true}}))
        .collect();
    object(json!({
        "metadata": {"name": "web-x", "namespace": "apps",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "endpoints": endpoints,
    }))
}

fn inputs(target: Service, others: Vec<Service>, pools: Vec<IPAddressPool>) -> Inputs {
    let mut services = others;
    services.push(target.clone());
    Inputs {
        metallb_namespace: NS.into(),
        service: target,
        services,
        pools,
        ..Default::default()
    }
}

fn verdict<'a>(e: &'a Explanation, pool: &str) -> &'a PoolVerdict {
    e.pools
        .iter()
        .find(|p| p.name == pool)
        .unwrap_or_else(|| panic!("no pool {pool} in {e:#?}"))
}

fn codes(e: &Explanation, pool: &str) -> Vec<&'static str> {
    verdict(e, pool).reasons.iter().map(|r| r.code).collect()
}

#[test]
fn parameters_are_checked_and_name_the_item() {
    let s = |v: &str| Some(Value::String(v.into()));
    assert_eq!(params(None, None), Err(ExplainError::MissingService));
    assert_eq!(
        params(s(" ").as_ref(), None),
        Err(ExplainError::MissingService)
    );
    for bad in ["web", "a/b/c", "Apps/web", "/web", "apps/"] {
        let err = params(s(bad).as_ref(), None).unwrap_err();
        assert_eq!(err, ExplainError::BadService(bad.into()));
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert_eq!(
        params(s("apps/web").as_ref(), s("yaml").as_ref()),
        Err(ExplainError::BadFormat("yaml".into()))
    );
    assert_eq!(
        params(s("apps/web").as_ref(), None),
        Ok(("apps".into(), "web".into(), Format::Text))
    );
    assert_eq!(
        params(s("apps/web.v2").as_ref(), s("json").as_ref()),
        Ok(("apps".into(), "web.v2".into(), Format::Json))
    );
}

#[test]
fn a_service_that_is_not_a_load_balancer_is_refused_by_name() {
    let mut svc = service("apps", "web", json!({}));
    if let Some(spec) = svc.spec.as_mut() {
        spec.type_ = Some("NodePort".into());
    }
    let err = explain(&inputs(svc, vec![], vec![])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Service apps/web is of type NodePort, not LoadBalancer: MetalLB gives addresses only to LoadBalancer Services"
    );
}

#[test]
fn every_pool_says_why_it_was_not_used() {
    let full = pool("a-full", json!({"addresses": ["198.18.0.0/31"]}));
    let manual = pool(
        "b-manual",
        json!({"addresses": ["198.18.1.0/30"], "autoAssign": false}),
    );
    let other_ns = pool(
        "c-ns",
        json!({"addresses": ["198.18.2.0/30"], "serviceAllocation": {"namespaces": ["other"]}}),
    );
    let v6 = pool("d-v6", json!({"addresses": ["2001:db8::/126"]}));
    let selector = pool(
        "e-sel",
        json!({"addresses": ["198.18.3.0/30"], "serviceAllocation": {"priority": 5,
               "serviceSelectors": [{"matchLabels": {"tier": "gold"}}]}}),
    );
    let others = vec![
        holding("x", "one", "198.18.0.0", json!({})),
        holding("x", "two", "198.18.0.1", json!({})),
    ];
    let e = explain(&inputs(
        service("apps", "web", json!({})),
        others,
        vec![full, manual, other_ns, v6, selector],
    ))
    .unwrap();
    assert_eq!(
        e.summary,
        "has no address: no pool has a free address for it (see the pools below)"
    );
    assert_eq!(codes(&e, "a-full"), ["full"]);
    assert_eq!(
        verdict(&e, "a-full").reasons[0].message,
        "full: 2 of 2 addresses in use, none the Service may share"
    );
    assert_eq!(
        (verdict(&e, "a-full").in_use, verdict(&e, "a-full").size),
        (2, 2)
    );
    assert_eq!(codes(&e, "b-manual"), ["autoAssignOff"]);
    assert_eq!(codes(&e, "c-ns"), ["namespaceNotAllowed"]);
    assert!(
        verdict(&e, "c-ns").reasons[0]
            .message
            .contains("admits other, not namespace apps")
    );
    assert_eq!(codes(&e, "d-v6"), ["familyMismatch"]);
    assert_eq!(codes(&e, "e-sel"), ["serviceSelectorMismatch"]);
    assert_eq!(verdict(&e, "e-sel").priority, Some(5));
    assert!(e.pools.iter().all(|p| !p.used));
}

#[test]
fn the_chosen_pool_is_used_and_the_others_came_later() {
    let open_a = pool("a-open", json!({"addresses": ["198.18.0.0/30"]}));
    let open_b = pool("b-open", json!({"addresses": ["198.18.1.0/30"]}));
    let e = explain(&inputs(
        service("apps", "web", json!({})),
        vec![],
        vec![open_a.clone(), open_b.clone()],
    ))
    .unwrap();
    assert!(
        e.summary
            .starts_with("has no address yet, though pool a-open has 198.18.0.0"),
        "{}",
        e.summary
    );
    assert!(verdict(&e, "a-open").used);
    assert_eq!(
        verdict(&e, "a-open").reasons[0].message,
        "would give it 198.18.0.0"
    );
    assert_eq!(codes(&e, "b-open"), ["notFirst"]);

    // A pool with a serviceAllocation priority comes before the unrestricted ones.
    let pinned = pool(
        "z-pinned",
        json!({"addresses": ["198.18.2.0/30"], "serviceAllocation": {"priority": 1, "namespaces": ["apps"]}}),
    );
    let e = explain(&inputs(
        holding("apps", "web", "198.18.2.0", json!({})),
        vec![],
        vec![open_a, open_b, pinned],
    ))
    .unwrap();
    assert_eq!(e.summary, "has 198.18.2.0 from pool z-pinned");
    assert_eq!(
        verdict(&e, "z-pinned").reasons[0].message,
        "holds 198.18.2.0"
    );
    assert_eq!(codes(&e, "a-open"), ["holdsOther"]);
}

#[test]
fn a_requested_address_outside_every_pool_is_named() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let q = pool(
        "b",
        json!({"addresses": ["198.18.1.0/30"], "autoAssign": false}),
    );
    let svc = service(
        "apps",
        "web",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "198.18.9.9"}}}),
    );
    let e = explain(&inputs(svc, vec![], vec![p, q])).unwrap();
    assert_eq!(
        e.summary,
        "has no address: the requested 198.18.9.9 is in no IPAddressPool of namespace metallb-system (or is a .0/.255 of an avoidBuggyIPs pool)"
    );
    assert_eq!(e.requested_ips, ["198.18.9.9"]);
    assert_eq!(codes(&e, "a"), ["requestedOutside"]);
    assert_eq!(
        verdict(&e, "b").reasons[0].message,
        "the requested 198.18.9.9 is outside this pool (198.18.1.0/30)"
    );
}

#[test]
fn a_requested_pool_and_bad_requests_are_explained() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let q = pool("b", json!({"addresses": ["198.18.1.0/31"]}));
    let others = vec![
        holding("x", "one", "198.18.1.0", json!({})),
        holding("x", "two", "198.18.1.1", json!({})),
    ];
    let asks_b = service(
        "apps",
        "web",
        json!({"metadata": {"annotations": {"metallb.io/address-pool": "b"}}}),
    );
    let e = explain(&inputs(asks_b, others, vec![p.clone(), q])).unwrap();
    assert_eq!(e.summary, "has no address: no available IPs in pool \"b\"");
    assert_eq!(codes(&e, "a"), ["otherPoolRequested"]);
    assert_eq!(codes(&e, "b"), ["full"]);

    let bad = service(
        "apps",
        "web",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "not-an-ip"}}}),
    );
    let e = explain(&inputs(bad, vec![], vec![p])).unwrap();
    assert_eq!(
        e.summary,
        "has no address: metallb.io/loadBalancerIPs: \"not-an-ip\" is not an IP address"
    );
    assert_eq!(e.requested_ips, ["not-an-ip"]);
    assert_eq!(codes(&e, "a"), ["badRequest"]);
}

#[test]
fn another_load_balancer_class_is_not_served() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let svc = service(
        "apps",
        "web",
        json!({"spec": {"loadBalancerClass": "example.com/lb"}}),
    );
    let e = explain(&inputs(svc, vec![], vec![p])).unwrap();
    assert!(
        e.summary.starts_with(
            "not served by this MetalLB: spec.loadBalancerClass is \"example.com/lb\""
        ),
        "{}",
        e.summary
    );
    assert_eq!(e.load_balancer_class.as_deref(), Some("example.com/lb"));
    assert_eq!(codes(&e, "a"), ["otherClass"]);
}

#[test]
fn overlapping_pools_are_a_configuration_problem() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let q = pool("b", json!({"addresses": ["198.18.0.2/31"]}));
    let e = explain(&inputs(
        service("apps", "web", json!({})),
        vec![],
        vec![p, q],
    ))
    .unwrap();
    let problem = e.config_problem.unwrap_or_default();
    assert!(
        problem.contains("overlaps") && problem.contains("keeps"),
        "{problem}"
    );
}

#[test]
fn sharing_conflicts_follow_the_allow_shared_ip_rules() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let keyed = |name: &str, key: &str, port: i32| {
        let extra = json!({"metadata": {"annotations": {"metallb.io/allow-shared-ip": key}},
                           "spec": {"ports": [{"port": port, "protocol": "TCP"}]}});
        holding("apps", name, "198.18.0.1", extra)
    };
    // No key on the holder: the requested address cannot be shared.
    let plain = holding("apps", "db", "198.18.0.1", json!({}));
    let asking = service(
        "apps",
        "web",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "198.18.0.1"}}}),
    );
    let e = explain(&inputs(asking, vec![plain], vec![p.clone()])).unwrap();
    assert_eq!(e.sharing.len(), 1, "{e:#?}");
    let other = &e.sharing[0].others[0];
    assert_eq!(other.service, "apps/db");
    assert!(!other.may_share);
    assert!(
        other.reason.contains("same allow-shared-ip key"),
        "{}",
        other.reason
    );
    assert!(
        e.summary.contains("already in use by apps/db"),
        "{}",
        e.summary
    );
    assert_eq!(codes(&e, "a"), ["sharing"]);

    // Same key, other port: shared; same key, same port: refused, naming the port.
    let me = keyed("web", "k", 443);
    let e = explain(&inputs(
        me.clone(),
        vec![keyed("api", "k", 80)],
        vec![p.clone()],
    ))
    .unwrap();
    assert_eq!(e.summary, "has 198.18.0.1 from pool a");
    assert!(e.sharing[0].others[0].may_share, "{e:#?}");
    assert_eq!(e.sharing[0].sharing_key.as_deref(), Some("k"));
    let e = explain(&inputs(me, vec![keyed("api", "k", 443)], vec![p])).unwrap();
    let other = &e.sharing[0].others[0];
    assert!(!other.may_share);
    assert_eq!(
        other.reason,
        "port 443/TCP is already used on 198.18.0.1 by apps/api"
    );
    assert_eq!(other.ports, ["443/TCP"]);
}

/// Three nodes, speakers Ready on two, one L2Advertisement for pool `a`.
fn l2_inputs(svc: Service) -> Inputs {
    let mut i = inputs(
        svc,
        vec![],
        vec![pool("a", json!({"addresses": ["198.18.0.0/30"]}))],
    );
    i.nodes = vec![
        node("n1", json!({"zone": "x"})),
        node("n2", json!({"zone": "y"})),
        node("n3", json!({"zone": "x"})),
    ];
    i.pods = vec![
        speaker("n1", true),
        speaker("n2", true),
        speaker("n3", false),
    ];
    i.endpoint_slices = vec![endpoints(&["n1"])];
    i.l2_advertisements = vec![
        l2_ad("all", json!({"ipAddressPools": ["a"]})),
        l2_ad("elsewhere", json!({"ipAddressPools": ["b"]})),
    ];
    i
}

fn hash_order(nodes: &[&str], ip: &str) -> Vec<String> {
    let ip: IpAddr = ip.parse().unwrap();
    let mut v: Vec<_> = nodes
        .iter()
        .map(|n| (metallb_core::l2::election::node_hash(n, ip), n.to_string()))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

#[test]
fn the_election_ranks_nodes_with_a_ready_speaker_and_names_the_winner() {
    let mut i = l2_inputs(holding("apps", "web", "198.18.0.2", json!({})));
    i.l2_statuses = vec![object::<ServiceL2Status>(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
        "metadata": {"name": "l2-web", "namespace": NS}, "spec": {},
        "status": {"node": "n9", "serviceName": "web", "serviceNamespace": "apps"},
    }))];
    let e = explain(&i).unwrap();
    let l2 = &e.layer2;
    assert_eq!(l2.pool.as_deref(), Some("a"));
    assert_eq!(l2.speaker_nodes, ["n1", "n2"]);
    let expected = hash_order(&["n1", "n2"], "198.18.0.2");
    assert_eq!(l2.ranking, expected);
    assert_eq!(l2.winner.as_ref(), expected.first());
    assert_eq!(l2.nobody, None);
    assert_eq!(
        l2.excluded,
        [Excluded {
            node: "n3".into(),
            reason: "no Ready speaker pod runs on it".into()
        }]
    );
    assert_eq!(l2.recorded, ["n9"]);
    let applies: Vec<(&str, bool)> = l2
        .advertisements
        .iter()
        .map(|a| (a.name.as_str(), a.applies))
        .collect();
    assert_eq!(applies, [("all", true), ("elsewhere", false)]);
    assert_eq!(l2.advertisements[1].reason, "names pools b");
    let text = text(&e);
    assert!(text.contains("(differs from the API's view"), "{text}");

    // Node selectors and preferences change the ranking; a node no advertisement allows is
    // no candidate.
    i.l2_advertisements = vec![l2_ad(
        "zone-x",
        json!({"ipAddressPools": ["a"], "nodeSelectors": [{"matchLabels": {"zone": "x"}}]}),
    )];
    i.pods = vec![
        speaker("n1", true),
        speaker("n2", true),
        speaker("n3", true),
    ];
    let e = explain(&i).unwrap();
    assert_eq!(e.layer2.ranking, hash_order(&["n1", "n3"], "198.18.0.2"));
    assert_eq!(
        e.layer2.excluded[0].reason,
        "no applying L2Advertisement's nodeSelectors select it"
    );
    assert_eq!(e.layer2.advertisements[0].nodes, ["n1", "n3"]);
    i.l2_advertisements = vec![l2_ad(
        "prefer-y",
        json!({"ipAddressPools": ["a"], "preferredNodeSelectors": [
            {"weight": 10, "preference": {"matchLabels": {"zone": "y"}}}]}),
    )];
    let e = explain(&i).unwrap();
    assert_eq!(e.layer2.winner.as_deref(), Some("n2"));

    // externalTrafficPolicy Local: only nodes with a serving endpoint (n1 here).
    if let Some(spec) = i.service.spec.as_mut() {
        spec.external_traffic_policy = Some("Local".into());
    }
    let e = explain(&i).unwrap();
    assert_eq!(e.layer2.ranking, ["n1"]);
    assert_eq!(
        e.layer2.excluded[0].reason,
        "externalTrafficPolicy is Local and no serving endpoint runs on it"
    );
}

#[test]
fn a_cordoned_or_no_execute_node_ranks_last_as_the_speakers_rank_it() {
    let order = hash_order(&["n1", "n2"], "198.18.0.2");
    let draining = [
        json!({"unschedulable": true}),
        json!({"taints": [{"key": "maintenance", "effect": "NoExecute"}]}),
    ];
    for spec in draining {
        let mut i = l2_inputs(holding("apps", "web", "198.18.0.2", json!({})));
        for n in &mut i.nodes {
            if n.metadata.name.as_ref() == order.first() {
                n.spec = Some(object(spec.clone()));
            }
        }
        let e = explain(&i).unwrap();
        let last_first = [order[1].clone(), order[0].clone()];
        assert_eq!(e.layer2.ranking, last_first, "{spec}");
        assert_eq!(e.layer2.winner.as_ref(), Some(&order[1]));
    }
}

#[test]
fn without_an_address_or_an_advertisement_nobody_announces() {
    let i = l2_inputs(service("apps", "web", json!({})));
    let e = explain(&i).unwrap();
    assert_eq!(
        e.layer2.nobody.as_deref(),
        Some("the Service has no address")
    );
    assert!(e.layer2.ranking.is_empty() && e.layer2.winner.is_none());
    assert!(e.layer2.excluded.is_empty());

    let mut i = l2_inputs(holding("apps", "web", "198.18.0.2", json!({})));
    i.endpoint_slices.clear();
    let e = explain(&i).unwrap();
    assert_eq!(
        e.layer2.nobody.as_deref(),
        Some("no endpoint of the Service is serving")
    );
    assert!(!e.layer2.ranking.is_empty());
    i.endpoint_slices = vec![endpoints(&["n2"])];
    i.l2_advertisements = vec![l2_ad(
        "gold",
        json!({"serviceSelectors": [{"matchLabels": {"tier": "gold"}}]}),
    )];
    let e = explain(&i).unwrap();
    assert_eq!(
        e.layer2.nobody.as_deref(),
        Some("no L2Advertisement applies to the Service")
    );
    assert_eq!(
        e.layer2.advertisements[0].reason,
        "names no pool, so applies to every pool; its serviceSelectors do not match the Service's labels"
    );
}

#[test]
fn bgp_peers_receive_the_address_from_the_nodes_both_selectors_allow() {
    let mut i = l2_inputs(holding("apps", "web", "198.18.0.2", json!({})));
    i.pods = vec![
        speaker("n1", true),
        speaker("n2", true),
        speaker("n3", true),
    ];
    let peer = |name: &str, selectors: Value| -> BGPPeer {
        object(json!({
            "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": format!("198.18.5.{}", name.len()),
                     "nodeSelectors": selectors},
        }))
    };
    i.bgp_peers = vec![
        peer("r1", json!([])),
        peer("r22", json!([{"matchLabels": {"zone": "x"}}])),
        peer("r333", json!([])),
    ];
    i.bgp_advertisements = vec![object::<BGPAdvertisement>(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "ad", "namespace": NS},
        "spec": {"ipAddressPools": ["a"], "peers": ["r1", "r22"],
                 "nodeSelectors": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x", "y"]}]}]},
    }))];
    let e = explain(&i).unwrap();
    assert!(e.bgp.advertisements[0].applies);
    let peers: Vec<(&str, Vec<String>)> = e
        .bgp
        .peers
        .iter()
        .map(|p| (p.name.as_str(), p.nodes.clone()))
        .collect();
    assert_eq!(
        peers,
        [
            ("r1", vec!["n1".into(), "n2".into(), "n3".into()]),
            ("r22", vec!["n1".to_string(), "n3".to_string()])
        ]
    );
    assert_eq!(e.bgp.peers[0].asn, "64513");
    assert_eq!(e.bgp.peers[0].advertisements, ["ad"]);
}

#[test]
fn the_last_ten_events_come_oldest_first() {
    let mut i = inputs(service("apps", "web", json!({})), vec![], vec![]);
    i.events = (0..12)
        .rev()
        .map(|n| {
            object::<Event>(json!({
                "metadata": {"name": format!("web.{n}"), "namespace": "apps"},
                "involvedObject": {"kind": "Service", "name": "web", "namespace": "apps"},
                "reason": format!("R{n}"), "type": "Warning", "message": format!("m{n}"),
                "lastTimestamp": format!("2026-01-01T00:00:{n:02}Z"),
                "source": {"component": "metallb-controller"},
            }))
        })
        .collect();
    let e = explain(&i).unwrap();
    let reasons: Vec<&str> = e.events.iter().map(|ev| ev.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11"]
    );
    assert_eq!(e.events[9].source, "metallb-controller");
    assert_eq!(e.events[9].time, "2026-01-01T00:00:11Z");
}

#[test]
fn text_and_json_carry_the_same_facts() {
    let p = pool("a", json!({"addresses": ["198.18.0.0/30"]}));
    let q = pool(
        "b",
        json!({"addresses": ["198.18.1.0/30"], "autoAssign": false}),
    );
    let mut i = inputs(
        holding(
            "apps",
            "web",
            "198.18.0.0",
            json!({"metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "a"}}}),
        ),
        vec![],
        vec![p, q],
    );
    i.nodes = vec![node("n1", json!({}))];
    i.pods = vec![speaker("n1", true)];
    i.l2_advertisements = vec![l2_ad("a", json!({"ipAddressPools": ["a"]}))];
    i.endpoint_slices = vec![endpoints(&["n1"])];
    let e = explain(&i).unwrap();
    let text = text(&e);
    for line in [
        "Service apps/web: has 198.18.0.0 from pool a\n",
        "Allocated from:   a\n",
        "Election ranking (the API's view): 1. n1 (winner)\n",
        "Announcing per the speakers (ServiceL2Status): - (differs from the API's view: the speakers' membership decides)\n",
        "Events: none\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let pool_line = text
        .lines()
        .find(|l| l.starts_with("b "))
        .unwrap_or_default();
    assert!(
        pool_line.contains("0/4") && pool_line.contains("autoAssign: false"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(json["summary"], "has 198.18.0.0 from pool a");
    assert_eq!(json["pools"][1]["reasons"][0]["code"], "autoAssignOff");
    assert_eq!(json["pools"][0]["inUse"], 1);
    assert_eq!(json["layer2"]["winner"], "n1");
    assert_eq!(json["allocatedFromPool"], "a");
}

#[test]
fn the_speaker_selector_is_the_one_the_charm_renders() {
    use crate::render::{RenderInput, render};
    let input = RenderInput {
        namespace: NS.into(),
        ..crate::render::fixtures::input()
    };
    let daemonset = render(&input)
        .into_iter()
        .find(|o| o.kind == "DaemonSet" && o.name == "speaker")
        .unwrap();
    let expected: serde_json::Map<String, Value> = convert::SPEAKER_SELECTOR
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    assert_eq!(
        daemonset.body["spec"]["selector"]["matchLabels"],
        Value::Object(expected)
    );
}
