//! The relation tools (`relation-ids`, `relation-list`, `relation-get`, `relation-set`), called
//! exactly as ops >= 3.4 calls them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CommandRunner, ProcessHookTools};
use crate::error::ModelError;

/// Typed access to the relation tools. A relation is named by its endpoint and numeric id and
/// passed as `-r ENDPOINT:ID`, as ops does.
pub trait RelationTools {
    /// `relation-ids ENDPOINT --format=json`: the ids of the endpoint's relations (the digits
    /// after the last `:` of each `endpoint:id`).
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ModelError>;
    /// `relation-list --format=json -r ENDPOINT:ID`: the remote units in the relation.
    fn relation_list(&self, endpoint: &str, id: u64) -> Result<Vec<String>, ModelError>;
    /// `relation-list --format=json --app -r ENDPOINT:ID`: the remote application (`None` when
    /// Juju prints an empty name).
    fn relation_remote_app(&self, endpoint: &str, id: u64) -> Result<Option<String>, ModelError>;
    /// `relation-get --format=json -r ENDPOINT:ID [--app] - UNIT_OR_APP`: one databag.
    fn relation_get(
        &self,
        endpoint: &str,
        id: u64,
        unit_or_app: &str,
        app: bool,
    ) -> Result<BTreeMap<String, String>, ModelError>;
    /// `relation-set -r ENDPOINT:ID [--app] --file -` with the pairs as a JSON object on stdin;
    /// an empty value deletes the key.
    fn relation_set(
        &self,
        endpoint: &str,
        id: u64,
        app: bool,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ModelError>;
}

/// `endpoint:id`, as ops passes it to `-r`.
fn relation_arg(endpoint: &str, id: u64) -> String {
    format!("{endpoint}:{id}")
}

/// Parses the id out of `endpoint:id` (Juju's "fake id"), as Juju's own `-r` parsing does.
fn parse_relation_id(text: &str) -> Option<u64> {
    text.rsplit(':').next()?.parse().ok()
}

impl<R: CommandRunner> RelationTools for ProcessHookTools<R> {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ModelError> {
        let names: Option<Vec<String>> =
            self.call_json("relation-ids", &[endpoint, "--format=json"])?;
        names
            .unwrap_or_default()
            .iter()
            .map(|name| {
                parse_relation_id(name).ok_or_else(|| ModelError::BadOutput {
                    tool: "relation-ids".into(),
                    reason: format!("{name:?} is not of the form <endpoint>:<id>"),
                })
            })
            .collect()
    }

    fn relation_list(&self, endpoint: &str, id: u64) -> Result<Vec<String>, ModelError> {
        let rel = relation_arg(endpoint, id);
        let units: Option<Vec<String>> = self
            .call_json("relation-list", &["--format=json", "-r", &rel])
            .map_err(|e| e.for_relation(&rel))?;
        Ok(units.unwrap_or_default())
    }

    fn relation_remote_app(&self, endpoint: &str, id: u64) -> Result<Option<String>, ModelError> {
        let rel = relation_arg(endpoint, id);
        let app: Option<String> = self
            .call_json("relation-list", &["--format=json", "--app", "-r", &rel])
            .map_err(|e| e.for_relation(&rel))?;
        Ok(app.filter(|a| !a.is_empty()))
    }

    fn relation_get(
        &self,
        endpoint: &str,
        id: u64,
        unit_or_app: &str,
        app: bool,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        let rel = relation_arg(endpoint, id);
        let mut args = vec!["--format=json", "-r", rel.as_str()];
        if app {
            args.push("--app");
        }
        args.extend(["-", unit_or_app]);
        let value: Value = self
            .call_json("relation-get", &args)
            .map_err(|e| e.for_relation(&rel))?;
        match value {
            Value::Null => Ok(BTreeMap::new()),
            other => serde_json::from_value(other.clone()).map_err(|e| ModelError::BadOutput {
                tool: "relation-get".into(),
                reason: format!("expected a map of strings ({e}), got {other}"),
            }),
        }
    }

    fn relation_set(
        &self,
        endpoint: &str,
        id: u64,
        app: bool,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ModelError> {
        let rel = relation_arg(endpoint, id);
        let body = serde_json::to_vec(data).map_err(|e| ModelError::Refused(e.to_string()))?;
        let mut args = vec!["-r", rel.as_str()];
        if app {
            args.push("--app");
        }
        args.extend(["--file", "-"]);
        self.call("relation-set", &args, Some(&body))
            .map(drop)
            .map_err(|e| e.for_relation(&rel))
    }
}

#[cfg(test)]
mod tests {
    use super::super::scripted::{Scripted, argv};
    use super::*;
    use crate::error::FailureKind;

    #[test]
    fn relation_ids_parses_fake_ids() {
        let s = Scripted::new(0, r#"["db:3","db:12"]"#, "");
        let ids = ProcessHookTools::new(&s).relation_ids("db").unwrap();
        assert_eq!(ids, [3, 12]);
        assert_eq!(argv(&s), ["relation-ids", "db", "--format=json"]);
        let s = Scripted::new(0, "null\n", "");
        assert!(
            ProcessHookTools::new(&s)
                .relation_ids("db")
                .unwrap()
                .is_empty()
        );
        let s = Scripted::new(0, r#"["db"]"#, "");
        assert!(matches!(
            ProcessHookTools::new(&s).relation_ids("db"),
            Err(ModelError::BadOutput { .. })
        ));
    }

    #[test]
    fn relation_list_units_and_app() {
        let s = Scripted::new(0, r#"["pg/0","pg/1"]"#, "");
        let tools = ProcessHookTools::new(&s);
        assert_eq!(tools.relation_list("db", 3).unwrap(), ["pg/0", "pg/1"]);
        assert_eq!(argv(&s), ["relation-list", "--format=json", "-r", "db:3"]);
        let s = Scripted::new(0, "\"pg\"\n", "");
        let tools = ProcessHookTools::new(&s);
        assert_eq!(
            tools.relation_remote_app("db", 3).unwrap().as_deref(),
            Some("pg")
        );
        assert_eq!(
            argv(&s),
            ["relation-list", "--format=json", "--app", "-r", "db:3"]
        );
        let s = Scripted::new(0, "\"\"\n", "");
        assert_eq!(
            ProcessHookTools::new(&s)
                .relation_remote_app("db", 3)
                .unwrap(),
            None
        );
    }

    #[test]
    fn relation_get_unit_and_app_bags() {
        let s = Scripted::new(0, r#"{"a":"1"}"#, "");
        let tools = ProcessHookTools::new(&s);
        let bag = tools.relation_get("db", 3, "pg/0", false).unwrap();
        assert_eq!(bag["a"], "1");
        assert_eq!(
            argv(&s),
            ["relation-get", "--format=json", "-r", "db:3", "-", "pg/0"]
        );
        let s = Scripted::new(0, "null\n", "");
        let tools = ProcessHookTools::new(&s);
        assert!(tools.relation_get("db", 3, "pg", true).unwrap().is_empty());
        assert_eq!(
            argv(&s),
            [
                "relation-get",
                "--format=json",
                "-r",
                "db:3",
                "--app",
                "-",
                "pg"
            ]
        );
        let s = Scripted::new(0, r#"{"a":1}"#, "");
        assert!(matches!(
            ProcessHookTools::new(&s).relation_get("db", 3, "pg/0", false),
            Err(ModelError::BadOutput { .. })
        ));
    }

    #[test]
    fn relation_set_sends_json_on_stdin() {
        let s = Scripted::new(0, "", "");
        let data = BTreeMap::from([("k".to_string(), "v\"".to_string())]);
        ProcessHookTools::new(&s)
            .relation_set("db", 3, true, &data)
            .unwrap();
        let (tool, args, stdin) = s.calls().remove(0);
        assert_eq!(tool, "relation-set");
        assert_eq!(args, ["-r", "db:3", "--app", "--file", "-"]);
        assert_eq!(stdin.unwrap(), br#"{"k":"v\""}"#);
    }

    #[test]
    fn a_vanished_relation_is_relation_not_found() {
        let s = Scripted::new(
            2,
            "",
            "ERROR invalid value \"db:9\" for flag -r: relation not found\n",
        );
        let err = ProcessHookTools::new(&s)
            .relation_list("db", 9)
            .unwrap_err();
        assert!(
            matches!(&err, ModelError::RelationNotFound { relation, .. } if relation == "db:9"),
            "{err}"
        );
        assert_eq!(err.kind(), Some(FailureKind::NotFound));
        let s = Scripted::new(1, "", "ERROR cannot write relation settings\n");
        let err = ProcessHookTools::new(&s)
            .relation_set("db", 3, true, &BTreeMap::new())
            .unwrap_err();
        assert!(
            matches!(err, ModelError::ToolFailed { code: 1, .. }),
            "{err}"
        );
    }
}
