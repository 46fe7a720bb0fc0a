//! Relations in the harness: [`TestRelation`] in (endpoint, id, remote application, remote
//! units and their data, our databags), databags out, and ops' consistency rules (the endpoint
//! is declared in metadata.yaml, the interface matches, ids are unique, peer relations are
//! among our own units).

use std::collections::{BTreeMap, BTreeSet};

use super::Inconsistent;
use crate::metadata::EndpointRole;
use crate::sim::{CharmMeta, ModelState, RelationState};

/// A relation of the unit under test, before or after the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRelation {
    /// Our endpoint (declared in metadata.yaml).
    pub endpoint: String,
    /// The relation id (unique in the state; `0` unless set with [`TestRelation::with_id`]).
    pub id: u64,
    /// The interface, checked against metadata.yaml when given.
    pub interface: Option<String>,
    /// The remote application (for a peer relation: empty, or our application).
    pub remote_app: String,
    /// The remote units (`app/n`) with their databags.
    pub remote_units: BTreeMap<String, BTreeMap<String, String>>,
    /// The remote application's databag.
    pub remote_app_data: BTreeMap<String, String>,
    /// Our application's databag.
    pub local_app_data: BTreeMap<String, String>,
    /// This unit's databag.
    pub local_unit_data: BTreeMap<String, String>,
    /// Peer relations only: the other units of our application (by number) with their
    /// databags.
    pub peers_data: BTreeMap<u32, BTreeMap<String, String>>,
}

fn owned(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl TestRelation {
    /// A relation of `endpoint` with `remote_app`, id 0, no units and empty databags.
    pub fn new(endpoint: &str, remote_app: &str) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            id: 0,
            interface: None,
            remote_app: remote_app.to_string(),
            remote_units: BTreeMap::new(),
            remote_app_data: BTreeMap::new(),
            local_app_data: BTreeMap::new(),
            local_unit_data: BTreeMap::new(),
            peers_data: BTreeMap::new(),
        }
    }

    /// A peer relation of `endpoint` (its "remote" units are our other units).
    pub fn peer(endpoint: &str) -> Self {
        Self::new(endpoint, "")
    }

    /// Sets the id (builder style).
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    /// Sets the interface, checked against metadata.yaml (builder style).
    pub fn with_interface(mut self, interface: &str) -> Self {
        self.interface = Some(interface.to_string());
        self
    }

    /// Adds a remote unit with its databag (builder style).
    pub fn with_remote_unit(mut self, unit: &str, data: &[(&str, &str)]) -> Self {
        self.remote_units.insert(unit.to_string(), owned(data));
        self
    }

    /// Sets the remote application's databag (builder style).
    pub fn with_remote_app_data(mut self, data: &[(&str, &str)]) -> Self {
        self.remote_app_data = owned(data);
        self
    }

    /// Sets our application's databag (builder style).
    pub fn with_local_app_data(mut self, data: &[(&str, &str)]) -> Self {
        self.local_app_data = owned(data);
        self
    }

    /// Sets this unit's databag (builder style).
    pub fn with_local_unit_data(mut self, data: &[(&str, &str)]) -> Self {
        self.local_unit_data = owned(data);
        self
    }

    /// Peer relations: adds another unit of our application with its databag (builder style).
    pub fn with_peer(mut self, unit_id: u32, data: &[(&str, &str)]) -> Self {
        self.peers_data.insert(unit_id, owned(data));
        self
    }

    /// `endpoint:id`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }
}

/// Checks the relations of a state against the charm's metadata and each other.
pub(super) fn check(
    meta: &CharmMeta,
    app: &str,
    unit_id: u32,
    relations: &[TestRelation],
) -> Result<(), Inconsistent> {
    let mut ids = BTreeSet::new();
    for rel in relations {
        let name = rel.name();
        let endpoint = meta.endpoints.get(&rel.endpoint).ok_or_else(|| {
            Inconsistent(format!(
                "relation {name}: endpoint {:?} is not declared in metadata.yaml (declared: {})",
                rel.endpoint,
                meta.endpoints.names().join(", ")
            ))
        })?;
        if let Some(interface) = &rel.interface
            && *interface != endpoint.interface
        {
            return Err(Inconsistent(format!(
                "relation {name}: interface {interface:?} does not match metadata.yaml's {:?}",
                endpoint.interface
            )));
        }
        if !ids.insert(rel.id) {
            return Err(Inconsistent(format!(
                "relation id {} is used twice (give each relation its own id with TestRelation::with_id)",
                rel.id
            )));
        }
        let peer = endpoint.role == EndpointRole::Peers;
        if peer {
            if !rel.remote_app.is_empty() && rel.remote_app != app {
                return Err(Inconsistent(format!(
                    "relation {name}: a peer relation's remote application is {app:?}, not {:?}",
                    rel.remote_app
                )));
            }
            if rel.peers_data.contains_key(&unit_id) {
                return Err(Inconsistent(format!(
                    "relation {name}: peer unit {unit_id} is this unit"
                )));
            }
        } else {
            if rel.remote_app.is_empty() || rel.remote_app == app {
                return Err(Inconsistent(format!(
                    "relation {name}: a {} relation needs a remote application other than {app:?}",
                    endpoint.role.as_str()
                )));
            }
            if !rel.peers_data.is_empty() {
                return Err(Inconsistent(format!(
                    "relation {name}: peer data on a {} endpoint",
                    endpoint.role.as_str()
                )));
            }
        }
        let prefix = format!("{}/", if peer { app } else { &rel.remote_app });
        for unit in rel.remote_units.keys() {
            let valid = unit
                .strip_prefix(&prefix)
                .is_some_and(|n| n.parse::<u32>().is_ok());
            if !valid {
                return Err(Inconsistent(format!(
                    "relation {name}: remote unit {unit:?} is not a unit of {:?}",
                    prefix.trim_end_matches('/')
                )));
            }
        }
    }
    Ok(())
}

/// Puts the relations into the model: every remote unit joined, as this unit sees it.
pub(super) fn into_model(
    model: &mut ModelState,
    meta: &CharmMeta,
    unit_id: u32,
    relations: &[TestRelation],
) {
    let app = model.app.name.clone();
    for rel in relations {
        let interface = meta
            .endpoints
            .get(&rel.endpoint)
            .map(|e| e.interface.clone())
            .unwrap_or_default();
        let peer = meta
            .endpoints
            .get(&rel.endpoint)
            .is_some_and(|e| e.role == EndpointRole::Peers);
        let remote_app = if peer {
            app.clone()
        } else {
            rel.remote_app.clone()
        };
        let mut state = RelationState::new(rel.id, &rel.endpoint, &interface, &remote_app);
        state.peer = peer;
        let mut remote_units: BTreeMap<String, BTreeMap<String, String>> = rel.remote_units.clone();
        for (number, data) in &rel.peers_data {
            state.unit_data.insert(*number, data.clone());
            remote_units.entry(format!("{app}/{number}")).or_default();
        }
        for (unit, data) in remote_units {
            state.add_remote_unit(&unit, data);
            state.joined.entry(unit_id).or_default().insert(unit);
        }
        state.remote_app_data = rel.remote_app_data.clone();
        state.app_data = rel.local_app_data.clone();
        state.unit_data.insert(unit_id, rel.local_unit_data.clone());
        model.next_relation_id = model.next_relation_id.max(rel.id + 1);
        model.relations.push(state);
    }
}

/// The relations after the event: our databags as committed, remote data as given.
pub(super) fn from_model(
    model: &ModelState,
    unit_id: u32,
    before: &[TestRelation],
) -> Vec<TestRelation> {
    before
        .iter()
        .map(|rel| {
            let mut out = rel.clone();
            if let Some(state) = model.relation(rel.id) {
                out.local_app_data = state.app_data.clone();
                out.local_unit_data = state.unit_data.get(&unit_id).cloned().unwrap_or_default();
            }
            out
        })
        .collect()
}
