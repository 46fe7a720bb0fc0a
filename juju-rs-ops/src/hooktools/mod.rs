//! The backend over Juju's hook tools.
//!
//! [`HookTools`] is the typed interface the model API uses; relations ([`RelationTools`]) and
//! secrets ([`SecretTools`]) are its parts in their own modules. [`ProcessHookTools`] implements
//! it by
//! running the real tools through a [`CommandRunner`]: [`SystemRunner`] spawns processes (what a
//! deployed charm does); the testing harness plugs in the simulated agent instead, so the same
//! argument building and output parsing is exercised in tests.

mod process;
mod relation;
mod runner;
#[cfg(test)]
pub(crate) mod scripted;
mod secret;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ModelError;
use crate::status::Status;

pub use process::ProcessHookTools;
pub use relation::RelationTools;
pub use runner::{CommandRunner, SystemRunner, ToolOutput};
pub use secret::{
    SecretInfo, SecretOptions, SecretOwner, SecretRead, SecretTools, canonical_secret_id,
    valid_secret_key,
};

/// Whose status a status tool reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusTarget {
    /// This unit.
    Unit,
    /// The application (leader only).
    Application,
}

/// A status as `status-get --include-data` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusInfo {
    /// `active`, `blocked`, `maintenance`, `waiting`, `unknown`, `error`, ...
    pub status: String,
    /// The message.
    pub message: String,
}

/// The application status and its units' statuses, as the leader's `status-get
/// --application` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppStatusInfo {
    /// The application's status.
    pub app: StatusInfo,
    /// Each unit's status, by unit name.
    pub units: std::collections::BTreeMap<String, StatusInfo>,
}

/// One entry of `goal-state`: a unit (or a related application) and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalStatus {
    /// For units: `dying` while the unit is being removed, else its workload status (`active`,
    /// `waiting`, `maintenance`, `blocked`, `error`, `unknown`, ...). For related applications:
    /// the relation's status (`joining`, `joined`, `broken`, ...).
    pub status: String,
    /// When that status was set, as Juju prints it (`2006-01-02 15:04:05Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// What `goal-state` reports: the units the application is meant to have and, per endpoint, the
/// related applications and units.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GoalState {
    /// The application's units (dead ones are not listed) by unit name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub units: BTreeMap<String, GoalStatus>,
    /// Endpoint name -> related application or unit name -> status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub relations: BTreeMap<String, BTreeMap<String, GoalStatus>>,
}

impl GoalState {
    /// How many units the application is planned to have: the units not `dying`, as ops'
    /// `Application.planned_units()` counts them. 0 means the application is being removed.
    pub fn planned_units(&self) -> usize {
        self.units.values().filter(|u| u.status != "dying").count()
    }

    /// Whether `unit` is being removed (listed as `dying`).
    pub fn is_dying(&self, unit: &str) -> bool {
        self.units.get(unit).is_some_and(|u| u.status == "dying")
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `juju-log` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// TRACE
    Trace,
    /// DEBUG
    Debug,
    /// INFO
    Info,
    /// WARNING
    Warning,
    /// ERROR
    Error,
    /// CRITICAL
    Critical,
}

impl LogLevel {
    /// The name `juju-log --log-level` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
        }
    }
}

/// Typed access to the hook tools. One method per tool invocation the framework needs; the
/// relation and secret tools come from the supertraits.
pub trait HookTools: RelationTools + SecretTools + Send + Sync {
    /// `config-get --format=json`: every option that is set or has a default.
    fn config_get(&self) -> Result<Map<String, Value>, ModelError>;
    /// `is-leader --format=json`.
    fn is_leader(&self) -> Result<bool, ModelError>;
    /// `status-set --application=<bool> STATUS -- MESSAGE`.
    fn status_set(&self, target: StatusTarget, status: &Status) -> Result<(), ModelError>;
    /// `status-get --include-data --format=json --application=<bool>`.
    fn status_get(&self, target: StatusTarget) -> Result<StatusInfo, ModelError>;
    /// `status-get --include-data --format=json --application=true` (leader only), whole: the
    /// application's status and its units'.
    fn app_status_get(&self) -> Result<AppStatusInfo, ModelError>;
    /// `application-version-set -- VERSION`.
    fn application_version_set(&self, version: &str) -> Result<(), ModelError>;
    /// `juju-log --log-level LEVEL -- MESSAGE`.
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ModelError>;
    /// `action-get --format=json`.
    fn action_get(&self) -> Result<Map<String, Value>, ModelError>;
    /// `action-set k=v ...` with already flattened, validated keys.
    fn action_set(&self, results: &BTreeMap<String, String>) -> Result<(), ModelError>;
    /// `action-fail -- MESSAGE`.
    fn action_fail(&self, message: &str) -> Result<(), ModelError>;
    /// `action-log -- MESSAGE`.
    fn action_log(&self, message: &str) -> Result<(), ModelError>;
    /// `state-get --format=json`: the unit's charm state.
    fn state_get(&self) -> Result<BTreeMap<String, String>, ModelError>;
    /// `state-set --file -` with a JSON object on stdin.
    fn state_set(&self, pairs: &BTreeMap<String, String>) -> Result<(), ModelError>;
    /// `state-delete KEY`.
    fn state_delete(&self, key: &str) -> Result<(), ModelError>;
    /// `resource-get NAME`: the local path of the resource file.
    fn resource_get(&self, name: &str) -> Result<PathBuf, ModelError>;
    /// `goal-state --format=json`: the application's planned units and relations.
    fn goal_state(&self) -> Result<GoalState, ModelError>;
}
