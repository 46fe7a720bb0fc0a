//! The simulated Juju unit agents: hook-tool semantics over an in-memory model.
//!
//! [`Agent`] holds the model ([`ModelState`]: the application, its units, relations and secrets,
//! persisted by `juju-sim`) and, while a hook or action runs on one unit, its [`HookSession`].
//! [`tools::run_tool`] implements each hook tool's syntax, output formats, exit codes and `ERROR`
//! messages as `juju-contract.md` describes them, answering for the session's unit;
//! [`Agent::finish`] applies Juju's commit rules. The same engine serves the in-process
//! [`testing`](crate::testing) harness and the `juju-sim` binary (over a socket), so both behave
//! alike.

pub mod agent;
pub mod env;
pub mod flags;
pub mod format;
pub mod hook;
pub mod jujuc;
pub mod life;
pub mod meta;
pub mod model_relations;
pub mod model_secrets;
pub mod relations;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod tools;

pub use agent::{Agent, HookKind, HookSession};
pub use hook::{HookContext, HookSpec, RelationHook, SecretHook};
pub use meta::CharmMeta;
pub use relations::RelationState;
pub use secrets::{SecretContents, SecretOwnerState, SecretState};
pub use state::{
    ActionOutcome, ActionRun, AppState, Life, LogRecord, ModelState, StatusChange, StatusRecord,
    UnitState,
};
pub use tools::{ToolReply, run_tool};
