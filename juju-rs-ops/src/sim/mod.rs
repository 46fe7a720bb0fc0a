//! The simulated Juju unit agent: hook-tool semantics over an in-memory model.
//!
//! [`Agent`] holds the unit's model state ([`AgentState`], persisted by `juju-sim`) and, while a
//! hook or action runs, its [`HookSession`]. [`tools::run_tool`] implements each hook tool's
//! syntax, output formats, exit codes and `ERROR` messages as `juju-contract.md` describes them;
//! [`Agent::finish`] applies Juju's commit rules. The same engine serves the in-process
//! [`testing`](crate::testing) harness and the `juju-sim` binary (over a socket), so both behave
//! alike.

pub mod env;
pub mod flags;
pub mod format;
pub mod meta;
pub mod state;
pub mod tools;

pub use meta::CharmMeta;
pub use state::{ActionRun, Agent, AgentState, HookKind, HookSession, LogRecord, StatusRecord};
pub use tools::{ToolReply, run_tool};
