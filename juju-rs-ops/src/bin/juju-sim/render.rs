//! What `juju-sim` prints: `juju status` (with the application's relations), `juju run` and
//! `juju debug-log` look-alikes.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use juju_ops::sim::{ActionOutcome, Life, ModelState};
use serde_json::{Map, Value, json};

/// The unit agent's status: `error` while a hook is failed, else `idle`.
fn agent_status(failed: bool) -> &'static str {
    if failed { "error" } else { "idle" }
}

/// `juju status` (tabular) or `juju status --format json`: the application and every unit,
/// the leader marked.
pub fn status(state: &ModelState, format: &str) -> Result<String> {
    let app = &state.app;
    let app_status = state.display_app_status();
    let scale = state.scale();
    match format {
        "json" => {
            let mut units = Map::new();
            for unit in &state.units {
                let mut entry = Map::new();
                entry.insert(
                    "workload-status".into(),
                    json!({"current": unit.status.status, "message": unit.status.message, "since": unit.status_since}),
                );
                entry.insert(
                    "juju-status".into(),
                    json!({"current": agent_status(unit.failed_hook.is_some())}),
                );
                if state.is_leader(unit.number) {
                    entry.insert("leader".into(), Value::Bool(true));
                }
                if unit.life != Life::Alive {
                    entry.insert("life".into(), json!(unit.life));
                }
                units.insert(state.unit_name(unit.number), Value::Object(entry));
            }
            let mut relations: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
            for rel in &state.relations {
                relations
                    .entry(rel.endpoint.as_str())
                    .or_default()
                    .push(json!({
                        "related-application": rel.remote_app,
                        "interface": rel.interface,
                        "relation-id": rel.id,
                        "status": rel.goal_status(),
                    }));
            }
            let mut application = json!({
                "charm": app.name,
                "trust": app.trusted,
                "version": app.workload_version,
                "scale": scale,
                "application-status": {"current": app_status.status, "message": app_status.message, "since": app.status_since},
                "units": units,
                "relations": relations,
            });
            if app.life != Life::Alive
                && let Some(map) = application.as_object_mut()
            {
                map.insert("life".into(), json!(app.life));
            }
            let doc = json!({
                "model": {"name": state.model_name, "type": "caas", "controller": "juju-sim", "version": state.juju_version},
                "applications": {app.name.clone(): application},
            });
            Ok(format!("{doc}\n"))
        }
        "tabular" => {
            let mut out = String::new();
            out.push_str(&format!(
                "Model  Controller  Cloud/Region  Version\n{:<6} juju-sim    local         {}\n\n",
                state.model_name, state.juju_version
            ));
            let scale = scale.to_string();
            let rows = [
                vec!["App", "Version", "Status", "Scale", "Charm", "Message"],
                vec![
                    &app.name,
                    &app.workload_version,
                    &app_status.status,
                    &scale,
                    &app.name,
                    &app_status.message,
                ],
            ];
            out.push_str(&table(&rows));
            out.push('\n');
            let labels: Vec<String> = state
                .units
                .iter()
                .map(|u| {
                    let name = state.unit_name(u.number);
                    if state.is_leader(u.number) {
                        format!("{name}*")
                    } else {
                        name
                    }
                })
                .collect();
            let mut rows = vec![vec!["Unit", "Workload", "Agent", "Message"]];
            for (unit, label) in state.units.iter().zip(&labels) {
                rows.push(vec![
                    label,
                    &unit.status.status,
                    agent_status(unit.failed_hook.is_some()),
                    &unit.status.message,
                ]);
            }
            out.push_str(&table(&rows));
            if !state.relations.is_empty() {
                let names: Vec<(String, String)> = state
                    .relations
                    .iter()
                    .map(|r| (format!("{}:{}", app.name, r.endpoint), r.name()))
                    .collect();
                let mut rows = vec![vec!["Integration", "Id", "Remote", "Interface", "Status"]];
                for (rel, (ours, id)) in state.relations.iter().zip(&names) {
                    rows.push(vec![
                        ours,
                        id,
                        &rel.remote_app,
                        &rel.interface,
                        rel.goal_status(),
                    ]);
                }
                out.push('\n');
                out.push_str(&table(&rows));
            }
            Ok(out)
        }
        other => bail!("unknown format {other:?} (use tabular or json)"),
    }
}

fn table(rows: &[Vec<&str>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == row.len() {
                    cell.to_string()
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Nests dotted result keys back into maps, as `juju run` shows them.
fn nest(results: &BTreeMap<String, String>) -> Value {
    let mut root = Map::new();
    for (key, value) in results {
        let mut node = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_string(), Value::String(value.clone()));
            } else {
                let entry = node
                    .entry(part.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                match entry {
                    Value::Object(map) => node = map,
                    _ => break,
                }
            }
        }
    }
    Value::Object(root)
}

/// `juju run` output: logs, then the results (plain), or the whole task (json).
pub fn action(unit: &str, outcome: &ActionOutcome, format: &str) -> Result<String> {
    match format {
        "json" => {
            let doc = json!({unit: {
                "id": outcome.run.id,
                "status": outcome.status,
                "message": outcome.message,
                "results": nest(&outcome.run.results),
                "log": outcome.run.logs,
            }});
            Ok(format!("{doc}\n"))
        }
        "plain" => {
            let mut out = String::new();
            for line in &outcome.run.logs {
                out.push_str(line);
                out.push('\n');
            }
            let shown: BTreeMap<String, String> = outcome
                .run
                .results
                .iter()
                .filter(|(k, _)| !["return-code", "stdout", "stderr"].contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !shown.is_empty() {
                out.push_str(&serde_yaml::to_string(&nest(&shown))?);
            }
            Ok(out)
        }
        other => bail!("unknown format {other:?} (use plain or json)"),
    }
}

/// `juju debug-log` lines of every unit, each tagged with its unit, in order. `include`
/// keeps only the named units (`app/n` or `unit-app-n`) or applications.
pub fn debug_log(state: &ModelState, include: &[String]) -> String {
    state
        .logs
        .iter()
        .filter_map(|l| {
            let (app, number) = l.unit.split_once('/')?;
            let tag = format!("unit-{app}-{number}");
            let wanted = include.is_empty()
                || include
                    .iter()
                    .any(|i| *i == l.unit || *i == tag || i.as_str() == app);
            wanted.then(|| {
                format!(
                    "{tag}: {} {} unit.{}.juju-log {}\n",
                    l.context, l.level, l.unit, l.message
                )
            })
        })
        .collect()
}
