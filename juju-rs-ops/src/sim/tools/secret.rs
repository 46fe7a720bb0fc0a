//! The secret tools: `secret-add`, `secret-get`, `secret-set`, `secret-ids`,
//! `secret-info-get`, `secret-remove`, `secret-grant`.
//!
//! Owners (this unit, or any unit of the owning application) read the latest revision; other
//! readers need a grant and track the revision they first read until `--refresh`; a label
//! resolves to an owned secret first, then to a label this unit attached as a consumer.
//! Creates, updates, grants and removals are staged until the hook succeeds; consumer tracking
//! and label changes take effect at once, as the controller records them during the call.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::relation::relation_flag;
use super::{ALL_FORMATS, FORMAT, ToolReply, at_most, flags, format_of, tri};
use crate::sim::agent::Agent;
use crate::sim::flags::{FlagSpec, Parsed, unrecognized};
use crate::sim::format::{Format, render};
use crate::sim::secrets::{
    PendingCreate, PendingUpdate, SecretConsumer, SecretGrant, SecretOwnerState, decode_content,
    decode_value, parse_content, parse_secret_uri, read_content_file,
};

const YAML_JSON: &[Format] = &[Format::Yaml, Format::Json];
const LABEL: FlagSpec = FlagSpec {
    names: &["label"],
    takes_value: true,
};
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

/// This dispatch's application and unit names.
fn names(agent: &Agent) -> (String, String) {
    (agent.state.app.name.clone(), agent.session_unit_name())
}

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

/// An owned secret's metadata as this hook sees it (committed, with this hook's changes).
struct OwnedView {
    label: String,
    description: String,
    revision: u32,
    owner: &'static str,
    rotate: Option<String>,
    expire: Option<String>,
    grants: Vec<SecretGrant>,
}

fn owned_view(agent: &Agent, id: &str) -> Option<OwnedView> {
    let pending = &agent.session.as_ref()?.pending_secrets;
    let mut view = match pending.created(id) {
        Some(c) => OwnedView {
            label: c.label.clone(),
            description: c.description.clone(),
            revision: 1,
            owner: c.owner.kind(),
            rotate: c.rotate.clone(),
            expire: c.expire.clone(),
            grants: Vec::new(),
        },
        None => {
            let s = agent.state.secret(id)?;
            OwnedView {
                label: s.label.clone(),
                description: s.description.clone(),
                revision: s.revision,
                owner: s.owner.kind(),
                rotate: s.rotate.clone(),
                expire: s.expire.clone(),
                grants: s.grants.clone(),
            }
        }
    };
    for (_, update) in pending.updates.iter().filter(|(u, _)| u == id) {
        if let Some(label) = &update.label {
            view.label = label.clone();
        }
        if let Some(description) = &update.description {
            view.description = description.clone();
        }
    }
    view.grants.extend(
        pending
            .grants
            .iter()
            .filter(|(g, _)| g == id)
            .map(|(_, g)| g.clone()),
    );
    Some(view)
}

/// `secret-get ID|--label L [KEY[#base64]] [--peek|--refresh] [--format yaml|json]`.
pub(super) fn secret_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let peek = FlagSpec {
        names: &["peek"],
        takes_value: false,
    };
    let refresh = FlagSpec {
        names: &["refresh"],
        takes_value: false,
    };
    let p = tri!(flags(&[FORMAT, LABEL, peek, refresh], args));
    let format = tri!(format_of(&p, Format::Yaml, YAML_JSON));
    let id = match p.positional.first() {
        Some(text) => match parse_secret_uri(text) {
            Ok(id) => Some(id),
            Err(_) => return ToolReply::usage(format!("secret URI {text:?} not valid")),
        },
        None => None,
    };
    let label = p
        .value("label")
        .filter(|l| !l.is_empty())
        .map(str::to_string);
    if id.is_none() && label.is_none() {
        return ToolReply::usage("require either a secret URI or label");
    }
    let (peek, refresh) = (p.is_set("peek"), p.is_set("refresh"));
    if peek && refresh {
        return ToolReply::usage("specify one of --peek or --refresh but not both");
    }
    let key = p.positional.get(1).cloned();
    if let Some(extra) = p.positional.get(2..).filter(|e| !e.is_empty()) {
        return ToolReply::usage(unrecognized(extra));
    }
    let content = tri!(secret_content(agent, id, label, peek, refresh));
    match key {
        None => {
            let map: Map<String, Value> = decode_content(&content)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            ToolReply::ok(render(Some(&Value::Object(map)), format))
        }
        Some(key) => {
            let (name, raw) = match key.strip_suffix("#base64") {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            match content.get(name) {
                Some(v) if raw => ToolReply::ok(render(Some(&Value::String(v.clone())), format)),
                Some(v) => ToolReply::ok(render(Some(&Value::String(decode_value(v))), format)),
                None => ToolReply::fail(format!("secret key {name:?} not found")),
            }
        }
    }
}

/// Finds and reads the secret for `secret-get`, applying Juju's owner, label and consumer
/// tracking rules. Returns encoded content.
fn secret_content(
    agent: &mut Agent,
    mut id: Option<String>,
    label: Option<String>,
    peek: bool,
    refresh: bool,
) -> Result<BTreeMap<String, String>, ToolReply> {
    let (app, unit) = names(agent);
    let leader = agent.session_is_leader();
    // Created earlier in this hook (its content is not in the controller yet).
    if let Some(session) = agent.session.as_mut() {
        let pending = &mut session.pending_secrets;
        if let Some(c) = pending.creates.iter_mut().find(|c| {
            id.as_deref() == Some(c.id.as_str())
                || (id.is_none() && label.as_deref() == Some(c.label.as_str()))
        }) {
            if let (Some(_), Some(label)) = (&id, &label) {
                c.label = label.clone();
            }
            return Ok(c.content.clone());
        }
    }
    // A label names an owned secret first (including a label set earlier in this hook).
    if id.is_none()
        && let Some(label) = &label
    {
        let pending_label = agent.session.as_ref().and_then(|s| {
            s.pending_secrets
                .updates
                .iter()
                .find(|(_, u)| u.label.as_deref() == Some(label))
                .map(|(id, _)| id.clone())
        });
        id = pending_label.or_else(|| {
            agent
                .state
                .secrets
                .iter()
                .find(|s| s.owned_by(&app, &unit) && s.label == *label)
                .map(|s| s.id.clone())
        });
    }
    // Owners read the latest revision (a pending new revision with --peek/--refresh).
    if let Some(owned) = id
        .as_ref()
        .and_then(|i| agent.state.secret(i))
        .filter(|s| s.owned_by(&app, &unit))
        .cloned()
    {
        if peek || refresh {
            let pending = agent.session.as_ref().and_then(|s| {
                s.pending_secrets
                    .updates
                    .iter()
                    .rev()
                    .find(|(i, u)| *i == owned.id && u.content.is_some())
                    .and_then(|(_, u)| u.content.clone())
            });
            if let Some(content) = pending {
                return Ok(content);
            }
        }
        if let Some(label) = &label
            && (matches!(&owned.owner, SecretOwnerState::Unit(u) if *u == unit) || leader)
            && let Some(s) = agent.state.secret_mut(&owned.id)
        {
            s.label = label.clone();
        }
        return agent
            .state
            .secret_content
            .get(&owned.id, owned.revision)
            .cloned()
            .ok_or_else(|| ToolReply::fail(format!("secret {:?} not found", owned.uri())));
    }
    // A consumer: a label it attached earlier, or the URI.
    let id = match id {
        Some(id) => id,
        None => {
            let label = label.clone().unwrap_or_default();
            let found = agent.state.secrets.iter().find(|s| {
                s.consumers
                    .get(&unit)
                    .is_some_and(|c| !c.label.is_empty() && c.label == label)
            });
            match found {
                Some(s) => s.id.clone(),
                None => {
                    return Err(ToolReply::fail(format!(
                        "consumer label {label:?} not found"
                    )));
                }
            }
        }
    };
    let Some(secret) = agent.state.secret_mut(&id) else {
        return Err(ToolReply::fail(format!("secret \"secret:{id}\" not found")));
    };
    if !secret.readable_by(&app, &unit) {
        return Err(ToolReply::fail("permission denied"));
    }
    let latest = secret.revision;
    let consumer = secret.consumers.entry(unit).or_insert(SecretConsumer {
        label: String::new(),
        current: latest,
    });
    if refresh {
        consumer.current = latest;
    }
    if let Some(label) = label {
        consumer.label = label;
    }
    let wanted = if peek { latest } else { consumer.current };
    agent
        .state
        .secret_content
        .get(&id, wanted)
        .cloned()
        .ok_or_else(|| {
            ToolReply::fail(format!(
                "secret revision {wanted} of \"secret:{id}\" not found"
            ))
        })
}

/// `secret-add [--label L] [--description D] [--expire E] [--rotate R] [--owner O] [--file F]
/// KEY=VALUE|KEY#base64=B64|KEY#file=PATH...`: prints the new URI; created when the hook ends.
pub(super) fn secret_add(agent: &mut Agent, args: &[String]) -> ToolReply {
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
pub(super) fn secret_set(agent: &mut Agent, args: &[String]) -> ToolReply {
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
pub(super) fn secret_remove(agent: &mut Agent, args: &[String]) -> ToolReply {
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
pub(super) fn secret_grant(agent: &mut Agent, args: &[String]) -> ToolReply {
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

/// `secret-ids [--format]`: the ids of the secrets this unit (or, leading, its application) owns.
pub(super) fn secret_ids(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 0));
    let ids = owned_ids(agent);
    if ids.is_empty() {
        // Juju writes a nil list.
        return ToolReply::ok(render(None, format));
    }
    let list = Value::Array(ids.into_iter().map(Value::String).collect());
    ToolReply::ok(render(Some(&list), format))
}

/// `secret-info-get ID|--label L [--format yaml|json]`: `{ID: {revision, label, owner, ...}}`.
pub(super) fn secret_info_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT, LABEL], args));
    let format = tri!(format_of(&p, Format::Yaml, YAML_JSON));
    let id = match p.positional.first() {
        Some(text) => match parse_secret_uri(text) {
            Ok(id) => Some(id),
            Err(_) => return ToolReply::usage(format!("secret URI {text:?} not valid")),
        },
        None => None,
    };
    let label = p.value("label").filter(|l| !l.is_empty());
    match (&id, label) {
        (None, None) => return ToolReply::usage("require either a secret URI or label"),
        (Some(_), Some(_)) => {
            return ToolReply::usage("specify either a secret URI or label but not both");
        }
        _ => {}
    }
    tri!(at_most(&p, 1));
    let app = agent.state.app.name.clone();
    let found = owned_ids(agent).into_iter().find_map(|candidate| {
        let view = owned_view(agent, &candidate)?;
        let wanted = match (&id, label) {
            (Some(id), _) => *id == candidate,
            (None, Some(label)) => view.label == label,
            _ => false,
        };
        wanted.then_some((candidate, view))
    });
    let Some((found_id, view)) = found else {
        let wanted = id.as_deref().or(label).unwrap_or_default();
        return ToolReply::fail(format!("secret {wanted:?} not found"));
    };
    let mut info = Map::new();
    info.insert("revision".into(), json!(view.revision));
    info.insert("label".into(), json!(view.label));
    info.insert("owner".into(), json!(view.owner));
    if !view.description.is_empty() {
        info.insert("description".into(), json!(view.description));
    }
    if let Some(rotate) = view.rotate {
        info.insert("rotation".into(), json!(rotate));
    }
    if let Some(expire) = view.expire {
        info.insert("expiry".into(), json!(expire));
    }
    let access: Vec<Value> = view
        .grants
        .iter()
        .map(|g| {
            let target = match g.target.split_once('/') {
                Some((a, n)) => format!("unit-{a}-{n}"),
                None => format!("application-{}", g.target),
            };
            let scope = g
                .relation
                .and_then(|r| agent.state.relation(r))
                .map(|r| r.scope_tag(&app, super::relation::we_provide(agent, r)))
                .unwrap_or_else(|| format!("model-{}", agent.state.model_uuid));
            json!({"target": target, "scope": scope, "role": "view"})
        })
        .collect();
    if !access.is_empty() {
        info.insert("access".into(), Value::Array(access));
    }
    let mut out = Map::new();
    out.insert(found_id, Value::Object(info));
    ToolReply::ok(render(Some(&Value::Object(out)), format))
}

#[cfg(test)]
mod tests;
