//! The actions against the fake API server of [`crate::k8s::fake`].

use juju_ops::testing::{Harness, Output, State, TestEvent};
use serde_json::json;

use crate::charm::MetallbCharm;
use crate::k8s::KubeSource;
use crate::k8s::fake::{Call, FakeApi};

const NS: &str = "metallb-system";

fn run(api: &FakeApi, name: &str, params: &[(&str, &str)]) -> Output {
    let api = api.clone();
    Harness::new(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .run(
            move |_| MetallbCharm::new(KubeSource::Fake(api)),
            TestEvent::action(name, params),
            State::default().with_config("iprange", "198.18.0.0/28"),
        )
        .unwrap()
}

fn service(namespace: &str, name: &str, type_: &str, ip: Option<&str>) -> serde_json::Value {
    let ingress: Vec<_> = ip.iter().map(|ip| json!({"ip": ip})).collect();
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": namespace,
                        "annotations": {"metallb.io/ip-allocated-from-pool": "metallb"}},
           "spec": {"type": type_},
           "status": {"loadBalancer": {"ingress": ingress}}})
}

#[test]
fn list_allocations_reads_services_and_their_announcing_node() {
    let api = FakeApi::new();
    api.seed(service("web", "front", "LoadBalancer", Some("198.18.0.1")));
    api.seed(service("web", "internal", "ClusterIP", None));
    api.seed(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
        "metadata": {"name": "l2-x", "namespace": NS},
        "status": {"node": "node-1", "serviceName": "front", "serviceNamespace": "web"}}),
    );
    let out = run(&api, "list-allocations", &[]);
    let action = out.action.unwrap();
    assert_eq!(action.status, "completed", "{}", action.message);
    let results = &action.run.results;
    assert_eq!(results.get("count").map(String::as_str), Some("1"));
    for (key, value) in [
        ("services.web-front.service", "web/front"),
        ("services.web-front.ips", "198.18.0.1"),
        ("services.web-front.pool", "metallb"),
        ("services.web-front.node", "node-1"),
    ] {
        assert_eq!(results.get(key).map(String::as_str), Some(value), "{key}");
    }
    let calls: Vec<String> = api.calls().iter().map(Call::line).collect();
    assert_eq!(
        calls,
        [
            "GET /api/v1/services".to_string(),
            format!("GET /apis/metallb.io/v1beta1/namespaces/{NS}/servicel2statuses"),
        ]
    );
}

#[test]
fn list_allocations_in_one_namespace_lists_only_there() {
    let api = FakeApi::new();
    api.seed(service("web", "front", "LoadBalancer", Some("198.18.0.1")));
    api.seed(service("other", "back", "LoadBalancer", Some("198.18.0.2")));
    let out = run(&api, "list-allocations", &[("namespace", "other")]);
    let action = out.action.unwrap();
    assert_eq!(
        action
            .run
            .results
            .get("services.other-back.ips")
            .map(String::as_str),
        Some("198.18.0.2")
    );
    assert_eq!(
        action.run.results.get("count").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        api.calls()[0].line(),
        "GET /api/v1/namespaces/other/services"
    );
}

#[test]
fn a_dry_run_scrub_deletes_nothing() {
    let api = FakeApi::new();
    api.seed(
        json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "old", "namespace": NS, "labels": {
            crate::identity::LABEL_MANAGED_BY: crate::identity::MANAGED_BY,
            crate::identity::LABEL_INSTANCE: "test-model.metallb"}}}),
    );
    let out = run(&api, "scrub-resources", &[("dry-run", "true")]);
    let action = out.action.unwrap();
    assert_eq!(action.status, "completed", "{}", action.message);
    assert_eq!(
        action.run.results.get("objects").map(String::as_str),
        Some(format!("BGPPeer/{NS}/old").as_str())
    );
    assert!(api.calls().iter().all(|c| c.method == "GET"));

    let out = run(&api, "scrub-resources", &[]);
    assert_eq!(out.action.unwrap().status, "completed");
    let deletes: Vec<String> = api
        .calls()
        .iter()
        .filter(|c| c.method != "GET")
        .map(Call::line)
        .collect();
    assert_eq!(
        deletes,
        [format!(
            "DELETE /apis/metallb.io/v1beta2/namespaces/{NS}/bgppeers/old"
        )]
    );
}
