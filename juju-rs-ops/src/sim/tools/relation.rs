//! The relation tools: `relation-ids`, `relation-list`, `relation-get`, `relation-set`, with
//! Juju's defaults (the hook's relation and remote unit), read rules (own bags from the hook
//! context including this hook's writes; the application bag for the leader, or for anyone on
//! a peer relation; remote bags from the controller) and the leader-only application writes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    ALL_FORMATS, FORMAT, ToolReply, at_most, file_text, flags, format_of, session_unit, tri,
};
use crate::metadata::EndpointRole;
use crate::sim::agent::Agent;
use crate::sim::flags::{FlagSpec, Parsed, unrecognized};
use crate::sim::format::{Format, render};
use crate::sim::hook::RelationHook;
use crate::sim::relations::{RelationState, apply_writes, parse_pairs};

const RELATION: FlagSpec = FlagSpec {
    names: &["r", "relation"],
    takes_value: true,
};
const APP: FlagSpec = FlagSpec {
    names: &["app"],
    takes_value: false,
};

/// Whether our endpoint of `rel` provides (else it requires; unknown endpoints count as
/// providing), for Juju's relation key.
pub(super) fn we_provide(agent: &Agent, rel: &RelationState) -> bool {
    agent
        .meta
        .endpoints
        .get(&rel.endpoint)
        .is_none_or(|e| e.role != EndpointRole::Requires)
}

/// The relation hook's relation, if this dispatch is one.
fn hook_relation(agent: &Agent) -> Option<&RelationHook> {
    agent.session.as_ref()?.context.relation.as_ref()
}

/// The relation `-r` names (`ID` or `endpoint:ID`), else the hook's relation. Errors are flag
/// errors (exit 2), as Juju parses `-r` while parsing flags.
pub(super) fn relation_flag(agent: &Agent, p: &Parsed) -> Result<Option<u64>, ToolReply> {
    let Some(text) = p.value("r") else {
        return Ok(hook_relation(agent).map(|r| r.id));
    };
    let digits = text.rsplit(':').next().unwrap_or_default();
    let Ok(id) = digits.parse::<u64>() else {
        return Err(ToolReply::usage(format!(
            "invalid value {text:?} for flag -r: invalid relation id"
        )));
    };
    if agent.state.relation(id).is_none() {
        return Err(ToolReply::usage(format!(
            "invalid value {text:?} for flag -r: relation not found"
        )));
    }
    Ok(Some(id))
}

fn required_relation<'a>(agent: &'a Agent, p: &Parsed) -> Result<&'a RelationState, ToolReply> {
    let id =
        relation_flag(agent, p)?.ok_or_else(|| ToolReply::usage("no relation id specified"))?;
    agent
        .state
        .relation(id)
        .ok_or_else(|| ToolReply::fail("relation not found"))
}

/// `relation-ids [--format] [ENDPOINT]`: `endpoint:id` of the endpoint's relations, sorted as
/// strings (as Go's `sort.Strings` does).
pub(super) fn relation_ids(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 1));
    let endpoint = match p.positional.first() {
        Some(name) => name.clone(),
        None => match hook_relation(agent).and_then(|r| agent.state.relation(r.id)) {
            Some(rel) => rel.endpoint.clone(),
            None => return ToolReply::usage("no endpoint name specified"),
        },
    };
    let mut ids: Vec<String> = agent
        .state
        .relations
        .iter()
        .filter(|r| r.endpoint == endpoint)
        .map(RelationState::name)
        .collect();
    ids.sort();
    let list = Value::Array(ids.into_iter().map(Value::String).collect());
    ToolReply::ok(render(Some(&list), format))
}

/// `relation-list [--format] [-r ID] [--app]`: the remote units this unit has seen join, or
/// the remote application.
pub(super) fn relation_list(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT, RELATION, APP], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    let rel = tri!(required_relation(agent, &p));
    tri!(at_most(&p, 0));
    if p.is_set("app") {
        return ToolReply::ok(render(Some(&Value::String(rel.remote_app.clone())), format));
    }
    let unit = tri!(session_unit(agent)).number;
    let units: Vec<Value> = rel.seen_by(unit).into_iter().map(Value::String).collect();
    ToolReply::ok(render(Some(&Value::Array(units)), format))
}

/// Which databag `relation-get` reads, following Juju's defaults.
fn relation_get_target(
    agent: &Agent,
    p: &Parsed,
    rest: &[String],
) -> Result<(String, bool), ToolReply> {
    let hook = hook_relation(agent);
    let mut app = p.is_set("app");
    let target = match rest.first() {
        Some(given) if app => match given.split_once('/') {
            Some((name, _)) => name.to_string(),
            None => given.clone(),
        },
        Some(given) => {
            if !given.contains('/') {
                return Err(ToolReply::usage(format!(
                    "expected unit name, got application name {given:?}"
                )));
            }
            if given
                .split_once('/')
                .is_none_or(|(a, n)| a.is_empty() || n.parse::<u32>().is_err())
            {
                return Err(ToolReply::usage(format!("invalid unit name {given:?}")));
            }
            given.clone()
        }
        None => {
            let remote_app = hook
                .and_then(|r| agent.state.relation(r.id))
                .map(|r| r.remote_app.clone());
            match (app, hook.and_then(|h| h.remote_unit.clone()), remote_app) {
                (true, _, Some(remote_app)) => remote_app,
                (false, Some(unit), _) => unit,
                (false, None, Some(remote_app)) => {
                    app = true;
                    remote_app
                }
                _ => return Err(ToolReply::usage("no unit or application specified")),
            }
        }
    };
    if let Some(extra) = rest.get(1..).filter(|e| !e.is_empty()) {
        return Err(ToolReply::usage(unrecognized(extra)));
    }
    Ok((target, app))
}

/// `relation-get [--format] [-r ID] [--app] [KEY|-] [UNIT|APP]`.
pub(super) fn relation_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT, RELATION, APP], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    let rel = tri!(required_relation(agent, &p)).clone();
    let key = match p.positional.first().map(String::as_str) {
        None | Some("-") => None,
        Some(key) => Some(key.to_string()),
    };
    let rest = p.positional.get(1..).unwrap_or_default().to_vec();
    let (target, app) = tri!(relation_get_target(agent, &p, &rest));
    let bag = tri!(read_bag(agent, &rel, &target, app));
    match key {
        None => {
            let map: Map<String, Value> = bag
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            ToolReply::ok(render(Some(&Value::Object(map)), format))
        }
        Some(key) => ToolReply::ok(render(
            bag.get(&key).map(|v| Value::String(v.clone())).as_ref(),
            format,
        )),
    }
}

/// Reads one databag as this unit may see it.
fn read_bag(
    agent: &Agent,
    rel: &RelationState,
    target: &str,
    app: bool,
) -> Result<BTreeMap<String, String>, ToolReply> {
    let me = agent.session_unit_name();
    let unit = session_unit(agent)?.number;
    let own_app = agent.state.app.name.as_str();
    let pending = agent
        .session
        .as_ref()
        .and_then(|s| s.pending_relations.get(&rel.id));
    let denied = || ToolReply::fail("permission denied");
    if app {
        if target == own_app {
            if agent.session_is_leader() {
                let mut bag = rel.app_data.clone();
                if let Some(p) = pending {
                    apply_writes(&mut bag, &p.app);
                }
                return Ok(bag);
            }
            return if rel.peer {
                Ok(rel.app_data.clone())
            } else {
                Err(denied())
            };
        }
        return if target == rel.remote_app {
            Ok(rel.remote_app_data.clone())
        } else {
            Err(denied())
        };
    }
    if target == me {
        let mut bag = rel.unit_data.get(&unit).cloned().unwrap_or_default();
        if let Some(p) = pending {
            apply_writes(&mut bag, &p.unit);
        }
        return Ok(bag);
    }
    let own_number = target
        .strip_prefix(own_app)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|n| n.parse::<u32>().ok());
    if let Some(number) = own_number {
        // Another unit of ours: readable on a peer relation only.
        if !rel.peer {
            return Err(denied());
        }
        if let Some(bag) = rel.unit_data.get(&number) {
            return Ok(bag.clone());
        }
    }
    rel.remote_unit_data.get(target).cloned().ok_or_else(|| {
        ToolReply::fail(format!(
            "cannot read settings for unit {target:?} in relation {:?}: unit {target:?}: settings not found",
            rel.key(own_app, we_provide(agent, rel))
        ))
    })
}

/// `relation-set [-r ID] [--app] [--file PATH|-] KEY=VALUE...`: staged until the hook ends; an
/// empty value deletes the key.
pub(super) fn relation_set(agent: &mut Agent, args: &[String], stdin: Option<&[u8]>) -> ToolReply {
    let file = FlagSpec {
        names: &["file"],
        takes_value: true,
    };
    let p = tri!(flags(&[RELATION, APP, file, FORMAT], args));
    let id = tri!(required_relation(agent, &p)).id;
    let overrides = match parse_pairs(&p.positional) {
        Ok(pairs) => pairs,
        Err(message) => return ToolReply::usage(message),
    };
    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = p.value("file") {
        let text = tri!(file_text(path, stdin, |e| format!("open {path}: {e}")));
        match serde_yaml::from_str::<Option<BTreeMap<String, String>>>(&text) {
            Ok(map) => settings.extend(map.unwrap_or_default()),
            Err(e) => return ToolReply::fail(e.to_string()),
        }
    }
    settings.extend(overrides);
    let app = p.is_set("app");
    if app && !agent.session_is_leader() {
        return ToolReply::fail("cannot write relation settings");
    }
    if let Some(session) = agent.session.as_mut() {
        let pending = session.pending_relations.entry(id).or_default();
        if app {
            pending.app.extend(settings);
        } else {
            pending.unit.extend(settings);
        }
    }
    match p.value("format") {
        Some(_) => ToolReply::Done {
            code: 0,
            stdout: String::new(),
            stderr: "--format flag deprecated for command \"relation-set\"".into(),
        },
        None => ToolReply::ok(""),
    }
}

#[cfg(test)]
mod tests {
    use super::super::run_tool;
    use super::*;
    use crate::event::RelationEventKind;
    use crate::sim::hook::HookSpec;
    use crate::sim::meta::CharmMeta;
    use crate::sim::state::ModelState;
    use std::path::PathBuf;

    /// `demo/0` (leader) and `demo/1`, related on `db` (id 0) to `pg` with units `pg/0`,
    /// `pg/1`; a `db-relation-changed` for `pg/0` runs on `unit`.
    fn agent(unit: u32) -> Agent {
        let mut state = ModelState::new("m", "demo", PathBuf::from("/c"));
        state.add_unit();
        state.add_unit();
        state.app.leader = Some(0);
        let id = state.add_relation("db", "pgsql", "pg");
        let rel = state.relation_mut(id).unwrap();
        rel.add_remote_unit("pg/0", BTreeMap::from([("host".into(), "10.0.0.1".into())]));
        rel.add_remote_unit("pg/1", BTreeMap::new());
        rel.remote_app_data.insert("db".into(), "main".into());
        rel.app_data.insert("user".into(), "demo".into());
        rel.unit_data
            .insert(1, BTreeMap::from([("mine".into(), "1".into())]));
        for u in [0, 1] {
            rel.joined.entry(u).or_default().insert("pg/0".into());
        }
        let mut a = Agent::new(state, CharmMeta::default());
        a.begin(
            unit,
            &HookSpec::relation("db", RelationEventKind::Changed, id, Some("pg/0"), None),
        );
        a
    }

    fn run(a: &mut Agent, tool: &str, args: &[&str]) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match run_tool(a, tool, &args, Some(b"")) {
            ToolReply::Done {
                code,
                stdout,
                stderr,
            } => (code, stdout, stderr),
            ToolReply::NeedStdin => panic!("needs stdin"),
        }
    }

    #[test]
    fn ids_default_to_the_hook_endpoint_and_sort_as_strings() {
        let mut a = agent(0);
        for _ in 0..10 {
            a.state.add_relation("db", "pgsql", "other");
        }
        let out = run(&mut a, "relation-ids", &["--format=json"]).1;
        let ids: Vec<String> = serde_json::from_str(&out).unwrap();
        assert_eq!(ids[..3], ["db:0", "db:1", "db:10"]);
        assert_eq!(run(&mut a, "relation-ids", &["nope"]).1, "");
        assert_eq!(
            run(&mut a, "relation-ids", &["nope", "--format=json"]).1,
            "[]\n"
        );
        a.finish(0, "", "");
        a.begin_hook(0, "config-changed");
        assert_eq!(
            run(&mut a, "relation-ids", &[]),
            (2, "".into(), "ERROR no endpoint name specified\n".into())
        );
        assert_eq!(run(&mut a, "relation-ids", &["db", "x"]).0, 2);
    }

    #[test]
    fn list_shows_what_this_unit_has_seen() {
        let mut a = agent(0);
        assert_eq!(run(&mut a, "relation-list", &[]).1, "pg/0\n");
        assert_eq!(
            run(&mut a, "relation-list", &["--format=json", "-r", "db:0"]).1,
            "[\"pg/0\"]\n"
        );
        assert_eq!(
            run(
                &mut a,
                "relation-list",
                &["--format=json", "--app", "-r", "0"]
            )
            .1,
            "\"pg\"\n"
        );
        assert_eq!(
            run(&mut a, "relation-list", &["-r", "db:x"]),
            (
                2,
                "".into(),
                "ERROR invalid value \"db:x\" for flag -r: invalid relation id\n".into()
            )
        );
        assert_eq!(
            run(&mut a, "relation-list", &["-r", "db:7"]).2,
            "ERROR invalid value \"db:7\" for flag -r: relation not found\n"
        );
        a.finish(0, "", "");
        a.begin_hook(0, "update-status");
        assert_eq!(
            run(&mut a, "relation-list", &[]).2,
            "ERROR no relation id specified\n"
        );
    }

    #[test]
    fn get_defaults_and_bags() {
        let mut a = agent(1);
        assert_eq!(run(&mut a, "relation-get", &["host"]).1, "10.0.0.1\n");
        assert_eq!(
            run(
                &mut a,
                "relation-get",
                &["--format=json", "-r", "db:0", "-", "pg/0"]
            )
            .1,
            "{\"host\":\"10.0.0.1\"}\n"
        );
        assert_eq!(
            run(
                &mut a,
                "relation-get",
                &["--format=json", "--app", "-", "pg"]
            )
            .1,
            "{\"db\":\"main\"}\n"
        );
        assert_eq!(
            run(&mut a, "relation-get", &["--format=json", "--app"]).1,
            "{\"db\":\"main\"}\n",
            "--app alone reads the remote application"
        );
        assert_eq!(
            run(&mut a, "relation-get", &["--format=json", "-", "demo/1"]).1,
            "{\"mine\":\"1\"}\n"
        );
        assert_eq!(
            run(
                &mut a,
                "relation-get",
                &["--format=json", "missing", "pg/0"]
            )
            .1,
            "null\n"
        );
        assert_eq!(
            run(
                &mut a,
                "relation-get",
                &["--format=json", "--app", "-", "demo"]
            )
            .2,
            "ERROR permission denied\n",
            "a non-leader cannot read its application's bag on a regular relation"
        );
        assert_eq!(
            run(&mut a, "relation-get", &["-", "demo/0"]).2,
            "ERROR permission denied\n"
        );
        assert_eq!(
            run(&mut a, "relation-get", &["-", "pg"]),
            (
                2,
                "".into(),
                "ERROR expected unit name, got application name \"pg\"\n".into()
            )
        );
        assert_eq!(run(&mut a, "relation-get", &["-", "pg/x"]).0, 2);
        assert_eq!(
            run(&mut a, "relation-get", &["-", "pg/7"]).2,
            "ERROR cannot read settings for unit \"pg/7\" in relation \"demo:db pg:db\": unit \"pg/7\": settings not found\n"
        );
        assert_eq!(run(&mut a, "relation-get", &["-", "pg/0", "x"]).0, 2);
    }

    #[test]
    fn set_stages_until_the_hook_succeeds() {
        let mut a = agent(0);
        let args = vec!["-r".to_string(), "db:0".into(), "--file".into(), "-".into()];
        assert_eq!(
            run_tool(&mut a, "relation-set", &args, None),
            ToolReply::NeedStdin
        );
        let reply = run_tool(&mut a, "relation-set", &args, Some(br#"{"a":"1","b":"2"}"#));
        assert_eq!(reply, ToolReply::ok(""));
        run(&mut a, "relation-set", &["b=", "c=3"]);
        run(&mut a, "relation-set", &["--app", "user=", "url=x"]);
        assert_eq!(
            run(&mut a, "relation-get", &["--format=json", "-", "demo/0"]).1,
            "{\"a\":\"1\",\"c\":\"3\"}\n",
            "this hook's writes are visible to it"
        );
        assert_eq!(
            run(
                &mut a,
                "relation-get",
                &["--format=json", "--app", "-", "demo"]
            )
            .1,
            "{\"url\":\"x\"}\n"
        );
        assert!(!a.state.relation(0).unwrap().unit_data.contains_key(&0));
        a.finish(0, "", "");
        let rel = a.state.relation(0).unwrap();
        assert_eq!(rel.unit_data[&0].len(), 2);
        assert_eq!(rel.app_data, BTreeMap::from([("url".into(), "x".into())]));
    }

    #[test]
    fn set_errors_and_failed_hooks() {
        let mut a = agent(1);
        assert_eq!(
            run(&mut a, "relation-set", &["--app", "k=v"]),
            (
                1,
                "".into(),
                "ERROR cannot write relation settings\n".into()
            )
        );
        assert_eq!(
            run(&mut a, "relation-set", &["novalue"]).2,
            "ERROR expected \"key=value\", got \"novalue\"\n"
        );
        assert_eq!(
            run(&mut a, "relation-set", &["--format", "json", "k=v"]),
            (
                0,
                "".into(),
                "--format flag deprecated for command \"relation-set\"".into()
            )
        );
        a.finish(1, "", "");
        assert!(
            !a.state.relation(0).unwrap().unit_data[&1].contains_key("k"),
            "nothing is committed when the hook fails"
        );
    }

    #[test]
    fn joined_and_departed_change_the_units_view() {
        let mut a = agent(0);
        a.finish(0, "", "");
        a.begin(
            1,
            &HookSpec::relation("db", RelationEventKind::Joined, 0, Some("pg/1"), None),
        );
        assert_eq!(run(&mut a, "relation-list", &[]).1, "pg/0\npg/1\n");
        a.finish(0, "", "");
        a.begin(
            1,
            &HookSpec::relation(
                "db",
                RelationEventKind::Departed,
                0,
                Some("pg/0"),
                Some("pg/0"),
            ),
        );
        assert_eq!(run(&mut a, "relation-list", &[]).1, "pg/1\n");
        assert_eq!(
            run(&mut a, "relation-get", &["host", "pg/0"]).1,
            "10.0.0.1\n",
            "a departed unit's data stays readable"
        );
    }

    #[test]
    fn log_lines_in_relation_hooks_name_the_relation() {
        let mut a = agent(0);
        run(&mut a, "juju-log", &["--", "hello"]);
        assert_eq!(a.state.logs[0].message, "db:0: hello");
    }
}
