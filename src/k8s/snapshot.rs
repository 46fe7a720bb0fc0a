//! What one hook read of the cluster, whole: the objects ownership decides on, and the live
//! state the desired objects are compared with before they are applied.

use serde_json::Value;

use super::compare;
use crate::ownership::Existing;
use crate::render::Desired;

/// One object as the API returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// What ownership needs of it.
    pub existing: Existing,
    /// The whole object, `apiVersion` and `kind` included.
    pub body: Value,
}

impl Live {
    /// The object `body` read as `api_version` `kind` (list items carry no kind of their
    /// own: it is filled in); None without a name.
    pub fn new(api_version: &str, kind: &str, mut body: Value) -> Option<Self> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let meta = &body["metadata"];
        let labels = meta["labels"].as_object();
        let annotations = meta["annotations"].as_object();
        let map = |m: Option<&serde_json::Map<String, Value>>| {
            m.into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                .collect()
        };
        let existing = Existing {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: text(&meta["namespace"]),
            name: text(&meta["name"])?,
            labels: map(labels),
            annotations: map(annotations),
        };
        if let Some(object) = body.as_object_mut() {
            object.insert("apiVersion".into(), Value::String(api_version.into()));
            object.insert("kind".into(), Value::String(kind.into()));
        }
        Some(Self { existing, body })
    }

    fn is(&self, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        self.existing.kind == kind
            && self.existing.namespace.as_deref() == namespace
            && self.existing.name == name
    }
}

/// The objects read during one hook, in the order they were read; later reads (the answers
/// to applies) replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    objects: Vec<Live>,
}

impl Snapshot {
    /// What ownership needs of every object, in the order read.
    pub fn existing(&self) -> Vec<Existing> {
        self.objects.iter().map(|o| o.existing.clone()).collect()
    }

    /// The object `kind` `namespace/name`, if it was read.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&Live> {
        self.objects.iter().find(|o| o.is(kind, namespace, name))
    }

    /// The live version of `desired`, if it was read.
    pub fn live_of(&self, desired: &Desired) -> Option<&Live> {
        self.get(&desired.kind, desired.namespace.as_deref(), &desired.name)
    }

    /// Adds objects, each replacing what was read of it before.
    pub fn record(&mut self, objects: impl IntoIterator<Item = Live>) {
        for object in objects {
            let key = &object.existing;
            match self
                .objects
                .iter_mut()
                .find(|o| o.is(&key.kind, key.namespace.as_deref(), &key.name))
            {
                Some(old) => *old = object,
                None => self.objects.push(object),
            }
        }
    }

    /// Why `desired` must be applied by `manager`, or None when the object read holds all of
    /// it already (see [`compare::apply_needed`]).
    pub fn apply_needed(&self, desired: &Desired, manager: &str) -> Option<String> {
        match self.live_of(desired) {
            Some(live) => compare::apply_needed(&live.body, &desired.body, manager),
            None => Some("absent".to_string()),
        }
    }
}
