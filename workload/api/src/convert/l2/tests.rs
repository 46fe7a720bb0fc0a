use super::*;
use serde_json::json;

fn node(value: serde_json::Value) -> Node {
    serde_json::from_value(value).unwrap()
}

fn ready(name: &str) -> Node {
    node(json!({"metadata": {"name": name},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
}

#[test]
fn node_conditions_are_read() {
    let view = node_view(&node(json!({
        "metadata": {"name": "n3", "labels": {"zone": "a"}},
        "status": {"conditions": [{"type": "Ready", "status": "False"},
                                  {"type": "NetworkUnavailable", "status": "True"}]},
    })));
    assert!(view.not_ready && view.network_unavailable);
    assert_eq!(
        (view.name.as_str(), view.labels["zone"].as_str()),
        ("n3", "a")
    );
    let view = node_view(&ready("n4"));
    assert!(!view.not_ready && !view.network_unavailable);
}

#[test]
fn cordoned_or_no_execute_nodes_are_draining() {
    let plain = node_view(&ready("a"));
    assert!(!plain.draining);
    let cordoned = node(json!({"metadata": {"name": "b"}, "spec": {"unschedulable": true}}));
    assert!(node_view(&cordoned).draining);
    let tainted = node(json!({
        "metadata": {"name": "c"},
        "spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]},
    }));
    assert!(node_view(&tainted).draining);
    let no_schedule = node(json!({
        "metadata": {"name": "d"},
        "spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]},
    }));
    assert!(!node_view(&no_schedule).draining);
}

#[test]
fn an_advertisement_with_a_selector_not_understood_is_refused() {
    let ad = |spec: serde_json::Value| -> L2Advertisement {
        serde_json::from_value(json!({"metadata": {"name": "l2"}, "spec": spec})).unwrap()
    };
    let good = advertisement(&ad(json!({
        "interfaces": ["eth1"],
        "nodeSelectors": [{"matchLabels": {"zone": "a"}}],
        "preferredNodeSelectors": [{"weight": 10, "preference": {"matchLabels": {"fast": "yes"}}}],
    })))
    .expect("understood");
    assert_eq!(good.name, "l2");
    assert_eq!(good.interfaces, ["eth1"]);
    assert_eq!((good.node_selectors.len(), good.preferred.len()), (1, 1));
    assert_eq!(good.preferred[0].0, 10);
    let bad = json!([{"matchExpressions": [{"key": "a", "operator": "Gt"}]}]);
    assert!(advertisement(&ad(json!({"nodeSelectors": bad}))).is_none());
    assert!(advertisement(&ad(json!({"serviceSelectors": bad}))).is_none());
    assert!(
        advertisement(&ad(json!({"preferredNodeSelectors": [
            {"weight": 1, "preference": bad[0]}
        ]})))
        .is_none()
    );
}
