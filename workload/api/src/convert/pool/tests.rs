use std::sync::Arc;

use super::*;
use serde_json::json;

fn pool_object(name: &str, labels: serde_json::Value, spec: serde_json::Value) -> IPAddressPool {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "spec": spec}))
        .unwrap()
}

fn namespace(name: &str, labels: serde_json::Value) -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

fn selectors(value: serde_json::Value) -> Vec<LabelSelector> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_pool_reads_its_ranges_and_defaults() {
    let object = pool_object(
        "lab",
        json!({}),
        json!({"addresses": ["198.18.0.0/30", "198.18.1.1-198.18.1.2"]}),
    );
    let p = pool(&object, &[]).unwrap();
    assert_eq!(p.name, "lab");
    assert_eq!(p.ranges.len(), 2);
    assert!(p.ranges[1].contains("198.18.1.2".parse().unwrap()));
    assert!(p.auto_assign && !p.avoid_buggy_ips && p.allocation.is_none());
}

#[test]
fn a_bad_range_or_operator_names_the_pool() {
    let bad_range = pool_object("lab", json!({}), json!({"addresses": ["198.18.0.300/30"]}));
    let err = pool(&bad_range, &[]).unwrap_err();
    assert!(err.to_string().starts_with("pool lab: "), "{err}");
    assert_eq!((err.kind(), err.name()), ("IPAddressPool", "lab"));
    let bad_selector = pool_object(
        "lab",
        json!({}),
        json!({"addresses": ["198.18.0.0/30"], "serviceAllocation": {
            "serviceSelectors": [{"matchExpressions": [{"key": "a", "operator": "Gt"}]}]}}),
    );
    assert_eq!(
        pool(&bad_selector, &[]).unwrap_err().to_string(),
        "pool lab: bad selector operator"
    );
}

#[test]
fn namespace_selectors_are_resolved_against_the_namespaces() {
    let object = pool_object(
        "lab",
        json!({}),
        json!({"addresses": ["198.18.0.0/30"], "serviceAllocation": {
            "priority": 5,
            "namespaces": ["apps"],
            "namespaceSelectors": [{"matchLabels": {"team": "web"}}],
        }}),
    );
    let namespaces = [
        namespace("web", json!({"team": "web"})),
        namespace("db", json!({"team": "db"})),
    ];
    let allocation = pool(&object, &namespaces).unwrap().allocation.unwrap();
    assert_eq!(allocation.priority, 5);
    assert!(allocation.namespace_restricted);
    assert_eq!(
        allocation.namespaces.into_iter().collect::<Vec<_>>(),
        ["apps", "web"]
    );
}

#[test]
fn an_advertisement_selects_pools_by_name_by_selector_or_all() {
    let lab = pool_object("lab", json!({"zone": "a"}), json!({"addresses": []}));
    assert!(selects_pool(&[], &[], &lab));
    assert!(selects_pool(&["lab".into()], &[], &lab));
    assert!(!selects_pool(&["other".into()], &[], &lab));
    let zone_a = selectors(json!([{"matchLabels": {"zone": "a"}}]));
    let zone_b = selectors(json!([{"matchLabels": {"zone": "b"}}]));
    let bad = selectors(json!([{"matchExpressions": [{"key": "zone", "operator": "Gt"}]}]));
    assert!(selects_pool(&[], &zone_a, &lab));
    assert!(!selects_pool(&[], &zone_b, &lab));
    assert!(!selects_pool(&[], &bad, &lab));
    assert!(selects_pool(&["other".into()], &zone_a, &lab));
}

#[test]
fn an_address_is_of_the_annotated_pool_else_of_the_pool_containing_it() {
    let pools = [
        Arc::new(pool_object(
            "first",
            json!({}),
            json!({"addresses": ["198.18.0.0/24"]}),
        )),
        Arc::new(pool_object(
            "second",
            json!({}),
            json!({"addresses": ["198.18.1.0/24"]}),
        )),
    ];
    let service = |annotation: Option<&str>| -> Service {
        let mut value = json!({"metadata": {"name": "web", "namespace": "apps"}});
        if let Some(pool) = annotation {
            value["metadata"]["annotations"] = json!({"metallb.io/ip-allocated-from-pool": pool});
        }
        serde_json::from_value(value).unwrap()
    };
    let name = |p: Option<&IPAddressPool>| p.and_then(|p| p.metadata.name.clone());
    let ip: IpAddr = "198.18.1.7".parse().unwrap();
    assert_eq!(
        name(pool_of(&service(None), ip, &pools)).as_deref(),
        Some("second")
    );
    assert_eq!(
        name(pool_of(&service(Some("first")), ip, &pools)).as_deref(),
        Some("first")
    );
    // An annotation naming no pool falls back to the address.
    assert_eq!(
        name(pool_of(&service(Some("gone")), ip, &pools)).as_deref(),
        Some("second")
    );
    let elsewhere: IpAddr = "198.18.9.9".parse().unwrap();
    assert!(pool_of(&service(None), elsewhere, &pools).is_none());
    // Plain objects work as well as shared ones.
    let plain: Vec<IPAddressPool> = pools.iter().map(|p| (**p).clone()).collect();
    assert_eq!(
        name(pool_of(&service(None), ip, &plain)).as_deref(),
        Some("second")
    );
}
