//! The relation and secret paths of the hook, in process: the harness brings the relations and
//! secrets, the fake API server the cluster ([`crate::k8s::fake`]).

use juju_ops::testing::{State, TestEvent, TestRelation, TestSecret};
use serde_json::{Value, json};

use super::api_tests::{NS, configured, run};
use crate::k8s::fake::FakeApi;

fn node(name: &str, os: &str, address: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
           "status": {"addresses": [{"type": "InternalIP", "address": address}]}})
}

/// A cluster with two Linux nodes, a Windows node and a running controller pod.
fn cluster() -> FakeApi {
    let api = FakeApi::new();
    api.workloads_ready();
    api.seed(node("node-a", "linux", "198.18.0.11"));
    api.seed(node("node-b", "linux", "198.18.0.12"));
    api.seed(node("win-1", "windows", "198.18.0.13"));
    api.seed(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "controller-7d9", "namespace": NS,
                     "labels": {"app": "metallb", "component": "controller"}},
        "status": {"phase": "Running", "podIP": "10.1.0.5"}}));
    api
}

fn prometheus() -> TestRelation {
    TestRelation::new("metrics-endpoint", "prometheus")
        .with_id(3)
        .with_interface("prometheus_scrape")
        .with_remote_unit("prometheus/0", &[])
}

fn json_of(bag: &std::collections::BTreeMap<String, String>, key: &str) -> Value {
    serde_json::from_str(
        bag.get(key)
            .unwrap_or_else(|| panic!("no {key} in {bag:?}")),
    )
    .unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
}

#[test]
fn prometheus_gets_the_controller_and_every_selected_node() {
    let api = cluster();
    let out = run(
        &api,
        TestEvent::relation_joined(&prometheus(), "prometheus/0"),
        configured().with_relation(prometheus()),
    );
    assert!(out.success);
    let relation = out.state.relation(3).unwrap();
    let jobs = json_of(&relation.local_app_data, "scrape_jobs");
    assert_eq!(
        jobs[0]["static_configs"][0]["targets"],
        json!(["10.1.0.5:7472"])
    );
    let speakers: Vec<(&str, &str)> = jobs[1]["static_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["labels"]["node"].as_str().unwrap(),
                c["targets"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        speakers,
        [
            ("node-a", "198.18.0.11:7472"),
            ("node-b", "198.18.0.12:7472")
        ],
        "only the nodes the node-selector picks"
    );
    let rules = json_of(&relation.local_app_data, "alert_rules");
    assert!(rules["groups"][0]["rules"].as_array().unwrap().len() >= 8);
    assert_eq!(
        json_of(&relation.local_app_data, "scrape_metadata")["application"],
        "metallb"
    );
    assert_eq!(
        relation.local_unit_data["prometheus_scrape_unit_name"],
        "metallb/0"
    );
}

#[test]
fn a_standby_unit_publishes_only_its_own_address() {
    let api = cluster();
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        configured().with_leader(false).with_relation(prometheus()),
    );
    assert!(out.success);
    let relation = out.state.relation(3).unwrap();
    assert!(
        relation.local_app_data.is_empty(),
        "only the leader writes jobs"
    );
    assert!(
        relation
            .local_unit_data
            .contains_key("prometheus_scrape_unit_address")
    );
    assert!(
        api.calls().is_empty(),
        "a standby unit reads nothing from the cluster"
    );
}

#[test]
fn grafana_gets_the_dashboard_and_no_relation_costs_no_read() {
    let api = cluster();
    let grafana = TestRelation::new("grafana-dashboard", "grafana")
        .with_id(4)
        .with_interface("grafana_dashboard");
    let out = run(
        &api,
        TestEvent::relation_created(&grafana),
        configured().with_relation(grafana),
    );
    assert!(out.success);
    let document = json_of(&out.state.relation(4).unwrap().local_app_data, "dashboards");
    assert_eq!(document["templates"].as_object().unwrap().len(), 1);
    let reads_nodes = |api: &FakeApi| api.calls().iter().any(|c| c.path.ends_with("/nodes"));
    assert!(!reads_nodes(&api), "no metrics relation: no target lookup");
}

#[test]
fn a_broken_relation_is_left_alone() {
    let api = cluster();
    let out = run(
        &api,
        TestEvent::relation_broken(&prometheus()),
        configured().with_relation(prometheus()),
    );
    assert!(out.success);
    assert!(out.state.relation(3).unwrap().local_app_data.is_empty());
}

fn bgp(state: State, peers: &str) -> State {
    state
        .with_config("bgp-asn", 64512)
        .with_config("bgp-peers", peers)
}

#[test]
fn a_bgp_password_comes_from_a_granted_secret_and_is_never_shown() {
    let api = cluster();
    let secret = TestSecret::user("router-a", &[("password", "md5-s3cret")]).granted();
    let peers = format!("198.18.0.1:64513 password={}", secret.uri());
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        bgp(configured(), &peers).with_secret(secret),
    );
    assert!(out.success, "{:?}", out.state.unit_status);
    assert_eq!(out.state.unit_status.name(), "active");
    let stored = api
        .object(
            "v1",
            "Secret",
            Some(NS),
            "test-model.metallb-peer-0-password",
        )
        .expect("the password Secret is applied");
    assert_eq!(stored["data"]["password"], "bWQ1LXMzY3JldA==");
    let peer = api
        .object(
            "metallb.io/v1beta2",
            "BGPPeer",
            Some(NS),
            "test-model.metallb-peer-0",
        )
        .unwrap();
    assert_eq!(
        peer["spec"]["passwordSecret"]["name"],
        "test-model.metallb-peer-0-password"
    );
    assert!(!out.logged("md5-s3cret"));
    assert!(
        out.status_history
            .iter()
            .all(|s| !s.status.message.contains("md5-s3cret"))
    );
}

#[test]
fn a_secret_not_granted_blocks_with_the_command_and_changes_nothing() {
    let api = cluster();
    let secret = TestSecret::user("router-a", &[("password", "md5-s3cret")]);
    let peers = format!("198.18.0.1:64513 password={}", secret.uri());
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        bgp(configured(), &peers).with_secret(secret.clone()),
    );
    assert_eq!(out.state.unit_status.name(), "blocked");
    let message = out.state.unit_status.message().to_string();
    assert!(
        message.contains(&format!("juju grant-secret {} metallb", secret.uri())),
        "{message}"
    );
    assert!(
        api.calls().iter().all(|c| c.method == "GET"),
        "nothing is written while the password is unavailable"
    );
    let without_key = TestSecret::user("router-b", &[("pass", "x")]).granted();
    let peers = format!("198.18.0.1:64513 password={}", without_key.uri());
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        bgp(configured(), &peers).with_secret(without_key),
    );
    assert!(
        out.state
            .unit_status
            .message()
            .contains("has no key \"password\""),
        "{:?}",
        out.state.unit_status
    );
}

#[test]
fn a_missing_priority_class_blocks_before_anything_is_applied() {
    let api = cluster();
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        configured().with_config("priority-class", "metallb-critical"),
    );
    assert_eq!(out.state.unit_status.name(), "blocked");
    assert!(
        out.state
            .unit_status
            .message()
            .contains("priority-class \"metallb-critical\""),
        "{:?}",
        out.state.unit_status
    );
    assert!(api.calls().iter().all(|c| c.method == "GET"));
    api.seed(
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "metallb-critical"}, "value": 1000}),
    );
    let out = run(
        &api,
        TestEvent::hook("config-changed"),
        configured().with_config("priority-class", "metallb-critical"),
    );
    assert_eq!(
        out.state.unit_status.name(),
        "active",
        "{:?}",
        out.state.unit_status
    );
    let deployment = api
        .object("apps/v1", "Deployment", Some(NS), "controller")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["priorityClassName"],
        "metallb-critical"
    );
}
