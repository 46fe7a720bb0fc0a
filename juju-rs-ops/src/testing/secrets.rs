//! Secrets in the harness: [`TestSecret`] in (owner, revisions, grants, what this unit
//! tracks), secrets out (including the ones the charm created), with Scenario's consistency
//! rules (unique ids, labels unique per owner, at least one revision, a tracked revision that
//! exists).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Inconsistent;
use crate::sim::ModelState;
use crate::sim::secrets::{
    SecretConsumer, SecretGrant, SecretOwnerState, SecretState, decode_content, new_secret_id,
};
use crate::sim::state::now;

/// Who owns a test secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestSecretOwner {
    /// Our application.
    App,
    /// The unit under test.
    Unit,
    /// Another application (it granted us access, or not).
    Remote(String),
    /// The model: a user secret (`juju add-secret`).
    User,
}

/// A secret before or after the event. Content values are plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSecret {
    /// The bare id (20 characters); `uri()` gives `secret:ID`.
    pub id: String,
    /// The owner.
    pub owner: TestSecretOwner,
    /// The owner's label (a user secret's name).
    pub label: Option<String>,
    /// The description.
    pub description: String,
    /// Content by revision (revisions start at 1; the highest is the latest).
    pub revisions: BTreeMap<u32, BTreeMap<String, String>>,
    /// Whether our application may read it (for secrets we do not own).
    pub granted: bool,
    /// Other grants (for owned secrets: what the charm granted, with the relation).
    pub grants: Vec<SecretGrant>,
    /// The revision this unit tracks as a consumer (`None`: never read).
    pub tracked: Option<u32>,
    /// The label this unit attached as a consumer.
    pub consumer_label: Option<String>,
    /// Rotation policy.
    pub rotate: Option<String>,
    /// Expiry.
    pub expire: Option<String>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl TestSecret {
    /// A secret owned by `owner` with one revision of `content` and a fresh id.
    pub fn new(owner: TestSecretOwner, content: &[(&str, &str)]) -> Self {
        let id = new_secret_id(NEXT_ID.fetch_add(1, Ordering::Relaxed), 1_700_000_000);
        Self {
            id,
            owner,
            label: None,
            description: String::new(),
            revisions: BTreeMap::from([(1, plain(content))]),
            granted: false,
            grants: Vec::new(),
            tracked: None,
            consumer_label: None,
            rotate: None,
            expire: None,
        }
    }

    /// A user secret (`juju add-secret NAME`), not yet granted.
    pub fn user(name: &str, content: &[(&str, &str)]) -> Self {
        Self::new(TestSecretOwner::User, content).with_label(name)
    }

    /// `secret:ID`.
    pub fn uri(&self) -> String {
        format!("secret:{}", self.id)
    }

    /// The latest revision number.
    pub fn latest(&self) -> u32 {
        self.revisions
            .keys()
            .next_back()
            .copied()
            .unwrap_or_default()
    }

    /// The latest content.
    pub fn content(&self) -> BTreeMap<String, String> {
        self.revisions
            .values()
            .next_back()
            .cloned()
            .unwrap_or_default()
    }

    /// Sets the id (builder style).
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_string();
        self
    }

    /// Sets the owner label (builder style).
    pub fn with_label(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }

    /// Adds the next revision (builder style).
    pub fn with_revision(mut self, content: &[(&str, &str)]) -> Self {
        let next = self.latest() + 1;
        self.revisions.insert(next, plain(content));
        self
    }

    /// Grants our application access (builder style).
    pub fn granted(mut self) -> Self {
        self.granted = true;
        self
    }

    /// This unit has read it and tracks `revision` (builder style).
    pub fn tracking(mut self, revision: u32) -> Self {
        self.tracked = Some(revision);
        self
    }

    /// This unit attached `label` as a consumer (builder style; implies tracking the latest
    /// revision unless set).
    pub fn with_consumer_label(mut self, label: &str) -> Self {
        self.consumer_label = Some(label.to_string());
        if self.tracked.is_none() {
            self.tracked = Some(self.latest());
        }
        self
    }

    /// Whether the unit's application owns it.
    pub fn is_ours(&self) -> bool {
        matches!(self.owner, TestSecretOwner::App | TestSecretOwner::Unit)
    }
}

fn plain(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Checks the secrets of a state.
pub(super) fn check(secrets: &[TestSecret]) -> Result<(), Inconsistent> {
    let mut ids = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for secret in secrets {
        let uri = secret.uri();
        if crate::sim::secrets::parse_secret_uri(&secret.id).is_err() {
            return Err(Inconsistent(format!(
                "secret id {:?} is not a 20-character xid",
                secret.id
            )));
        }
        if !ids.insert(secret.id.clone()) {
            return Err(Inconsistent(format!("secret {uri} is given twice")));
        }
        if secret.revisions.is_empty() {
            return Err(Inconsistent(format!("secret {uri} has no revision")));
        }
        if let Some(label) = &secret.label
            && !labels.insert((format!("{:?}", secret.owner), label.clone()))
        {
            return Err(Inconsistent(format!(
                "two secrets of the same owner have the label {label:?}"
            )));
        }
        if let Some(tracked) = secret.tracked {
            if secret.is_ours() {
                return Err(Inconsistent(format!(
                    "secret {uri}: owners always read the latest revision; only consumers track one"
                )));
            }
            if !secret.revisions.contains_key(&tracked) {
                return Err(Inconsistent(format!(
                    "secret {uri}: tracked revision {tracked} does not exist"
                )));
            }
        }
    }
    Ok(())
}

/// Puts the secrets into the model.
pub(super) fn into_model(model: &mut ModelState, unit_id: u32, secrets: &[TestSecret]) {
    let app = model.app.name.clone();
    let unit = model.unit_name(unit_id);
    for secret in secrets {
        let owner = match &secret.owner {
            TestSecretOwner::App => SecretOwnerState::Application(app.clone()),
            TestSecretOwner::Unit => SecretOwnerState::Unit(unit.clone()),
            TestSecretOwner::Remote(other) => SecretOwnerState::Application(other.clone()),
            TestSecretOwner::User => SecretOwnerState::Model,
        };
        let mut grants = secret.grants.clone();
        if secret.granted {
            grants.push(SecretGrant {
                target: app.clone(),
                relation: None,
            });
        }
        let mut consumers = BTreeMap::new();
        if let Some(current) = secret.tracked {
            consumers.insert(
                unit.clone(),
                SecretConsumer {
                    label: secret.consumer_label.clone().unwrap_or_default(),
                    current,
                },
            );
        }
        for (revision, content) in &secret.revisions {
            let encoded = content
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.encode(v)))
                .collect();
            model.secret_content.insert(&secret.id, *revision, encoded);
        }
        model.secrets.push(SecretState {
            id: secret.id.clone(),
            owner,
            label: secret.label.clone().unwrap_or_default(),
            description: secret.description.clone(),
            revision: secret.latest(),
            revisions: secret.revisions.keys().copied().collect(),
            rotate: secret.rotate.clone(),
            expire: secret.expire.clone(),
            grants,
            consumers,
            created: now(),
        });
    }
}

/// The secrets after the event, including those the charm created; removed ones are gone.
pub(super) fn from_model(model: &ModelState, unit_id: u32) -> Vec<TestSecret> {
    let app = model.app.name.clone();
    let unit = model.unit_name(unit_id);
    model
        .secrets
        .iter()
        .map(|s| {
            let owner = match &s.owner {
                SecretOwnerState::Application(a) if *a == app => TestSecretOwner::App,
                SecretOwnerState::Application(a) => TestSecretOwner::Remote(a.clone()),
                SecretOwnerState::Unit(_) => TestSecretOwner::Unit,
                SecretOwnerState::Model => TestSecretOwner::User,
            };
            let revisions = s
                .revisions
                .iter()
                .filter_map(|r| {
                    let content = model.secret_content.get(&s.id, *r)?;
                    Some((*r, decode_content(content)))
                })
                .collect();
            let consumer = s.consumers.get(&unit);
            let granted = s.grants.iter().any(|g| g.target == app || g.target == unit);
            TestSecret {
                id: s.id.clone(),
                owner,
                label: (!s.label.is_empty()).then(|| s.label.clone()),
                description: s.description.clone(),
                revisions,
                granted,
                grants: s
                    .grants
                    .iter()
                    .filter(|g| g.target != app && g.target != unit)
                    .cloned()
                    .collect(),
                tracked: consumer.map(|c| c.current),
                consumer_label: consumer.map(|c| c.label.clone()).filter(|l| !l.is_empty()),
                rotate: s.rotate.clone(),
                expire: s.expire.clone(),
            }
        })
        .collect()
}
