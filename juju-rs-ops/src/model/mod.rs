//! The model API a charm sees during one dispatch: [`Context`], with its relation part
//! ([`relations`]) and secret part ([`secrets`]).

mod relations;
mod secrets;

pub use relations::{Bag, Relation};
pub use secrets::SecretRef;

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::action::flatten_results;
use crate::context::JujuContext;
use crate::error::{ConfigError, ModelError};
use crate::hooktools::{GoalState, HookTools, StatusInfo, StatusTarget};
use crate::metadata::Endpoints;
use crate::status::Status;
use crate::stored::StoredState;

/// The statuses this dispatch knows are set: read with `status-get` or set with `status-set`.
/// Setting one of them to what it already is calls no tool (so Juju's "since" keeps the time the
/// status last changed).
#[derive(Debug, Default)]
struct KnownStatuses {
    unit: Option<StatusInfo>,
    app: Option<StatusInfo>,
}

fn info_of(status: &Status) -> StatusInfo {
    StatusInfo {
        status: status.name().to_string(),
        message: status.message().to_string(),
    }
}

/// Everything a charm can read and change during one dispatch. Reads are cached per dispatch.
pub struct Context<'a> {
    juju: &'a JujuContext,
    tools: &'a dyn HookTools,
    leader: OnceCell<bool>,
    statuses: RefCell<KnownStatuses>,
    config: OnceCell<Map<String, Value>>,
    endpoints: OnceCell<Endpoints>,
    /// `relation-ids` per endpoint: a hook's relations do not change while it runs.
    relation_ids: RefCell<BTreeMap<String, Vec<u64>>>,
    action_params: Option<Map<String, Value>>,
}

impl<'a> Context<'a> {
    /// A context over the given environment and tools. `action_params` is set for actions.
    pub fn new(
        juju: &'a JujuContext,
        tools: &'a dyn HookTools,
        action_params: Option<Map<String, Value>>,
    ) -> Self {
        Self {
            juju,
            tools,
            leader: OnceCell::new(),
            statuses: RefCell::default(),
            config: OnceCell::new(),
            endpoints: OnceCell::new(),
            relation_ids: RefCell::default(),
            action_params,
        }
    }

    /// The parsed hook environment.
    pub fn juju(&self) -> &JujuContext {
        self.juju
    }

    /// The hook tools (for what the model API does not cover).
    pub fn tools(&self) -> &dyn HookTools {
        self.tools
    }

    /// This unit's name, `app/n`.
    pub fn unit_name(&self) -> &str {
        &self.juju.unit_name
    }

    /// The application name.
    pub fn app_name(&self) -> &str {
        &self.juju.app_name
    }

    /// The model name.
    pub fn model_name(&self) -> &str {
        &self.juju.model_name
    }

    /// The raw configuration map (`config-get --format=json`), cached.
    pub fn raw_config(&self) -> Result<&Map<String, Value>, ModelError> {
        if let Some(map) = self.config.get() {
            return Ok(map);
        }
        let map = self.tools.config_get()?;
        Ok(self.config.get_or_init(|| map))
    }

    /// The configuration decoded into the charm's own type. An error names the offending option.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let raw = Value::Object(self.raw_config()?.clone());
        serde_path_to_error::deserialize(raw).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // serde reports a missing field at the parent path; name the field itself.
            let option = match inner.strip_prefix("missing field `") {
                Some(rest) => rest.trim_end_matches('`').to_string(),
                None => path,
            };
            ConfigError::Invalid {
                option,
                reason: inner,
            }
        })
    }

    /// The charm's relation endpoints, read from metadata.yaml once per dispatch.
    pub fn endpoints(&self) -> Result<&Endpoints, ModelError> {
        if let Some(endpoints) = self.endpoints.get() {
            return Ok(endpoints);
        }
        let endpoints = Endpoints::load(&self.juju.charm_dir).map_err(ModelError::Refused)?;
        Ok(self.endpoints.get_or_init(|| endpoints))
    }

    /// Whether this unit is the leader (cached for the dispatch).
    pub fn is_leader(&self) -> Result<bool, ModelError> {
        if let Some(leader) = self.leader.get() {
            return Ok(*leader);
        }
        let leader = self.tools.is_leader()?;
        Ok(*self.leader.get_or_init(|| leader))
    }

    /// The application's goal state (`goal-state`): its planned units and relations. Read
    /// afresh on every call, as ops does (units can be added or removed during a hook).
    pub fn goal_state(&self) -> Result<GoalState, ModelError> {
        self.tools.goal_state()
    }

    /// How many units the application is planned to have, as ops'
    /// `Application.planned_units()`: the units in goal-state that are not `dying`. During
    /// `remove` it is 0 only when the whole application is being removed; when just this unit
    /// (even the leader) is removed, the others still count.
    pub fn planned_units(&self) -> Result<usize, ModelError> {
        Ok(self.goal_state()?.planned_units())
    }

    /// Whether this unit is being removed (goal-state lists it `dying`).
    pub fn unit_is_dying(&self) -> Result<bool, ModelError> {
        Ok(self.goal_state()?.is_dying(self.unit_name()))
    }

    /// Sets this unit's workload status (no tool call when this dispatch knows it is set
    /// already).
    pub fn set_unit_status(&self, status: &Status) -> Result<(), ModelError> {
        let info = info_of(status);
        if self.statuses.borrow().unit.as_ref() == Some(&info) {
            return Ok(());
        }
        self.tools.status_set(StatusTarget::Unit, status)?;
        self.statuses.borrow_mut().unit = Some(info);
        Ok(())
    }

    /// This unit's current workload status. A unit already known to lead reads its own and
    /// the application's with one `status-get --application`.
    pub fn unit_status(&self) -> Result<StatusInfo, ModelError> {
        if let Some(known) = &self.statuses.borrow().unit {
            return Ok(known.clone());
        }
        let status = if self.leader.get() == Some(&true) {
            self.app_status()?;
            self.statuses.borrow().unit.clone()
        } else {
            None
        };
        let status = match status {
            Some(status) => status,
            None => self.tools.status_get(StatusTarget::Unit)?,
        };
        self.statuses.borrow_mut().unit = Some(status.clone());
        Ok(status)
    }

    /// Reads the application status (and this unit's, from the same answer).
    fn app_status(&self) -> Result<StatusInfo, ModelError> {
        let read = self.tools.app_status_get()?;
        let mut known = self.statuses.borrow_mut();
        if let Some(unit) = read.units.get(self.unit_name()) {
            known.unit = Some(unit.clone());
        }
        known.app = Some(read.app.clone());
        Ok(read.app)
    }

    /// The application, available only to the leader (the type holds the leader rule).
    pub fn app(&self) -> Result<Option<App<'_>>, ModelError> {
        Ok(self.is_leader()?.then_some(App { ctx: self }))
    }

    /// Sets the workload version shown by `juju status`.
    pub fn set_workload_version(&self, version: &str) -> Result<(), ModelError> {
        self.tools.application_version_set(version)
    }

    /// The local path of a file resource (`resource-get`).
    pub fn resource_path(&self, name: &str) -> Result<PathBuf, ModelError> {
        self.tools.resource_get(name)
    }

    /// The unit's stored state.
    pub fn stored(&self) -> StoredState<'_> {
        StoredState::new(self.tools)
    }

    /// The running action, when this dispatch is an action.
    pub fn action(&self) -> Option<ActionHandle<'_>> {
        let info = self.juju.action.as_ref()?;
        Some(ActionHandle {
            name: &info.name,
            id: &info.id,
            params: self.action_params.as_ref(),
            tools: self.tools,
        })
    }
}

/// The application; only the leader gets one.
pub struct App<'a> {
    ctx: &'a Context<'a>,
}

impl App<'_> {
    /// Sets the application status (no tool call when this dispatch knows it is set already).
    pub fn set_status(&self, status: &Status) -> Result<(), ModelError> {
        let info = info_of(status);
        if self.ctx.statuses.borrow().app.as_ref() == Some(&info) {
            return Ok(());
        }
        self.ctx
            .tools
            .status_set(StatusTarget::Application, status)?;
        self.ctx.statuses.borrow_mut().app = Some(info);
        Ok(())
    }

    /// The application status.
    pub fn status(&self) -> Result<StatusInfo, ModelError> {
        if let Some(known) = &self.ctx.statuses.borrow().app {
            return Ok(known.clone());
        }
        self.ctx.app_status()
    }
}

/// The running action: parameters, results, log and failure.
pub struct ActionHandle<'a> {
    name: &'a str,
    id: &'a str,
    params: Option<&'a Map<String, Value>>,
    tools: &'a dyn HookTools,
}

impl ActionHandle<'_> {
    /// The action name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The action id.
    pub fn id(&self) -> &str {
        self.id
    }

    /// The raw parameters.
    pub fn raw_params(&self) -> Map<String, Value> {
        self.params.cloned().unwrap_or_default()
    }

    /// The parameters decoded into the charm's own type; an error names the parameter.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(Value::Object(self.raw_params())).map_err(|e| {
            ConfigError::Invalid {
                option: e.path().to_string(),
                reason: e.into_inner().to_string(),
            }
        })
    }

    /// Sets results (any serialisable map; nested maps become dotted keys, validated as Juju does).
    pub fn set_results<T: Serialize>(&self, results: &T) -> Result<(), ModelError> {
        let value = serde_json::to_value(results)
            .map_err(|e| ModelError::Refused(format!("cannot encode action results: {e}")))?;
        self.tools.action_set(&flatten_results(&value)?)
    }

    /// Sends a progress message to the user running the action.
    pub fn log(&self, message: &str) -> Result<(), ModelError> {
        self.tools.action_log(message)
    }

    /// Marks the action failed with a message.
    pub fn fail(&self, message: &str) -> Result<(), ModelError> {
        self.tools.action_fail(message)
    }
}

#[cfg(test)]
mod tests;
