//! [`ProcessHookTools`]: the hook tools called exactly as ops >= 3.4 calls them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    AppStatusInfo, CommandRunner, GoalState, HookTools, LogLevel, StatusInfo, StatusTarget,
    SystemRunner,
};
use crate::error::{FailureKind, ModelError};
use crate::status::Status;

/// Hook tools run through a [`CommandRunner`] (by default, real processes on `PATH`).
pub struct ProcessHookTools<R = SystemRunner> {
    runner: R,
}

impl ProcessHookTools<SystemRunner> {
    /// Tools spawned from `PATH`.
    pub fn system() -> Self {
        Self {
            runner: SystemRunner,
        }
    }
}

impl<R: CommandRunner> ProcessHookTools<R> {
    /// Tools run through `runner`.
    pub fn new(runner: R) -> Self {
        Self { runner }
    }

    /// The one place that runs a tool and maps a failure to [`ModelError`].
    pub(super) fn call(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, ModelError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = self
            .runner
            .run(tool, &args, stdin)
            .map_err(|source| ModelError::Spawn {
                tool: tool.to_string(),
                source,
            })?;
        if out.code != 0 {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            return Err(ModelError::ToolFailed {
                tool: tool.to_string(),
                code: out.code,
                kind: FailureKind::classify(out.code, &stderr),
                stderr,
            });
        }
        Ok(out.stdout)
    }

    /// Runs a tool and decodes its JSON output.
    pub(super) fn call_json<T: DeserializeOwned>(
        &self,
        tool: &str,
        args: &[&str],
    ) -> Result<T, ModelError> {
        let stdout = self.call(tool, args, None)?;
        serde_json::from_slice(&stdout).map_err(|e| ModelError::BadOutput {
            tool: tool.to_string(),
            reason: format!("{e} in {:?}", String::from_utf8_lossy(&stdout)),
        })
    }
}

/// The `status` and `message` of one status-get entry.
fn status_of(value: &Value) -> Option<StatusInfo> {
    Some(StatusInfo {
        status: value.get("status")?.as_str()?.to_string(),
        message: value.get("message")?.as_str()?.to_string(),
    })
}

fn application_flag(target: StatusTarget) -> &'static str {
    match target {
        StatusTarget::Unit => "--application=False",
        StatusTarget::Application => "--application=True",
    }
}

impl<R: CommandRunner> HookTools for ProcessHookTools<R> {
    fn config_get(&self) -> Result<Map<String, Value>, ModelError> {
        let value: Value = self.call_json("config-get", &["--format=json"])?;
        match value {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            other => Err(ModelError::BadOutput {
                tool: "config-get".into(),
                reason: format!("expected a JSON object, got {other}"),
            }),
        }
    }

    fn is_leader(&self) -> Result<bool, ModelError> {
        self.call_json("is-leader", &["--format=json"])
    }

    fn status_set(&self, target: StatusTarget, status: &Status) -> Result<(), ModelError> {
        let name = status.name();
        if !Status::SETTABLE.contains(&name) {
            return Err(ModelError::Refused(format!(
                "status {name:?} cannot be set by a charm"
            )));
        }
        self.call(
            "status-set",
            &[application_flag(target), name, "--", status.message()],
            None,
        )
        .map(drop)
    }

    fn status_get(&self, target: StatusTarget) -> Result<StatusInfo, ModelError> {
        if target == StatusTarget::Application {
            return Ok(self.app_status_get()?.app);
        }
        let value: Value = self.call_json(
            "status-get",
            &["--include-data", "--format=json", "--application=false"],
        )?;
        status_of(&value).ok_or_else(|| ModelError::BadOutput {
            tool: "status-get".into(),
            reason: format!("no status and message in {value}"),
        })
    }

    fn app_status_get(&self) -> Result<AppStatusInfo, ModelError> {
        let value: Value = self.call_json(
            "status-get",
            &["--include-data", "--format=json", "--application=true"],
        )?;
        let found = value.get("application-status").and_then(|app| {
            let units = app
                .get("units")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(unit, v)| Some((unit.clone(), status_of(v)?)))
                .collect();
            Some(AppStatusInfo {
                app: status_of(app)?,
                units,
            })
        });
        found.ok_or_else(|| ModelError::BadOutput {
            tool: "status-get".into(),
            reason: format!("no application status and message in {value}"),
        })
    }

    fn application_version_set(&self, version: &str) -> Result<(), ModelError> {
        self.call("application-version-set", &["--", version], None)
            .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ModelError> {
        self.call(
            "juju-log",
            &["--log-level", level.as_str(), "--", message],
            None,
        )
        .map(drop)
    }

    fn action_get(&self) -> Result<Map<String, Value>, ModelError> {
        let value: Value = self.call_json("action-get", &["--format=json"])?;
        match value {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            other => Err(ModelError::BadOutput {
                tool: "action-get".into(),
                reason: format!("expected a JSON object, got {other}"),
            }),
        }
    }

    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ModelError> {
        if results.is_empty() {
            return Ok(());
        }
        let args: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.call("action-set", &refs, None).map(drop)
    }

    fn action_fail(&self, message: &str) -> Result<(), ModelError> {
        self.call("action-fail", &["--", message], None).map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), ModelError> {
        self.call("action-log", &["--", message], None).map(drop)
    }

    fn state_get(&self) -> Result<BTreeMap<String, String>, ModelError> {
        let value: Option<BTreeMap<String, String>> =
            self.call_json("state-get", &["--format=json"])?;
        Ok(value.unwrap_or_default())
    }

    fn state_set(&self, pairs: &BTreeMap<String, String>) -> Result<(), ModelError> {
        let body = serde_json::to_vec(pairs).map_err(|e| ModelError::Refused(e.to_string()))?;
        self.call("state-set", &["--file", "-"], Some(&body))
            .map(drop)
    }

    fn state_delete(&self, key: &str) -> Result<(), ModelError> {
        self.call("state-delete", &["--", key], None).map(drop)
    }

    fn resource_get(&self, name: &str) -> Result<PathBuf, ModelError> {
        let out = self.call("resource-get", &[name], None)?;
        let path = String::from_utf8_lossy(&out).trim().to_string();
        if path.is_empty() {
            return Err(ModelError::BadOutput {
                tool: "resource-get".into(),
                reason: "empty path".into(),
            });
        }
        Ok(PathBuf::from(path))
    }

    fn goal_state(&self) -> Result<GoalState, ModelError> {
        self.call_json("goal-state", &["--format=json"])
    }
}

#[cfg(test)]
mod tests {
    use super::super::scripted::{Scripted, argv};
    use super::*;

    #[test]
    fn status_set_uses_ops_argv() {
        let s = Scripted::new(0, "", "");
        ProcessHookTools::new(&s)
            .status_set(StatusTarget::Application, &Status::blocked("-bad"))
            .unwrap();
        assert_eq!(
            argv(&s),
            ["status-set", "--application=True", "blocked", "--", "-bad"]
        );
    }

    #[test]
    fn unsettable_status_is_refused_without_calling() {
        let s = Scripted::new(0, "", "");
        let err = ProcessHookTools::new(&s)
            .status_set(StatusTarget::Unit, &Status::Unknown)
            .unwrap_err();
        assert!(matches!(err, ModelError::Refused(_)));
        assert!(s.calls().is_empty());
    }

    #[test]
    fn status_get_reads_unit_and_app_shapes() {
        let s = Scripted::new(
            0,
            r#"{"message":"m","status":"active","status-data":{}}"#,
            "",
        );
        let info = ProcessHookTools::new(&s)
            .status_get(StatusTarget::Unit)
            .unwrap();
        assert_eq!(info.status, "active");
        assert_eq!(
            argv(&s),
            [
                "status-get",
                "--include-data",
                "--format=json",
                "--application=false"
            ]
        );
        let s = Scripted::new(
            0,
            r#"{"application-status":{"message":"x","status":"blocked","status-data":{},"units":{}}}"#,
            "",
        );
        let info = ProcessHookTools::new(&s)
            .status_get(StatusTarget::Application)
            .unwrap();
        assert_eq!(
            (info.status.as_str(), info.message.as_str()),
            ("blocked", "x")
        );
    }

    #[test]
    fn failures_keep_stderr_and_are_classified() {
        let s = Scripted::new(1, "", "ERROR this unit is not the leader\n");
        let err = ProcessHookTools::new(&s)
            .status_set(StatusTarget::Application, &Status::active(""))
            .unwrap_err();
        assert_eq!(err.kind(), Some(FailureKind::NotLeader));
        assert!(
            err.to_string()
                .contains("ERROR this unit is not the leader")
        );
    }

    #[test]
    fn bad_json_is_a_bad_output_error() {
        let s = Scripted::new(0, "yes\n", "");
        let err = ProcessHookTools::new(&s).is_leader().unwrap_err();
        assert!(matches!(err, ModelError::BadOutput { .. }), "{err}");
    }

    #[test]
    fn config_get_accepts_null_as_empty() {
        let s = Scripted::new(0, "null\n", "");
        assert!(ProcessHookTools::new(&s).config_get().unwrap().is_empty());
        assert_eq!(argv(&s), ["config-get", "--format=json"]);
    }

    #[test]
    fn state_set_sends_json_on_stdin() {
        let s = Scripted::new(0, "", "");
        let pairs = BTreeMap::from([("k".to_string(), "{\"a\":1}".to_string())]);
        ProcessHookTools::new(&s).state_set(&pairs).unwrap();
        let (tool, args, stdin) = s.calls().remove(0);
        assert_eq!(
            (tool.as_str(), args),
            ("state-set", vec!["--file".into(), "-".into()])
        );
        assert_eq!(stdin.unwrap(), br#"{"k":"{\"a\":1}"}"#);
    }

    #[test]
    fn log_and_free_text_use_double_dash() {
        let s = Scripted::new(0, "", "");
        let tools = ProcessHookTools::new(&s);
        tools.juju_log(LogLevel::Warning, "-x").unwrap();
        tools.action_fail("").unwrap();
        tools.application_version_set("1.0").unwrap();
        let calls = s.calls();
        assert_eq!(calls[0].1, ["--log-level", "WARNING", "--", "-x"]);
        assert_eq!(calls[1].1, ["--", ""]);
        assert_eq!(calls[2].1, ["--", "1.0"]);
    }

    #[test]
    fn goal_state_counts_planned_units_as_ops_does() {
        let s = Scripted::new(
            0,
            r#"{"units":{"a/0":{"status":"active","since":"2026-01-01 10:00:00Z"},"a/1":{"status":"dying","since":"2026-01-01 10:01:00Z"},"a/2":{"status":"error"}},"relations":{}}"#,
            "",
        );
        let goal = ProcessHookTools::new(&s).goal_state().unwrap();
        assert_eq!(argv(&s), ["goal-state", "--format=json"]);
        assert_eq!(goal.planned_units(), 2, "units in error still count");
        assert!(goal.is_dying("a/1") && !goal.is_dying("a/0") && !goal.is_dying("a/9"));
        assert_eq!(
            goal.units["a/0"].since.as_deref(),
            Some("2026-01-01 10:00:00Z")
        );
        assert_eq!(goal.units["a/2"].since, None);
    }

    #[test]
    fn goal_state_with_no_units_or_null_maps_plans_none() {
        let s = Scripted::new(0, r#"{"units":null,"relations":null}"#, "");
        let goal = ProcessHookTools::new(&s).goal_state().unwrap();
        assert_eq!(goal, GoalState::default());
        assert_eq!(goal.planned_units(), 0);
    }

    #[test]
    fn goal_state_failures_are_model_errors() {
        let s = Scripted::new(0, "units: {}\n", "");
        let err = ProcessHookTools::new(&s).goal_state().unwrap_err();
        assert!(matches!(err, ModelError::BadOutput { .. }), "{err}");
        let s = Scripted::new(1, "", "ERROR connection refused\n");
        let err = ProcessHookTools::new(&s).goal_state().unwrap_err();
        assert!(
            matches!(err, ModelError::ToolFailed { code: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn resource_get_strips_the_path() {
        let s = Scripted::new(0, "/var/lib/juju/res/image", "");
        let path = ProcessHookTools::new(&s).resource_get("image").unwrap();
        assert_eq!(path, PathBuf::from("/var/lib/juju/res/image"));
    }
}
