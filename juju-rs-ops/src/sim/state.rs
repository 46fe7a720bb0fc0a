//! The simulated unit's model state and the per-dispatch hook session, with Juju's commit rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::meta::CharmMeta;

/// A workload status with its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Status word.
    pub status: String,
    /// Message.
    pub message: String,
}

impl StatusRecord {
    /// A record from parts.
    pub fn new(status: &str, message: &str) -> Self {
        Self {
            status: status.to_string(),
            message: message.to_string(),
        }
    }
}

/// One `juju-log` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Level as Juju normalises it (`DEBUG`, `INFO`, `WARNING`, ...).
    pub level: String,
    /// The message.
    pub message: String,
    /// The hook or action that logged it.
    pub context: String,
}

/// Whether a dispatch is a hook or an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookKind {
    /// A hook, by name.
    Hook(String),
    /// An action run.
    Action(ActionRun),
}

/// An action's parameters and what it reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ActionRun {
    /// Action name.
    pub name: String,
    /// Action id (a task number, as Juju 3.x uses).
    pub id: String,
    /// Validated parameters with defaults.
    pub params: Map<String, Value>,
    /// Results set with `action-set` (dotted keys).
    pub results: BTreeMap<String, String>,
    /// Messages from `action-log`.
    pub logs: Vec<String>,
    /// Failure message from `action-fail`.
    pub failed: Option<String>,
}

/// What one dispatch staged and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSession {
    /// `JUJU_CONTEXT_ID`.
    pub context_id: String,
    /// The hook or action.
    pub kind: HookKind,
    /// Charm-state writes (`None` = delete), committed only if the dispatch exits 0.
    pub pending_state: BTreeMap<String, Option<String>>,
    /// Whether the charm called `status-set` for its unit during this dispatch.
    pub set_unit_status: bool,
}

impl HookSession {
    /// The hook name, or the action name for actions.
    pub fn name(&self) -> &str {
        match &self.kind {
            HookKind::Hook(name) => name,
            HookKind::Action(run) => &run.name,
        }
    }
}

/// A status change, for history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// `unit` or `application`.
    pub target: String,
    /// The new status.
    pub status: StatusRecord,
    /// The hook during which it changed (or `juju` for agent-set statuses).
    pub during: String,
}

/// Everything the simulated controller knows about the unit (persisted by `juju-sim`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// Model name (also the Kubernetes namespace of the model).
    pub model_name: String,
    /// Model UUID.
    pub model_uuid: String,
    /// Application name.
    pub app_name: String,
    /// Unit number.
    pub unit_number: u32,
    /// Agent version reported in `JUJU_VERSION`.
    pub juju_version: String,
    /// The deployed charm directory.
    pub charm_dir: PathBuf,
    /// Whether this unit is the leader.
    pub leader: bool,
    /// Whether the application is trusted (`--trust`).
    pub trusted: bool,
    /// Values set by the user (defaults come from config.yaml).
    pub config: BTreeMap<String, Value>,
    /// Unit workload status.
    pub unit_status: StatusRecord,
    /// Application status.
    pub app_status: StatusRecord,
    /// Whether the charm has ever set its unit status.
    pub charm_set_status: bool,
    /// Status history.
    pub status_history: Vec<StatusChange>,
    /// Workload version (`application-version-set`).
    pub workload_version: String,
    /// Committed charm state (`state-set`).
    pub charm_state: BTreeMap<String, String>,
    /// Resources: name -> local file path handed to the charm.
    pub resources: BTreeMap<String, PathBuf>,
    /// `juju-log` lines.
    pub logs: Vec<LogRecord>,
    /// Completed action runs.
    pub actions: Vec<ActionOutcome>,
    /// Last id handed out to an action.
    pub last_action_id: u64,
    /// Last hook context number.
    pub last_context: u64,
    /// A hook that failed and must be retried before anything else runs.
    pub failed_hook: Option<String>,
    /// Whether `start` has run.
    pub started: bool,
    /// Whether `remove` has run (the application is gone).
    pub removed: bool,
    /// Wall time of every dispatch, from process start to exit, in order.
    #[serde(default)]
    pub timings: Vec<HookTiming>,
}

/// How long one dispatch took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTiming {
    /// Hook or action name.
    pub name: String,
    /// Milliseconds from spawning dispatch to its exit.
    pub millis: u64,
    /// Exit code.
    pub code: i32,
}

/// A finished action, as `juju run` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// The run (params, results, logs).
    pub run: ActionRun,
    /// `completed` or `failed`.
    pub status: String,
    /// Failure message, if failed.
    pub message: String,
}

impl AgentState {
    /// A fresh unit `<app>/0`, leader, in model `model`.
    pub fn new(model: &str, app: &str, charm_dir: PathBuf) -> Self {
        Self {
            model_name: model.to_string(),
            model_uuid: "8a3b2c1d-0000-4000-8000-00000000cafe".to_string(),
            app_name: app.to_string(),
            unit_number: 0,
            juju_version: "3.6.8".to_string(),
            charm_dir,
            leader: true,
            trusted: false,
            config: BTreeMap::new(),
            unit_status: StatusRecord::new("waiting", "agent initialising"),
            app_status: StatusRecord::new("unknown", ""),
            charm_set_status: false,
            status_history: Vec::new(),
            workload_version: String::new(),
            charm_state: BTreeMap::new(),
            resources: BTreeMap::new(),
            logs: Vec::new(),
            actions: Vec::new(),
            last_action_id: 0,
            last_context: 0,
            failed_hook: None,
            started: false,
            removed: false,
            timings: Vec::new(),
        }
    }

    /// `app/n`.
    pub fn unit_name(&self) -> String {
        format!("{}/{}", self.app_name, self.unit_number)
    }
}

/// The agent: model state, charm metadata and the running dispatch, if any.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Persistent state.
    pub state: AgentState,
    /// The charm's metadata.
    pub meta: CharmMeta,
    /// The dispatch in progress.
    pub session: Option<HookSession>,
}

impl Agent {
    /// An agent over `state` and `meta`.
    pub fn new(state: AgentState, meta: CharmMeta) -> Self {
        Self {
            state,
            meta,
            session: None,
        }
    }

    /// Sets a status (unit or app) and records the change.
    pub fn set_status(&mut self, application: bool, record: StatusRecord, during: &str) {
        self.state.status_history.push(StatusChange {
            target: if application { "application" } else { "unit" }.to_string(),
            status: record.clone(),
            during: during.to_string(),
        });
        if application {
            self.state.app_status = record;
        } else {
            self.state.unit_status = record;
        }
    }

    /// Starts a hook dispatch: applies Juju's "before" statuses and opens a session.
    pub fn begin_hook(&mut self, hook: &str) -> String {
        let before = match hook {
            "install" if !self.state.charm_set_status => Some("installing charm software"),
            "stop" => Some("stopping charm software"),
            "remove" => Some("cleaning up prior to charm deletion"),
            _ => None,
        };
        if let Some(message) = before {
            self.set_status(false, StatusRecord::new("maintenance", message), "juju");
        }
        self.open(HookKind::Hook(hook.to_string()))
    }

    /// Starts an action dispatch with validated parameters; returns the context id.
    pub fn begin_action(&mut self, name: &str, params: Map<String, Value>) -> String {
        self.state.last_action_id += 1;
        let run = ActionRun {
            name: name.to_string(),
            id: self.state.last_action_id.to_string(),
            params,
            ..ActionRun::default()
        };
        self.open(HookKind::Action(run))
    }

    fn open(&mut self, kind: HookKind) -> String {
        self.state.last_context += 1;
        let context_id = format!("{}-{}", self.state.unit_name(), self.state.last_context);
        self.session = Some(HookSession {
            context_id: context_id.clone(),
            kind,
            pending_state: BTreeMap::new(),
            set_unit_status: false,
        });
        context_id
    }

    /// Ends the dispatch. On success the staged changes are committed and Juju's "after"
    /// statuses applied; on failure nothing staged is kept and a hook puts the unit in error.
    /// For actions, `return-code`, `stdout` and `stderr` are added to the results.
    pub fn finish(&mut self, code: i32, stdout: &str, stderr: &str) -> Option<ActionOutcome> {
        let session = self.session.take()?;
        if code == 0 {
            for (key, value) in &session.pending_state {
                match value {
                    Some(v) => self.state.charm_state.insert(key.clone(), v.clone()),
                    None => self.state.charm_state.remove(key),
                };
            }
        }
        match session.kind {
            HookKind::Hook(hook) => {
                if code == 0 {
                    if self.state.failed_hook.as_deref() == Some(hook.as_str()) {
                        self.state.failed_hook = None;
                    }
                    self.after_hook(&hook);
                } else {
                    self.state.failed_hook = Some(hook.clone());
                    self.set_status(
                        false,
                        StatusRecord::new("error", &format!("hook failed: {hook:?}")),
                        "juju",
                    );
                }
                None
            }
            HookKind::Action(mut run) => {
                run.results.insert("return-code".into(), code.to_string());
                if !stdout.is_empty() {
                    run.results.insert("stdout".into(), stdout.to_string());
                }
                if !stderr.is_empty() {
                    run.results.insert("stderr".into(), stderr.to_string());
                }
                let (status, message) = match (&run.failed, code) {
                    (Some(msg), _) => ("failed", msg.clone()),
                    (None, 0) => ("completed", String::new()),
                    (None, c) => ("failed", format!("exit status {c}")),
                };
                let outcome = ActionOutcome {
                    run,
                    status: status.to_string(),
                    message,
                };
                self.state.actions.push(outcome.clone());
                Some(outcome)
            }
        }
    }

    fn after_hook(&mut self, hook: &str) {
        match hook {
            "start" => {
                self.state.started = true;
                if !self.state.charm_set_status {
                    self.set_status(false, StatusRecord::new("unknown", ""), "juju");
                }
            }
            "stop" => {
                self.state.started = false;
                let message = self.state.unit_status.message.clone();
                self.set_status(false, StatusRecord::new("maintenance", &message), "juju");
            }
            "remove" => {
                self.state.removed = true;
                self.set_status(false, StatusRecord::new("terminated", ""), "juju");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Agent {
        Agent::new(
            AgentState::new("m", "demo", PathBuf::from("/c")),
            CharmMeta::default(),
        )
    }

    #[test]
    fn state_commits_only_on_success() {
        let mut a = agent();
        a.begin_hook("config-changed");
        if let Some(s) = a.session.as_mut() {
            s.pending_state.insert("k".into(), Some("v".into()));
        }
        a.finish(1, "", "");
        assert!(a.state.charm_state.is_empty());
        assert_eq!(a.state.unit_status.status, "error");
        assert_eq!(a.state.failed_hook.as_deref(), Some("config-changed"));
        a.begin_hook("config-changed");
        if let Some(s) = a.session.as_mut() {
            s.pending_state.insert("k".into(), Some("v".into()));
        }
        a.finish(0, "", "");
        assert_eq!(a.state.charm_state["k"], "v");
        assert_eq!(a.state.failed_hook, None);
    }

    #[test]
    fn juju_statuses_around_hooks() {
        let mut a = agent();
        a.begin_hook("install");
        assert_eq!(
            a.state.unit_status,
            StatusRecord::new("maintenance", "installing charm software")
        );
        a.finish(0, "", "");
        a.begin_hook("start");
        a.finish(0, "", "");
        assert_eq!(a.state.unit_status.status, "unknown");
        a.begin_hook("remove");
        a.finish(0, "", "");
        assert_eq!(a.state.unit_status.status, "terminated");
    }

    #[test]
    fn action_outcomes() {
        let mut a = agent();
        a.begin_action("go", Map::new());
        let out = a.finish(0, "hi", "").unwrap();
        assert_eq!(out.status, "completed");
        assert_eq!(out.run.results["return-code"], "0");
        assert_eq!(out.run.results["stdout"], "hi");
        a.begin_action("go", Map::new());
        let out = a.finish(2, "", "boom").unwrap();
        assert_eq!(
            (out.status.as_str(), out.message.as_str()),
            ("failed", "exit status 2")
        );
        assert_eq!(out.run.id, "2");
    }
}
