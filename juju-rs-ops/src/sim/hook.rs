//! What a hook is about: its name and, for relation and secret hooks, the relation or secret
//! (the description the agent runs and the state records for a failed hook).

use serde::{Deserialize, Serialize};

use crate::event::{RelationEventKind, SecretEventKind};

/// The relation a relation hook is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationHook {
    /// The relation id.
    pub id: u64,
    /// `JUJU_REMOTE_UNIT` (none for `-created`, `-broken` and application-data `-changed`).
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT` (`-departed` only).
    pub departing_unit: Option<String>,
}

/// The secret a secret hook is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHook {
    /// `JUJU_SECRET_ID`: the secret's URI.
    pub uri: String,
    /// `JUJU_SECRET_LABEL`: the label the unit knows it by.
    pub label: Option<String>,
    /// `JUJU_SECRET_REVISION` (`secret-remove`, `secret-expired`).
    pub revision: Option<u32>,
}

/// What a hook is about besides its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookContext {
    /// For relation hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<RelationHook>,
    /// For secret hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretHook>,
}

/// A hook to run: its name and context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    /// The hook name (`install`, `db-relation-joined`, `secret-changed`).
    pub name: String,
    /// The relation or secret it is about.
    pub context: HookContext,
}

impl HookSpec {
    /// A hook with no relation or secret.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            context: HookContext::default(),
        }
    }

    /// A relation hook of `endpoint`'s relation `id`.
    pub fn relation(
        endpoint: &str,
        kind: RelationEventKind,
        id: u64,
        remote_unit: Option<&str>,
        departing_unit: Option<&str>,
    ) -> Self {
        Self {
            name: format!("{endpoint}-{}", kind.suffix()),
            context: HookContext {
                relation: Some(RelationHook {
                    id,
                    remote_unit: remote_unit.map(str::to_string),
                    departing_unit: departing_unit.map(str::to_string),
                }),
                secret: None,
            },
        }
    }

    /// A secret hook.
    pub fn secret(
        kind: SecretEventKind,
        uri: &str,
        label: Option<&str>,
        revision: Option<u32>,
    ) -> Self {
        Self {
            name: kind.hook_name().to_string(),
            context: HookContext {
                relation: None,
                secret: Some(SecretHook {
                    uri: uri.to_string(),
                    label: label.map(str::to_string),
                    revision,
                }),
            },
        }
    }
}

impl From<&str> for HookSpec {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}
