//! Relations in the simulated model: the application's relations to simulated remote
//! applications, their databags, and what each unit of ours has seen join.
//!
//! Juju's rules kept here: each unit of ours sees a remote unit from its `-relation-joined` on
//! until its `-relation-departed` (that is what `relation-list` answers); a remote unit's
//! databag stays readable for the life of the relation even after it departed; relation ids
//! are model-wide and never reused; `relation-ids` lists relations until they are removed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::life::{Life, now};

/// One relation between an endpoint of ours and a simulated remote application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationState {
    /// The relation id (model-wide).
    pub id: u64,
    /// Our endpoint.
    pub endpoint: String,
    /// The endpoint's interface.
    pub interface: String,
    /// The remote application (our own application for a peer relation).
    pub remote_app: String,
    /// The remote application's endpoint (as simulated: named like ours unless told).
    #[serde(default)]
    pub remote_endpoint: String,
    /// Whether this is a peer relation (the "remote" units are our own other units).
    #[serde(default)]
    pub peer: bool,
    /// `alive`, or `dying` while `remove-relation` tears it down.
    pub life: Life,
    /// Remote units in the relation now.
    pub remote_units: BTreeSet<String>,
    /// Remote units' databags (kept after a unit departs, for the life of the relation).
    pub remote_unit_data: BTreeMap<String, BTreeMap<String, String>>,
    /// The remote application's databag.
    pub remote_app_data: BTreeMap<String, String>,
    /// Our application's databag (written by our leader).
    pub app_data: BTreeMap<String, String>,
    /// Our units' databags, by unit number.
    pub unit_data: BTreeMap<u32, BTreeMap<String, String>>,
    /// Per unit of ours: the remote units it has seen join and not yet depart.
    pub joined: BTreeMap<u32, BTreeSet<String>>,
    /// Units of ours whose `-relation-broken` has run.
    #[serde(default)]
    pub broken: BTreeSet<u32>,
    /// When the relation was made (goal-state's `since`).
    pub since: String,
}

impl RelationState {
    /// A relation with no units yet.
    pub fn new(id: u64, endpoint: &str, interface: &str, remote_app: &str) -> Self {
        Self {
            id,
            endpoint: endpoint.to_string(),
            interface: interface.to_string(),
            remote_app: remote_app.to_string(),
            remote_endpoint: endpoint.to_string(),
            peer: false,
            life: Life::Alive,
            remote_units: BTreeSet::new(),
            remote_unit_data: BTreeMap::new(),
            remote_app_data: BTreeMap::new(),
            app_data: BTreeMap::new(),
            unit_data: BTreeMap::new(),
            joined: BTreeMap::new(),
            broken: BTreeSet::new(),
            since: now(),
        }
    }

    /// `endpoint:id`, as Juju names a relation to hooks (`JUJU_RELATION_ID`).
    pub fn name(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }

    /// Juju's relation key, `provider:endpoint requirer:endpoint` (`we_provide` says which
    /// side we are).
    pub fn key(&self, app: &str, we_provide: bool) -> String {
        let ours = format!("{app}:{}", self.endpoint);
        let theirs = format!("{}:{}", self.remote_app, self.remote_endpoint);
        if we_provide {
            format!("{ours} {theirs}")
        } else {
            format!("{theirs} {ours}")
        }
    }

    /// The relation's tag as secret grants show their scope: `relation-` and the key with `.`
    /// for `:` and `#` for the space.
    pub fn scope_tag(&self, app: &str, we_provide: bool) -> String {
        format!(
            "relation-{}",
            self.key(app, we_provide)
                .replace(':', ".")
                .replace(' ', "#")
        )
    }

    /// The remote units unit `unit` of ours has seen join, sorted (what `relation-list` says).
    pub fn seen_by(&self, unit: u32) -> Vec<String> {
        self.joined
            .get(&unit)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets what a removed unit of ours had (its number may be reused).
    pub fn forget_unit(&mut self, unit: u32) {
        self.unit_data.remove(&unit);
        self.joined.remove(&unit);
        self.broken.remove(&unit);
    }

    /// Adds a remote unit with its databag (its first data, or none).
    pub fn add_remote_unit(&mut self, unit: &str, data: BTreeMap<String, String>) {
        self.remote_units.insert(unit.to_string());
        self.remote_unit_data.insert(unit.to_string(), data);
    }

    /// The status goal-state reports for the relation: `joined` once remote units are in it,
    /// `joining` before, `broken` while it is being removed.
    pub fn goal_status(&self) -> &'static str {
        match (self.life, self.remote_units.is_empty()) {
            (Life::Alive, false) => "joined",
            (Life::Alive, true) => "joining",
            _ => "broken",
        }
    }
}

/// Parses `KEY=VALUE` pairs (the value may contain `=`; a duplicate key is an error, as for
/// Juju's `keyvalues.Parse`).
pub fn parse_pairs(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(format!("expected \"key=value\", got {arg:?}"));
        };
        let key = key.trim().to_string();
        if out.insert(key.clone(), value.trim().to_string()).is_some() {
            return Err(format!("key {key:?} specified more than once"));
        }
    }
    Ok(out)
}

/// Applies writes to a databag: an empty value deletes the key.
pub fn apply_writes(bag: &mut BTreeMap<String, String>, writes: &BTreeMap<String, String>) {
    for (key, value) in writes {
        if value.is_empty() {
            bag.remove(key);
        } else {
            bag.insert(key.clone(), value.clone());
        }
    }
}
