//! # juju-rs-ops
//!
//! The Rust counterpart of Python's `ops`: write a Juju charm as a Rust binary that *is* the charm's
//! `dispatch` file.
//!
//! * [`JujuContext`] parses the hook environment once (the only reader of `JUJU_*` variables).
//! * [`Event`] is the typed event from `JUJU_DISPATCH_PATH`.
//! * [`HookTools`] is the backend trait over Juju's hook tools; [`ProcessHookTools`] runs the real
//!   tools exactly as ops >= 3.4 does.
//! * [`Context`] is the model API a charm sees: typed config, statuses, leadership, actions,
//!   resources, stored state, planned units ([`Context::planned_units`], from `goal-state`),
//!   relations and their databags ([`Context::relations`], [`Context::relation_data`],
//!   [`Context::set_relation_data`]) and secrets ([`Context::secret`], [`Context::secret_add`]).
//! * [`Charm`] has one entry point, [`Charm::handle`], plus [`Charm::collect_status`]; [`main`] runs it.
//! * With feature `testing`, [`testing`] runs one event through a charm in-process, Scenario-style.
//! * With feature `juju-sim`, the `juju-sim` binary runs a compiled charm the way a Juju unit agent does.

#![warn(missing_docs)]

pub mod action;
pub mod context;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod hooktools;
pub mod log;
pub mod metadata;
pub mod model;
pub mod status;
pub mod stored;

#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;

pub use context::JujuContext;
pub use dispatch::{Charm, dispatch, main};
pub use error::{ConfigError, ContextError, FailureKind, ModelError};
pub use event::{Event, RelationEventKind, SecretEventKind};
pub use hooktools::{
    AppStatusInfo, GoalState, GoalStatus, HookTools, LogLevel, ProcessHookTools, RelationTools,
    SecretInfo, SecretOptions, SecretOwner, SecretRead, SecretTools, StatusInfo, StatusTarget,
};
pub use model::{ActionHandle, App, Bag, Context, Relation, SecretRef};
pub use status::{Status, StatusCollector};
pub use stored::StoredState;
