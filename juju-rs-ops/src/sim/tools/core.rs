//! The unit's own tools: config, status, leadership, version, log, actions, charm state,
//! resources, credentials and goal-state.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    ALL_FORMATS, APPLICATION, FORMAT, ToolReply, at_most, file_text, flags, format_of,
    session_name, session_unit, tri,
};
use crate::sim::agent::{Agent, HookKind};
use crate::sim::flags::{FlagSpec, unrecognized};
use crate::sim::format::{Format, render};
use crate::sim::state::{ActionRun, Life, StatusRecord};
pub(super) fn config_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let all = FlagSpec {
        names: &["a", "all"],
        takes_value: false,
    };
    let p = tri!(flags(&[FORMAT, all], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 1));
    let config = agent
        .meta
        .effective_config(&agent.state.app.config, p.is_set("a"));
    match p.positional.first() {
        Some(key) if p.is_set("a") => ToolReply::usage(format!(
            "cannot use argument --all together with key {key:?}"
        )),
        Some(key) => ToolReply::ok(render(config.get(key), format)),
        None => ToolReply::ok(render(Some(&Value::Object(config)), format)),
    }
}

pub(super) fn status_set(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[APPLICATION], args));
    let (status, message) = match p.positional.as_slice() {
        [] => return ToolReply::usage("invalid args, require <status> [message]"),
        [s] => (s.as_str(), ""),
        [s, m] => (s.as_str(), m.as_str()),
        [_, _, extra @ ..] => return ToolReply::usage(unrecognized(extra)),
    };
    if !["maintenance", "blocked", "waiting", "active"].contains(&status) {
        return ToolReply::usage(format!(
            "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
        ));
    }
    let application = p.is_set("application");
    if application && !agent.session_is_leader() {
        return ToolReply::fail("this unit is not the leader");
    }
    let during = session_name(agent);
    let unit = tri!(session_unit(agent)).number;
    let record = StatusRecord::new(status, message);
    if application {
        agent.set_app_status(unit, record, &during);
    } else {
        agent.set_unit_status(unit, record, &during);
        if let Some(u) = agent.session_unit_mut() {
            u.charm_set_status = true;
        }
        if let Some(s) = agent.session.as_mut() {
            s.set_unit_status = true;
        }
    }
    ToolReply::ok("")
}

fn status_map(record: &StatusRecord, include_data: bool) -> Map<String, Value> {
    let mut map = Map::new();
    if include_data {
        map.insert("message".into(), Value::from(record.message.clone()));
        map.insert("status-data".into(), Value::Object(Map::new()));
    }
    map.insert("status".into(), Value::from(record.status.clone()));
    map
}

pub(super) fn status_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let include = FlagSpec {
        names: &["include-data"],
        takes_value: false,
    };
    let p = tri!(flags(&[FORMAT, APPLICATION, include], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 0));
    let include_data = p.is_set("include-data");
    if p.is_set("application") {
        if !agent.session_is_leader() {
            return ToolReply::fail("finding application status: this unit is not the leader");
        }
        let mut app = status_map(&agent.state.app.status, include_data);
        let mut units = Map::new();
        for unit in agent.state.units.iter().filter(|u| u.life != Life::Dead) {
            units.insert(
                agent.state.unit_name(unit.number),
                Value::Object(status_map(&unit.status, include_data)),
            );
        }
        app.insert("units".into(), Value::Object(units));
        let mut out = Map::new();
        out.insert("application-status".into(), Value::Object(app));
        return ToolReply::ok(render(Some(&Value::Object(out)), format));
    }
    let unit = status_map(&tri!(session_unit(agent)).status, include_data);
    if format == Format::Smart && !include_data {
        return ToolReply::ok(render(unit.get("status"), format));
    }
    ToolReply::ok(render(Some(&Value::Object(unit)), format))
}

pub(super) fn is_leader(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 0));
    ToolReply::ok(render(
        Some(&Value::Bool(agent.session_is_leader())),
        format,
    ))
}

pub(super) fn application_version_set(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    match p.positional.as_slice() {
        [] => ToolReply::usage("no version specified"),
        [version] => {
            if let Some(u) = agent.session_unit_mut() {
                u.workload_version = version.clone();
            }
            agent.state.app.workload_version = version.clone();
            ToolReply::ok("")
        }
        [_, extra @ ..] => ToolReply::usage(unrecognized(extra)),
    }
}

pub(super) fn juju_log(agent: &mut Agent, args: &[String]) -> ToolReply {
    let debug = FlagSpec {
        names: &["debug"],
        takes_value: false,
    };
    let level = FlagSpec {
        names: &["l", "log-level"],
        takes_value: true,
    };
    let p = tri!(flags(&[debug, level, FORMAT], args));
    if p.positional.is_empty() {
        return ToolReply::usage("no message specified");
    }
    let requested = match (p.value("l"), p.is_set("debug")) {
        (Some(l), _) => l.to_ascii_uppercase(),
        (None, true) => "DEBUG".to_string(),
        (None, false) => "INFO".to_string(),
    };
    let level = match requested.as_str() {
        "TRACE" | "DEBUG" | "INFO" | "ERROR" | "CRITICAL" => requested,
        "WARN" | "WARNING" => "WARNING".to_string(),
        other => {
            agent.log(
                "WARNING",
                format!("Specified log level {other:?} is not valid"),
            );
            "INFO".to_string()
        }
    };
    // Juju prefixes the lines logged in relation hooks with the relation.
    let prefix = agent
        .session
        .as_ref()
        .and_then(|s| s.context.relation.as_ref())
        .and_then(|r| agent.state.relation(r.id))
        .map(|r| format!("{}: ", r.name()))
        .unwrap_or_default();
    agent.log(&level, format!("{prefix}{}", p.positional.join(" ")));
    ToolReply::ok("")
}

fn running_action(agent: &mut Agent) -> Result<&mut ActionRun, ToolReply> {
    match agent.session.as_mut().map(|s| &mut s.kind) {
        Some(HookKind::Action(run)) => Ok(run),
        _ => Err(ToolReply::fail("not running an action")),
    }
}

pub(super) fn action_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 1));
    let run = tri!(running_action(agent));
    let params = Value::Object(run.params.clone());
    match p.positional.first() {
        None => ToolReply::ok(render(Some(&params), format)),
        Some(key) => {
            let found = key
                .split('.')
                .try_fold(&params, |v, segment| v.get(segment));
            ToolReply::ok(render(found, format))
        }
    }
}

pub(super) fn action_set(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    if p.positional.is_empty() {
        return ToolReply::usage("no key=value pairs specified");
    }
    let mut pairs = Vec::new();
    for arg in &p.positional {
        let Some((key, value)) = arg.split_once('=') else {
            return ToolReply::usage(format!("argument {arg:?} must be of the form key...=value"));
        };
        for segment in key.split('.') {
            if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&segment) {
                return ToolReply::usage(format!("cannot set reserved action key {segment:?}"));
            }
            if !crate::action::valid_key_segment(segment) {
                return ToolReply::usage(format!(
                    "key {key:?} must start and end with lowercase alphanumeric, and contain only \
                     lowercase alphanumeric, hyphens and periods"
                ));
            }
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    let run = tri!(running_action(agent));
    run.results.extend(pairs);
    ToolReply::ok("")
}

pub(super) fn action_fail(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    tri!(at_most(&p, 1));
    let message =
        p.positional.first().cloned().unwrap_or_else(|| {
            "action failed without reason given, check action for errors".into()
        });
    let run = tri!(running_action(agent));
    run.failed = Some(message);
    ToolReply::ok("")
}

pub(super) fn action_log(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    if p.positional.is_empty() {
        return ToolReply::usage("no message specified");
    }
    let run = tri!(running_action(agent));
    run.logs.push(p.positional.join(" "));
    ToolReply::ok("")
}

/// The charm state as this hook sees it: committed state plus this hook's staged writes.
fn visible_state(agent: &Agent) -> BTreeMap<String, String> {
    let mut state = agent
        .session_unit()
        .map(|u| u.charm_state.clone())
        .unwrap_or_default();
    if let Some(session) = &agent.session {
        for (k, v) in &session.pending_state {
            match v {
                Some(v) => state.insert(k.clone(), v.clone()),
                None => state.remove(k),
            };
        }
    }
    state
}

pub(super) fn state_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let strict = FlagSpec {
        names: &["strict"],
        takes_value: false,
    };
    let p = tri!(flags(&[FORMAT, strict], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 1));
    let state = visible_state(agent);
    match p.positional.first().map(String::as_str) {
        None | Some("-") => {
            if state.is_empty() {
                return ToolReply::ok(render(None, format));
            }
            let map: Map<String, Value> = state
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            ToolReply::ok(render(Some(&Value::Object(map)), format))
        }
        Some(key) => match state.get(key) {
            Some(v) => ToolReply::ok(render(Some(&Value::String(v.clone())), format)),
            None if p.is_set("strict") => ToolReply::fail(format!("{key:?} not found")),
            None => ToolReply::ok(render(Some(&Value::String(String::new())), format)),
        },
    }
}

const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 64 * 1024;

pub(super) fn state_set(agent: &mut Agent, args: &[String], stdin: Option<&[u8]>) -> ToolReply {
    let file = FlagSpec {
        names: &["file"],
        takes_value: true,
    };
    let p = tri!(flags(&[file], args));
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = p.value("file") {
        let text = tri!(file_text(path, stdin, |e| format!(
            "cannot read {path:?}: {e}"
        )));
        match serde_yaml::from_str::<Option<BTreeMap<String, String>>>(&text) {
            Ok(map) => pairs.extend(map.unwrap_or_default()),
            Err(e) => return ToolReply::fail(format!("cannot parse state file: {e}")),
        }
    }
    for arg in &p.positional {
        let Some((key, value)) = arg.split_once('=') else {
            return ToolReply::usage(format!("expected \"key=value\", got {arg:?}"));
        };
        pairs.insert(key.trim().to_string(), value.trim().to_string());
    }
    for (key, value) in &pairs {
        if key.len() > MAX_KEY {
            return ToolReply::fail(format!("key {key:?} is longer than {MAX_KEY} bytes"));
        }
        if value.len() > MAX_VALUE {
            return ToolReply::fail(format!("value of {key:?} is longer than {MAX_VALUE} bytes"));
        }
    }
    if let Some(session) = agent.session.as_mut() {
        for (key, value) in pairs {
            session.pending_state.insert(key, Some(value));
        }
    }
    ToolReply::ok("")
}

pub(super) fn state_delete(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    tri!(at_most(&p, 1));
    let Some(key) = p.positional.first() else {
        return ToolReply::usage("no key specified");
    };
    if let Some(session) = agent.session.as_mut() {
        session.pending_state.insert(key.clone(), None);
    }
    ToolReply::ok("")
}

pub(super) fn resource_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[], args));
    tri!(at_most(&p, 1));
    let Some(name) = p.positional.first() else {
        return ToolReply::usage("missing required resource name");
    };
    match agent.state.app.resources.get(name) {
        Some(path) => ToolReply::ok(path.display().to_string()),
        None => ToolReply::fail(format!(
            "could not download resource: resource#{}/{name} not found",
            agent.state.app.name
        )),
    }
}

pub(super) fn credential_get(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Smart, ALL_FORMATS));
    tri!(at_most(&p, 0));
    if !agent.state.app.trusted {
        return ToolReply::fail("cannot access cloud credentials: permission denied");
    }
    let spec = serde_json::json!({
        "type": "kubernetes",
        "name": "juju-sim",
        "region": "default",
        "credential": {"auth-type": "certificate", "attrs": {}, "redacted": []},
        "is-controller-cloud": false,
        "skip-tls-verify": false,
    });
    ToolReply::ok(render(Some(&spec), format))
}

/// `goal-state [--format yaml|json]`: the application's units (status `dying` for units being
/// removed, else their workload status) and relations (none yet); yaml by default.
pub(super) fn goal_state(agent: &mut Agent, args: &[String]) -> ToolReply {
    let p = tri!(flags(&[FORMAT], args));
    let format = tri!(format_of(&p, Format::Yaml, &[Format::Yaml, Format::Json]));
    tri!(at_most(&p, 0));
    // Serialised from the typed value to keep Juju's field order (units, relations; status,
    // since) in both formats.
    let goal = agent.state.goal_state();
    let text = match format {
        Format::Json => serde_json::to_string(&goal)
            .map(|t| format!("{t}\n"))
            .map_err(|e| e.to_string()),
        _ => serde_yaml::to_string(&goal).map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => ToolReply::ok(text),
        Err(e) => ToolReply::fail(format!("cannot format goal state: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::run_tool;
    use super::*;
    use crate::sim::meta::CharmMeta;
    use crate::sim::state::ModelState;
    use std::path::PathBuf;

    fn agent() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.yaml"), "name: demo\n").unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "options:\n  name: {type: string, default: x}\n  port: {type: int}\n  flag: {type: boolean, default: true}\n",
        )
        .unwrap();
        let meta = CharmMeta::load(dir.path()).unwrap();
        let mut state = ModelState::new("m", "demo", PathBuf::from("/c"));
        state.add_unit();
        state.add_unit();
        state.app.leader = Some(0);
        let mut a = Agent::new(state, meta);
        a.begin_hook(0, "config-changed");
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
    fn config_get_variants() {
        let mut a = agent();
        assert_eq!(
            run(&mut a, "config-get", &["--format=json"]).1,
            "{\"flag\":true,\"name\":\"x\"}\n"
        );
        assert_eq!(
            run(&mut a, "config-get", &["--all", "--format=json"]).1,
            "{\"flag\":true,\"name\":\"x\",\"port\":null}\n"
        );
        assert_eq!(run(&mut a, "config-get", &["name"]).1, "x\n");
        assert_eq!(run(&mut a, "config-get", &["flag"]).1, "True\n");
        assert_eq!(
            run(&mut a, "config-get", &["port", "--format", "json"]),
            (0, "null\n".into(), "".into())
        );
        assert_eq!(
            run(&mut a, "config-get", &["nope"]),
            (0, "".into(), "".into())
        );
        let (code, _, err) = run(&mut a, "config-get", &["name", "--all"]);
        assert_eq!(
            (code, err.as_str()),
            (
                2,
                "ERROR cannot use argument --all together with key \"name\"\n"
            )
        );
        let (code, _, err) = run(&mut a, "config-get", &["a", "b"]);
        assert_eq!(
            (code, err.as_str()),
            (2, "ERROR unrecognized args: [\"b\"]\n")
        );
        assert_eq!(run(&mut a, "config-get", &["--format=xml"]).0, 2);
    }

    #[test]
    fn status_set_and_get() {
        let mut a = agent();
        assert_eq!(
            run(
                &mut a,
                "status-set",
                &["--application=False", "active", "--", "-ok"]
            )
            .0,
            0
        );
        assert_eq!(
            a.state.unit(0).unwrap().status,
            StatusRecord::new("active", "-ok")
        );
        assert_eq!(run(&mut a, "status-get", &[]).1, "active\n");
        assert_eq!(
            run(
                &mut a,
                "status-get",
                &["--include-data", "--format=json", "--application=false"]
            )
            .1,
            "{\"message\":\"-ok\",\"status\":\"active\",\"status-data\":{}}\n"
        );
        let (code, _, err) = run(&mut a, "status-set", &["error", "x"]);
        assert_eq!(code, 2);
        assert!(err.contains("invalid status \"error\""), "{err}");
        assert_eq!(
            run(&mut a, "status-set", &[]).2,
            "ERROR invalid args, require <status> [message]\n"
        );
        assert_eq!(run(&mut a, "status-set", &["active", "a", "b"]).0, 2);
        a.state.app.leader = Some(1);
        assert_eq!(
            run(&mut a, "status-set", &["--application", "active"]),
            (1, "".into(), "ERROR this unit is not the leader\n".into())
        );
        assert_eq!(
            run(&mut a, "status-get", &["--application"]).2,
            "ERROR finding application status: this unit is not the leader\n"
        );
    }

    #[test]
    fn app_status_json_shape() {
        let mut a = agent();
        run(
            &mut a,
            "status-set",
            &["--application=True", "blocked", "--", "x"],
        );
        let out = run(
            &mut a,
            "status-get",
            &["--include-data", "--format=json", "--application=true"],
        )
        .1;
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["application-status"]["status"], "blocked");
        assert_eq!(
            v["application-status"]["units"]["demo/0"]["status-data"],
            serde_json::json!({})
        );
        assert_eq!(
            v["application-status"]["units"]["demo/1"]["status"], "waiting",
            "every unit of the application is listed"
        );
    }

    #[test]
    fn leadership_is_per_unit() {
        let mut a = agent();
        a.finish(0, "", "");
        a.begin_hook(1, "config-changed");
        assert_eq!(run(&mut a, "is-leader", &["--format=json"]).1, "false\n");
        assert_eq!(
            run(&mut a, "status-set", &["--application=True", "active"]).2,
            "ERROR this unit is not the leader\n"
        );
        assert_eq!(run(&mut a, "status-set", &["maintenance", "m"]).0, 0);
        assert_eq!(a.state.unit(1).unwrap().status.status, "maintenance");
        assert_eq!(a.state.unit(0).unwrap().status.status, "waiting");
        assert_eq!(a.state.app.status.status, "unknown");
    }

    #[test]
    fn goal_state_formats_and_errors() {
        let mut a = agent();
        a.state.units[0].status = StatusRecord::new("active", "ok");
        a.state.units[1].life = Life::Dying;
        let (code, out, err) = run(&mut a, "goal-state", &["--format=json"]);
        assert_eq!((code, err.as_str()), (0, ""));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["units"]["demo/0"]["status"], "active");
        assert_eq!(v["units"]["demo/1"]["status"], "dying");
        assert_eq!(v["relations"], serde_json::json!({}));
        let yaml = run(&mut a, "goal-state", &[]).1;
        let parsed: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(parsed, v, "yaml is the default and says the same");
        assert!(
            yaml.starts_with("units:\n  demo/0:\n    status: active\n    since: "),
            "{yaml}"
        );
        assert!(yaml.ends_with("relations: {}\n"), "{yaml}");
        assert_eq!(
            run(&mut a, "goal-state", &["--format", "yaml"]).1,
            yaml,
            "--format yaml"
        );
        let (code, _, err) = run(&mut a, "goal-state", &["--format=smart"]);
        assert_eq!(code, 2);
        assert!(
            err.starts_with("ERROR invalid value \"smart\" for option --format"),
            "{err}"
        );
        assert_eq!(
            run(&mut a, "goal-state", &["extra"]),
            (
                2,
                "".into(),
                "ERROR unrecognized args: [\"extra\"]\n".into()
            )
        );
        assert_eq!(
            run(&mut a, "goal-state", &["--bogus"]).2,
            "ERROR option provided but not defined: --bogus\n"
        );
        a.state.units[0].status = StatusRecord::new("error", "hook failed: \"start\"");
        a.state.units[1].life = Life::Dead;
        let v: Value =
            serde_json::from_str(&run(&mut a, "goal-state", &["--format=json"]).1).unwrap();
        assert_eq!(v["units"]["demo/0"]["status"], "error");
        assert!(
            v["units"].get("demo/1").is_none(),
            "dead units are not shown"
        );
    }

    #[test]
    fn goal_state_lists_relations_by_endpoint() {
        let mut a = agent();
        let id = a.state.add_relation("db", "pgsql", "pg");
        a.state
            .relation_mut(id)
            .unwrap()
            .add_remote_unit("pg/0", BTreeMap::new());
        let v: Value =
            serde_json::from_str(&run(&mut a, "goal-state", &["--format=json"]).1).unwrap();
        assert_eq!(v["relations"]["db"]["pg"]["status"], "joined");
        assert_eq!(v["relations"]["db"]["pg/0"]["status"], "active");
        let yaml = run(&mut a, "goal-state", &[]).1;
        assert!(
            yaml.contains("relations:\n  db:\n    pg:\n      status: joined\n"),
            "{yaml}"
        );
    }

    #[test]
    fn leader_log_version() {
        let mut a = agent();
        assert_eq!(run(&mut a, "is-leader", &[]).1, "True\n");
        assert_eq!(run(&mut a, "is-leader", &["--format=json"]).1, "true\n");
        assert_eq!(run(&mut a, "application-version-set", &[]).0, 2);
        assert_eq!(run(&mut a, "application-version-set", &["--", "1.2"]).0, 0);
        assert_eq!(a.state.unit(0).unwrap().workload_version, "1.2");
        assert_eq!(a.state.app.workload_version, "1.2");
        assert_eq!(
            run(&mut a, "juju-log", &[]).2,
            "ERROR no message specified\n"
        );
        run(&mut a, "juju-log", &["--log-level", "warn", "--", "a", "b"]);
        run(&mut a, "juju-log", &["-l", "loud", "x"]);
        let levels: Vec<&str> = a.state.logs.iter().map(|l| l.level.as_str()).collect();
        assert_eq!(levels, ["WARNING", "WARNING", "INFO"]);
        assert_eq!(a.state.logs[0].message, "a b");
    }

    #[test]
    fn actions_only_in_actions() {
        let mut a = agent();
        assert_eq!(
            run(&mut a, "action-get", &[]).2,
            "ERROR not running an action\n"
        );
        a.finish(0, "", "");
        let mut params = Map::new();
        params.insert("n".into(), serde_json::json!({"deep": 3}));
        a.begin_action(0, "go", params);
        assert_eq!(run(&mut a, "action-get", &["n.deep"]).1, "3\n");
        assert_eq!(
            run(&mut a, "action-get", &["missing", "--format=json"]).1,
            "null\n"
        );
        assert_eq!(run(&mut a, "action-set", &["a.b=1", "c=x=y"]).0, 0);
        assert_eq!(run(&mut a, "action-set", &["Bad=1"]).0, 2);
        assert_eq!(
            run(&mut a, "action-set", &["stdout=1"]).2,
            "ERROR cannot set reserved action key \"stdout\"\n"
        );
        assert_eq!(run(&mut a, "action-set", &["novalue"]).0, 2);
        assert_eq!(run(&mut a, "action-log", &["--", "working"]).0, 0);
        assert_eq!(run(&mut a, "action-fail", &["a", "b"]).0, 2);
        assert_eq!(run(&mut a, "action-fail", &[]).0, 0);
        let out = a.finish(0, "", "").unwrap();
        assert_eq!(out.status, "failed");
        assert_eq!(
            out.message,
            "action failed without reason given, check action for errors"
        );
        assert_eq!(out.run.results["a.b"], "1");
        assert_eq!(out.run.results["c"], "x=y");
        assert_eq!(out.run.logs, ["working"]);
    }

    #[test]
    fn state_tools_stage_and_read_back() {
        let mut a = agent();
        let args = vec!["--file".to_string(), "-".to_string()];
        assert_eq!(
            run_tool(&mut a, "state-set", &args, None),
            ToolReply::NeedStdin
        );
        assert_eq!(
            run_tool(&mut a, "state-set", &args, Some(b"{\"k\": \"v\"}")),
            ToolReply::ok("")
        );
        assert_eq!(run(&mut a, "state-get", &["k"]).1, "v\n");
        assert_eq!(
            run(&mut a, "state-get", &["--format=json"]).1,
            "{\"k\":\"v\"}\n"
        );
        assert_eq!(
            run(&mut a, "state-get", &["nope", "--format=json"]).1,
            "\"\"\n"
        );
        assert_eq!(
            run(&mut a, "state-get", &["--strict", "nope"]).2,
            "ERROR \"nope\" not found\n"
        );
        assert_eq!(run(&mut a, "state-set", &["x"]).0, 2);
        let long = format!("k={}", "v".repeat(MAX_VALUE + 1));
        assert_eq!(run(&mut a, "state-set", &[&long]).0, 1);
        run(&mut a, "state-delete", &["k"]);
        assert_eq!(run(&mut a, "state-get", &["--format=json"]).1, "null\n");
        assert!(
            a.state.unit(0).unwrap().charm_state.is_empty(),
            "nothing committed before the hook ends"
        );
    }

    #[test]
    fn resources_and_credentials() {
        let mut a = agent();
        assert_eq!(
            run(&mut a, "resource-get", &[]).2,
            "ERROR missing required resource name\n"
        );
        assert_eq!(run(&mut a, "resource-get", &["img"]).0, 1);
        a.state
            .app
            .resources
            .insert("img".into(), PathBuf::from("/r/img.yaml"));
        assert_eq!(run(&mut a, "resource-get", &["img"]).1, "/r/img.yaml");
        assert_eq!(
            run(&mut a, "credential-get", &[]).2,
            "ERROR cannot access cloud credentials: permission denied\n"
        );
        a.state.app.trusted = true;
        assert_eq!(run(&mut a, "credential-get", &["--format=json"]).0, 0);
    }

    #[test]
    fn no_context_no_tool() {
        let mut a = agent();
        a.finish(0, "", "");
        assert_eq!(
            run(&mut a, "is-leader", &[]).2,
            "ERROR JUJU_CONTEXT_ID not set\n"
        );
    }
}
