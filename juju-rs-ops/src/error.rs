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
    /// `JUJU_SECRET_REVISION` is not a number.
    #[error("JUJU_SECRET_REVISION {0:?} is not a revision number")]
    BadSecretRevision(String),
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
    /// Something only the leader may do (write the application databag, read it, manage an
    /// application-owned secret); the text says what was attempted.
    #[error("{0}: this unit is not the leader")]
    NotLeader(String),
    /// The endpoint is not declared in metadata.yaml (`provides`, `requires` or `peers`).
    #[error(
        "relation endpoint {endpoint:?} is not declared in metadata.yaml (declared: {declared})"
    )]
    UnknownEndpoint {
        /// The endpoint asked for.
        endpoint: String,
        /// The endpoints that are declared, comma-separated.
        declared: String,
    },
    /// The relation does not exist (any more): Juju answered "relation not found" or
    /// "unknown relation id".
    #[error("relation {relation} not found: {}", .stderr.trim())]
    RelationNotFound {
        /// `endpoint:id`.
        relation: String,
        /// The tool's stderr.
        stderr: String,
    },
    /// The secret does not exist, or this unit may not read or manage it (never granted, or
    /// revoked: Juju answers `permission denied`). `kind` tells which.
    #[error("secret {secret} is not available: {}", .stderr.trim())]
    SecretNotFound {
        /// The secret's URI or label, as asked for.
        secret: String,
        /// [`FailureKind::NotFound`] or [`FailureKind::PermissionDenied`].
        kind: FailureKind,
        /// The tool's stderr.
        stderr: String,
    },
}

impl ModelError {
    /// The failure classification, when a tool ran and failed.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Self::ToolFailed { kind, .. } | Self::SecretNotFound { kind, .. } => Some(*kind),
            Self::NotLeader(_) => Some(FailureKind::NotLeader),
            Self::RelationNotFound { .. } => Some(FailureKind::NotFound),
            _ => None,
        }
    }

    /// Turns a relation tool's "relation not found" failure into [`ModelError::RelationNotFound`].
    pub(crate) fn for_relation(self, relation: &str) -> Self {
        match self {
            Self::ToolFailed { stderr, .. }
                if stderr.contains("relation not found")
                    || stderr.contains("unknown relation id") =>
            {
                Self::RelationNotFound {
                    relation: relation.to_string(),
                    stderr,
                }
            }
            other => other,
        }
    }

    /// Turns a secret tool's "not found" or "permission denied" failure into
    /// [`ModelError::SecretNotFound`].
    pub(crate) fn for_secret(self, secret: &str) -> Self {
        match self {
            Self::ToolFailed {
                stderr,
                kind: kind @ (FailureKind::NotFound | FailureKind::PermissionDenied),
                ..
            } => Self::SecretNotFound {
                secret: secret.to_string(),
                kind,
                stderr,
            },
            other => other,
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
