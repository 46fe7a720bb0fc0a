//! Our generated CRDs against upstream MetalLB's own (v0.16.2, from the Go module cache): the
//! same kinds, versions, storage version and scope, every upstream field path with the same
//! type, and the same required lists, kind by kind and version by version. Any difference fails
//! with one line per difference.

use test_support::upstream;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::Value;

/// Fields of ours that upstream does not have, each with the reason it is kept.
const ALLOWED_EXTRA_PATHS: &[(&str, &str, &str)] = &[
    (
        "ConfigurationState",
        "v1beta1",
        // Upstream's kind is status-only; our controller applies the object with an empty spec,
        // and server-side apply refuses fields the schema does not declare. Upstream's API
        // server would prune it, ours keeps an empty object: no behaviour depends on it.
        ".spec",
    ),
    (
        "L2Advertisement",
        "v1beta1",
        // Periodic gratuitous announcements per advertisement (an extension; upstream only has
        // the speaker-wide flag). Optional, so upstream's objects stay valid here and ours
        // apply there with the field pruned.
        ".spec.gratuitousARPInterval",
    ),
    (
        "ServiceL2Status",
        "v1beta1",
        // Conditions of the announcement (a duplicate responder seen on the wire), standard
        // Kubernetes conditions. Optional: upstream's speakers never write them.
        ".status.conditions",
    ),
];

/// Whether `path` of `kind`/`version` is one of ours upstream lacks (or lies below one).
fn allowed_extra(kind: &str, version: &str, path: &str) -> bool {
    ALLOWED_EXTRA_PATHS.iter().any(|(k, v, p)| {
        *k == kind
            && *v == version
            && (path == *p
                || path.starts_with(&format!("{p}."))
                || path.starts_with(&format!("{p}[")))
    })
}

/// Properties every object has, which upstream's schemas list and ours leave to the API server.
const IMPLICIT_ROOT_FIELDS: &[&str] = &[".apiVersion", ".kind", ".metadata"];

/// What the comparison looks at in one version's schema.
#[derive(Default)]
struct Shape {
    /// Field path (`.spec.communities[].name`) to its type (`string`, `array`, ...).
    types: BTreeMap<String, String>,
    /// Field path (`` for the root) to its required properties.
    required: BTreeMap<String, BTreeSet<String>>,
}

fn walk(schema: &Value, path: &str, shape: &mut Shape) {
    let kind = if schema["x-kubernetes-int-or-string"] == true {
        "int-or-string".to_string()
    } else {
        schema["type"].as_str().unwrap_or("<none>").to_string()
    };
    if !path.is_empty() && !IMPLICIT_ROOT_FIELDS.contains(&path) {
        shape.types.insert(path.to_string(), kind);
    }
    if let Some(required) = schema["required"].as_array() {
        let names: BTreeSet<String> = required
            .iter()
            .filter_map(|r| r.as_str().map(String::from))
            .collect();
        if !names.is_empty() {
            shape.required.insert(path.to_string(), names);
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, sub) in properties {
            walk(sub, &format!("{path}.{name}"), shape);
        }
    }
    if schema["items"].is_object() {
        walk(&schema["items"], &format!("{path}[]"), shape);
    }
    if schema["additionalProperties"].is_object() {
        walk(
            &schema["additionalProperties"],
            &format!("{path}{{}}"),
            shape,
        );
    }
}

/// Kind and version to the version's entry of the CRD (`name`, `storage`, `schema`...), plus
/// each kind's scope.
type Versions = BTreeMap<(String, String), Value>;

fn versions(crds: &[Value]) -> (Versions, BTreeMap<String, String>) {
    let mut versions = Versions::new();
    let mut scopes = BTreeMap::new();
    for crd in crds {
        let kind = crd["spec"]["names"]["kind"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        scopes.insert(
            kind.clone(),
            crd["spec"]["scope"].as_str().unwrap_or("?").to_string(),
        );
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let name = version["name"].as_str().unwrap_or("?").to_string();
            versions.insert((kind.clone(), name), version.clone());
        }
    }
    (versions, scopes)
}

/// Every difference between upstream's CRDs and ours, one line each.
fn differences(upstream: &[Value], ours: &[Value]) -> Vec<String> {
    let (theirs, their_scopes) = versions(upstream);
    let (mine, my_scopes) = versions(ours);
    let mut out = Vec::new();
    for (kind, scope) in &their_scopes {
        match my_scopes.get(kind) {
            None => out.push(format!("{kind}: kind missing")),
            Some(mine) if mine != scope => {
                out.push(format!("{kind}: scope {mine}, upstream {scope}"))
            }
            Some(_) => {}
        }
    }
    for kind in my_scopes.keys().filter(|k| !their_scopes.contains_key(*k)) {
        out.push(format!("{kind}: kind upstream does not have"));
    }
    for ((kind, version), theirs_v) in &theirs {
        let Some(mine_v) = mine.get(&(kind.clone(), version.clone())) else {
            out.push(format!("{kind} {version}: version missing"));
            continue;
        };
        let at = format!("{kind} {version}");
        if theirs_v["storage"] != mine_v["storage"] {
            out.push(format!(
                "{at}: storage {}, upstream {}",
                mine_v["storage"], theirs_v["storage"]
            ));
        }
        if theirs_v["served"] != mine_v["served"] {
            out.push(format!(
                "{at}: served {}, upstream {}",
                mine_v["served"], theirs_v["served"]
            ));
        }
        let (mut t, mut m) = (Shape::default(), Shape::default());
        walk(&theirs_v["schema"]["openAPIV3Schema"], "", &mut t);
        walk(&mine_v["schema"]["openAPIV3Schema"], "", &mut m);
        for (path, kind_t) in &t.types {
            match m.types.get(path) {
                None => out.push(format!("{at}: missing field {path} ({kind_t})")),
                Some(kind_m) if kind_m != kind_t => {
                    out.push(format!("{at}: {path} is {kind_m}, upstream {kind_t}"))
                }
                Some(_) => {}
            }
        }
        for path in m.types.keys().filter(|p| !t.types.contains_key(*p)) {
            if !allowed_extra(kind, version, path) {
                out.push(format!("{at}: field {path} upstream does not have"));
            }
        }
        let paths: BTreeSet<&String> = t.required.keys().chain(m.required.keys()).collect();
        for path in paths
            .into_iter()
            .filter(|p| !allowed_extra(kind, version, p))
        {
            let none = BTreeSet::new();
            let (rt, rm) = (
                t.required.get(path).unwrap_or(&none),
                m.required.get(path).unwrap_or(&none),
            );
            let shown = if path.is_empty() { "the root" } else { path };
            for extra in rm.difference(rt) {
                out.push(format!(
                    "{at}: we require {extra} at {shown}, upstream does not"
                ));
            }
            for missing in rt.difference(rm) {
                out.push(format!(
                    "{at}: upstream requires {missing} at {shown}, we do not"
                ));
            }
        }
    }
    out
}

#[test]
#[ignore = "needs upstream MetalLB's module: cargo xtask test"]
fn our_crds_have_every_upstream_field_and_require_nothing_more() -> Result<()> {
    let module = upstream::module_dir()?;
    let theirs = upstream::crds(&module)?;
    let ours: Vec<Value> = metallb_api::crds()
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let found = differences(&theirs, &ours);
    assert!(
        found.is_empty(),
        "our CRDs differ from upstream's ({}):\n  {}",
        module.display(),
        found.join("\n  ")
    );
    Ok(())
}

#[test]
fn the_comparison_reports_each_kind_of_difference() {
    let crd = |required: Value, spec: Value| {
        serde_json::json!({"spec": {"names": {"kind": "Thing"}, "scope": "Namespaced", "versions": [{
            "name": "v1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "required": required, "properties": {
                "apiVersion": {"type": "string"}, "spec": spec}}}}]}})
    };
    let upstream = crd(
        serde_json::json!([]),
        serde_json::json!({"type": "object", "properties": {
            "a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "object",
                "required": ["x"], "properties": {"x": {"type": "string"}}}}}}),
    );
    let ours = crd(
        serde_json::json!(["spec"]),
        serde_json::json!({"type": "object", "properties": {
            "a": {"type": "string"}, "c": {"type": "boolean"}, "b": {"type": "array",
                "items": {"type": "object", "properties": {"x": {"type": "string"}}}}}}),
    );
    assert_eq!(
        differences(std::slice::from_ref(&upstream), &[ours]),
        vec![
            "Thing v1: .spec.a is string, upstream integer",
            "Thing v1: field .spec.c upstream does not have",
            "Thing v1: we require spec at the root, upstream does not",
            "Thing v1: upstream requires x at .spec.b[], we do not",
        ]
    );
    let same = std::slice::from_ref(&upstream);
    assert!(differences(same, same).is_empty());
}
