//! Workload statuses and the collect-status step.

use std::fmt;

/// A workload status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Ready, with a short message.
    Active(String),
    /// Needs a human: the message says what to do.
    Blocked(String),
    /// Working on it.
    Maintenance(String),
    /// Waiting for something outside the charm.
    Waiting(String),
    /// Not known (only Juju sets it).
    Unknown,
    /// A hook failed (only Juju sets it).
    Error(String),
}

impl Status {
    /// The statuses a charm may set with `status-set`.
    pub const SETTABLE: [&'static str; 4] = ["maintenance", "blocked", "waiting", "active"];

    /// `active` with a message.
    pub fn active(message: impl Into<String>) -> Self {
        Self::Active(message.into())
    }
    /// `blocked` with a message.
    pub fn blocked(message: impl Into<String>) -> Self {
        Self::Blocked(message.into())
    }
    /// `maintenance` with a message.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self::Maintenance(message.into())
    }
    /// `waiting` with a message.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::Waiting(message.into())
    }

    /// The status word Juju uses.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active(_) => "active",
            Self::Blocked(_) => "blocked",
            Self::Maintenance(_) => "maintenance",
            Self::Waiting(_) => "waiting",
            Self::Unknown => "unknown",
            Self::Error(_) => "error",
        }
    }

    /// The message (empty for `unknown`).
    pub fn message(&self) -> &str {
        match self {
            Self::Active(m) | Self::Blocked(m) | Self::Maintenance(m) | Self::Waiting(m) => m,
            Self::Error(m) => m,
            Self::Unknown => "",
        }
    }

    /// Builds a status from Juju's word and a message.
    pub fn from_parts(name: &str, message: &str) -> Option<Self> {
        let m = message.to_string();
        Some(match name {
            "active" => Self::Active(m),
            "blocked" => Self::Blocked(m),
            "maintenance" => Self::Maintenance(m),
            "waiting" => Self::Waiting(m),
            "unknown" => Self::Unknown,
            "error" => Self::Error(m),
            _ => return None,
        })
    }

    /// Priority used by collect-status: error > blocked > maintenance > waiting > active > unknown.
    pub fn priority(&self) -> u8 {
        match self {
            Self::Error(_) => 5,
            Self::Blocked(_) => 4,
            Self::Maintenance(_) => 3,
            Self::Waiting(_) => 2,
            Self::Active(_) => 1,
            Self::Unknown => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message().is_empty() {
            f.write_str(self.name())
        } else {
            write!(f, "{}: {}", self.name(), self.message())
        }
    }
}

/// Candidate statuses gathered during collect-status; the highest-priority one wins
/// (the first added wins a tie), as in ops' `CollectStatusEvent.add_status`.
#[derive(Debug, Default)]
pub struct StatusCollector {
    unit: Vec<Status>,
    app: Vec<Status>,
    leader: bool,
}

impl StatusCollector {
    /// A collector; app statuses are only kept when `leader`.
    pub fn new(leader: bool) -> Self {
        Self {
            leader,
            ..Self::default()
        }
    }

    /// Adds a candidate unit status.
    pub fn add_unit(&mut self, status: Status) {
        self.unit.push(status);
    }

    /// Adds a candidate application status (ignored on a non-leader, which cannot set it).
    pub fn add_app(&mut self, status: Status) {
        if self.leader {
            self.app.push(status);
        }
    }

    /// Whether this unit may set the application status.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The winning unit status, if any was added.
    pub fn unit_status(&self) -> Option<&Status> {
        highest(&self.unit)
    }

    /// The winning application status, if any was added (leader only).
    pub fn app_status(&self) -> Option<&Status> {
        highest(&self.app)
    }
}

fn highest(list: &[Status]) -> Option<&Status> {
    list.iter()
        .fold(None, |best: Option<&Status>, s| match best {
            Some(b) if b.priority() >= s.priority() => Some(b),
            _ => Some(s),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_wins_and_first_wins_ties() {
        let mut c = StatusCollector::new(true);
        c.add_unit(Status::active("ok"));
        c.add_unit(Status::waiting("w1"));
        c.add_unit(Status::waiting("w2"));
        assert_eq!(c.unit_status(), Some(&Status::waiting("w1")));
        c.add_unit(Status::blocked("b"));
        c.add_unit(Status::maintenance("m"));
        assert_eq!(c.unit_status(), Some(&Status::blocked("b")));
    }

    #[test]
    fn app_status_needs_leadership() {
        let mut c = StatusCollector::new(false);
        c.add_app(Status::active("x"));
        assert_eq!(c.app_status(), None);
    }

    #[test]
    fn round_trips_names() {
        for s in [
            Status::active("a"),
            Status::blocked("b"),
            Status::maintenance("m"),
            Status::waiting("w"),
            Status::Error("e".into()),
        ] {
            assert_eq!(Status::from_parts(s.name(), s.message()), Some(s.clone()));
        }
        assert_eq!(Status::from_parts("bogus", ""), None);
        assert_eq!(Status::blocked("x").to_string(), "blocked: x");
    }
}
