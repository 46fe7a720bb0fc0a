//! The hook environment, parsed once into a typed value.
//!
//! [`JujuContext`] is the only place that reads `JUJU_*` variables; everything else takes the
//! parsed value. Variables that Juju always sets must be present (they may be empty, as in
//! ops' `JujuContext.from_environ`); the per-event variables are required for their event kind.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::ContextError;

/// The action being run, from `JUJU_ACTION_NAME` and `JUJU_ACTION_UUID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// Action name as declared in actions.yaml.
    pub name: String,
    /// Opaque action id (`JUJU_ACTION_UUID`; a task number in Juju 3.x).
    pub id: String,
}

/// The relation of a relation hook, from `JUJU_RELATION*`, `JUJU_REMOTE_*`, `JUJU_DEPARTING_UNIT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationInfo {
    /// Endpoint name (`JUJU_RELATION`).
    pub endpoint: String,
    /// Numeric relation id (the digits after the last `:` of `JUJU_RELATION_ID`).
    pub id: u64,
    /// Remote application (`JUJU_REMOTE_APP`, else the prefix of `JUJU_REMOTE_UNIT`).
    pub remote_app: String,
    /// Remote unit; `None` for `-created` and `-broken`, and for a `-changed` that reports a
    /// change of the remote application's databag (Juju sends `JUJU_REMOTE_UNIT` empty then).
    pub remote_unit: Option<String>,
    /// The unit that is leaving (`-departed` only).
    pub departing_unit: Option<String>,
}

/// The secret of a secret hook, from `JUJU_SECRET_ID`, `JUJU_SECRET_LABEL`,
/// `JUJU_SECRET_REVISION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEventInfo {
    /// The secret's URI (`secret:...`).
    pub id: String,
    /// The label this unit knows the secret by (owner or consumer label), if any.
    pub label: Option<String>,
    /// The revision concerned (`secret-remove` and `secret-expired` only).
    pub revision: Option<u64>,
}

/// Everything Juju told this process through its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuContext {
    /// `JUJU_DISPATCH_PATH`, e.g. `hooks/install` or `actions/list-resources`.
    pub dispatch_path: String,
    /// `JUJU_HOOK_NAME` (empty for actions).
    pub hook_name: String,
    /// `JUJU_UNIT_NAME`, e.g. `metallb/0`.
    pub unit_name: String,
    /// The application name: `unit_name` up to the `/`.
    pub app_name: String,
    /// `JUJU_MODEL_NAME` (on Kubernetes also the namespace of the model).
    pub model_name: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_VERSION` (`0.0.0` when empty).
    pub juju_version: String,
    /// `JUJU_CHARM_DIR` (else `CHARM_DIR`, else the working directory).
    pub charm_dir: PathBuf,
    /// Set for actions.
    pub action: Option<ActionInfo>,
    /// Set for relation hooks.
    pub relation: Option<RelationInfo>,
    /// Set for secret hooks (`secret-changed`, `secret-rotate`, `secret-remove`,
    /// `secret-expired`).
    pub secret: Option<SecretEventInfo>,
    /// `JUJU_WORKLOAD_NAME` for Pebble hooks.
    pub workload_name: Option<String>,
    /// `JUJU_DEBUG` is present: also log to stderr.
    pub debug: bool,
}

const ALWAYS_PRESENT: [&str; 6] = [
    "JUJU_DISPATCH_PATH",
    "JUJU_HOOK_NAME",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_UNIT_NAME",
    "JUJU_VERSION",
];

const SECRET_HOOKS: [&str; 4] = [
    "secret-changed",
    "secret-rotate",
    "secret-remove",
    "secret-expired",
];

const RELATION_SUFFIXES: [&str; 5] = [
    "-relation-created",
    "-relation-joined",
    "-relation-changed",
    "-relation-departed",
    "-relation-broken",
];

impl JujuContext {
    /// Parses the process environment.
    pub fn from_env() -> Result<Self, ContextError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses a map of variables (used by tests and the testing harness).
    pub fn from_map(vars: &BTreeMap<String, String>) -> Result<Self, ContextError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Parses variables from any lookup function.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ContextError> {
        let missing: Vec<&str> = ALWAYS_PRESENT
            .iter()
            .copied()
            .filter(|name| get(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ContextError::Missing(
                missing.iter().map(|s| s.to_string()).collect(),
            ));
        }
        let value = |name: &str| get(name).unwrap_or_default();
        let require = |name: &str, why: &str| -> Result<String, ContextError> {
            get(name).ok_or_else(|| ContextError::MissingFor {
                variable: name.to_string(),
                event: why.to_string(),
            })
        };

        let dispatch_path = value("JUJU_DISPATCH_PATH");
        if dispatch_path.is_empty() {
            return Err(ContextError::EmptyDispatchPath);
        }
        let hook_name = value("JUJU_HOOK_NAME");
        let unit_name = value("JUJU_UNIT_NAME");
        let app_name = match unit_name.split_once('/') {
            Some((app, number)) if !app.is_empty() && number.parse::<u32>().is_ok() => {
                app.to_string()
            }
            _ => return Err(ContextError::BadUnitName(unit_name)),
        };
        let juju_version = match value("JUJU_VERSION") {
            v if v.is_empty() => "0.0.0".to_string(),
            v => v,
        };
        let charm_dir = get("JUJU_CHARM_DIR")
            .filter(|d| !d.is_empty())
            .or_else(|| get("CHARM_DIR").filter(|d| !d.is_empty()))
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));

        let action = if hook_name.is_empty() && dispatch_path.starts_with("actions/") {
            let why = "an action";
            Some(ActionInfo {
                name: require("JUJU_ACTION_NAME", why)?,
                id: require("JUJU_ACTION_UUID", why)?,
            })
        } else {
            None
        };

        let event_name = dispatch_path.rsplit('/').next().unwrap_or_default();
        let relation = match RELATION_SUFFIXES.iter().find(|s| event_name.ends_with(*s)) {
            Some(suffix) if dispatch_path.starts_with("hooks/") => {
                let why = format!("relation hook {event_name}");
                let endpoint = require("JUJU_RELATION", &why)?;
                let raw_id = require("JUJU_RELATION_ID", &why)?;
                let id = raw_id
                    .rsplit(':')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| ContextError::BadRelationId(raw_id.clone()))?;
                let needs_unit = matches!(
                    *suffix,
                    "-relation-joined" | "-relation-changed" | "-relation-departed"
                );
                // Present for these hooks, but empty for a `-changed` about the remote
                // application's databag.
                let remote_unit = if needs_unit {
                    Some(require("JUJU_REMOTE_UNIT", &why)?)
                } else {
                    get("JUJU_REMOTE_UNIT")
                }
                .filter(|u| !u.is_empty());
                let remote_app = get("JUJU_REMOTE_APP")
                    .filter(|a| !a.is_empty())
                    .or_else(|| {
                        remote_unit
                            .as_deref()
                            .and_then(|u| u.split_once('/'))
                            .map(|(app, _)| app.to_string())
                    })
                    .ok_or_else(|| ContextError::MissingFor {
                        variable: "JUJU_REMOTE_APP".into(),
                        event: why.clone(),
                    })?;
                let departing_unit = if *suffix == "-relation-departed" {
                    Some(require("JUJU_DEPARTING_UNIT", &why)?)
                } else {
                    None
                };
                Some(RelationInfo {
                    endpoint,
                    id,
                    remote_app,
                    remote_unit,
                    departing_unit,
                })
            }
            _ => None,
        };

        let secret = match SECRET_HOOKS
            .iter()
            .find(|h| dispatch_path == format!("hooks/{h}"))
        {
            Some(hook) => {
                let why = format!("secret hook {hook}");
                let id = require("JUJU_SECRET_ID", &why)?;
                let revision = if matches!(*hook, "secret-remove" | "secret-expired") {
                    let raw = require("JUJU_SECRET_REVISION", &why)?;
                    Some(
                        raw.parse::<u64>()
                            .map_err(|_| ContextError::BadSecretRevision(raw.clone()))?,
                    )
                } else {
                    get("JUJU_SECRET_REVISION").and_then(|r| r.parse::<u64>().ok())
                };
                Some(SecretEventInfo {
                    id,
                    label: get("JUJU_SECRET_LABEL").filter(|l| !l.is_empty()),
                    revision,
                })
            }
            None => None,
        };

        Ok(Self {
            dispatch_path,
            hook_name,
            unit_name,
            app_name,
            model_name: value("JUJU_MODEL_NAME"),
            model_uuid: value("JUJU_MODEL_UUID"),
            juju_version,
            charm_dir,
            action,
            relation,
            secret,
            workload_name: get("JUJU_WORKLOAD_NAME").filter(|w| !w.is_empty()),
            debug: get("JUJU_DEBUG").is_some(),
        })
    }

    /// The event name as ops derives it: the last path component (`config-changed`).
    pub fn event_name(&self) -> &str {
        self.dispatch_path.rsplit('/').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(path: &str, hook: &str) -> BTreeMap<String, String> {
        [
            ("JUJU_DISPATCH_PATH", path),
            ("JUJU_HOOK_NAME", hook),
            ("JUJU_MODEL_NAME", "lab"),
            ("JUJU_MODEL_UUID", "0b5e5e2c-1111-4222-8333-444455556666"),
            ("JUJU_UNIT_NAME", "metallb/0"),
            ("JUJU_VERSION", "3.6.8"),
            ("JUJU_CHARM_DIR", "/charm"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn parses_a_hook() {
        let ctx = JujuContext::from_map(&base("hooks/install", "install")).unwrap();
        assert_eq!(ctx.app_name, "metallb");
        assert_eq!(ctx.event_name(), "install");
        assert_eq!(ctx.charm_dir, PathBuf::from("/charm"));
        assert!(ctx.action.is_none() && ctx.relation.is_none());
    }

    #[test]
    fn refuses_missing_always_present_variables() {
        let mut vars = base("hooks/install", "install");
        vars.remove("JUJU_MODEL_UUID");
        vars.remove("JUJU_VERSION");
        let err = JujuContext::from_map(&vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing Juju environment variables: JUJU_MODEL_UUID, JUJU_VERSION \
             (is this running under a Juju unit agent?)"
        );
    }

    #[test]
    fn empty_values_are_accepted_where_juju_sends_them() {
        let mut vars = base("actions/do-it", "");
        vars.insert("JUJU_ACTION_NAME".into(), "do-it".into());
        vars.insert("JUJU_ACTION_UUID".into(), "7".into());
        vars.insert("JUJU_VERSION".into(), "".into());
        let ctx = JujuContext::from_map(&vars).unwrap();
        assert_eq!(ctx.juju_version, "0.0.0");
        assert_eq!(
            ctx.action,
            Some(ActionInfo {
                name: "do-it".into(),
                id: "7".into()
            })
        );
    }

    #[test]
    fn actions_require_their_variables() {
        let vars = base("actions/do-it", "");
        let err = JujuContext::from_map(&vars).unwrap_err();
        assert!(err.to_string().contains("JUJU_ACTION_NAME"), "{err}");
    }

    #[test]
    fn relation_hooks_require_their_variables() {
        let mut vars = base("hooks/db-relation-changed", "db-relation-changed");
        vars.insert("JUJU_RELATION".into(), "db".into());
        vars.insert("JUJU_RELATION_ID".into(), "db:3".into());
        vars.insert("JUJU_REMOTE_APP".into(), "pg".into());
        let err = JujuContext::from_map(&vars).unwrap_err();
        assert!(err.to_string().contains("JUJU_REMOTE_UNIT"), "{err}");
        vars.insert("JUJU_REMOTE_UNIT".into(), "pg/1".into());
        let rel = JujuContext::from_map(&vars).unwrap().relation.unwrap();
        assert_eq!((rel.endpoint.as_str(), rel.id), ("db", 3));
        assert_eq!(rel.remote_unit.as_deref(), Some("pg/1"));
    }

    #[test]
    fn broken_relation_has_no_remote_unit() {
        let mut vars = base("hooks/db-relation-broken", "db-relation-broken");
        vars.insert("JUJU_RELATION".into(), "db".into());
        vars.insert("JUJU_RELATION_ID".into(), "db:3".into());
        vars.insert("JUJU_REMOTE_APP".into(), "pg".into());
        vars.insert("JUJU_REMOTE_UNIT".into(), "".into());
        let rel = JujuContext::from_map(&vars).unwrap().relation.unwrap();
        assert_eq!(rel.remote_unit, None);
    }

    #[test]
    fn an_application_databag_change_has_no_remote_unit() {
        let mut vars = base("hooks/db-relation-changed", "db-relation-changed");
        vars.insert("JUJU_RELATION".into(), "db".into());
        vars.insert("JUJU_RELATION_ID".into(), "db:3".into());
        vars.insert("JUJU_REMOTE_APP".into(), "pg".into());
        vars.insert("JUJU_REMOTE_UNIT".into(), "".into());
        let rel = JujuContext::from_map(&vars).unwrap().relation.unwrap();
        assert_eq!((rel.remote_unit, rel.remote_app.as_str()), (None, "pg"));
    }

    #[test]
    fn secret_hooks_carry_their_secret() {
        let mut vars = base("hooks/secret-changed", "secret-changed");
        let err = JujuContext::from_map(&vars).unwrap_err();
        assert!(err.to_string().contains("JUJU_SECRET_ID"), "{err}");
        vars.insert(
            "JUJU_SECRET_ID".into(),
            "secret:d1ab8mnmp25c76b2q3e0".into(),
        );
        vars.insert("JUJU_SECRET_LABEL".into(), "".into());
        let secret = JujuContext::from_map(&vars).unwrap().secret.unwrap();
        assert_eq!(
            secret,
            SecretEventInfo {
                id: "secret:d1ab8mnmp25c76b2q3e0".into(),
                label: None,
                revision: None
            }
        );
        let mut vars = base("hooks/secret-remove", "secret-remove");
        vars.insert(
            "JUJU_SECRET_ID".into(),
            "secret:d1ab8mnmp25c76b2q3e0".into(),
        );
        vars.insert("JUJU_SECRET_LABEL".into(), "db-password".into());
        let err = JujuContext::from_map(&vars).unwrap_err();
        assert!(err.to_string().contains("JUJU_SECRET_REVISION"), "{err}");
        vars.insert("JUJU_SECRET_REVISION".into(), "x".into());
        assert!(matches!(
            JujuContext::from_map(&vars),
            Err(ContextError::BadSecretRevision(_))
        ));
        vars.insert("JUJU_SECRET_REVISION".into(), "3".into());
        let secret = JujuContext::from_map(&vars).unwrap().secret.unwrap();
        assert_eq!(
            (secret.label.as_deref(), secret.revision),
            (Some("db-password"), Some(3))
        );
    }

    #[test]
    fn bad_unit_name_and_relation_id_are_errors() {
        let mut vars = base("hooks/install", "install");
        vars.insert("JUJU_UNIT_NAME".into(), "metallb".into());
        assert!(matches!(
            JujuContext::from_map(&vars),
            Err(ContextError::BadUnitName(_))
        ));
        let mut vars = base("hooks/db-relation-created", "db-relation-created");
        vars.insert("JUJU_RELATION".into(), "db".into());
        vars.insert("JUJU_RELATION_ID".into(), "db:x".into());
        vars.insert("JUJU_REMOTE_APP".into(), "pg".into());
        assert!(matches!(
            JujuContext::from_map(&vars),
            Err(ContextError::BadRelationId(_))
        ));
    }
}
