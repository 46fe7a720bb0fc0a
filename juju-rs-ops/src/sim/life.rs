//! Juju's life of units, applications and relations, and the clock of status times.

use serde::{Deserialize, Serialize};

/// The life of a unit or application, as Juju tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Life {
    /// In service.
    #[default]
    Alive,
    /// Being removed: its `stop` and `remove` hooks run; goal-state shows it `dying`.
    Dying,
    /// Gone (`remove` ran).
    Dead,
}

/// The current time as Juju prints status times in goal-state: UTC, `YYYY-MM-DD HH:MM:SSZ`.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}
