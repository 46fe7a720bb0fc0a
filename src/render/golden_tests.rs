//! Golden files of rendering: what the charm applies must not change by accident.
//!
//! A changed pod template rolls every speaker on `juju refresh`, and a changed field set moves
//! server-side-apply ownership, so every rendered object of a few representative inputs is kept
//! in `src/render/golden/*.json` and compared as JSON values (key order aside, absent, `null`
//! and empty all differ). The CRDs are the same for every input and kept once, in `crds.json`.
//!
//! When a change of the rendering is meant, rewrite the files with
//! `METALLB_RS_BLESS_GOLDEN=1 cargo test --workspace --lib -- render::golden_tests` and review
//! the diff like code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Desired, RenderInput, exclude_list, render};
use crate::config::{BgpConfig, BgpPeerEntry};

/// Set to rewrite the golden files from the current rendering.
const BLESS: &str = "METALLB_RS_BLESS_GOLDEN";
/// What a CRD's body is replaced with in a case's file (the body is in `crds.json`).
const CRD_BODY: &str = "see crds.json";

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/render/golden")
}

fn base() -> RenderInput {
    RenderInput {
        addresses: vec!["198.18.100.240/28".into(), "2001:db8::/120".into()],
        controller_image: "localhost/metallb-rs/controller:0.1.0".into(),
        speaker_image: "localhost/metallb-rs/speaker:0.1.0".into(),
        ..super::fixtures::input()
    }
}

fn peer(address: &str, asn: u32, port: Option<u16>) -> BgpPeerEntry {
    BgpPeerEntry {
        address: address.parse().expect("a literal address"),
        asn,
        port,
        password_secret: None,
        password: None,
    }
}

/// The representative inputs, by golden file name.
fn cases() -> Vec<(&'static str, RenderInput)> {
    let l2_minimal = base();

    let mut l2_selected = base();
    l2_selected.model = "prod-east".into();
    l2_selected.app = "lb".into();
    l2_selected.namespace = "lb-system".into();
    l2_selected.addresses = vec![
        "198.18.100.0/24".into(),
        "198.18.101.10-198.18.101.20".into(),
    ];
    l2_selected.node_selector = BTreeMap::from([
        ("kubernetes.io/os".into(), "linux".into()),
        ("node-role.example.com/edge".into(), "true".into()),
    ]);
    l2_selected.l2_interfaces = vec!["eth0".into(), "bond0".into()];
    l2_selected.controller_image = "registry.example.com/metallb/controller:1.2.3".into();
    l2_selected.speaker_image = "registry.example.com/metallb/speaker:1.2.3".into();
    l2_selected.log_level = "debug".into();

    let mut bgp_several = base();
    bgp_several.log_level = "warn".into();
    bgp_several.node_selector = BTreeMap::from([("kubernetes.io/os".into(), "linux".into())]);
    bgp_several.bgp = Some(BgpConfig {
        asn: 64512,
        peers: vec![
            peer("198.18.0.3", 64513, None),
            peer("198.18.0.4", 4_200_000_000, Some(1179)),
            peer("2001:db8::3", 64514, None),
        ],
        communities: vec!["65000:100".into(), "large:64512:1:2".into()],
        local_pref: Some(150),
        aggregation_length: 28,
    });

    let mut bgp_minimal = base();
    bgp_minimal.log_level = "error".into();
    bgp_minimal.l2_interfaces = vec!["eth1".into()];
    bgp_minimal.bgp = Some(BgpConfig {
        asn: 65001,
        peers: vec![peer("198.18.0.3", 65002, None)],
        communities: vec![],
        local_pref: None,
        aggregation_length: 32,
    });

    let mut l2_workload_options = base();
    let raw = crate::config::RawConfig {
        lb_class: "example.com/metallb".into(),
        speaker_tolerations: "dedicated=lb:NoSchedule, edge, *".into(),
        controller_requests: "cpu=50m,memory=32Mi".into(),
        controller_limits: "memory=128Mi".into(),
        speaker_requests: "cpu=100m".into(),
        speaker_limits: "cpu=1,memory=256Mi".into(),
        priority_class: "system-node-critical".into(),
        ..Default::default()
    };
    l2_workload_options.workloads =
        crate::config::parse_workloads(&raw).expect("valid workload options");

    vec![
        ("l2-minimal", l2_minimal),
        ("l2-workload-options", l2_workload_options),
        ("l2-selector-interfaces", l2_selected),
        ("bgp-several-peers", bgp_several),
        ("bgp-minimal", bgp_minimal),
    ]
}

fn entry(object: &Desired, body: Value) -> Value {
    json!({
        "apiVersion": object.api_version,
        "kind": object.kind,
        "namespace": object.namespace,
        "name": object.name,
        "body": body,
    })
}

/// A case as kept in its file: every rendered object in order (CRD bodies aside), then the
/// exclude list as first created; and the CRD bodies by name.
fn snapshot(input: &RenderInput) -> (Value, Value) {
    let mut objects = Vec::new();
    let mut crds = serde_json::Map::new();
    for object in render(input) {
        if object.kind == "CustomResourceDefinition" {
            crds.insert(object.name.clone(), object.body.clone());
            objects.push(entry(&object, json!(CRD_BODY)));
        } else {
            objects.push(entry(&object, object.body.clone()));
        }
    }
    let exclude = exclude_list(input);
    let case = json!({
        "rendered": objects,
        "excludeList": entry(&exclude, exclude.body.clone()),
    });
    (case, Value::Object(crds))
}

fn compare_or_bless(name: &str, actual: &Value) -> Result<(), String> {
    let path = golden_dir().join(format!("{name}.json"));
    if std::env::var_os(BLESS).is_some() {
        let text = serde_json::to_string_pretty(actual).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let expected: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if &expected == actual {
        return Ok(());
    }
    Err(format!(
        "{name}: the rendering differs from {}:\n{}",
        path.display(),
        diff(&expected, actual, "")
    ))
}

/// The paths where two JSON values differ, one a line.
fn diff(expected: &Value, actual: &Value, path: &str) -> String {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            keys.into_iter()
                .map(|k| match (e.get(k), a.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &format!("{path}.{k}")),
                    (Some(x), None) => format!("{path}.{k}: expected {x}, absent\n"),
                    (None, Some(y)) => format!("{path}.{k}: unexpected {y}\n"),
                    (None, None) => String::new(),
                })
                .collect()
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .map(|(i, (x, y))| diff(x, y, &format!("{path}[{i}]")))
            .collect(),
        _ if expected == actual => String::new(),
        _ => format!("{path}: expected {expected}, got {actual}\n"),
    }
}

#[test]
fn rendering_matches_the_golden_files() {
    let mut failures = Vec::new();
    let mut all_crds: Option<Value> = None;
    for (name, input) in cases() {
        let (case, crds) = snapshot(&input);
        if let Err(e) = compare_or_bless(name, &case) {
            failures.push(e);
        }
        match &all_crds {
            None => all_crds = Some(crds),
            Some(first) => assert_eq!(first, &crds, "{name}: the CRDs depend on the input"),
        }
    }
    if let Some(crds) = &all_crds
        && let Err(e) = compare_or_bless("crds", crds)
    {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
