use super::*;
use serde_json::json;

fn service(name: &str, ip: Option<&str>, spec: serde_json::Value) -> Arc<Service> {
    let mut value = json!({
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"type": "LoadBalancer"},
    });
    if let Some(ip) = ip {
        value["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
    }
    if let serde_json::Value::Object(fields) = spec {
        for (k, v) in fields {
            value["spec"][k] = v;
        }
    }
    Arc::new(serde_json::from_value(value).unwrap())
}

fn slice(service: &str, node: &str, serving: bool) -> Arc<EndpointSlice> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-x"), "namespace": "apps",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["198.18.0.11"], "nodeName": node,
                           "conditions": {"serving": serving}}],
        }))
        .unwrap(),
    )
}

#[test]
fn handled_services_are_those_of_the_class_with_an_address() {
    let snapshot = Snapshot {
        services: vec![
            service("web", Some("198.18.0.100"), json!({})),
            service("pending", None, json!({})),
            service(
                "other",
                Some("198.18.0.101"),
                json!({"loadBalancerClass": "x"}),
            ),
            service("plain", Some("198.18.0.102"), json!({"type": "ClusterIP"})),
        ],
        ..Snapshot::default()
    };
    let names = |class| {
        snapshot
            .handled_services(class)
            .iter()
            .map(|s| s.key().1)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(None), ["web"]);
    assert_eq!(names(Some("x")), ["other"]);
}

#[test]
fn endpoints_allow_a_node_by_serving_endpoints_and_traffic_policy() {
    let snapshot = Snapshot {
        services: vec![
            service("cluster", Some("198.18.0.100"), json!({})),
            service(
                "local",
                Some("198.18.0.101"),
                json!({"externalTrafficPolicy": "Local"}),
            ),
            service("idle", Some("198.18.0.102"), json!({})),
        ],
        slices: vec![
            slice("cluster", "node-b", true),
            slice("local", "node-b", true),
            slice("idle", "node-a", false),
        ],
        ..Snapshot::default()
    };
    let services = snapshot.handled_services(None);
    let allows = |name: &str, node: &str| {
        services
            .iter()
            .find(|s| s.key().1 == name)
            .unwrap()
            .endpoints_allow(node)
    };
    assert!(allows("cluster", "node-a"));
    assert!(allows("local", "node-b"));
    assert!(!allows("local", "node-a"));
    assert!(!allows("idle", "node-a"));
}
