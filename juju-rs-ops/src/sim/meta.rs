//! A charm's metadata as the agent reads it: `metadata.yaml` (name, resources, relation
//! endpoints), `config.yaml`, `actions.yaml`. Validates config values against option types and
//! action parameters against their schema.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::metadata::Endpoints;

/// One config option from `config.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Default value, if any.
    #[serde(default)]
    pub default: Option<serde_yaml::Value>,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// One resource from `metadata.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ResourceMeta {
    /// `file` or `oci-image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Default file name (file resources).
    #[serde(default)]
    pub filename: Option<String>,
}

/// One action from `actions.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ActionMeta {
    /// Description.
    #[serde(default)]
    pub description: String,
    /// JSON-schema properties of the parameters.
    #[serde(default)]
    pub params: BTreeMap<String, serde_yaml::Value>,
    /// Required parameter names.
    #[serde(default)]
    pub required: Vec<String>,
    /// Whether unknown parameters are allowed (Juju's default: no).
    #[serde(default, rename = "additionalProperties")]
    pub additional_properties: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct MetadataFile {
    name: String,
    #[serde(default)]
    resources: BTreeMap<String, ResourceMeta>,
}

#[derive(Debug, Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    options: BTreeMap<String, ConfigOption>,
}

/// The parsed metadata of a charm directory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CharmMeta {
    /// The charm name.
    pub name: String,
    /// Config options.
    pub options: BTreeMap<String, ConfigOption>,
    /// Actions.
    pub actions: BTreeMap<String, ActionMeta>,
    /// Resources.
    pub resources: BTreeMap<String, ResourceMeta>,
    /// Relation endpoints (`provides`, `requires`, `peers`).
    pub endpoints: Endpoints,
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => serde_yaml::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

impl CharmMeta {
    /// Reads the metadata files of `charm_dir`; `metadata.yaml` is required, as for Juju.
    pub fn load(charm_dir: &Path) -> Result<Self, String> {
        let metadata_path = charm_dir.join("metadata.yaml");
        let metadata: MetadataFile = read_yaml(&metadata_path)?.ok_or_else(|| {
            format!(
                "charm missing from disk: no metadata.yaml in {}",
                charm_dir.display()
            )
        })?;
        let endpoints = Endpoints::load(charm_dir)?;
        let config: ConfigFile = read_yaml(&charm_dir.join("config.yaml"))?.unwrap_or_default();
        let actions: BTreeMap<String, ActionMeta> =
            read_yaml(&charm_dir.join("actions.yaml"))?.unwrap_or_default();
        for (name, option) in &config.options {
            if !["string", "int", "float", "boolean", "secret"].contains(&option.kind.as_str()) {
                return Err(format!(
                    "config.yaml: option {name:?} has unknown type {:?}",
                    option.kind
                ));
            }
        }
        Ok(Self {
            name: metadata.name,
            options: config.options,
            actions,
            resources: metadata.resources,
            endpoints,
        })
    }

    /// Converts a value typed by a user (`juju config app k=v`) to the option's type.
    pub fn parse_config_value(&self, key: &str, text: &str) -> Result<Value, String> {
        let option = self
            .options
            .get(key)
            .ok_or_else(|| format!("unknown option {key:?}"))?;
        let bad = |what: &str| format!("option {key:?} expected {what}, got {text:?}");
        Ok(match option.kind.as_str() {
            "int" => Value::from(text.trim().parse::<i64>().map_err(|_| bad("int"))?),
            "float" => {
                let f = text.trim().parse::<f64>().map_err(|_| bad("float"))?;
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| bad("float"))?
            }
            "boolean" => Value::Bool(
                match text.trim() {
                    "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
                    "false" | "False" | "FALSE" | "no" | "off" => Some(false),
                    _ => None,
                }
                .ok_or_else(|| bad("boolean"))?,
            ),
            "secret" if !text.is_empty() => {
                super::secrets::parse_secret_uri(text).map_err(|_| bad("secret URI"))?;
                Value::String(text.to_string())
            }
            _ => Value::String(text.to_string()),
        })
    }

    /// The config as `config-get` sees it: set values over defaults. With `all`, options
    /// without a value are included as `null`.
    pub fn effective_config(&self, set: &BTreeMap<String, Value>, all: bool) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, option) in &self.options {
            let value = set.get(name).cloned().or_else(|| {
                option
                    .default
                    .as_ref()
                    .and_then(|d| serde_json::to_value(d).ok())
                    .filter(|v| !v.is_null())
            });
            match value {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                None if all => {
                    out.insert(name.clone(), Value::Null);
                }
                None => {}
            }
        }
        out
    }

    /// Validates `juju run` parameters (`k=v` texts) against the action's schema, converts them to
    /// the declared types, rejects unknown ones and fills defaults.
    pub fn action_params(
        &self,
        action: &str,
        given: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, String> {
        let meta = self.actions.get(action).ok_or_else(|| {
            let known: Vec<&str> = self.actions.keys().map(String::as_str).collect();
            format!(
                "action {action:?} not defined in actions.yaml (defined: {})",
                known.join(", ")
            )
        })?;
        let mut out = Map::new();
        for (key, text) in given {
            let schema = match meta.params.get(key) {
                Some(schema) => schema,
                None if meta.additional_properties == Some(true) => {
                    out.insert(key.clone(), Value::String(text.clone()));
                    continue;
                }
                None => {
                    return Err(format!(
                        "validation failed: (root) : additional property \"{key}\" is not allowed"
                    ));
                }
            };
            out.insert(key.clone(), typed_param(key, text, schema)?);
        }
        for (key, schema) in &meta.params {
            if out.contains_key(key) {
                continue;
            }
            if let Some(value) = schema
                .get("default")
                .and_then(|d| serde_json::to_value(d).ok())
            {
                out.insert(key.clone(), value);
            }
        }
        for key in &meta.required {
            if !out.contains_key(key) {
                return Err(format!(
                    "validation failed: (root) : \"{key}\" property is missing and required"
                ));
            }
        }
        Ok(out)
    }
}

fn typed_param(key: &str, text: &str, schema: &serde_yaml::Value) -> Result<Value, String> {
    let kind = schema.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let bad = |what: &str| {
        format!("validation failed: (root).{key} : invalid type. Expected: {what}, given: {text:?}")
    };
    let value = match kind {
        "string" => Value::String(text.to_string()),
        "integer" => Value::from(text.trim().parse::<i64>().map_err(|_| bad("integer"))?),
        "number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("number"))?,
        "boolean" => {
            Value::Bool(super::flags::parse_bool(text.trim()).ok_or_else(|| bad("boolean"))?)
        }
        _ => serde_yaml::from_str::<serde_yaml::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_else(|| Value::String(text.to_string())),
    };
    if let Some(choices) = schema.get("enum").and_then(|e| e.as_sequence()) {
        let allowed: Vec<Value> = choices
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect();
        if !allowed.contains(&value) {
            return Err(format!(
                "validation failed: (root).{key} : {key} must be one of the following: {}",
                allowed
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CharmMeta {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metadata.yaml"),
            "name: demo\nresources:\n  img:\n    type: oci-image\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "options:\n  name: {type: string, default: x}\n  n: {type: int, default: 3}\n  \
             f: {type: float}\n  b: {type: boolean, default: false}\n  s: {type: secret}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("actions.yaml"),
            "go:\n  params:\n    count: {type: integer, default: 1}\n    mode: {type: string, enum: [a, b]}\n  required: [mode]\n",
        )
        .unwrap();
        CharmMeta::load(dir.path()).unwrap()
    }

    #[test]
    fn config_values_follow_option_types() {
        let m = meta();
        assert_eq!(m.parse_config_value("n", "7"), Ok(Value::from(7)));
        assert!(
            m.parse_config_value("n", "seven")
                .unwrap_err()
                .contains("expected int")
        );
        assert_eq!(m.parse_config_value("b", "true"), Ok(Value::Bool(true)));
        let uri = "secret:d1ab8mnmp25c76b2q3e0";
        assert_eq!(m.parse_config_value("s", uri), Ok(Value::from(uri)));
        assert!(
            m.parse_config_value("s", "bgp")
                .unwrap_err()
                .contains("expected secret URI")
        );
        assert_eq!(m.parse_config_value("s", ""), Ok(Value::from("")));
        assert!(
            m.parse_config_value("nope", "1")
                .unwrap_err()
                .contains("unknown option")
        );
    }

    #[test]
    fn effective_config_applies_defaults_and_all() {
        let m = meta();
        let set = BTreeMap::from([("n".to_string(), Value::from(5))]);
        let cfg = m.effective_config(&set, false);
        assert_eq!(cfg["n"], Value::from(5));
        assert_eq!(cfg["name"], Value::from("x"));
        assert!(!cfg.contains_key("f"));
        assert_eq!(m.effective_config(&set, true)["f"], Value::Null);
    }

    #[test]
    fn action_params_are_validated_and_defaulted() {
        let m = meta();
        let given = BTreeMap::from([("mode".to_string(), "a".to_string())]);
        let p = m.action_params("go", &given).unwrap();
        assert_eq!(p["count"], Value::from(1));
        assert!(
            m.action_params("go", &BTreeMap::new())
                .unwrap_err()
                .contains("required")
        );
        let bad = BTreeMap::from([("mode".to_string(), "c".to_string())]);
        assert!(m.action_params("go", &bad).unwrap_err().contains("one of"));
        let extra = BTreeMap::from([("mode".into(), "a".into()), ("x".into(), "1".into())]);
        assert!(
            m.action_params("go", &extra)
                .unwrap_err()
                .contains("additional property")
        );
        assert!(
            m.action_params("nope", &given)
                .unwrap_err()
                .contains("not defined")
        );
    }

    #[test]
    fn missing_metadata_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            CharmMeta::load(dir.path())
                .unwrap_err()
                .contains("metadata.yaml")
        );
    }
}
