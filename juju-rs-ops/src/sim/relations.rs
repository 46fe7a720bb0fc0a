//! Relations in the simulated model: the application's relations to simulated remote
//! applications, their databags, and what each unit of ours has seen join.
//!
//! Juju's rules kept here: each unit of ours sees a remote unit from its `-relation-joined` on
//! until its `-relation-departed` (that is what `relation-list` answers); a remote unit's
//! databag stays readable for the life of the relation even after it departed; relation ids
//! are model-wide and never reused; `relation-ids` lists relations until they are removed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::state::{Life, ModelState, now};
use crate::hooktools::GoalStatus;

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

impl ModelState {
    /// The relation with id `id`.
    pub fn relation(&self, id: u64) -> Option<&RelationState> {
        self.relations.iter().find(|r| r.id == id)
    }

    /// The relation with id `id`, mutably.
    pub fn relation_mut(&mut self, id: u64) -> Option<&mut RelationState> {
        self.relations.iter_mut().find(|r| r.id == id)
    }

    /// Adds a relation of `endpoint` to `remote_app` and returns its id.
    pub fn add_relation(&mut self, endpoint: &str, interface: &str, remote_app: &str) -> u64 {
        let id = self.next_relation_id;
        self.next_relation_id += 1;
        self.relations
            .push(RelationState::new(id, endpoint, interface, remote_app));
        id
    }

    /// Finds one relation from what a user typed: an id, `endpoint:id`, or an endpoint with
    /// exactly one relation.
    pub fn find_relation(&self, text: &str) -> Result<u64, String> {
        let digits = text.rsplit(':').next().unwrap_or_default();
        if let Ok(id) = digits.parse::<u64>() {
            return match self.relation(id) {
                Some(r) if !text.contains(':') || text.starts_with(&format!("{}:", r.endpoint)) => {
                    Ok(id)
                }
                _ => Err(format!("relation {text:?} not found")),
            };
        }
        let matching: Vec<&RelationState> = self
            .relations
            .iter()
            .filter(|r| r.endpoint == text)
            .collect();
        match matching.as_slice() {
            [one] => Ok(one.id),
            [] => Err(format!("no relation on endpoint {text:?}")),
            many => {
                let ids: Vec<String> = many.iter().map(|r| r.name()).collect();
                Err(format!(
                    "endpoint {text:?} has {} relations ({}): name one by id",
                    many.len(),
                    ids.join(", ")
                ))
            }
        }
    }

    /// goal-state's `relations`: per endpoint, each related application with the relation's
    /// status, and each of its units in the relation (as Juju shows units of an application
    /// in the same model). Peer relations are not shown, as in Juju.
    pub fn relation_goal_state(&self) -> BTreeMap<String, BTreeMap<String, GoalStatus>> {
        let mut out: BTreeMap<String, BTreeMap<String, GoalStatus>> = BTreeMap::new();
        for rel in self.relations.iter().filter(|r| !r.peer) {
            let entry = out.entry(rel.endpoint.clone()).or_default();
            entry.insert(
                rel.remote_app.clone(),
                GoalStatus {
                    status: rel.goal_status().to_string(),
                    since: Some(rel.since.clone()),
                },
            );
            for unit in &rel.remote_units {
                entry.insert(
                    unit.clone(),
                    GoalStatus {
                        status: "active".into(),
                        since: Some(rel.since.clone()),
                    },
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn model() -> ModelState {
        let mut m = ModelState::new("m", "demo", PathBuf::from("/c"));
        m.add_unit();
        m
    }

    #[test]
    fn ids_are_model_wide_and_relations_are_found_by_id_or_endpoint() {
        let mut m = model();
        assert_eq!(m.add_relation("db", "pgsql", "pg"), 0);
        assert_eq!(m.add_relation("metrics", "prometheus_scrape", "prom"), 1);
        m.relations.retain(|r| r.id != 0);
        assert_eq!(m.add_relation("db", "pgsql", "pg"), 2, "ids are not reused");
        assert_eq!(m.find_relation("2"), Ok(2));
        assert_eq!(m.find_relation("db:2"), Ok(2));
        assert_eq!(m.find_relation("db"), Ok(2));
        assert!(
            m.find_relation("metrics:2")
                .unwrap_err()
                .contains("not found")
        );
        assert!(m.find_relation("0").unwrap_err().contains("not found"));
        assert!(m.find_relation("nope").unwrap_err().contains("no relation"));
        m.add_relation("db", "pgsql", "pg2");
        let err = m.find_relation("db").unwrap_err();
        assert!(err.contains("2 relations (db:2, db:3)"), "{err}");
    }

    #[test]
    fn each_unit_sees_what_joined_it() {
        let mut m = model();
        let id = m.add_relation("db", "pgsql", "pg");
        let rel = m.relation_mut(id).unwrap();
        rel.add_remote_unit("pg/1", BTreeMap::new());
        rel.add_remote_unit("pg/0", BTreeMap::new());
        rel.joined.entry(0).or_default().insert("pg/1".into());
        assert_eq!(rel.seen_by(0), ["pg/1"]);
        assert!(rel.seen_by(1).is_empty());
        assert_eq!(rel.name(), "db:0");
        assert_eq!(
            rel.key("demo", false),
            "pg:db demo:db",
            "the provider comes first"
        );
        assert_eq!(rel.scope_tag("demo", true), "relation-demo.db#pg.db");
    }

    #[test]
    fn goal_state_shows_remote_apps_and_units_but_not_peers() {
        let mut m = model();
        let id = m.add_relation("db", "pgsql", "pg");
        m.add_relation("db", "pgsql", "other");
        let peer = m.add_relation("cluster", "demo-peers", "demo");
        m.relation_mut(peer).unwrap().peer = true;
        m.relation_mut(id)
            .unwrap()
            .add_remote_unit("pg/0", BTreeMap::new());
        let goal = m.relation_goal_state();
        assert_eq!(goal.keys().collect::<Vec<_>>(), ["db"]);
        assert_eq!(goal["db"]["pg"].status, "joined");
        assert_eq!(goal["db"]["pg/0"].status, "active");
        assert_eq!(goal["db"]["other"].status, "joining");
        m.relation_mut(id).unwrap().life = Life::Dying;
        assert_eq!(m.relation_goal_state()["db"]["pg"].status, "broken");
    }

    #[test]
    fn pairs_and_writes() {
        let args: Vec<String> = ["a=1", "b=x=y", "c="]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pairs = parse_pairs(&args).unwrap();
        assert_eq!(pairs["b"], "x=y");
        let mut bag = BTreeMap::from([("c".to_string(), "old".to_string())]);
        apply_writes(&mut bag, &pairs);
        assert_eq!(bag.keys().collect::<Vec<_>>(), ["a", "b"]);
        let dup: Vec<String> = ["a=1", "a=2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_pairs(&dup).unwrap_err(),
            "key \"a\" specified more than once"
        );
        assert_eq!(
            parse_pairs(&["x".to_string()]).unwrap_err(),
            "expected \"key=value\", got \"x\""
        );
    }
}
