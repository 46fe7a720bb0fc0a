//! The reading secret tools: `secret-get` (owner, label and consumer-tracking rules),
//! `secret-ids`, `secret-info-get`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{LABEL, YAML_JSON, names, owned_ids};
use crate::sim::agent::Agent;
use crate::sim::flags::{FlagSpec, unrecognized};
use crate::sim::format::{Format, render};
use crate::sim::secrets::{
    SecretConsumer, SecretGrant, SecretOwnerState, decode_content, decode_value, parse_secret_uri,
};
use crate::sim::tools::{ALL_FORMATS, FORMAT, ToolReply, at_most, flags, format_of, tri};

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
pub(in crate::sim::tools) fn secret_get(agent: &mut Agent, args: &[String]) -> ToolReply {
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

/// `secret-ids [--format]`: the ids of the secrets this unit (or, leading, its application) owns.
pub(in crate::sim::tools) fn secret_ids(agent: &mut Agent, args: &[String]) -> ToolReply {
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
pub(in crate::sim::tools) fn secret_info_get(agent: &mut Agent, args: &[String]) -> ToolReply {
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
                .map(|r| r.scope_tag(&app, crate::sim::tools::relation::we_provide(agent, r)))
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
