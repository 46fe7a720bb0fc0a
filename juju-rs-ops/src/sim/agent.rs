//! The simulated unit agents: one dispatch at a time on one unit of the model, with Juju's
//! statuses around hooks and its commit rules (charm state, relation data and secret changes
//! are applied only when the dispatch succeeds).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::hook::{HookContext, HookSpec};
use super::meta::CharmMeta;
use super::relations::apply_writes;
use super::secrets::PendingSecrets;
use super::state::{
    ActionOutcome, ActionRun, LogRecord, ModelState, StatusChange, StatusRecord, UnitState, now,
};
use crate::event::RelationEventKind;

/// Whether a dispatch is a hook or an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookKind {
    /// A hook, by name.
    Hook(String),
    /// An action run.
    Action(ActionRun),
}

/// Relation writes a dispatch staged for one relation (an empty value deletes a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PendingRelation {
    /// Writes to our application's databag.
    pub app: BTreeMap<String, String>,
    /// Writes to the unit's databag.
    pub unit: BTreeMap<String, String>,
}

/// What one dispatch staged and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSession {
    /// `JUJU_CONTEXT_ID`.
    pub context_id: String,
    /// The unit the dispatch runs on.
    pub unit: u32,
    /// The hook or action.
    pub kind: HookKind,
    /// Charm-state writes (`None` = delete), committed only if the dispatch exits 0.
    pub pending_state: BTreeMap<String, Option<String>>,
    /// Whether the charm called `status-set` for its unit during this dispatch.
    pub set_unit_status: bool,
    /// The relation or secret the hook is about.
    #[serde(default)]
    pub context: HookContext,
    /// Relation writes by relation id, committed only if the dispatch exits 0.
    #[serde(default)]
    pub pending_relations: BTreeMap<u64, PendingRelation>,
    /// Secret changes, committed only if the dispatch exits 0 (never serialised: they hold
    /// content).
    #[serde(skip)]
    pub pending_secrets: PendingSecrets,
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

/// The agent: model state, charm metadata and the running dispatch, if any.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Persistent state.
    pub state: ModelState,
    /// The charm's metadata.
    pub meta: CharmMeta,
    /// The dispatch in progress.
    pub session: Option<HookSession>,
}

impl Agent {
    /// An agent over `state` and `meta`.
    pub fn new(state: ModelState, meta: CharmMeta) -> Self {
        Self {
            state,
            meta,
            session: None,
        }
    }

    /// The unit of the running dispatch.
    pub fn session_unit(&self) -> Option<&UnitState> {
        let number = self.session.as_ref()?.unit;
        self.state.unit(number)
    }

    /// The unit of the running dispatch, mutably.
    pub fn session_unit_mut(&mut self) -> Option<&mut UnitState> {
        let number = self.session.as_ref()?.unit;
        self.state.unit_mut(number)
    }

    /// The name (`app/n`) of the unit of the running dispatch.
    pub fn session_unit_name(&self) -> String {
        self.session
            .as_ref()
            .map(|s| self.state.unit_name(s.unit))
            .unwrap_or_default()
    }

    /// Whether the unit of the running dispatch holds leadership.
    pub fn session_is_leader(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| self.state.is_leader(s.unit))
    }

    /// Sets a unit's workload status and records the change.
    pub fn set_unit_status(&mut self, unit: u32, record: StatusRecord, during: &str) {
        self.state.status_history.push(StatusChange {
            target: "unit".into(),
            unit: self.state.unit_name(unit),
            status: record.clone(),
            during: during.to_string(),
        });
        if let Some(u) = self.state.unit_mut(unit) {
            u.status = record;
            u.status_since = now();
        }
    }

    /// Sets the application status (on behalf of unit `by`) and records the change.
    pub fn set_app_status(&mut self, by: u32, record: StatusRecord, during: &str) {
        self.state.status_history.push(StatusChange {
            target: "application".into(),
            unit: self.state.unit_name(by),
            status: record.clone(),
            during: during.to_string(),
        });
        self.state.app.status = record;
        self.state.app.status_since = now();
    }

    /// Records a log line of the running dispatch's unit.
    pub fn log(&mut self, level: &str, message: String) {
        let (unit, context) = match &self.session {
            Some(s) => (self.state.unit_name(s.unit), s.name().to_string()),
            None => (String::new(), String::new()),
        };
        self.state.logs.push(LogRecord {
            unit,
            level: level.to_string(),
            message,
            context,
        });
    }

    /// Starts a hook dispatch on `unit` (a hook without relation or secret); returns the
    /// context id.
    pub fn begin_hook(&mut self, unit: u32, hook: &str) -> String {
        self.begin(unit, &HookSpec::new(hook))
    }

    /// Starts a hook dispatch on `unit`: applies Juju's "before" statuses and what a relation
    /// hook changes in the unit's view (a joining unit is listed from its `-joined` on, a
    /// departing one no longer during its `-departed`), and opens a session; returns the
    /// context id.
    pub fn begin(&mut self, unit: u32, spec: &HookSpec) -> String {
        let hook = spec.name.as_str();
        let charm_set_status = self.state.unit(unit).is_some_and(|u| u.charm_set_status);
        let before = match hook {
            "install" if !charm_set_status => Some("installing charm software"),
            "stop" => Some("stopping charm software"),
            "remove" => Some("cleaning up prior to charm deletion"),
            _ => None,
        };
        if let Some(message) = before {
            self.set_unit_status(unit, StatusRecord::new("maintenance", message), "juju");
        }
        if let Some(rel) = &spec.context.relation
            && let (Some(remote), Some(state)) = (&rel.remote_unit, self.state.relation_mut(rel.id))
        {
            let seen = state.joined.entry(unit).or_default();
            if hook.ends_with(RelationEventKind::Joined.suffix()) {
                seen.insert(remote.clone());
            } else if hook.ends_with(RelationEventKind::Departed.suffix()) {
                seen.remove(remote);
            }
        }
        self.open(unit, HookKind::Hook(hook.to_string()), spec.context.clone())
    }

    /// Starts an action dispatch on `unit` with validated parameters; returns the context id.
    pub fn begin_action(&mut self, unit: u32, name: &str, params: Map<String, Value>) -> String {
        self.state.last_action_id += 1;
        let run = ActionRun {
            name: name.to_string(),
            id: self.state.last_action_id.to_string(),
            params,
            ..ActionRun::default()
        };
        self.open(unit, HookKind::Action(run), HookContext::default())
    }

    fn open(&mut self, unit: u32, kind: HookKind, context: HookContext) -> String {
        self.state.last_context += 1;
        let context_id = format!("{}-{}", self.state.unit_name(unit), self.state.last_context);
        self.session = Some(HookSession {
            context_id: context_id.clone(),
            unit,
            kind,
            pending_state: BTreeMap::new(),
            set_unit_status: false,
            context,
            pending_relations: BTreeMap::new(),
            pending_secrets: PendingSecrets::default(),
        });
        context_id
    }

    /// Ends the dispatch. On success the staged changes are committed and Juju's "after"
    /// statuses applied; on failure nothing staged is kept and a hook puts the unit in error.
    /// For actions, `return-code`, `stdout` and `stderr` are added to the results.
    pub fn finish(&mut self, code: i32, stdout: &str, stderr: &str) -> Option<ActionOutcome> {
        let session = self.session.take()?;
        let unit = session.unit;
        if code == 0 {
            if let Some(u) = self.state.unit_mut(unit) {
                for (key, value) in &session.pending_state {
                    match value {
                        Some(v) => u.charm_state.insert(key.clone(), v.clone()),
                        None => u.charm_state.remove(key),
                    };
                }
            }
            for (id, writes) in &session.pending_relations {
                if let Some(rel) = self.state.relation_mut(*id) {
                    apply_writes(&mut rel.app_data, &writes.app);
                    apply_writes(rel.unit_data.entry(unit).or_default(), &writes.unit);
                }
            }
            self.state.commit_secrets(session.pending_secrets.clone());
        }
        match session.kind {
            HookKind::Hook(hook) => {
                if code == 0 {
                    if let Some(rel) = &session.context.relation
                        && hook.ends_with(RelationEventKind::Broken.suffix())
                        && let Some(state) = self.state.relation_mut(rel.id)
                    {
                        state.broken.insert(unit);
                    }
                    if let Some(u) = self.state.unit_mut(unit)
                        && u.failed_hook.as_deref() == Some(hook.as_str())
                    {
                        u.failed_hook = None;
                        u.failed_context = HookContext::default();
                    }
                    self.after_hook(unit, &hook);
                } else {
                    if let Some(u) = self.state.unit_mut(unit) {
                        u.failed_hook = Some(hook.clone());
                        u.failed_context = session.context.clone();
                    }
                    self.set_unit_status(
                        unit,
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
                if let Some(u) = self.state.unit_mut(unit) {
                    u.actions.push(outcome.clone());
                }
                Some(outcome)
            }
        }
    }

    fn after_hook(&mut self, unit: u32, hook: &str) {
        let Some(u) = self.state.unit_mut(unit) else {
            return;
        };
        let next = match hook {
            "start" => {
                u.started = true;
                (!u.charm_set_status).then(|| StatusRecord::new("unknown", ""))
            }
            "stop" => {
                u.started = false;
                Some(StatusRecord::new("maintenance", &u.status.message))
            }
            "remove" => Some(StatusRecord::new("terminated", "")),
            _ => None,
        };
        if let Some(record) = next {
            self.set_unit_status(unit, record, "juju");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn agent() -> Agent {
        let mut state = ModelState::new("m", "demo", PathBuf::from("/c"));
        state.add_unit();
        state.add_unit();
        state.app.leader = Some(0);
        Agent::new(state, CharmMeta::default())
    }

    fn stage(a: &mut Agent, key: &str) {
        if let Some(s) = a.session.as_mut() {
            s.pending_state.insert(key.into(), Some("v".into()));
        }
    }

    #[test]
    fn state_commits_only_on_success_and_only_on_its_unit() {
        let mut a = agent();
        a.begin_hook(1, "config-changed");
        stage(&mut a, "k");
        a.finish(1, "", "");
        let u1 = a.state.unit(1).unwrap();
        assert!(u1.charm_state.is_empty());
        assert_eq!(u1.status.status, "error");
        assert_eq!(u1.failed_hook.as_deref(), Some("config-changed"));
        assert_eq!(a.state.unit(0).unwrap().failed_hook, None);
        a.begin_hook(1, "config-changed");
        stage(&mut a, "k");
        a.finish(0, "", "");
        let u1 = a.state.unit(1).unwrap();
        assert_eq!(u1.charm_state["k"], "v");
        assert_eq!(u1.failed_hook, None);
        assert!(a.state.unit(0).unwrap().charm_state.is_empty());
    }

    #[test]
    fn juju_statuses_around_hooks() {
        let mut a = agent();
        a.begin_hook(0, "install");
        assert_eq!(
            a.state.unit(0).unwrap().status,
            StatusRecord::new("maintenance", "installing charm software")
        );
        a.finish(0, "", "");
        a.begin_hook(0, "start");
        a.finish(0, "", "");
        assert_eq!(a.state.unit(0).unwrap().status.status, "unknown");
        assert!(a.state.unit(0).unwrap().started);
        a.begin_hook(0, "remove");
        a.finish(0, "", "");
        assert_eq!(a.state.unit(0).unwrap().status.status, "terminated");
        assert_eq!(
            a.state.unit(1).unwrap().status,
            StatusRecord::new("waiting", "agent initialising"),
            "the other unit is untouched"
        );
    }

    #[test]
    fn sessions_know_their_unit_and_leadership() {
        let mut a = agent();
        let id = a.begin_hook(1, "update-status");
        assert_eq!(id, "demo/1-1");
        assert_eq!(a.session_unit_name(), "demo/1");
        assert!(!a.session_is_leader());
        a.log("INFO", "hello".into());
        assert_eq!(a.state.logs[0].unit, "demo/1");
        assert_eq!(a.state.logs[0].context, "update-status");
        a.finish(0, "", "");
        a.begin_hook(0, "update-status");
        assert!(a.session_is_leader());
    }

    #[test]
    fn action_outcomes() {
        let mut a = agent();
        a.begin_action(0, "go", Map::new());
        let out = a.finish(0, "hi", "").unwrap();
        assert_eq!(out.status, "completed");
        assert_eq!(out.run.results["return-code"], "0");
        assert_eq!(out.run.results["stdout"], "hi");
        a.begin_action(1, "go", Map::new());
        let out = a.finish(2, "", "boom").unwrap();
        assert_eq!(
            (out.status.as_str(), out.message.as_str()),
            ("failed", "exit status 2")
        );
        assert_eq!(out.run.id, "2", "action ids are model-wide");
        assert_eq!(a.state.unit(1).unwrap().actions.len(), 1);
        assert_eq!(
            a.state.unit(1).unwrap().status.status,
            "waiting",
            "a failed action never puts the unit in error"
        );
    }
}
