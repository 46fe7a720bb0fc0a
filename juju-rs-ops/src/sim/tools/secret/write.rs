//! The writing secret tools: `secret-add`, `secret-set`, `secret-remove`, `secret-grant`,
//! staged until the hook succeeds.

use std::collections::BTreeMap;
use std::path::Path;

use super::{LABEL, names, owned_ids};
use crate::sim::agent::Agent;
use crate::sim::flags::{FlagSpec, Parsed, unrecognized};
use crate::sim::secrets::{
    PendingCreate, PendingUpdate, SecretGrant, SecretOwnerState, parse_content, parse_secret_uri,
    read_content_file,
};
use crate::sim::tools::relation::relation_flag;
use crate::sim::tools::{ToolReply, at_most, flags, tri};

const UPSERT: &[FlagSpec] = &[
    FlagSpec {
        names: &["expire"],
        takes_value: true,
    },
    FlagSpec {
        names: &["rotate"],
        takes_value: true,
    },
    FlagSpec {
        names: &["description"],
        takes_value: true,
    },
    LABEL,
    FlagSpec {
        names: &["file"],
        takes_value: true,
    },
    FlagSpec {
        names: &["owner"],
        takes_value: true,
    },
];
const ROTATE_POLICIES: &[&str] = &[
    "never",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];

/// Parses a Go duration (`24h`, `1h30m`, `90s`, `500ms`) into seconds.
fn go_duration(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|i| *i > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// `--expire`: an RFC 3339 time (with or without zone) or a positive Go duration; returned as
/// an RFC 3339 UTC time.
fn parse_expire(text: &str) -> Result<String, String> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.to_string());
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
        && let Ok(ts) = dt.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(ts.timestamp().to_string());
    }
    match go_duration(text) {
        Some(secs) if secs > 0.0 => {
            let at = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs_f64(secs))
                .map_err(|e| e.to_string())?;
            Ok(at.to_string())
        }
        Some(_) => Err(format!("negative expire duration {text:?} not valid")),
        None => Err(format!("expire time or duration {text:?} not valid")),
    }
}

/// The metadata and content flags shared by `secret-add` and `secret-set` (Juju's
/// `secretUpsertCommand.Init`).
struct Upsert {
    label: Option<String>,
    description: Option<String>,
    expire: Option<String>,
    rotate: Option<String>,
    owner: String,
    content: BTreeMap<String, String>,
}

fn upsert(p: &Parsed, content_args: &[String]) -> Result<Upsert, ToolReply> {
    let expire = p
        .value("expire")
        .filter(|e| !e.is_empty())
        .map(parse_expire)
        .transpose()
        .map_err(ToolReply::usage)?;
    let rotate = p.value("rotate").filter(|r| !r.is_empty());
    if let Some(policy) = rotate
        && !ROTATE_POLICIES.contains(&policy)
    {
        return Err(ToolReply::usage(format!(
            "rotate policy {policy:?} not valid"
        )));
    }
    let owner = p.value("owner").unwrap_or("application").to_string();
    if owner != "application" && owner != "unit" {
        return Err(ToolReply::usage(format!(
            "secret owner {owner:?} not valid"
        )));
    }
    let mut content = parse_content(content_args, Path::new(".")).map_err(ToolReply::usage)?;
    if let Some(file) = p.value("file").filter(|f| !f.is_empty()) {
        content.extend(read_content_file(Path::new(file)).map_err(ToolReply::usage)?);
    }
    Ok(Upsert {
        label: p
            .value("label")
            .filter(|l| !l.is_empty())
            .map(str::to_string),
        description: p.value("description").map(str::to_string),
        expire,
        rotate: rotate.map(str::to_string),
        owner,
        content,
    })
}

/// `secret-add [--label L] [--description D] [--expire E] [--rotate R] [--owner O] [--file F]
/// KEY=VALUE|KEY#base64=B64|KEY#file=PATH...`: prints the new URI; created when the hook ends.
pub(in crate::sim::tools) fn secret_add(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(UPSERT, args));
    if p.positional.is_empty() && p.value("file").is_none_or(str::is_empty) {
        return ToolReply::usage("missing secret value or filename");
    }
    let up = tri!(upsert(&p, &p.positional));
    let (app, unit) = names(agent);
    let owner = if up.owner == "unit" {
        SecretOwnerState::Unit(unit)
    } else {
        if !agent.session_is_leader() {
            return ToolReply::fail("this unit is not the leader");
        }
        SecretOwnerState::Application(app)
    };
    if up.content.is_empty() {
        return ToolReply::fail("empty secret value not valid");
    }
    let label = up.label.unwrap_or_default();
    let taken = !label.is_empty()
        && (agent
            .state
            .secrets
            .iter()
            .any(|s| s.owner == owner && s.label == label)
            || agent.session.as_ref().is_some_and(|s| {
                s.pending_secrets
                    .creates
                    .iter()
                    .any(|c| c.owner == owner && c.label == label)
            }));
    if taken {
        return ToolReply::fail(format!("secret with label {label:?} already exists"));
    }
    let id = agent.state.next_secret_id();
    if let Some(session) = agent.session.as_mut() {
        session.pending_secrets.creates.push(PendingCreate {
            id: id.clone(),
            owner,
            label,
            description: up.description.unwrap_or_default(),
            rotate: up.rotate,
            expire: up.expire,
            content: up.content,
        });
    }
    ToolReply::ok(format!("secret:{id}\n"))
}

/// Checks that this unit may manage secret `id` (owned by it, or by its application when it
/// leads); returns whether it was created in this hook.
fn manageable(agent: &Agent, id: &str) -> Result<bool, ToolReply> {
    let (app, unit) = names(agent);
    if agent
        .session
        .as_ref()
        .is_some_and(|s| s.pending_secrets.created(id).is_some())
    {
        return Ok(true);
    }
    let Some(secret) = agent.state.secret(id) else {
        return Err(ToolReply::fail(format!("secret \"secret:{id}\" not found")));
    };
    match &secret.owner {
        SecretOwnerState::Unit(u) if *u == unit => Ok(false),
        SecretOwnerState::Application(a) if *a == app => {
            if agent.session_is_leader() {
                Ok(false)
            } else {
                Err(ToolReply::fail("this unit is not the leader"))
            }
        }
        _ => Err(ToolReply::fail("permission denied")),
    }
}

fn secret_uri_arg(p: &Parsed) -> Result<String, ToolReply> {
    let text = p
        .positional
        .first()
        .ok_or_else(|| ToolReply::usage("missing secret URI"))?;
    parse_secret_uri(text).map_err(ToolReply::usage)
}

/// `secret-set ID [flags] [KEY=VALUE...]`: a new revision and/or metadata, when the hook ends.
pub(in crate::sim::tools) fn secret_set(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(UPSERT, args));
    let id = tri!(secret_uri_arg(&p));
    let up = tri!(upsert(&p, &p.positional[1..]));
    let created = tri!(manageable(agent, &id));
    let content = (!up.content.is_empty()).then_some(up.content);
    let Some(session) = agent.session.as_mut() else {
        return ToolReply::fail("no hook is running");
    };
    let pending = &mut session.pending_secrets;
    if created {
        if let Some(c) = pending.creates.iter_mut().find(|c| c.id == id) {
            if let Some(content) = content {
                c.content = content;
            }
            if let Some(label) = up.label {
                c.label = label;
            }
            if let Some(description) = up.description {
                c.description = description;
            }
            c.rotate = up.rotate.or(c.rotate.take());
            c.expire = up.expire.or(c.expire.take());
        }
        return ToolReply::ok("");
    }
    let update = PendingUpdate {
        content,
        label: up.label,
        description: up.description,
        rotate: up.rotate,
        expire: up.expire,
    };
    if update != PendingUpdate::default() {
        pending.updates.push((id, update));
    }
    ToolReply::ok("")
}

/// `secret-remove ID [--revision N]`: when the hook ends.
pub(in crate::sim::tools) fn secret_remove(agent: &mut Agent, args: &[String]) -> ToolReply {
    let revision = FlagSpec {
        names: &["revision"],
        takes_value: true,
    };
    let p = tri!(flags(&[revision], args));
    let id = tri!(secret_uri_arg(&p));
    if let Some(extra) = p.positional.get(1..).filter(|e| !e.is_empty()) {
        return ToolReply::usage(unrecognized(extra));
    }
    let revision = match p.value("revision") {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return ToolReply::usage(format!(
                    "invalid value {text:?} for flag --revision: parse error"
                ));
            }
        },
    };
    tri!(manageable(agent, &id));
    if let Some(session) = agent.session.as_mut() {
        session.pending_secrets.removes.push((id, revision));
    }
    ToolReply::ok("")
}

/// `secret-grant ID -r|--relation REL [--unit U]`: lets the relation's remote application (or
/// one of its units) read the secret, when the hook ends.
pub(in crate::sim::tools) fn secret_grant(agent: &mut Agent, args: &[String]) -> ToolReply {
    let relation = FlagSpec {
        names: &["r", "relation"],
        takes_value: true,
    };
    let unit_flag = FlagSpec {
        names: &["unit"],
        takes_value: true,
    };
    let p = tri!(flags(&[relation, unit_flag], args));
    let id = tri!(secret_uri_arg(&p));
    let Some(rel_id) = tri!(relation_flag(agent, &p)) else {
        return ToolReply::usage("no relation id specified");
    };
    let remote_app = agent
        .state
        .relation(rel_id)
        .map(|r| r.remote_app.clone())
        .unwrap_or_default();
    let unit = p
        .value("unit")
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    if let Some(unit) = &unit {
        let valid = unit
            .split_once('/')
            .is_some_and(|(a, n)| !a.is_empty() && n.parse::<u32>().is_ok());
        if !valid {
            return ToolReply::usage(format!("unit {unit:?} not valid"));
        }
        if !unit.starts_with(&format!("{remote_app}/")) {
            return ToolReply::usage(format!(
                "cannot specify unit {unit:?} in relation to application {remote_app:?}"
            ));
        }
    }
    tri!(at_most(&p, 1));
    // Juju looks the secret up among those this unit manages (app-owned ones on the leader).
    if !owned_ids(agent).contains(&id) {
        return ToolReply::fail(format!("secret {id:?} not found"));
    }
    let grant = SecretGrant {
        target: unit.unwrap_or(remote_app),
        relation: Some(rel_id),
    };
    if let Some(session) = agent.session.as_mut() {
        session.pending_secrets.grants.push((id, grant));
    }
    ToolReply::ok("")
}
