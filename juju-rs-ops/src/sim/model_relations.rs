//! The model's relation operations: ids, lookups, what each unit has seen join, goal-state.

use std::collections::BTreeMap;

use super::relations::*;
use super::state::ModelState;
use crate::hooktools::GoalStatus;

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
    use crate::sim::life::Life;
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
