//! The hook path against the fake API server of [`crate::k8s::fake`]: the exact requests a
//! reconcile makes (apply, prune, trust) and what the charm then reports.

use juju_ops::testing::{Harness, Output, State, TestEvent};
use serde_json::{Value, json};

use super::*;
use crate::identity::{LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, managed_selector};
use crate::k8s::FIELD_MANAGER;
use crate::k8s::fake::{Call, FakeApi, status};

pub(super) const NS: &str = "metallb-system";
pub(super) const POOL: &str = "198.18.0.0/28";

/// Runs `event` through the charm over `api`.
pub(super) fn run(api: &FakeApi, event: TestEvent, state: State) -> Output {
    let api = api.clone();
    Harness::new(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .run(
            move |_| MetallbCharm::new(KubeSource::Fake(api)),
            event,
            state,
        )
        .unwrap()
}

fn config_changed(api: &FakeApi, state: State) -> Output {
    run(api, TestEvent::hook("config-changed"), state)
}

/// A state with the pool set.
pub(super) fn configured() -> State {
    State::default().with_config("iprange", POOL)
}

/// What the charm renders for [`configured`] (names and kinds; images do not matter here).
fn desired(bgp: bool) -> Vec<Desired> {
    let mut input = RenderInput {
        model: "test-model".into(),
        namespace: NS.into(),
        addresses: vec![POOL.into()],
        ..crate::render::fixtures::input()
    };
    if bgp {
        let raw: RawConfig = serde_json::from_value(json!({
            "iprange": POOL, "namespace": NS, "node-selector": "", "image-registry": "ghcr.io/metallb-rs",
            "log-level": "info", "l2-interfaces": "",
            "bgp-asn": 64512, "bgp-peers": "198.18.0.1:64513",
        }))
        .unwrap();
        input.bgp = CharmConfig::validate(&raw).unwrap().bgp;
    }
    render(&input)
}

/// The path of `object` as kube-rs addresses it.
fn path_of(object: &Desired) -> String {
    let (group, version) = object
        .api_version
        .split_once('/')
        .unwrap_or(("", &object.api_version));
    let plural = kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        group,
        version,
        &object.kind,
    ))
    .plural;
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    match &object.namespace {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}/{}", object.name),
        None => format!("{prefix}/{plural}/{}", object.name),
    }
}

fn writes(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.method != "GET").collect()
}

/// An object of the charm's kinds with `labels`.
fn object(api_version: &str, kind: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
           "metadata": {"name": name, "namespace": NS, "labels": labels}, "spec": {}})
}

#[test]
fn a_fresh_cluster_gets_everything_applied_and_reports_readiness() {
    let api = FakeApi::new();
    api.workloads_ready();
    let out = config_changed(&api, configured());
    assert!(out.success);
    assert_eq!(
        out.state.unit_status,
        Status::active(format!("16 addresses ({POOL}), 0 in use"))
    );
    let calls = api.calls();
    // First the inventory: every kind the charm manages, by its managed-by label.
    let selector = managed_selector();
    for (call, (api_version, kind)) in calls.iter().zip(MANAGED_KINDS) {
        assert_eq!(call.method, "GET", "{kind}");
        assert!(call.path.ends_with('s'), "{kind}: {}", call.path);
        assert!(call.path.contains(api_version.split('/').next().unwrap()));
        assert_eq!(call.query.get("labelSelector"), Some(&selector), "{kind}");
    }
    // With it, at once, what the status reports (Services, ServiceL2Statuses,
    // ConfigurationStates, kube-proxy's ConfigMap).
    let reports = 4;
    let report_lines: Vec<String> = calls[MANAGED_KINDS.len()..][..reports]
        .iter()
        .map(Call::line)
        .collect();
    assert_eq!(
        report_lines,
        [
            "GET /api/v1/services".to_string(),
            format!("GET /apis/metallb.io/v1beta1/namespaces/{NS}/servicel2statuses"),
            format!("GET /apis/metallb.io/v1beta1/namespaces/{NS}/configurationstates"),
            "GET /api/v1/namespaces/kube-system/configmaps/kube-proxy".to_string(),
        ]
    );
    // Then every wanted object is read by name (none is in the inventory).
    let desired = desired(false);
    let lookups: Vec<String> = calls[MANAGED_KINDS.len() + reports..][..desired.len()]
        .iter()
        .map(Call::line)
        .collect();
    let expected: Vec<String> = desired
        .iter()
        .map(|d| format!("GET {}", path_of(d)))
        .collect();
    assert_eq!(lookups, expected);
    // Every write: the Namespace and CRDs applied, the memberlist Secret and the exclude
    // list created, the rest applied, in render order; nothing deleted.
    let (first, rest): (Vec<&Desired>, Vec<&Desired>) = desired
        .iter()
        .partition(|o| o.kind == "Namespace" || o.kind == ownership::CRD_KIND);
    let mut expected: Vec<String> = first
        .iter()
        .map(|d| format!("PATCH {}", path_of(d)))
        .collect();
    expected.push(format!("POST /api/v1/namespaces/{NS}/secrets"));
    expected.push(format!("POST /api/v1/namespaces/{NS}/configmaps"));
    expected.extend(rest.iter().map(|d| format!("PATCH {}", path_of(d))));
    let writes = writes(&calls);
    assert_eq!(
        writes.iter().map(|c| c.line()).collect::<Vec<_>>(),
        expected
    );
    // Having written, what the status reports is read again after the last write (the kinds
    // it lists may only now be installed).
    let last_write = calls.iter().rposition(|c| c.method != "GET").unwrap();
    let after: Vec<String> = lines(&calls[last_write..]);
    for read in &report_lines {
        assert!(
            after.contains(read),
            "{read} not read after writing: {after:#?}"
        );
    }
    for apply in writes.iter().filter(|c| c.method == "PATCH") {
        assert_eq!(
            apply.query.get("fieldManager").map(String::as_str),
            Some(FIELD_MANAGER)
        );
        assert_eq!(apply.query.get("force").map(String::as_str), Some("true"));
        assert_eq!(
            apply.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        let labels = &apply.body["metadata"]["labels"];
        assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY, "{}", apply.path);
        assert!(
            apply
                .path
                .ends_with(apply.body["metadata"]["name"].as_str().unwrap())
        );
    }
    let namespace = writes[0];
    assert_eq!(namespace.body["kind"], "Namespace");
    assert_eq!(
        namespace.body["metadata"]["annotations"][crate::identity::ANNOTATION_CREATED_BY],
        "test-model.metallb"
    );
    let secret = writes
        .iter()
        .find(|c| c.path.ends_with("/secrets"))
        .unwrap();
    assert_eq!(secret.body["metadata"]["name"], MEMBERLIST_SECRET);
    assert_eq!(
        secret.body["stringData"]["secretkey"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    // The workloads are applied with the pool, and the status reads their readiness.
    let pool = api
        .object("metallb.io/v1beta1", "IPAddressPool", Some(NS), "metallb")
        .or_else(|| {
            let name = desired.iter().find(|d| d.kind == "IPAddressPool").unwrap();
            api.object("metallb.io/v1beta1", "IPAddressPool", Some(NS), &name.name)
        })
        .unwrap();
    assert_eq!(pool["spec"]["addresses"], json!([POOL]));
    let reads: Vec<String> = calls.iter().map(Call::line).collect();
    for read in [
        format!("GET /apis/apps/v1/namespaces/{NS}/deployments/controller"),
        format!("GET /apis/apps/v1/namespaces/{NS}/daemonsets/speaker"),
        "GET /api/v1/services".to_string(),
    ] {
        assert!(reads.contains(&read), "{read} not in {reads:#?}");
    }
}

#[test]
fn workloads_not_ready_yet_are_waited_for() {
    let api = FakeApi::new();
    let out = config_changed(&api, configured());
    assert!(out.success);
    assert_eq!(
        out.state.unit_status,
        Status::waiting("controller 0/1 ready, speaker 0/0 ready")
    );
    // Not ready: the pods are listed for a reason.
    assert!(api.calls().iter().any(|c| {
        c.line() == format!("GET /api/v1/namespaces/{NS}/pods")
            && c.query.get("labelSelector").map(String::as_str) == Some("app=metallb")
    }));
}

#[test]
fn objects_of_another_instance_or_of_the_user_are_conflicts_and_nothing_is_applied() {
    let desired = desired(false);
    let controller = desired.iter().find(|d| d.kind == "Deployment").unwrap();
    let api = FakeApi::new();
    // The user's Namespace (no labels) and another instance's controller.
    api.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    api.seed(object(
        "apps/v1",
        "Deployment",
        &controller.name,
        json!({LABEL_MANAGED_BY: MANAGED_BY, LABEL_INSTANCE: "other-model.metallb"}),
    ));
    let out = config_changed(&api, configured());
    assert!(out.success);
    assert_eq!(
        out.state.unit_status,
        Status::blocked(format!(
            "Namespace/{NS} exists and was not created by this charm (and 1 more): set another namespace"
        ))
    );
    assert_eq!(writes(&api.calls()), Vec::<&Call>::new());

    // The user's object alone: the way out is the adopt action.
    let api = FakeApi::new();
    api.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    let out = config_changed(&api, configured());
    match out.state.unit_status {
        Status::Blocked(m) => assert!(m.contains("juju run metallb/0 adopt"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(writes(&api.calls()), Vec::<&Call>::new());
}

#[test]
fn a_refusal_of_the_charms_identity_asks_for_trust() {
    let api = FakeApi::new();
    api.answer(|call| {
        Some(status(
            403,
            "Forbidden",
            &format!(
                "{} is forbidden: User \"system:serviceaccount:test-model:metallb\" cannot list resource",
                call.path
            ),
        ))
    });
    let out = config_changed(&api, configured());
    assert!(out.success);
    assert_eq!(
        out.state.unit_status,
        Status::blocked("needs access to the cluster: run `juju trust metallb --scope=cluster`")
    );
    assert_eq!(out.state.app_status, out.state.unit_status);
    // The first round of reads (sent at once) is refused and nothing else is tried.
    let calls = api.calls();
    assert_eq!(calls[0].line(), "GET /api/v1/namespaces");
    assert!(calls.len() <= MANAGED_KINDS.len() + 4, "{calls:#?}");
    assert!(calls.iter().all(|c| c.method == "GET"), "{calls:#?}");
}

#[test]
fn a_refusal_that_is_not_about_rights_blocks_without_asking_for_trust() {
    let api = FakeApi::new();
    api.answer(|call| {
        (call.method == "PATCH").then(|| {
            status(
                403,
                "Forbidden",
                "unable to create new content in namespace metallb-system because it is being terminated",
            )
        })
    });
    let out = config_changed(&api, configured());
    match out.state.unit_status {
        Status::Blocked(m) => {
            assert!(
                m.contains("being terminated") && !m.contains("juju trust"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Reconciles [`configured`] with one BGP peer; returns the peer and the advertisement rendered.
fn reconciled_with_bgp(api: &FakeApi) -> (Desired, Desired) {
    api.workloads_ready();
    let bgp = configured()
        .with_config("bgp-asn", 64512)
        .with_config("bgp-peers", "198.18.0.1:64513");
    assert!(config_changed(api, bgp).success);
    let with_bgp = desired(true);
    let of_kind = |kind: &str| with_bgp.iter().find(|d| d.kind == kind).unwrap().clone();
    (of_kind("BGPPeer"), of_kind("BGPAdvertisement"))
}

#[test]
fn a_hook_lists_from_the_cache_and_rereads_what_it_prunes_before_deleting() {
    let api = FakeApi::new();
    let (peer, advertisement) = reconciled_with_bgp(&api);
    // The user takes the peer over (the charm's labels off) after the cached list was made:
    // the read by name before deleting sees it.
    let released = peer.clone();
    api.answer(move |call| {
        (call.method == "GET" && call.path == path_of(&released)).then(|| {
            let mut body = released.body.clone();
            body["metadata"]["labels"] = json!({"team": "net"});
            (200, body)
        })
    });
    api.clear_calls();

    assert!(config_changed(&api, configured()).success);
    let calls = api.calls();
    let lists: Vec<&Call> = calls
        .iter()
        .filter(|c| c.query.contains_key("labelSelector"))
        .collect();
    assert!(!lists.is_empty());
    assert!(
        lists
            .iter()
            .all(|c| c.query.get("resourceVersion").map(String::as_str) == Some("0")),
        "{lists:#?}"
    );
    let rereads: Vec<String> = calls
        .iter()
        .filter(|c| c.method == "GET" && !c.query.contains_key("resourceVersion"))
        .map(Call::line)
        .collect();
    assert!(
        rereads.contains(&format!("GET {}", path_of(&peer))),
        "{rereads:#?}"
    );
    let deletes: Vec<String> = calls
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(Call::line)
        .collect();
    assert_eq!(deletes, [format!("DELETE {}", path_of(&advertisement))]);
}

#[test]
fn what_the_charm_no_longer_renders_is_pruned_and_nothing_it_did_not_create() {
    let api = FakeApi::new();
    let (peer, advertisement) = reconciled_with_bgp(&api);
    let (peer, advertisement) = (&peer, &advertisement);
    assert!(
        api.object("metallb.io/v1beta2", "BGPPeer", Some(NS), &peer.name)
            .is_some()
    );
    // The user's peer (no labels) and another instance's, next to the charm's.
    api.seed(object(
        "metallb.io/v1beta2",
        "BGPPeer",
        "users-router",
        json!({"team": "net"}),
    ));
    api.seed(object(
        "metallb.io/v1beta2",
        "BGPPeer",
        "other-router",
        json!({LABEL_MANAGED_BY: MANAGED_BY, LABEL_INSTANCE: "other-model.metallb"}),
    ));
    api.clear_calls();

    // BGP off: the charm's peer and advertisement go, nothing else.
    let out = config_changed(&api, configured());
    assert!(out.success);
    let deletes: Vec<String> = api
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(Call::line)
        .collect();
    let mut expected = vec![
        format!("DELETE {}", path_of(peer)),
        format!("DELETE {}", path_of(advertisement)),
    ];
    expected.sort();
    let mut sorted = deletes.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    for kept in ["users-router", "other-router"] {
        assert!(
            api.object("metallb.io/v1beta2", "BGPPeer", Some(NS), kept)
                .is_some(),
            "{kept}"
        );
    }
    assert!(
        api.object("metallb.io/v1beta2", "BGPPeer", Some(NS), &peer.name)
            .is_none()
    );
    // Pruning comes after the apply of whatever still wanted differs.
    let calls = api.calls();
    let first_delete = calls.iter().position(|c| c.method == "DELETE").unwrap();
    if let Some(last_apply) = calls.iter().rposition(|c| c.method == "PATCH") {
        assert!(last_apply < first_delete);
    }
    assert_eq!(
        out.state.unit_status,
        Status::active(format!("16 addresses ({POOL}), 0 in use"))
    );
}

/// How many reads a reconcile with nothing to change makes at most: one list per kind the
/// charm manages, then what the status reports (Services, ServiceL2Status,
/// ConfigurationStates, kube-proxy's ConfigMap; ServiceBGPStatus with BGP; the pods when
/// some are not ready).
const STEADY_READS: usize = MANAGED_KINDS.len() + 6;

/// A cluster the charm has reconciled once, with its workloads ready; the state after.
fn reconciled(api: &FakeApi, state: State) -> State {
    api.workloads_ready();
    let out = config_changed(api, state);
    assert!(out.success);
    assert!(
        matches!(out.state.unit_status, Status::Active(_)),
        "{:?}",
        out.state.unit_status
    );
    api.clear_calls();
    out.state
}

fn lines(calls: &[Call]) -> Vec<String> {
    calls.iter().map(Call::line).collect()
}

/// The request count the charm logged, as `(requests, writes)`.
fn logged_count(out: &Output) -> (usize, usize) {
    let line = out
        .logs
        .iter()
        .rev()
        .find(|l| l.message.contains("Kubernetes API requests"))
        .unwrap_or_else(|| panic!("no request count in {:#?}", out.logs));
    let numbers: Vec<usize> = line
        .message
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn a_second_reconcile_with_nothing_changed_reads_each_kind_once_and_writes_nothing() {
    for state in [
        configured(),
        configured()
            .with_config("bgp-asn", 64512)
            .with_config("bgp-peers", "198.18.0.1:64513"),
    ] {
        let api = FakeApi::new();
        let state = reconciled(&api, state);
        let out = config_changed(&api, state.clone());
        assert!(out.success);
        assert_eq!(out.state.unit_status, state.unit_status);
        let calls = api.calls();
        assert_eq!(lines(&api.writes()), Vec::<String>::new());
        assert!(calls.len() <= STEADY_READS, "{:#?}", lines(&calls));
        // One list per managed kind, label-selected; no read by name of the charm's objects.
        let selector = managed_selector();
        for (api_version, kind) in MANAGED_KINDS {
            let plural = path_of(&Desired::target(api_version, kind, None, "x"))
                .trim_end_matches("/x")
                .to_string();
            let lists: Vec<&Call> = calls.iter().filter(|c| c.path == plural).collect();
            assert_eq!(lists.len(), 1, "{kind}: {:#?}", lines(&calls));
            assert_eq!(lists[0].query.get("labelSelector"), Some(&selector));
        }
        for object in render_for_test(&state) {
            assert!(
                !lines(&calls).contains(&format!("GET {}", path_of(&object))),
                "{} read by name",
                object.describe()
            );
        }
        // No maintenance status when nothing is applied.
        assert!(
            !out.status_history
                .iter()
                .any(|c| matches!(c.status.status.as_str(), "maintenance")),
            "{:#?}",
            out.status_history
        );
        assert_eq!(logged_count(&out), (calls.len(), 0));
    }
}

/// What the charm renders for `state`'s options (images as the harness resolves them).
fn render_for_test(state: &State) -> Vec<Desired> {
    desired(state.config.contains_key("bgp-asn"))
}

#[test]
fn a_changed_option_applies_exactly_the_objects_it_changes() {
    let api = FakeApi::new();
    let state = reconciled(&api, configured());
    let wider = "198.18.0.0/27";
    let out = config_changed(&api, state.with_config("iprange", wider));
    assert!(out.success);
    let pool = desired(false)
        .into_iter()
        .find(|d| d.kind == "IPAddressPool")
        .unwrap();
    assert_eq!(
        lines(&api.writes()),
        vec![format!("PATCH {}", path_of(&pool))]
    );
    let applied = api
        .object("metallb.io/v1beta1", "IPAddressPool", Some(NS), &pool.name)
        .unwrap();
    assert_eq!(applied["spec"]["addresses"], json!([wider]));
    assert_eq!(
        out.state.unit_status,
        Status::active(format!("32 addresses ({wider}), 0 in use"))
    );
    assert_eq!(logged_count(&out).1, 1);
}

#[test]
fn an_object_changed_by_someone_else_is_applied_again_and_only_it() {
    let api = FakeApi::new();
    let state = reconciled(&api, configured());
    let pool = desired(false)
        .into_iter()
        .find(|d| d.kind == "IPAddressPool")
        .unwrap();
    let mut edited = api
        .object("metallb.io/v1beta1", "IPAddressPool", Some(NS), &pool.name)
        .unwrap();
    edited["spec"]["addresses"] = json!(["198.18.9.0/24"]);
    api.seed(edited);
    // A label the charm applied and no longer states would be removed by an apply: the
    // stored managed fields say the charm owns one more label than it renders.
    let l2 = desired(false)
        .into_iter()
        .find(|d| d.kind == "L2Advertisement")
        .unwrap();
    let mut stale = api
        .object("metallb.io/v1beta1", "L2Advertisement", Some(NS), &l2.name)
        .unwrap();
    stale["metadata"]["labels"]["dropped"] = json!("x");
    stale["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:labels"]["f:dropped"] =
        json!({});
    api.seed(stale);
    let out = config_changed(&api, state);
    let mut writes = lines(&api.writes());
    writes.sort();
    let mut expected = vec![
        format!("PATCH {}", path_of(&pool)),
        format!("PATCH {}", path_of(&l2)),
    ];
    expected.sort();
    assert_eq!(writes, expected);
    assert!(out.logged("spec.addresses.0 differs"), "{:#?}", out.logs);
    assert!(
        out.logged("f:metadata.f:labels.f:dropped is no longer applied"),
        "{:#?}",
        out.logs
    );
}

#[test]
fn update_status_reads_what_it_reports_and_writes_nothing() {
    let api = FakeApi::new();
    let state = reconciled(&api, configured());
    let out = run(&api, TestEvent::hook("update-status"), state.clone());
    assert!(out.success);
    assert_eq!(out.state.unit_status, state.unit_status);
    let calls = api.calls();
    assert_eq!(lines(&api.writes()), Vec::<String>::new());
    // The controller, the speakers, the pool, then Services, ServiceL2Status,
    // ConfigurationStates and kube-proxy's ConfigMap: no inventory.
    assert_eq!(calls.len(), 7, "{:#?}", lines(&calls));
    // Status only: every read comes from the API server's cache.
    assert!(
        calls
            .iter()
            .all(|c| c.query.get("resourceVersion").map(String::as_str) == Some("0")),
        "{:#?}",
        calls
    );
    assert!(
        !calls.iter().any(|c| c.query.contains_key("labelSelector")
            && c.query["labelSelector"] == managed_selector()),
        "{:#?}",
        lines(&calls)
    );
    assert_eq!(logged_count(&out), (7, 0));
    // Nothing but the final status is set: no maintenance, and no workload version.
    assert!(
        !out.status_history
            .iter()
            .any(|c| c.status.status == "maintenance"),
        "{:#?}",
        out.status_history
    );
}

#[test]
fn the_charm_version_is_set_on_install_and_upgrade_and_not_on_every_hook() {
    let api = FakeApi::new();
    for hook in ["install", "upgrade-charm"] {
        let out = run(&api, TestEvent::hook(hook), configured());
        assert!(out.success, "{hook}: {:#?}", out.logs);
        assert_eq!(
            out.state.workload_version,
            env!("CARGO_PKG_VERSION"),
            "{hook}"
        );
    }
    for hook in ["config-changed", "update-status", "leader-elected"] {
        let out = run(&api, TestEvent::hook(hook), configured());
        assert!(out.success, "{hook}: {:#?}", out.logs);
        assert_eq!(out.state.workload_version, "", "{hook} set the version");
    }
}

#[test]
fn a_cache_still_initializing_is_read_through_and_asked_again_until_it_answers() {
    let api = FakeApi::new();
    let state = reconciled(&api, configured());
    // As right after a CRD is created: the watch cache of the kind refuses for a while, and
    // a read through to etcd may be refused the same way.
    let refusals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(2));
    let left = refusals.clone();
    api.answer(move |call| {
        use std::sync::atomic::Ordering;
        (call.path.ends_with("/servicel2statuses")
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok())
        .then(|| status(429, "TooManyRequests", "storage is (re)initializing"))
    });
    api.clear_calls();
    let out = run(&api, TestEvent::hook("update-status"), state.clone());
    assert!(out.success, "{:#?}", out.logs);
    assert_eq!(out.state.unit_status, state.unit_status);
    let reads: Vec<Option<String>> = api
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/servicel2statuses"))
        .map(|c| c.query.get("resourceVersion").cloned())
        .collect();
    // From the cache, at once through to etcd, then through to etcd again after a while.
    assert_eq!(reads, [Some("0".to_string()), None, None]);
    // Every attempt is a request: 7 reads, one of them sent twice more.
    assert_eq!(logged_count(&out), (9, 0));
}

#[test]
fn update_status_with_bgp_reads_what_the_speakers_advertise() {
    let api = FakeApi::new();
    let bgp = configured()
        .with_config("bgp-asn", 64512)
        .with_config("bgp-peers", "198.18.0.1:64513");
    let state = reconciled(&api, bgp);
    let out = run(&api, TestEvent::hook("update-status"), state.clone());
    assert_eq!(out.state.unit_status, state.unit_status);
    assert_eq!(lines(&api.writes()), Vec::<String>::new());
    assert!(
        lines(&api.calls()).contains(&format!(
            "GET /apis/metallb.io/v1beta1/namespaces/{NS}/servicebgpstatuses"
        )),
        "{:#?}",
        lines(&api.calls())
    );
}

#[test]
fn update_status_repairs_a_missing_pool_and_nothing_else() {
    let api = FakeApi::new();
    let state = reconciled(&api, configured());
    let pool = desired(false)
        .into_iter()
        .find(|d| d.kind == "IPAddressPool")
        .unwrap();
    api.remove("metallb.io/v1beta1", "IPAddressPool", Some(NS), &pool.name);
    let out = run(&api, TestEvent::hook("update-status"), state.clone());
    assert!(out.success);
    assert_eq!(
        lines(&api.writes()),
        vec![format!("PATCH {}", path_of(&pool))]
    );
    assert_eq!(out.state.unit_status, state.unit_status);
    assert!(out.logged("reconciling: IPAddressPool"), "{:#?}", out.logs);
}

#[test]
fn update_status_after_a_status_other_than_active_reconciles() {
    // Not ready yet (waiting): update-status reads everything again, as config-changed does,
    // and writes nothing that is already there.
    let api = FakeApi::new();
    let out = config_changed(&api, configured());
    assert!(matches!(out.state.unit_status, Status::Waiting(_)));
    api.clear_calls();
    api.workloads_ready();
    // The fake's workloads report ready once applied again; here their status stays as it
    // was, so the charm still waits, having read every kind and written nothing.
    let out = run(&api, TestEvent::hook("update-status"), out.state);
    assert!(out.success);
    assert_eq!(lines(&api.writes()), Vec::<String>::new());
    let selector = managed_selector();
    let lists = api
        .calls()
        .iter()
        .filter(|c| c.query.get("labelSelector") == Some(&selector))
        .count();
    assert_eq!(lists, MANAGED_KINDS.len());
}

#[test]
fn non_leaders_make_no_request_and_say_so() {
    let api = FakeApi::new();
    for hook in ["config-changed", "update-status"] {
        let out = run(&api, TestEvent::hook(hook), configured().with_leader(false));
        assert!(out.success);
        assert_eq!(logged_count(&out), (0, 0));
    }
    assert!(api.calls().is_empty());
}
