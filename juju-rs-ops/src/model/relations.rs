//! Relations in the model API: which relations an endpoint has, and their databags.
//!
//! As in ops: endpoints must be declared in metadata.yaml; a relation that is being broken
//! (`-relation-broken` of that relation) is no longer listed; the local application's databag
//! is read and written only by the leader (any unit may read it on a peer relation); an empty
//! value deletes a key.

use std::collections::BTreeMap;

use super::Context;
use crate::error::ModelError;
use crate::event::RelationEventKind;
use crate::metadata::{Endpoint, EndpointRole};

/// One relation of an endpoint, as this unit sees it during the dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The local endpoint name (`metrics-endpoint`).
    pub endpoint: String,
    /// The relation id (the number in `metrics-endpoint:3`).
    pub id: u64,
    /// The application at the other end (`None` if Juju could not say; for a peer relation,
    /// this application).
    pub remote_app: Option<String>,
    /// The remote units that have joined, as `relation-list` reports them (a departing unit is
    /// no longer listed during its `-departed` hook).
    pub remote_units: Vec<String>,
}

impl Relation {
    /// `endpoint:id`, as Juju writes it (`JUJU_RELATION_ID`).
    pub fn name(&self) -> String {
        format!("{}:{}", self.endpoint, self.id)
    }
}

/// Which of this unit's databags to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bag {
    /// The application's databag (leader only).
    App,
    /// This unit's databag.
    Unit,
}

impl Context<'_> {
    /// The endpoint as declared in metadata.yaml, or [`ModelError::UnknownEndpoint`].
    pub fn endpoint(&self, name: &str) -> Result<&Endpoint, ModelError> {
        let endpoints = self.endpoints()?;
        endpoints
            .get(name)
            .ok_or_else(|| ModelError::UnknownEndpoint {
                endpoint: name.to_string(),
                declared: endpoints.names().join(", "),
            })
    }

    /// The relations of `endpoint` (`relation-ids`, then `relation-list` for each). The relation
    /// of a `-relation-broken` event is left out, as ops does.
    pub fn relations(&self, endpoint: &str) -> Result<Vec<Relation>, ModelError> {
        self.endpoint(endpoint)?;
        let broken = self.broken_relation();
        let mut out = Vec::new();
        for id in self.relation_ids(endpoint)? {
            if broken == Some(id) {
                continue;
            }
            out.push(self.relation_by_id(endpoint, id)?);
        }
        Ok(out)
    }

    /// The ids of `endpoint`'s relations (`relation-ids`), read once per dispatch.
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ModelError> {
        if let Some(ids) = self.relation_ids.borrow().get(endpoint) {
            return Ok(ids.clone());
        }
        let ids = self.tools.relation_ids(endpoint)?;
        self.relation_ids
            .borrow_mut()
            .insert(endpoint.to_string(), ids.clone());
        Ok(ids)
    }

    /// Runs `work` on this thread while another reads the relation ids of `endpoints`, which
    /// [`relations`](Self::relations) then uses: the agent answers those tool calls while the
    /// hook waits on its own I/O (a Kubernetes API, say). A failed read is left for
    /// `relations` to make again and report.
    pub fn reading_relations_alongside<T>(
        &self,
        endpoints: &[&str],
        work: impl FnOnce() -> T,
    ) -> T {
        let tools = self.tools;
        let wanted: Vec<&str> = endpoints
            .iter()
            .copied()
            .filter(|e| !self.relation_ids.borrow().contains_key(*e))
            .collect();
        if wanted.is_empty() {
            return work();
        }
        let (out, read) = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                wanted
                    .into_iter()
                    .map(|endpoint| (endpoint, tools.relation_ids(endpoint)))
                    .collect::<Vec<_>>()
            });
            let out = work();
            (out, reader.join())
        });
        for (endpoint, ids) in read.into_iter().flatten() {
            if let Ok(ids) = ids {
                self.relation_ids
                    .borrow_mut()
                    .entry(endpoint.to_string())
                    .or_insert(ids);
            }
        }
        out
    }

    /// The relation of the running relation event (also during `-relation-broken`).
    pub fn event_relation(&self) -> Result<Option<Relation>, ModelError> {
        match &self.juju.relation {
            Some(info) => self.relation_by_id(&info.endpoint, info.id).map(Some),
            None => Ok(None),
        }
    }

    /// The id of the relation being broken by this dispatch, if it is a `-relation-broken`.
    fn broken_relation(&self) -> Option<u64> {
        let info = self.juju.relation.as_ref()?;
        let broken = format!("{}-{}", info.endpoint, RelationEventKind::Broken.suffix());
        (self.juju.event_name() == broken).then_some(info.id)
    }

    fn relation_by_id(&self, endpoint: &str, id: u64) -> Result<Relation, ModelError> {
        let remote_units = self.tools.relation_list(endpoint, id)?;
        // Like ops: the remote application from a unit name, else from the event, else asked.
        let from_units = remote_units
            .first()
            .and_then(|u| u.split_once('/'))
            .map(|(app, _)| app.to_string());
        let from_event = self
            .juju
            .relation
            .as_ref()
            .filter(|r| r.endpoint == endpoint && r.id == id)
            .map(|r| r.remote_app.clone());
        let remote_app = match from_units.or(from_event) {
            Some(app) => Some(app),
            None => self.tools.relation_remote_app(endpoint, id)?,
        };
        Ok(Relation {
            endpoint: endpoint.to_string(),
            id,
            remote_app,
            remote_units,
        })
    }

    /// A databag of `relation`: this unit's (`unit_or_app` = this unit's name), this
    /// application's (its name; leader only, except on a peer relation), a remote unit's or the
    /// remote application's.
    pub fn relation_data(
        &self,
        relation: &Relation,
        unit_or_app: &str,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        let app = !unit_or_app.contains('/');
        if unit_or_app == self.app_name() {
            let peer = self.endpoint(&relation.endpoint)?.role == EndpointRole::Peers;
            if !peer && !self.is_leader()? {
                return Err(ModelError::NotLeader(format!(
                    "cannot read the application databag of relation {}",
                    relation.name()
                )));
            }
        }
        self.tools
            .relation_get(&relation.endpoint, relation.id, unit_or_app, app)
    }

    /// Writes `data` into this unit's or (leader only) this application's databag of
    /// `relation`; an empty value deletes the key. Committed by Juju when the hook succeeds.
    pub fn set_relation_data(
        &self,
        relation: &Relation,
        bag: Bag,
        data: &BTreeMap<String, String>,
    ) -> Result<(), ModelError> {
        if bag == Bag::App && !self.is_leader()? {
            return Err(ModelError::NotLeader(format!(
                "cannot write the application databag of relation {}",
                relation.name()
            )));
        }
        if data.is_empty() {
            return Ok(());
        }
        if let Some(key) = data.keys().find(|k| k.is_empty()) {
            return Err(ModelError::Refused(format!(
                "relation data keys must not be empty (got {key:?})"
            )));
        }
        self.tools
            .relation_set(&relation.endpoint, relation.id, bag == Bag::App, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::JujuContext;
    use crate::hooktools::ProcessHookTools;
    use crate::hooktools::scripted::Scripted;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("metadata.yaml"),
                "name: demo\nprovides:\n  metrics: {interface: prometheus_scrape}\n\
                 peers:\n  cluster: {interface: demo-peers}\n",
            )
            .unwrap();
            Self { dir }
        }

        fn juju(&self, hook: &str, extra: &[(&str, &str)]) -> JujuContext {
            let mut vars: BTreeMap<String, String> = [
                ("JUJU_DISPATCH_PATH", format!("hooks/{hook}")),
                ("JUJU_HOOK_NAME", hook.to_string()),
                ("JUJU_MODEL_NAME", "m".into()),
                ("JUJU_MODEL_UUID", "u".into()),
                ("JUJU_UNIT_NAME", "demo/1".into()),
                ("JUJU_VERSION", "3.6.8".into()),
                ("JUJU_CHARM_DIR", self.dir.path().display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            for (k, v) in extra {
                vars.insert(k.to_string(), v.to_string());
            }
            JujuContext::from_map(&vars).unwrap()
        }
    }

    fn rel(id: u64) -> Relation {
        Relation {
            endpoint: "metrics".into(),
            id,
            remote_app: Some("prom".into()),
            remote_units: vec![],
        }
    }

    #[test]
    fn relations_list_ids_units_and_the_remote_app() {
        let f = Fixture::new();
        let juju = f.juju("update-status", &[]);
        let s = Scripted::sequence(&[
            (0, r#"["metrics:3","metrics:5"]"#, ""),
            (0, r#"["prom/0","prom/1"]"#, ""),
            (0, "[]", ""),
            (0, "\"other\"", ""),
        ]);
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let rels = ctx.relations("metrics").unwrap();
        assert_eq!(rels.len(), 2);
        assert_eq!(rels[0].remote_app.as_deref(), Some("prom"));
        assert_eq!(rels[0].remote_units, ["prom/0", "prom/1"]);
        assert_eq!(rels[1].name(), "metrics:5");
        assert_eq!(rels[1].remote_app.as_deref(), Some("other"));
        assert_eq!(s.calls().len(), 4, "relation-list --app only without units");
    }

    #[test]
    fn unknown_endpoints_are_refused_without_calling() {
        let f = Fixture::new();
        let juju = f.juju("update-status", &[]);
        let s = Scripted::new(0, "[]", "");
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let err = ctx.relations("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "relation endpoint \"nope\" is not declared in metadata.yaml (declared: cluster, metrics)"
        );
        assert!(s.calls().is_empty());
    }

    #[test]
    fn the_broken_relation_is_hidden_but_is_the_event_relation() {
        let f = Fixture::new();
        let juju = f.juju(
            "metrics-relation-broken",
            &[
                ("JUJU_RELATION", "metrics"),
                ("JUJU_RELATION_ID", "metrics:3"),
                ("JUJU_REMOTE_APP", "prom"),
                ("JUJU_REMOTE_UNIT", ""),
            ],
        );
        let s = Scripted::sequence(&[(0, r#"["metrics:3"]"#, ""), (0, "[]", "")]);
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        assert!(ctx.relations("metrics").unwrap().is_empty());
        let event = ctx.event_relation().unwrap().unwrap();
        assert_eq!(
            (event.id, event.remote_app.as_deref()),
            (3, Some("prom")),
            "the remote app comes from the event, with no extra call"
        );
        assert_eq!(s.calls().len(), 2);
    }

    #[test]
    fn application_bags_need_leadership_except_peer_reads() {
        let f = Fixture::new();
        let juju = f.juju("update-status", &[]);
        let s = Scripted::sequence(&[(0, "false", ""), (0, "{}", "")]);
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let data = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let err = ctx.set_relation_data(&rel(3), Bag::App, &data).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot write the application databag of relation metrics:3: this unit is not the leader"
        );
        assert!(matches!(err, ModelError::NotLeader(_)));
        let err = ctx.relation_data(&rel(3), "demo").unwrap_err();
        assert!(matches!(err, ModelError::NotLeader(_)), "{err}");
        let peer = Relation {
            endpoint: "cluster".into(),
            ..rel(4)
        };
        ctx.relation_data(&peer, "demo").unwrap();
        let calls = s.calls();
        assert_eq!(calls.len(), 2, "one is-leader, one relation-get: {calls:?}");
        assert_eq!(
            calls[1].1,
            ["--format=json", "-r", "cluster:4", "--app", "-", "demo"]
        );
    }

    #[test]
    fn unit_bags_and_writes() {
        let f = Fixture::new();
        let juju = f.juju("update-status", &[]);
        let s = Scripted::new(0, r#"{"a":"1"}"#, "");
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        assert_eq!(ctx.relation_data(&rel(3), "prom/0").unwrap()["a"], "1");
        ctx.relation_data(&rel(3), "prom").unwrap();
        let data = BTreeMap::from([("k".to_string(), String::new())]);
        ctx.set_relation_data(&rel(3), Bag::Unit, &data).unwrap();
        ctx.set_relation_data(&rel(3), Bag::Unit, &BTreeMap::new())
            .unwrap();
        let calls = s.calls();
        assert_eq!(calls.len(), 3, "an empty write makes no call");
        assert_eq!(
            calls[0].1,
            ["--format=json", "-r", "metrics:3", "-", "prom/0"]
        );
        assert_eq!(
            calls[1].1,
            ["--format=json", "-r", "metrics:3", "--app", "-", "prom"]
        );
        assert_eq!(calls[2].1, ["-r", "metrics:3", "--file", "-"]);
        assert_eq!(calls[2].2.as_deref(), Some(&br#"{"k":""}"#[..]));
    }
}
