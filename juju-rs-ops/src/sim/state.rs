//! The simulated model as the controller knows it: the application (config, trust, leader,
//! application status, resources), its units (workload status, charm state, life), its
//! relations ([`super::relations`]) and the model's secrets ([`super::secrets`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::hook::HookContext;
pub use super::life::{Life, now};
use super::relations::RelationState;
use super::secrets::{SecretContents, SecretState};
use crate::hooktools::{GoalState, GoalStatus};

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

    /// Juju's severity when it derives an application status from its units' statuses
    /// (error > blocked > maintenance > waiting > active > terminated > unknown).
    pub fn severity(&self) -> u8 {
        match self.status.as_str() {
            "error" => 7,
            "blocked" => 6,
            "maintenance" => 5,
            "waiting" => 4,
            "active" => 3,
            "terminated" => 2,
            _ => 1,
        }
    }
}

/// One `juju-log` line (or a line of the charm's stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The unit that logged it (`app/n`).
    #[serde(default)]
    pub unit: String,
    /// Level as Juju normalises it (`DEBUG`, `INFO`, `WARNING`, ...).
    pub level: String,
    /// The message.
    pub message: String,
    /// The hook or action that logged it.
    pub context: String,
}

/// A status change, for history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// `unit` or `application`.
    pub target: String,
    /// The unit whose status changed, or that changed the application's.
    #[serde(default)]
    pub unit: String,
    /// The new status.
    pub status: StatusRecord,
    /// The hook during which it changed (or `juju` for agent-set statuses).
    pub during: String,
}

/// How long one dispatch took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTiming {
    /// Hook or action name.
    pub name: String,
    /// The unit it ran on.
    #[serde(default)]
    pub unit: String,
    /// Milliseconds from spawning dispatch to its exit.
    pub millis: u64,
    /// Exit code.
    pub code: i32,
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

/// Application-level data: shared by every unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    /// Application name.
    pub name: String,
    /// The deployed charm directory.
    pub charm_dir: PathBuf,
    /// Whether the application is trusted (`--trust`).
    pub trusted: bool,
    /// Values set by the user (defaults come from config.yaml).
    pub config: BTreeMap<String, Value>,
    /// Application status (set by the leader).
    pub status: StatusRecord,
    /// When the application status was last set (`YYYY-MM-DD HH:MM:SSZ`).
    pub status_since: String,
    /// Resources: name -> local file path handed to the charm.
    pub resources: BTreeMap<String, PathBuf>,
    /// The workload version `juju status` shows: the one a unit set most recently.
    pub workload_version: String,
    /// The unit number holding leadership, if any.
    pub leader: Option<u32>,
    /// The application's life (`juju remove-application` makes it dying, then dead).
    pub life: Life,
}

/// Unit-level data: one per unit of the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// Unit number (`app/<number>`).
    pub number: u32,
    /// The unit's life.
    pub life: Life,
    /// Workload status.
    pub status: StatusRecord,
    /// When the workload status was last set (`YYYY-MM-DD HH:MM:SSZ`).
    pub status_since: String,
    /// Whether the charm has ever set this unit's status.
    pub charm_set_status: bool,
    /// The unit's workload version (`application-version-set`).
    pub workload_version: String,
    /// Committed charm state (`state-set`).
    pub charm_state: BTreeMap<String, String>,
    /// A hook that failed and must be retried before anything else runs on this unit.
    pub failed_hook: Option<String>,
    /// The relation or secret the failed hook was about (retried with it).
    #[serde(default)]
    pub failed_context: HookContext,
    /// Whether `start` has run (and `stop` has not since).
    pub started: bool,
    /// Completed action runs on this unit.
    pub actions: Vec<ActionOutcome>,
}

impl UnitState {
    /// A new unit: `waiting`, as Juju shows a unit whose agent has not run `install` yet.
    pub fn new(number: u32) -> Self {
        Self {
            number,
            life: Life::Alive,
            status: StatusRecord::new("waiting", "agent initialising"),
            status_since: now(),
            charm_set_status: false,
            workload_version: String::new(),
            charm_state: BTreeMap::new(),
            failed_hook: None,
            failed_context: HookContext::default(),
            started: false,
            actions: Vec::new(),
        }
    }

    /// The status `goal-state` reports for this unit: `dying` while it is being removed, else
    /// its workload status (which is `error` after a failed hook), as Juju's uniter facade does.
    pub fn goal_status(&self) -> &str {
        match self.life {
            Life::Dying => "dying",
            _ => &self.status.status,
        }
    }
}

/// Everything the simulated controller knows about the model (persisted by `juju-sim`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    /// Model name (also the Kubernetes namespace of the model).
    pub model_name: String,
    /// Model UUID.
    pub model_uuid: String,
    /// Agent version reported in `JUJU_VERSION`.
    pub juju_version: String,
    /// The application.
    pub app: AppState,
    /// Its units, in number order (removed units are gone; units of a removed application stay
    /// `dead` so that `status` can show them `terminated`).
    pub units: Vec<UnitState>,
    /// Status history of the application and all units.
    pub status_history: Vec<StatusChange>,
    /// `juju-log` lines of all units, in order.
    pub logs: Vec<LogRecord>,
    /// Last id handed out to an action (model-wide, as Juju's task ids).
    pub last_action_id: u64,
    /// Last hook context number.
    pub last_context: u64,
    /// Wall time of every dispatch, from process start to exit, in order.
    #[serde(default)]
    pub timings: Vec<HookTiming>,
    /// Model config `automatically-retry-hooks` (Juju's default: on).
    #[serde(default = "retry_hooks_default")]
    pub automatically_retry_hooks: bool,
    /// The application's relations (removed ones are gone).
    #[serde(default)]
    pub relations: Vec<RelationState>,
    /// The id the next relation gets (model-wide, never reused).
    #[serde(default)]
    pub next_relation_id: u64,
    /// The model's secrets: metadata only.
    #[serde(default)]
    pub secrets: Vec<SecretState>,
    /// How many secret ids were handed out.
    #[serde(default)]
    pub secret_counter: u64,
    /// Every secret revision's content; never serialised with the model (`juju-sim` keeps it
    /// in its own 0600 file).
    #[serde(skip)]
    pub secret_content: SecretContents,
}

fn retry_hooks_default() -> bool {
    true
}

impl ModelState {
    /// A model with application `app` from `charm_dir` and no units yet.
    pub fn new(model: &str, app: &str, charm_dir: PathBuf) -> Self {
        Self {
            model_name: model.to_string(),
            model_uuid: "8a3b2c1d-0000-4000-8000-00000000cafe".to_string(),
            juju_version: "3.6.8".to_string(),
            app: AppState {
                name: app.to_string(),
                charm_dir,
                trusted: false,
                config: BTreeMap::new(),
                status: StatusRecord::new("unknown", ""),
                status_since: now(),
                resources: BTreeMap::new(),
                workload_version: String::new(),
                leader: None,
                life: Life::Alive,
            },
            units: Vec::new(),
            status_history: Vec::new(),
            logs: Vec::new(),
            last_action_id: 0,
            last_context: 0,
            timings: Vec::new(),
            automatically_retry_hooks: true,
            relations: Vec::new(),
            next_relation_id: 0,
            secrets: Vec::new(),
            secret_counter: 0,
            secret_content: SecretContents::default(),
        }
    }

    /// Adds a unit with the lowest free number (Kubernetes reuses pod ordinals) and returns it.
    pub fn add_unit(&mut self) -> u32 {
        let number = (0..)
            .find(|n| self.units.iter().all(|u| u.number != *n))
            .unwrap_or_default();
        let at = self.units.partition_point(|u| u.number < number);
        self.units.insert(at, UnitState::new(number));
        number
    }

    /// `app/n`.
    pub fn unit_name(&self, number: u32) -> String {
        format!("{}/{}", self.app.name, number)
    }

    /// The unit numbered `number`.
    pub fn unit(&self, number: u32) -> Option<&UnitState> {
        self.units.iter().find(|u| u.number == number)
    }

    /// The unit numbered `number`, mutably.
    pub fn unit_mut(&mut self, number: u32) -> Option<&mut UnitState> {
        self.units.iter_mut().find(|u| u.number == number)
    }

    /// Parses `app/n` (or `app/leader`) into a unit number of this application.
    pub fn unit_number(&self, name: &str) -> Result<u32, String> {
        let (app, rest) = name
            .split_once('/')
            .ok_or_else(|| format!("invalid unit name {name:?} (expected {}/N)", self.app.name))?;
        if app != self.app.name {
            return Err(format!(
                "unit {name:?} is not a unit of application {:?}",
                self.app.name
            ));
        }
        let number = if rest == "leader" {
            self.app
                .leader
                .ok_or_else(|| format!("application {:?} has no leader", self.app.name))?
        } else {
            rest.parse::<u32>()
                .map_err(|_| format!("invalid unit name {name:?}"))?
        };
        match self.unit(number) {
            Some(u) if u.life != Life::Dead => Ok(number),
            _ => Err(format!("unit {name:?} not found")),
        }
    }

    /// Units in service (not dying or dead), the leader first, then by number.
    pub fn live_units(&self) -> Vec<u32> {
        let mut live: Vec<u32> = self
            .units
            .iter()
            .filter(|u| u.life == Life::Alive)
            .map(|u| u.number)
            .collect();
        live.sort_by_key(|n| (Some(*n) != self.app.leader, *n));
        live
    }

    /// Whether `number` holds leadership.
    pub fn is_leader(&self, number: u32) -> bool {
        self.app.leader == Some(number)
    }

    /// Gives leadership to the lowest-numbered unit in service when nobody holds it; returns
    /// the new leader. A dying unit never accepts leadership (Juju's uniter refuses it).
    pub fn elect_leader(&mut self) -> Option<u32> {
        if self.app.leader.is_some() {
            return None;
        }
        let leader = self
            .units
            .iter()
            .find(|u| u.life == Life::Alive)
            .map(|u| u.number)?;
        self.app.leader = Some(leader);
        Some(leader)
    }

    /// What `goal-state` reports: every unit that is not dead with its goal status and the time
    /// of its last status change, and the relations per endpoint.
    pub fn goal_state(&self) -> GoalState {
        let units = self
            .units
            .iter()
            .filter(|u| u.life != Life::Dead)
            .map(|u| {
                let status = GoalStatus {
                    status: u.goal_status().to_string(),
                    since: Some(u.status_since.clone()),
                };
                (self.unit_name(u.number), status)
            })
            .collect();
        GoalState {
            units,
            relations: self.relation_goal_state(),
        }
    }

    /// The application status `juju status` shows: what the leader set, else derived from the
    /// units' workload statuses (the most severe wins).
    pub fn display_app_status(&self) -> StatusRecord {
        if self.app.status.status != "unknown" {
            return self.app.status.clone();
        }
        self.units
            .iter()
            .map(|u| &u.status)
            .max_by_key(|s| s.severity())
            .cloned()
            .unwrap_or_else(|| self.app.status.clone())
    }

    /// How many units the application is meant to have (`scale` in `juju status`).
    pub fn scale(&self) -> usize {
        self.units.iter().filter(|u| u.life == Life::Alive).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(units: u32) -> ModelState {
        let mut m = ModelState::new("m", "demo", PathBuf::from("/c"));
        for _ in 0..units {
            m.add_unit();
        }
        m
    }

    #[test]
    fn units_take_the_lowest_free_number() {
        let mut m = model(3);
        m.units.retain(|u| u.number != 1);
        assert_eq!(m.add_unit(), 1);
        assert_eq!(m.add_unit(), 3);
        let numbers: Vec<u32> = m.units.iter().map(|u| u.number).collect();
        assert_eq!(numbers, [0, 1, 2, 3]);
    }

    #[test]
    fn unit_names_resolve_against_the_application() {
        let mut m = model(2);
        m.app.leader = Some(1);
        assert_eq!(m.unit_number("demo/0"), Ok(0));
        assert_eq!(m.unit_number("demo/leader"), Ok(1));
        assert!(m.unit_number("demo/7").unwrap_err().contains("not found"));
        assert!(m.unit_number("other/0").unwrap_err().contains("not a unit"));
        assert!(
            m.unit_number("demo")
                .unwrap_err()
                .contains("invalid unit name")
        );
        assert!(
            m.unit_number("demo/x")
                .unwrap_err()
                .contains("invalid unit name")
        );
    }

    #[test]
    fn leader_comes_first_and_dying_units_never_lead() {
        let mut m = model(3);
        m.app.leader = Some(2);
        assert_eq!(m.live_units(), [2, 0, 1]);
        assert_eq!(m.elect_leader(), None, "a leader is in place");
        m.app.leader = None;
        m.units[0].life = Life::Dying;
        assert_eq!(m.elect_leader(), Some(1));
        assert_eq!(m.live_units(), [1, 2]);
    }

    #[test]
    fn goal_state_shows_dying_units_and_hides_dead_ones() {
        let mut m = model(3);
        m.units[0].status = StatusRecord::new("active", "ok");
        m.units[1].life = Life::Dying;
        m.units[2].life = Life::Dead;
        let goal = m.goal_state();
        assert_eq!(goal.units["demo/0"].status, "active");
        assert_eq!(goal.units["demo/1"].status, "dying");
        assert!(!goal.units.contains_key("demo/2"));
        assert!(goal.relations.is_empty());
        assert_eq!(goal.planned_units(), 1);
        let since = goal.units["demo/0"].since.clone().unwrap();
        assert_eq!(since.len(), "2026-01-01 00:00:00Z".len(), "{since}");
        assert!(
            since.ends_with('Z') && since.as_bytes()[10] == b' ',
            "{since}"
        );
    }

    #[test]
    fn app_status_is_derived_from_units_until_the_leader_sets_one() {
        let mut m = model(2);
        m.units[0].status = StatusRecord::new("active", "");
        m.units[1].status = StatusRecord::new("blocked", "fix me");
        assert_eq!(
            m.display_app_status(),
            StatusRecord::new("blocked", "fix me")
        );
        m.app.status = StatusRecord::new("active", "app");
        assert_eq!(m.display_app_status(), StatusRecord::new("active", "app"));
    }
}
