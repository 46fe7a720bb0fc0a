//! An `ops.testing`/Scenario-style harness: build a [`State`], run one event through a charm
//! in-process, get the output [`State`] and what happened ([`Output`]).
//!
//! Only the Juju side is simulated: the real dispatch driver runs, and the real
//! [`ProcessHookTools`] builds every tool's arguments and parses its output; the tools are
//! answered in-process by the simulated agent ([`crate::sim`]), the same engine `juju-sim` uses.
//! Impossible states are refused before running (config keys and types against config.yaml,
//! action names and parameters against actions.yaml, resources against metadata.yaml, a goal
//! state that contradicts this unit's own life).
//!
//! The unit runs alongside the application's other units ([`State::peers`]) as `goal-state`
//! reports them; [`State::with_planned_units`] sets that count the way Scenario's
//! `State(planned_units=...)` does.
//!
//! Relations ([`TestRelation`]: endpoint, id, remote application, remote units and their data,
//! our databags) and secrets ([`TestSecret`]) go in with the state; the output state carries our
//! databags as the charm left them and every secret (including those it created). Relation
//! events are only for a relation in the state; secret events only for a secret in the state
//! (`secret-changed` for one we consume, the others for one we own).

mod relations;
mod secrets;

pub use relations::TestRelation;
pub use secrets::{TestSecret, TestSecretOwner};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::context::JujuContext;
use crate::dispatch::{Charm, execute};
use crate::event::{RelationEventKind, SecretEventKind};
use crate::hooktools::{CommandRunner, HookTools, ProcessHookTools, ToolOutput};
use crate::sim::{
    ActionOutcome, Agent, CharmMeta, HookSpec, Life, LogRecord, ModelState, StatusChange,
    StatusRecord, ToolReply, UnitState, run_tool,
};
use crate::status::Status;

/// The unit's state before or after an event.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Config values set by the user (defaults come from config.yaml).
    pub config: BTreeMap<String, Value>,
    /// This unit's number: the unit is `<app>/<unit_id>`.
    pub unit_id: u32,
    /// Whether the unit is the leader.
    pub leader: bool,
    /// Whether this unit is being removed (`juju remove-unit`, or the whole application):
    /// goal-state lists it `dying`.
    pub dying: bool,
    /// The application's other units: unit number -> goal-state status (`active`, `waiting`,
    /// `dying`, ...).
    pub peers: BTreeMap<u32, String>,
    /// The planned unit count (units in goal-state not `dying`), like Scenario's
    /// `planned_units`: when set, `active` peers are added until the count is reached; `Some(0)`
    /// also makes this unit dying (the application is being removed). A count that the other
    /// fields already exceed is refused as inconsistent.
    pub planned_units: Option<u32>,
    /// Whether the application is trusted.
    pub trusted: bool,
    /// Stored state (`state-get`/`state-set` pairs).
    pub stored: BTreeMap<String, String>,
    /// Resources: name -> local path.
    pub resources: BTreeMap<String, PathBuf>,
    /// The unit's status.
    pub unit_status: Status,
    /// The application's status.
    pub app_status: Status,
    /// The workload version.
    pub workload_version: String,
    /// The unit's relations and their databags.
    pub relations: Vec<TestRelation>,
    /// Secrets the unit owns or may read (after the event: every secret, including those the
    /// charm created).
    pub secrets: Vec<TestSecret>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            config: BTreeMap::new(),
            unit_id: 0,
            leader: true,
            dying: false,
            peers: BTreeMap::new(),
            planned_units: None,
            trusted: false,
            stored: BTreeMap::new(),
            resources: BTreeMap::new(),
            unit_status: Status::Unknown,
            app_status: Status::Unknown,
            workload_version: String::new(),
            relations: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

impl State {
    /// Sets a config value (builder style).
    pub fn with_config(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.config.insert(key.to_string(), value.into());
        self
    }

    /// Sets leadership (builder style).
    pub fn with_leader(mut self, leader: bool) -> Self {
        self.leader = leader;
        self
    }

    /// Sets this unit's number (builder style).
    pub fn with_unit_id(mut self, unit_id: u32) -> Self {
        self.unit_id = unit_id;
        self
    }

    /// Marks this unit as being removed (builder style).
    pub fn with_dying(mut self, dying: bool) -> Self {
        self.dying = dying;
        self
    }

    /// Adds another unit of the application with its goal-state status (builder style).
    pub fn with_peer(mut self, unit_id: u32, status: &str) -> Self {
        self.peers.insert(unit_id, status.to_string());
        self
    }

    /// Sets the planned unit count (builder style); see [`State::planned_units`].
    pub fn with_planned_units(mut self, planned: u32) -> Self {
        self.planned_units = Some(planned);
        self
    }

    /// Adds a relation (builder style).
    pub fn with_relation(mut self, relation: TestRelation) -> Self {
        self.relations.push(relation);
        self
    }

    /// Adds a secret (builder style).
    pub fn with_secret(mut self, secret: TestSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// The relation with id `id`.
    pub fn relation(&self, id: u64) -> Option<&TestRelation> {
        self.relations.iter().find(|r| r.id == id)
    }

    /// The secret with this URI or bare id.
    pub fn secret(&self, id: &str) -> Option<&TestSecret> {
        let bare = id.rsplit(['/', ':']).next().unwrap_or(id);
        self.secrets.iter().find(|s| s.id == bare)
    }

    /// The secret with this owner label.
    pub fn secret_by_label(&self, label: &str) -> Option<&TestSecret> {
        self.secrets
            .iter()
            .find(|s| s.label.as_deref() == Some(label))
    }
}

/// The event to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestEvent {
    /// A hook by name (`install`, `config-changed`, ...); relation and secret hooks have their
    /// own variants.
    Hook(String),
    /// A relation hook of a relation in the state.
    Relation {
        /// Which one.
        kind: RelationEventKind,
        /// The relation's endpoint.
        endpoint: String,
        /// The relation's id.
        id: u64,
        /// `JUJU_REMOTE_UNIT` (none for `-created`, `-broken`, application-data `-changed`).
        remote_unit: Option<String>,
        /// `JUJU_DEPARTING_UNIT` (`-departed`).
        departing_unit: Option<String>,
    },
    /// A secret hook of a secret in the state.
    Secret {
        /// Which one.
        kind: SecretEventKind,
        /// The secret's bare id.
        id: String,
        /// The revision (`secret-remove`, `secret-expired`).
        revision: Option<u32>,
    },
    /// An action with `juju run`-style `key=value` parameters.
    Action {
        /// Action name.
        name: String,
        /// Parameters as typed on the command line.
        params: BTreeMap<String, String>,
    },
}

impl TestEvent {
    /// A hook event.
    pub fn hook(name: &str) -> Self {
        Self::Hook(name.to_string())
    }

    fn relation(
        kind: RelationEventKind,
        relation: &TestRelation,
        remote_unit: Option<&str>,
        departing_unit: Option<&str>,
    ) -> Self {
        Self::Relation {
            kind,
            endpoint: relation.endpoint.clone(),
            id: relation.id,
            remote_unit: remote_unit.map(str::to_string),
            departing_unit: departing_unit.map(str::to_string),
        }
    }

    /// `<endpoint>-relation-created`.
    pub fn relation_created(relation: &TestRelation) -> Self {
        Self::relation(RelationEventKind::Created, relation, None, None)
    }

    /// `<endpoint>-relation-joined` for `remote_unit`.
    pub fn relation_joined(relation: &TestRelation, remote_unit: &str) -> Self {
        Self::relation(RelationEventKind::Joined, relation, Some(remote_unit), None)
    }

    /// `<endpoint>-relation-changed` for `remote_unit`, or (with `None`) for the remote
    /// application's databag.
    pub fn relation_changed(relation: &TestRelation, remote_unit: Option<&str>) -> Self {
        Self::relation(RelationEventKind::Changed, relation, remote_unit, None)
    }

    /// `<endpoint>-relation-departed`: `remote_unit` leaves this unit's view because
    /// `departing_unit` (that remote unit, or this unit) is leaving.
    pub fn relation_departed(
        relation: &TestRelation,
        remote_unit: &str,
        departing_unit: &str,
    ) -> Self {
        Self::relation(
            RelationEventKind::Departed,
            relation,
            Some(remote_unit),
            Some(departing_unit),
        )
    }

    /// `<endpoint>-relation-broken`.
    pub fn relation_broken(relation: &TestRelation) -> Self {
        Self::relation(RelationEventKind::Broken, relation, None, None)
    }

    /// A secret event (`secret-changed` for a secret we consume; `secret-rotate`,
    /// `secret-remove`, `secret-expired` for one we own; the last two need `revision`).
    pub fn secret(kind: SecretEventKind, secret: &TestSecret, revision: Option<u32>) -> Self {
        Self::Secret {
            kind,
            id: secret.id.clone(),
            revision,
        }
    }

    /// An action event with `key=value` parameters.
    pub fn action(name: &str, params: &[(&str, &str)]) -> Self {
        Self::Action {
            name: name.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// What running one event produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The state after the event (stored state committed only if the dispatch succeeded).
    pub state: State,
    /// Whether the dispatch exited 0.
    pub success: bool,
    /// `juju-log` lines, in order.
    pub logs: Vec<LogRecord>,
    /// Status changes made during the event (by the charm and by Juju), in order.
    pub status_history: Vec<StatusChange>,
    /// For actions: results, logs, failure.
    pub action: Option<ActionOutcome>,
}

impl Output {
    /// Whether any log line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.logs.iter().any(|l| l.message.contains(text))
    }
}

/// Runs events through a charm type against a charm's metadata.
pub struct Harness {
    meta: CharmMeta,
    charm_dir: PathBuf,
    app_name: String,
    model_name: String,
}

/// Why a test scenario is impossible.
#[derive(Debug, thiserror::Error)]
#[error("inconsistent test scenario: {0}")]
pub struct Inconsistent(pub String);

impl Harness {
    /// A harness reading metadata.yaml, config.yaml and actions.yaml from `charm_dir`.
    pub fn new(charm_dir: impl AsRef<Path>) -> Result<Self, Inconsistent> {
        let charm_dir = charm_dir.as_ref().to_path_buf();
        let meta = CharmMeta::load(&charm_dir).map_err(Inconsistent)?;
        Ok(Self {
            app_name: meta.name.clone(),
            meta,
            charm_dir,
            model_name: "test-model".to_string(),
        })
    }

    /// Changes the model name (default `test-model`).
    pub fn with_model(mut self, model: &str) -> Self {
        self.model_name = model.to_string();
        self
    }

    /// The charm's metadata.
    pub fn meta(&self) -> &CharmMeta {
        &self.meta
    }

    fn check(&self, state: &State) -> Result<(), Inconsistent> {
        for (key, value) in &state.config {
            let option = self.meta.options.get(key).ok_or_else(|| {
                Inconsistent(format!("config option {key:?} is not in config.yaml"))
            })?;
            let fits = match option.kind.as_str() {
                "int" => value.is_i64() || value.is_u64(),
                "float" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => value.is_string(),
            };
            if !fits {
                return Err(Inconsistent(format!(
                    "config option {key:?} is of type {}, got {value}",
                    option.kind
                )));
            }
        }
        for name in state.resources.keys() {
            if !self.meta.resources.contains_key(name) {
                return Err(Inconsistent(format!(
                    "resource {name:?} is not in metadata.yaml"
                )));
            }
        }
        if state.peers.contains_key(&state.unit_id) {
            return Err(Inconsistent(format!(
                "peer unit {} is this unit",
                state.unit_id
            )));
        }
        relations::check(&self.meta, &self.app_name, state.unit_id, &state.relations)?;
        secrets::check(&state.secrets)?;
        Ok(())
    }

    /// Checks that a hook event fits the state and says what the agent runs.
    fn hook_spec(
        &self,
        state: &State,
        event: &TestEvent,
    ) -> Result<Option<HookSpec>, Inconsistent> {
        let unit_name = format!("{}/{}", self.app_name, state.unit_id);
        match event {
            TestEvent::Action { .. } => Ok(None),
            TestEvent::Hook(hook) => {
                let relation_hook = [
                    RelationEventKind::Created,
                    RelationEventKind::Joined,
                    RelationEventKind::Changed,
                    RelationEventKind::Departed,
                    RelationEventKind::Broken,
                ]
                .iter()
                .any(|k| hook.ends_with(&format!("-{}", k.suffix())));
                let secret_hook = hook.starts_with("secret-");
                if relation_hook || secret_hook {
                    return Err(Inconsistent(format!(
                        "{hook} needs its relation or secret: use TestEvent::relation_* or TestEvent::secret"
                    )));
                }
                Ok(Some(HookSpec::new(hook)))
            }
            TestEvent::Relation {
                kind,
                endpoint,
                id,
                remote_unit,
                departing_unit,
            } => {
                let rel = state
                    .relation(*id)
                    .filter(|r| r.endpoint == *endpoint)
                    .ok_or_else(|| {
                        Inconsistent(format!(
                            "{endpoint}-{} for relation {endpoint}:{id}, which is not in the state",
                            kind.suffix()
                        ))
                    })?;
                let peer_units: Vec<String> = rel
                    .peers_data
                    .keys()
                    .map(|n| format!("{}/{n}", self.app_name))
                    .collect();
                let known =
                    |u: &str| rel.remote_units.contains_key(u) || peer_units.iter().any(|p| p == u);
                match (kind, remote_unit, departing_unit) {
                    (RelationEventKind::Created | RelationEventKind::Broken, Some(_), _) => {
                        return Err(Inconsistent(format!(
                            "{endpoint}-{} has no remote unit",
                            kind.suffix()
                        )));
                    }
                    (RelationEventKind::Joined | RelationEventKind::Departed, None, _) => {
                        return Err(Inconsistent(format!(
                            "{endpoint}-{} needs a remote unit",
                            kind.suffix()
                        )));
                    }
                    (_, Some(unit), _) if !known(unit) => {
                        return Err(Inconsistent(format!(
                            "remote unit {unit:?} is not in relation {}",
                            rel.name()
                        )));
                    }
                    (RelationEventKind::Departed, Some(unit), departing) => {
                        let departing = departing.as_deref().unwrap_or_default();
                        if departing != unit && departing != unit_name {
                            return Err(Inconsistent(format!(
                                "the departing unit is {unit:?} or this unit, not {departing:?}"
                            )));
                        }
                    }
                    _ => {}
                }
                Ok(Some(HookSpec::relation(
                    endpoint,
                    *kind,
                    *id,
                    remote_unit.as_deref(),
                    departing_unit.as_deref(),
                )))
            }
            TestEvent::Secret { kind, id, revision } => {
                let secret = state.secret(id).ok_or_else(|| {
                    Inconsistent(format!(
                        "{} for secret {id}, which is not in the state",
                        kind.hook_name()
                    ))
                })?;
                let label = match kind {
                    SecretEventKind::Changed => {
                        if secret.is_ours() {
                            return Err(Inconsistent(format!(
                                "secret-changed fires on consumers; {} is owned by this application",
                                secret.uri()
                            )));
                        }
                        if secret.tracked.is_none() {
                            return Err(Inconsistent(format!(
                                "secret-changed fires only on units that have read {} (set TestSecret::tracking)",
                                secret.uri()
                            )));
                        }
                        secret.consumer_label.clone()
                    }
                    _ => {
                        if !secret.is_ours() {
                            return Err(Inconsistent(format!(
                                "{} fires on the owner; {} is not owned by this application",
                                kind.hook_name(),
                                secret.uri()
                            )));
                        }
                        secret.label.clone()
                    }
                };
                let needs_revision =
                    matches!(kind, SecretEventKind::Remove | SecretEventKind::Expired);
                match revision {
                    None if needs_revision => {
                        return Err(Inconsistent(format!(
                            "{} needs a revision",
                            kind.hook_name()
                        )));
                    }
                    Some(r) if !secret.revisions.contains_key(r) => {
                        return Err(Inconsistent(format!(
                            "secret {} has no revision {r}",
                            secret.uri()
                        )));
                    }
                    _ => {}
                }
                Ok(Some(HookSpec::secret(
                    *kind,
                    &secret.uri(),
                    label.as_deref(),
                    revision.filter(|_| needs_revision),
                )))
            }
        }
    }

    /// The model the event runs in: this unit and its peers, with the planned count filled in.
    fn model(&self, state: &State) -> Result<ModelState, Inconsistent> {
        let mut model = ModelState::new(&self.model_name, &self.app_name, self.charm_dir.clone());
        let app = &mut model.app;
        app.config = state.config.clone();
        app.trusted = state.trusted;
        app.resources = state.resources.clone();
        app.status = StatusRecord::new(state.app_status.name(), state.app_status.message());
        app.workload_version = state.workload_version.clone();
        app.leader = state.leader.then_some(state.unit_id);
        let mut me = UnitState::new(state.unit_id);
        me.status = StatusRecord::new(state.unit_status.name(), state.unit_status.message());
        me.charm_set_status = state.unit_status != Status::Unknown;
        me.charm_state = state.stored.clone();
        me.workload_version = state.workload_version.clone();
        me.started = true;
        if state.dying || state.planned_units == Some(0) {
            me.life = Life::Dying;
        }
        model.units.push(me);
        for (number, status) in &state.peers {
            let mut peer = UnitState::new(*number);
            if status == "dying" {
                peer.life = Life::Dying;
            } else {
                peer.status = StatusRecord::new(status, "");
            }
            model.units.push(peer);
        }
        if let Some(planned) = state.planned_units {
            let have = model.scale();
            if have > planned as usize {
                return Err(Inconsistent(format!(
                    "planned_units is {planned} but {have} units are not dying"
                )));
            }
            for _ in have..planned as usize {
                let number = model.add_unit();
                if let Some(u) = model.unit_mut(number) {
                    u.status = StatusRecord::new("active", "");
                }
            }
        }
        model.units.sort_by_key(|u| u.number);
        relations::into_model(&mut model, &self.meta, state.unit_id, &state.relations);
        secrets::into_model(&mut model, state.unit_id, &state.secrets);
        Ok(model)
    }

    /// Runs `event` through a charm made by `make`, starting from `state`.
    pub fn run<C: Charm>(
        &self,
        make: impl FnOnce(&JujuContext) -> C,
        event: TestEvent,
        state: State,
    ) -> Result<Output, Inconsistent> {
        self.check(&state)?;
        let unit = state.unit_id;
        let mut agent = Agent::new(self.model(&state)?, self.meta.clone());
        match (&event, self.hook_spec(&state, &event)?) {
            (TestEvent::Action { name, params }, _) => {
                let params = self
                    .meta
                    .action_params(name, params)
                    .map_err(Inconsistent)?;
                agent.begin_action(unit, name, params);
            }
            (_, Some(spec)) => {
                agent.begin(unit, &spec);
            }
            (_, None) => return Err(Inconsistent("nothing to run".into())),
        }
        let session = agent
            .session
            .clone()
            .ok_or_else(|| Inconsistent("no session".into()))?;
        let env = crate::sim::env::hook_environment(
            &agent.state,
            &session,
            Path::new("/var/lib/juju/tools/unit-test-0"),
            Path::new("/var/lib/juju/agents/unit-test-0/agent.socket"),
            "/usr/bin:/bin",
            &BTreeMap::new(),
        );
        let juju = JujuContext::from_map(&env).map_err(|e| Inconsistent(e.to_string()))?;
        let shared = Arc::new(Mutex::new(agent));
        let tools: Arc<dyn HookTools> =
            Arc::new(ProcessHookTools::new(InProcessAgent(shared.clone())));
        let success = execute(&juju, tools, make);
        let mut agent = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let action = agent.finish(if success { 0 } else { 1 }, "", "");
        let st = &agent.state;
        let me = st
            .unit(unit)
            .ok_or_else(|| Inconsistent("the unit vanished".into()))?;
        let status =
            |r: &StatusRecord| Status::from_parts(&r.status, &r.message).unwrap_or(Status::Unknown);
        Ok(Output {
            state: State {
                config: st.app.config.clone(),
                unit_id: unit,
                leader: st.is_leader(unit),
                dying: me.life != Life::Alive,
                peers: state.peers.clone(),
                planned_units: state.planned_units,
                trusted: st.app.trusted,
                stored: me.charm_state.clone(),
                resources: st.app.resources.clone(),
                unit_status: status(&me.status),
                app_status: status(&st.app.status),
                workload_version: me.workload_version.clone(),
                relations: relations::from_model(st, unit, &state.relations),
                secrets: secrets::from_model(st, unit),
            },
            success,
            logs: st.logs.clone(),
            status_history: st.status_history.clone(),
            action,
        })
    }
}

/// A [`CommandRunner`] answered by the simulated agent in this process.
struct InProcessAgent(Arc<Mutex<Agent>>);

impl CommandRunner for InProcessAgent {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> std::io::Result<ToolOutput> {
        let mut agent = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let reply = match run_tool(&mut agent, tool, args, stdin) {
            // A real tool reads the (empty) stdin it was given.
            ToolReply::NeedStdin => run_tool(&mut agent, tool, args, Some(b"")),
            done => done,
        };
        match reply {
            ToolReply::Done {
                code,
                stdout,
                stderr,
            } => Ok(ToolOutput {
                code,
                stdout: stdout.into_bytes(),
                stderr: stderr.into_bytes(),
            }),
            ToolReply::NeedStdin => Err(std::io::Error::other("tool wants stdin twice")),
        }
    }
}
