//! Whether a server-side apply of a desired object would change the live object: pure, no I/O.
//!
//! An apply by the charm's field manager changes an object when it sets a field to a value the
//! object does not hold, or when it no longer states a field the manager applied before (the
//! API server then removes that field, or gives it up to its other owners). So an apply can be
//! skipped only when both hold:
//!
//! 1. every field of the desired object is present in the live object with an equal value
//!    (lists of the same length, item by item); and
//! 2. every field the manager's last apply owns (its `managedFields` entry, operation `Apply`)
//!    is still stated by the desired object.
//!
//! Anything this module cannot judge counts as a change, so the caller applies, as it always
//! did: a null, a number given as a string, a quantity the API server normalised (`0.5` stored
//! as `500m`), a list another manager added items to, an object the manager never applied, an
//! unknown `fieldsV1` key. Numbers are compared as numbers (`255.0` is `255`).

use serde_json::{Map, Value};

/// Why `desired` must be applied over `live`, or None when the apply would change nothing.
/// `manager` is the field manager of the apply.
pub fn apply_needed(live: &Value, desired: &Value, manager: &str) -> Option<String> {
    if let Some(path) = first_difference(live, desired, &mut Vec::new()) {
        return Some(format!("{} differs", render_path(&path)));
    }
    let Some(owned) = applied_fields(live, manager) else {
        return Some(format!("no apply by {manager} recorded"));
    };
    let mut path = Vec::new();
    if still_stated(owned, desired, &mut path) {
        None
    } else {
        Some(format!("{} is no longer applied", render_path(&path)))
    }
}

/// The first path where `desired` states something `live` does not hold, if any.
fn first_difference(live: &Value, desired: &Value, path: &mut Vec<String>) -> Option<Vec<String>> {
    match (live, desired) {
        (_, Value::Null) => Some(path.clone()),
        (Value::Object(live), Value::Object(desired)) => {
            for (key, want) in desired {
                path.push(key.clone());
                let found = match live.get(key) {
                    Some(have) => first_difference(have, want, path),
                    None => Some(path.clone()),
                };
                if found.is_some() {
                    return found;
                }
                path.pop();
            }
            None
        }
        (Value::Array(live), Value::Array(desired)) => {
            if live.len() != desired.len() {
                return Some(path.clone());
            }
            for (i, (have, want)) in live.iter().zip(desired).enumerate() {
                path.push(i.to_string());
                if let Some(found) = first_difference(have, want, path) {
                    return Some(found);
                }
                path.pop();
            }
            None
        }
        (Value::Number(have), Value::Number(want)) => {
            (!same_number(have, want)).then(|| path.clone())
        }
        (have, want) => (have != want).then(|| path.clone()),
    }
}

/// Whether two JSON numbers are the same number: JSON has one kind of number, and the API
/// server writes back `255.0` as `255` (a CRD schema's `maximum`). An integer and a float
/// are the same only when the float is that integer exactly.
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    let integer = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    /// Below 2^53 every integer is exactly a float.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let whole = |f: f64| (f.fract() == 0.0 && f.abs() < EXACT).then_some(f as i128);
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => a == b,
        (Some(i), None) => b.as_f64().and_then(whole) == Some(i),
        (None, Some(i)) => a.as_f64().and_then(whole) == Some(i),
        (None, None) => a.as_f64() == b.as_f64(),
    }
}

/// The `fieldsV1` of `manager`'s apply to the object itself (not a subresource), if any.
fn applied_fields<'a>(live: &'a Value, manager: &str) -> Option<&'a Map<String, Value>> {
    live["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| {
            entry["manager"] == manager
                && entry["operation"] == "Apply"
                && entry["subresource"].as_str().unwrap_or("").is_empty()
        })?
        .get("fieldsV1")?
        .as_object()
}

/// Whether every field of the owned set `owned` (a `fieldsV1` node) is stated in `desired`;
/// on `false`, `path` names the first one that is not.
fn still_stated(owned: &Map<String, Value>, desired: &Value, path: &mut Vec<String>) -> bool {
    for (key, children) in owned {
        if key == "." {
            continue;
        }
        path.push(key.clone());
        let children = children.as_object();
        let stated = match (key.split_at_checked(2), children) {
            (Some(("f:", field)), Some(children)) => match desired.get(field) {
                Some(Value::Null) | None => false,
                Some(value) => still_stated(children, value, path),
            },
            (Some(("k:", keys)), Some(children)) => {
                match (serde_json::from_str::<Map<String, Value>>(keys), desired) {
                    (Ok(keys), Value::Array(items)) => items
                        .iter()
                        .find(|item| item_has_keys(item, &keys))
                        .is_some_and(|item| still_stated(children, item, path)),
                    _ => false,
                }
            }
            (Some(("v:", value)), Some(_)) => {
                match (serde_json::from_str::<Value>(value), desired) {
                    (Ok(value), Value::Array(items)) => items.contains(&value),
                    _ => false,
                }
            }
            _ => false,
        };
        if !stated {
            return false;
        }
        path.pop();
    }
    true
}

/// Whether list item `item` is the one the associative-list key `keys` names. A key field the
/// desired item leaves out is one the API server defaulted (a port's `protocol`); the lengths
/// of the lists were compared before, so an item missing from the desired list is caught
/// there.
fn item_has_keys(item: &Value, keys: &Map<String, Value>) -> bool {
    keys.iter()
        .all(|(field, value)| item.get(field).is_none_or(|have| have == value))
}

fn render_path(path: &[String]) -> String {
    if path.is_empty() {
        "the object".to_string()
    } else {
        path.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "metallb-charm";

    fn managed(fields: Value) -> Value {
        json!([
            {"manager": "kube-controller-manager", "operation": "Update",
             "subresource": "status", "fieldsV1": {"f:status": {}}},
            {"manager": ME, "operation": "Apply", "fieldsV1": fields},
        ])
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "controller", "namespace": "ns", "labels": {"a": "1"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{
                "name": "controller", "image": "c:1",
                "ports": [{"name": "monitoring", "containerPort": 7472}],
            }]}}},
        })
    }

    fn owned_by_deployment() -> Value {
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"controller\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":7472,\"protocol\":\"TCP\"}": {
                        ".": {}, "f:containerPort": {}, "f:name": {},
                    }},
                },
            }}}},
        })
    }

    /// `deployment()` as the API server returns it: defaults filled in, status, managed fields.
    fn live() -> Value {
        let mut live = deployment();
        live["metadata"]["uid"] = json!("u");
        live["metadata"]["labels"]["added-by-someone"] = json!("x");
        live["metadata"]["managedFields"] = managed(owned_by_deployment());
        let container = &mut live["spec"]["template"]["spec"]["containers"][0];
        container["imagePullPolicy"] = json!("IfNotPresent");
        container["ports"][0]["protocol"] = json!("TCP");
        live["spec"]["strategy"] = json!({"type": "Recreate"});
        live["status"] = json!({"availableReplicas": 1});
        live
    }

    #[test]
    fn an_object_holding_everything_with_defaults_and_status_needs_no_apply() {
        assert_eq!(apply_needed(&live(), &deployment(), ME), None);
    }

    #[test]
    fn a_changed_or_missing_field_needs_an_apply_and_is_named() {
        let mut desired = deployment();
        desired["spec"]["template"]["spec"]["containers"][0]["image"] = json!("c:2");
        assert_eq!(
            apply_needed(&live(), &desired, ME).as_deref(),
            Some("spec.template.spec.containers.0.image differs")
        );
        let mut desired = deployment();
        desired["metadata"]["annotations"] = json!({"x": "y"});
        assert_eq!(
            apply_needed(&live(), &desired, ME).as_deref(),
            Some("metadata.annotations differs")
        );
    }

    #[test]
    fn doubtful_values_count_as_changes() {
        let with = |path: &[&str], value: Value| {
            let mut desired = deployment();
            let mut at = &mut desired;
            for p in path {
                at = &mut at[*p];
            }
            *at = value;
            apply_needed(&live(), &desired, ME)
        };
        // Another number, a null, the same number as a string.
        assert!(with(&["spec", "replicas"], json!(1.5)).is_some());
        assert!(with(&["spec", "replicas"], json!(2)).is_some());
        assert!(with(&["spec", "replicas"], Value::Null).is_some());
        assert!(with(&["spec", "replicas"], json!("1")).is_some());
        // An empty object the live object does not hold.
        assert!(with(&["spec", "selector"], json!({})).is_some());
    }

    #[test]
    fn numbers_are_compared_as_numbers() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        assert!(same_number(&n(json!(255)), &n(json!(255.0))));
        assert!(same_number(&n(json!(255.0)), &n(json!(255))));
        assert!(same_number(&n(json!(-3)), &n(json!(-3.0))));
        assert!(same_number(&n(json!(0.5)), &n(json!(0.5))));
        assert!(!same_number(&n(json!(255)), &n(json!(255.5))));
        assert!(!same_number(
            &n(json!(u64::MAX)),
            &n(json!(u64::MAX as f64))
        ));
        assert!(!same_number(&n(json!(1)), &n(json!(2))));
        // A CRD schema's maximum as the API server writes it back.
        let desired = json!({"spec": {"maximum": 4294967295.0_f64}});
        let mut live = desired.clone();
        live["spec"]["maximum"] = json!(4294967295_u64);
        live["metadata"] = json!({"managedFields": [{"manager": ME, "operation": "Apply",
            "fieldsV1": {"f:spec": {"f:maximum": {}}}}]});
        assert_eq!(apply_needed(&live, &desired, ME), None);
    }

    #[test]
    fn lists_must_match_item_by_item() {
        // Another item in the live list (someone added a container): applied, as before.
        let mut live = live();
        let containers = live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        containers.push(json!({"name": "sidecar", "image": "s"}));
        assert_eq!(
            apply_needed(&live, &deployment(), ME).as_deref(),
            Some("spec.template.spec.containers differs")
        );
        // An item fewer in the desired list.
        let mut desired = deployment();
        desired["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([]);
        assert!(apply_needed(&self::live(), &desired, ME).is_some());
    }

    #[test]
    fn a_field_the_last_apply_set_and_the_desired_object_drops_needs_an_apply() {
        // The charm no longer sets label `a`: the apply would remove it.
        let mut desired = deployment();
        desired["metadata"]["labels"] = json!({});
        assert_eq!(
            apply_needed(&live(), &desired, ME).as_deref(),
            Some("f:metadata.f:labels.f:a is no longer applied")
        );
        // The same inside a list item: the container's ports are no longer set.
        let mut desired = deployment();
        desired["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("ports");
        let mut live = live();
        live["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("ports");
        live["metadata"]["managedFields"] = managed(owned_by_deployment());
        assert!(
            apply_needed(&live, &desired, ME)
                .unwrap()
                .ends_with("f:ports is no longer applied")
        );
    }

    #[test]
    fn an_object_the_manager_never_applied_is_applied() {
        let mut live = live();
        live["metadata"]["managedFields"] = json!([
            {"manager": "kubectl", "operation": "Apply", "fieldsV1": owned_by_deployment()},
            {"manager": ME, "operation": "Update", "fieldsV1": owned_by_deployment()},
        ]);
        assert_eq!(
            apply_needed(&live, &deployment(), ME).as_deref(),
            Some("no apply by metallb-charm recorded")
        );
        let mut live = self::live();
        live["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert!(apply_needed(&live, &deployment(), ME).is_some());
    }

    #[test]
    fn set_entries_and_unknown_keys() {
        let desired = json!({"metadata": {"finalizers": ["a", "b"]}});
        let live = |owned: Value| {
            json!({"metadata": {"finalizers": ["a", "b"],
                   "managedFields": [{"manager": ME, "operation": "Apply", "fieldsV1": owned}]}})
        };
        let owned =
            json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}, "v:\"b\"": {}}}});
        assert_eq!(apply_needed(&live(owned), &desired, ME), None);
        let owned = json!({"f:metadata": {"f:finalizers": {"v:\"c\"": {}}}});
        assert!(apply_needed(&live(owned), &desired, ME).is_some());
        let owned = json!({"f:metadata": {"i:0": {}}});
        assert!(apply_needed(&live(owned), &desired, ME).is_some());
    }
}
