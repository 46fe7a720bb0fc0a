use super::*;
use serde_json::json;

fn service(annotations: serde_json::Value, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "apps", "annotations": annotations,
                     "labels": {"tier": "web", "app": "shop"}},
        "spec": spec,
    }))
    .unwrap()
}

#[test]
fn handled_needs_a_load_balancer_of_the_class() {
    let plain = service(json!({}), json!({"type": "LoadBalancer"}));
    let classy = service(
        json!({}),
        json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}),
    );
    let cluster_ip = service(json!({}), json!({"type": "ClusterIP"}));
    assert!(handled(&plain, None) && !handled(&plain, Some("example.com/lb")));
    assert!(handled(&classy, Some("example.com/lb")) && !handled(&classy, None));
    assert!(!handled(&cluster_ip, None) && !is_load_balancer(&cluster_ip));
    assert_eq!(
        load_balancer_class(&classy).as_deref(),
        Some("example.com/lb")
    );
}

#[test]
fn a_request_reads_families_policy_ports_sharing_and_backends() {
    let s = service(
        json!({"metallb.io/allow-shared-ip": "k", "metallb.io/address-pool": "lab",
               "metallb.io/loadBalancerIPs": "198.18.0.5, 2001:db8::5"}),
        json!({"type": "LoadBalancer", "clusterIPs": ["10.0.0.1", "fd00::1"],
               "ipFamilyPolicy": "RequireDualStack", "externalTrafficPolicy": "Local",
               "selector": {"b": "2", "a": "1"},
               "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}),
    );
    let r = request(&s).unwrap();
    assert_eq!(r.key, "apps/web");
    assert_eq!(r.namespace, "apps");
    assert_eq!(r.families, [Family::V4, Family::V6]);
    assert_eq!(r.policy, FamilyPolicy::RequireDualStack);
    assert_eq!(r.ports.len(), 2);
    assert_eq!((r.ports[0].protocol.as_str(), r.ports[0].port), ("TCP", 80));
    assert_eq!((r.ports[1].protocol.as_str(), r.ports[1].port), ("UDP", 53));
    assert_eq!(r.sharing_key.as_deref(), Some("k"));
    assert_eq!(r.requested_pool.as_deref(), Some("lab"));
    assert_eq!(r.backend_key, "a=1,b=2");
    assert_eq!(
        r.labels.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["app", "tier"]
    );
    assert_eq!(
        r.requested_ips,
        [
            "198.18.0.5".parse::<IpAddr>().unwrap(),
            "2001:db8::5".parse().unwrap()
        ]
    );
    // Cluster traffic: no backend key; a single cluster IP; single stack.
    let cluster = service(
        json!({}),
        json!({"clusterIP": "10.0.0.2", "selector": {"a": "1"}}),
    );
    let r = known_request(&cluster);
    assert_eq!(
        (r.backend_key.as_str(), r.families.as_slice(), r.policy),
        ("", &[Family::V4][..], FamilyPolicy::SingleStack)
    );
}

#[test]
fn unreadable_requests_say_why() {
    let no_cluster_ip = service(json!({}), json!({"type": "LoadBalancer"}));
    assert_eq!(
        request(&no_cluster_ip).unwrap_err(),
        RequestError::NoClusterIp
    );
    let both = service(
        json!({"metallb.io/loadBalancerIPs": "198.18.0.5"}),
        json!({"clusterIP": "10.0.0.1", "loadBalancerIP": "198.18.0.6"}),
    );
    let bad_annotation = service(
        json!({"metallb.io/loadBalancerIPs": "198.18.0.5, nope"}),
        json!({"clusterIP": "10.0.0.1"}),
    );
    let bad_spec = service(
        json!({}),
        json!({"clusterIP": "10.0.0.1", "loadBalancerIP": "nope"}),
    );
    let messages: Vec<String> = [both, bad_annotation, bad_spec]
        .iter()
        .map(|s| request(s).unwrap_err().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "service can not have both the loadBalancerIPs annotation and spec.loadBalancerIP",
            "invalid requested IP \" nope\"",
            "invalid spec.loadBalancerIP \"nope\"",
        ]
    );
    // What can be read is still read, for holding the addresses.
    assert_eq!(known_request(&no_cluster_ip).key, "apps/web");
}

#[test]
fn an_empty_spec_address_asks_for_nothing_and_hostnames_are_not_addresses() {
    let s: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"clusterIP": "10.0.0.1", "loadBalancerIP": ""},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.18.0.5"}, {"hostname": "lb.example"}]}},
    }))
    .unwrap();
    assert!(requested_ips(&s).unwrap().is_empty());
    assert_eq!(current_ips(&s), ["198.18.0.5".parse::<IpAddr>().unwrap()]);
}
