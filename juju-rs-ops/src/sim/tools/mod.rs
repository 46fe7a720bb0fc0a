//! The hook tools' behaviour: syntax, output formats, exit codes and `ERROR` messages.
//!
//! [`run_tool`] dispatches by name: the unit, status, action, state, resource and goal-state
//! tools live in [`core`], the relation tools in [`relation`], the secret tools in [`secret`].

mod core;
mod relation;
mod secret;

use super::agent::Agent;
use super::flags::{FlagSpec, Parsed, parse, unrecognized};
use super::format::Format;
use super::state::UnitState;

/// The result of one tool invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolReply {
    /// The tool finished.
    Done {
        /// Exit code: 0 success, 1 runtime error, 2 usage error.
        code: i32,
        /// Standard output.
        stdout: String,
        /// Standard error.
        stderr: String,
    },
    /// The tool reads stdin and none was supplied: send again with stdin.
    NeedStdin,
}

impl ToolReply {
    pub(super) fn ok(stdout: impl Into<String>) -> Self {
        Self::Done {
            code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }
    pub(super) fn usage(message: impl AsRef<str>) -> Self {
        Self::Done {
            code: 2,
            stdout: String::new(),
            stderr: format!("ERROR {}\n", message.as_ref()),
        }
    }
    pub(super) fn fail(message: impl AsRef<str>) -> Self {
        Self::Done {
            code: 1,
            stdout: String::new(),
            stderr: format!("ERROR {}\n", message.as_ref()),
        }
    }
}

/// The names of the tools the simulator provides (put on `PATH` by `juju-sim`).
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "config-get",
    "credential-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "resource-get",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
];

pub(super) const ALL_FORMATS: &[Format] = &[Format::Smart, Format::Yaml, Format::Json];
pub(super) const FORMAT: FlagSpec = FlagSpec {
    names: &["format"],
    takes_value: true,
};
pub(super) const APPLICATION: FlagSpec = FlagSpec {
    names: &["application"],
    takes_value: false,
};

/// Runs hook tool `name` with `args` against `agent`. `stdin` is `None` when the caller has not
/// sent any (the tool then asks for it if it needs it).
pub fn run_tool(agent: &mut Agent, name: &str, args: &[String], stdin: Option<&[u8]>) -> ToolReply {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return ToolReply::ok(format!("Usage: {name} [options]\n"));
    }
    if agent.session.is_none() {
        return ToolReply::fail("JUJU_CONTEXT_ID not set");
    }
    match name {
        "config-get" => core::config_get(agent, args),
        "status-set" => core::status_set(agent, args),
        "status-get" => core::status_get(agent, args),
        "is-leader" => core::is_leader(agent, args),
        "application-version-set" => core::application_version_set(agent, args),
        "juju-log" => core::juju_log(agent, args),
        "action-get" => core::action_get(agent, args),
        "action-set" => core::action_set(agent, args),
        "action-fail" => core::action_fail(agent, args),
        "action-log" => core::action_log(agent, args),
        "state-get" => core::state_get(agent, args),
        "state-set" => core::state_set(agent, args, stdin),
        "state-delete" => core::state_delete(agent, args),
        "resource-get" => core::resource_get(agent, args),
        "credential-get" => core::credential_get(agent, args),
        "goal-state" => core::goal_state(agent, args),
        "relation-ids" => relation::relation_ids(agent, args),
        "relation-list" => relation::relation_list(agent, args),
        "relation-get" => relation::relation_get(agent, args),
        "relation-set" => relation::relation_set(agent, args, stdin),
        "secret-add" => secret::secret_add(agent, args),
        "secret-get" => secret::secret_get(agent, args),
        "secret-set" => secret::secret_set(agent, args),
        "secret-ids" => secret::secret_ids(agent, args),
        "secret-info-get" => secret::secret_info_get(agent, args),
        "secret-remove" => secret::secret_remove(agent, args),
        "secret-grant" => secret::secret_grant(agent, args),
        other => ToolReply::fail(format!("unknown command {other:?}")),
    }
}

/// Parses flags, turning a parse error into exit 2.
pub(super) fn flags(specs: &[FlagSpec], args: &[String]) -> Result<Parsed, ToolReply> {
    parse(specs, args).map_err(ToolReply::usage)
}

pub(super) fn format_of(
    p: &Parsed,
    default: Format,
    allowed: &[Format],
) -> Result<Format, ToolReply> {
    Format::parse(p.value("format"), default, allowed).map_err(ToolReply::usage)
}

pub(super) fn at_most(p: &Parsed, n: usize) -> Result<(), ToolReply> {
    match p.positional.get(n..) {
        Some(extra) if !extra.is_empty() => Err(ToolReply::usage(unrecognized(extra))),
        _ => Ok(()),
    }
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}
pub(super) use tri;

/// The text a `--file PATH` argument names: the file, or standard input for `-` (asked for
/// with [`ToolReply::NeedStdin`] when it was not sent). `unreadable` words a read error as the
/// calling tool does.
pub(super) fn file_text(
    path: &str,
    stdin: Option<&[u8]>,
    unreadable: impl FnOnce(std::io::Error) -> String,
) -> Result<String, ToolReply> {
    if path == "-" {
        return match stdin {
            None => Err(ToolReply::NeedStdin),
            Some(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        };
    }
    std::fs::read_to_string(path).map_err(|e| ToolReply::fail(unreadable(e)))
}

/// The unit of the running dispatch (it always exists while a session is open).
pub(super) fn session_unit(agent: &Agent) -> Result<&UnitState, ToolReply> {
    agent
        .session_unit()
        .ok_or_else(|| ToolReply::fail("this unit no longer exists"))
}

pub(super) fn session_name(agent: &Agent) -> String {
    agent
        .session
        .as_ref()
        .map(|s| s.name().to_string())
        .unwrap_or_default()
}
