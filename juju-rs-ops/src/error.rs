//! Error types of the framework: one per concern, each carrying what went wrong.

/// The hook environment is not what Juju sets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    /// Variables Juju always sets are absent.
    #[error(
        "missing Juju environment variables: {} (is this running under a Juju unit agent?)",
        .0.join(", ")
    )]
    Missing(Vec<String>),
    /// A variable required by this kind of event is absent.
    #[error("missing Juju environment variable {variable}, required for {event}")]
    MissingFor {
        /// The variable.
        variable: String,
        /// The event that needs it.
        event: String,
    },
    /// `JUJU_DISPATCH_PATH` is empty.
    #[error("JUJU_DISPATCH_PATH is empty")]
    EmptyDispatchPath,
    /// `JUJU_UNIT_NAME` is not `<app>/<n>`.
    #[error("JUJU_UNIT_NAME {0:?} is not of the form <application>/<number>")]
    BadUnitName(String),
    /// `JUJU_RELATION_ID` has no numeric id.
    #[error("JUJU_RELATION_ID {0:?} is not of the form <endpoint>:<number>")]
    BadRelationId(String),
}

/// What a failed hook tool's stderr says, classified once here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The unit is not the leader.
    NotLeader,
    /// Access or permission denied (for example `credential-get` without trust).
    PermissionDenied,
    /// A relation, secret, key or resource was not found.
    NotFound,
    /// Bad arguments (exit code 2).
    Usage,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Classifies a tool failure from its exit code and stderr.
    pub fn classify(code: i32, stderr: &str) -> Self {
        let lower = stderr.to_ascii_lowercase();
        if lower.contains("not the leader") {
            Self::NotLeader
        } else if lower.contains("permission denied") || lower.contains("access denied") {
            Self::PermissionDenied
        } else if lower.contains("not found") {
            Self::NotFound
        } else if code == 2 {
            Self::Usage
        } else {
            Self::Other
        }
    }
}

/// A hook tool could not be run, failed, or printed something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The tool could not be started.
    #[error("cannot run hook tool {tool}: {source}")]
    Spawn {
        /// Tool name.
        tool: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tool exited non-zero; its stderr is kept.
    #[error("hook tool {tool} failed with exit code {code}: {}", .stderr.trim())]
    ToolFailed {
        /// Tool name.
        tool: String,
        /// Exit code (-1 when killed by a signal).
        code: i32,
        /// The tool's stderr.
        stderr: String,
        /// Classification of the failure.
        kind: FailureKind,
    },
    /// The tool's output could not be parsed.
    #[error("cannot parse the output of {tool}: {reason}")]
    BadOutput {
        /// Tool name.
        tool: String,
        /// Why.
        reason: String,
    },
    /// The charm asked for something Juju would refuse (checked before calling the tool).
    #[error("{0}")]
    Refused(String),
}

impl ModelError {
    /// The failure classification, when a tool ran and failed.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Self::ToolFailed { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// The charm's configuration does not fit the charm's config type.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading the configuration failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// One option has a value the charm cannot use.
    #[error("invalid config option {option:?}: {reason}")]
    Invalid {
        /// The option name (a dotted path for nested values).
        option: String,
        /// What is wrong with it.
        reason: String,
    },
}
