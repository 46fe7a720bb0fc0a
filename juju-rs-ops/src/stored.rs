//! Stored state: JSON values kept by Juju in the unit's charm state (`state-get`/`state-set`).
//!
//! Unlike ops' default SQLite file, this survives a pod being replaced, because the controller
//! keeps it. Writes made during a hook are committed by Juju only if the hook succeeds.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ModelError;
use crate::hooktools::HookTools;

/// Typed access to the unit's charm state.
pub struct StoredState<'a> {
    tools: &'a dyn HookTools,
}

impl<'a> StoredState<'a> {
    /// Stored state over `tools`.
    pub fn new(tools: &'a dyn HookTools) -> Self {
        Self { tools }
    }

    /// Reads and decodes one value; `None` when the key is absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ModelError> {
        let all = self.tools.state_get()?;
        match all.get(key) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| ModelError::BadOutput {
                    tool: "state-get".into(),
                    reason: format!("stored value {key:?} is not the expected JSON: {e}"),
                }),
        }
    }

    /// Encodes and stores one value.
    pub fn set<T: Serialize>(&self, key: &str, value: &T) -> Result<(), ModelError> {
        let text = serde_json::to_string(value)
            .map_err(|e| ModelError::Refused(format!("cannot encode stored value {key:?}: {e}")))?;
        self.tools
            .state_set(&BTreeMap::from([(key.to_string(), text)]))
    }

    /// Removes a key (no error when absent).
    pub fn delete(&self, key: &str) -> Result<(), ModelError> {
        self.tools.state_delete(key)
    }
}
