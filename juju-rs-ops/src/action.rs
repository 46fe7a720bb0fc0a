//! Action results: flattening nested values into dotted keys, validated as Juju does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ModelError;

const RESERVED: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];

/// Whether one dot-separated segment of an action result key is valid for Juju:
/// lowercase alphanumerics and `-`, not starting or ending with `-`.
pub fn valid_key_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            ok(first) && ok(last) && bytes.iter().all(|b| ok(b) || *b == b'-')
        }
        _ => false,
    }
}

/// Checks a dotted result key the way `action-set` does.
pub fn check_key(key: &str) -> Result<(), ModelError> {
    for segment in key.split('.') {
        if RESERVED.contains(&segment) {
            return Err(ModelError::Refused(format!(
                "cannot set reserved action key {segment:?}"
            )));
        }
        if !valid_key_segment(segment) {
            return Err(ModelError::Refused(format!(
                "key {key:?} must start and end with lowercase alphanumeric, and contain only \
                 lowercase alphanumeric, hyphens and periods"
            )));
        }
    }
    Ok(())
}

/// Flattens a JSON object into `dotted.key -> string` pairs (strings unquoted, other scalars as
/// JSON, arrays as JSON text) and validates every key.
pub fn flatten_results(value: &Value) -> Result<BTreeMap<String, String>, ModelError> {
    let Value::Object(map) = value else {
        return Err(ModelError::Refused(
            "action results must be a map of keys to values".into(),
        ));
    };
    let mut out = BTreeMap::new();
    let mut stack: Vec<(String, &Value)> = map.iter().map(|(k, v)| (k.clone(), v)).collect();
    while let Some((key, value)) = stack.pop() {
        match value {
            Value::Object(inner) => {
                for (k, v) in inner {
                    stack.push((format!("{key}.{k}"), v));
                }
            }
            other => {
                check_key(&key)?;
                let text = match other {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                if out.insert(key.clone(), text).is_some() {
                    return Err(ModelError::Refused(format!(
                        "duplicate key {key:?} after flattening action results"
                    )));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_become_dotted_keys() {
        let flat =
            flatten_results(&json!({"a": {"b": 1, "c": "x"}, "d": true, "e": [1, 2]})).unwrap();
        assert_eq!(flat["a.b"], "1");
        assert_eq!(flat["a.c"], "x");
        assert_eq!(flat["d"], "true");
        assert_eq!(flat["e"], "[1,2]");
    }

    #[test]
    fn invalid_and_reserved_keys_are_refused() {
        for bad in ["Upper", "-lead", "trail-", "under_score", ""] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_key("a.-b").is_err());
        let err = check_key("stdout").unwrap_err();
        assert!(err.to_string().contains("reserved"));
        assert!(check_key("ok-key.n0").is_ok());
    }

    #[test]
    fn duplicate_after_flattening_is_refused() {
        let err = flatten_results(&json!({"a.b": 1, "a": {"b": 2}})).unwrap_err();
        assert!(err.to_string().contains("duplicate"));
    }
}
