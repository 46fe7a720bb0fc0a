//! The secret tools: `secret-add`, `secret-get`, `secret-set`, `secret-ids`,
//! `secret-info-get`, `secret-remove`, `secret-grant`.
//!
//! Owners (this unit, or any unit of the owning application) read the latest revision; other
//! readers need a grant and track the revision they first read until `--refresh`; a label
//! resolves to an owned secret first, then to a label this unit attached as a consumer.
//! Creates, updates, grants and removals are staged until the hook succeeds; consumer tracking
//! and label changes take effect at once, as the controller records them during the call.

mod read;
mod write;

use crate::sim::agent::Agent;
use crate::sim::flags::FlagSpec;
use crate::sim::format::Format;
use crate::sim::secrets::SecretOwnerState;

pub(super) use read::{secret_get, secret_ids, secret_info_get};
pub(super) use write::{secret_add, secret_grant, secret_remove, secret_set};

const YAML_JSON: &[Format] = &[Format::Yaml, Format::Json];
const LABEL: FlagSpec = FlagSpec {
    names: &["label"],
    takes_value: true,
};

/// This dispatch's application and unit names.
fn names(agent: &Agent) -> (String, String) {
    (agent.state.app.name.clone(), agent.session_unit_name())
}

/// The ids of the secrets `secret-ids` and `secret-info-get` see: owned by this unit, or by its
/// application when it leads, plus this hook's creates, less this hook's removals.
fn owned_ids(agent: &Agent) -> Vec<String> {
    let (app, unit) = names(agent);
    let leader = agent.session_is_leader();
    let Some(session) = agent.session.as_ref() else {
        return Vec::new();
    };
    let pending = &session.pending_secrets;
    let mut ids: Vec<String> = agent
        .state
        .secrets
        .iter()
        .filter(|s| match &s.owner {
            SecretOwnerState::Unit(u) => *u == unit,
            SecretOwnerState::Application(a) => *a == app && leader,
            SecretOwnerState::Model => false,
        })
        .map(|s| s.id.clone())
        .chain(pending.creates.iter().map(|c| c.id.clone()))
        .filter(|id| !pending.removed(id))
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests;
