//! What `juju-sim` prints: `juju status`, `juju run` and `juju debug-log` look-alikes.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use juju_ops::sim::AgentState;
use juju_ops::sim::state::ActionOutcome;
use serde_json::{Map, Value, json};

/// The application status Juju shows: the one the leader set, else the unit's.
fn app_status(state: &AgentState) -> (String, String) {
    if state.app_status.status == "unknown" {
        (
            state.unit_status.status.clone(),
            state.unit_status.message.clone(),
        )
    } else {
        (
            state.app_status.status.clone(),
            state.app_status.message.clone(),
        )
    }
}

/// `juju status` (tabular) or `juju status --format json`.
pub fn status(state: &AgentState, format: &str) -> Result<String> {
    let (app_current, app_message) = app_status(state);
    let unit = state.unit_name();
    let agent_status = if state.failed_hook.is_some() {
        "error"
    } else {
        "idle"
    };
    match format {
        "json" => {
            let doc = json!({
                "model": {"name": state.model_name, "type": "caas", "controller": "juju-sim", "version": state.juju_version},
                "applications": {
                    state.app_name.clone(): {
                        "charm": state.app_name,
                        "trust": state.trusted,
                        "version": state.workload_version,
                        "scale": if state.removed { 0 } else { 1 },
                        "application-status": {"current": app_current, "message": app_message},
                        "units": {
                            unit.clone(): {
                                "workload-status": {"current": state.unit_status.status, "message": state.unit_status.message},
                                "juju-status": {"current": agent_status},
                                "leader": state.leader,
                            }
                        }
                    }
                }
            });
            Ok(format!("{doc}\n"))
        }
        "tabular" => {
            let mut out = String::new();
            out.push_str(&format!(
                "Model  Controller  Cloud/Region  Version\n{:<6} juju-sim    local         {}\n\n",
                state.model_name, state.juju_version
            ));
            let rows = [
                vec!["App", "Version", "Status", "Scale", "Charm", "Message"],
                vec![
                    &state.app_name,
                    &state.workload_version,
                    &app_current,
                    if state.removed { "0" } else { "1" },
                    &state.app_name,
                    &app_message,
                ],
            ];
            out.push_str(&table(&rows));
            out.push('\n');
            let unit_label = if state.leader {
                format!("{unit}*")
            } else {
                unit
            };
            let rows = [
                vec!["Unit", "Workload", "Agent", "Message"],
                vec![
                    &unit_label,
                    &state.unit_status.status,
                    agent_status,
                    &state.unit_status.message,
                ],
            ];
            out.push_str(&table(&rows));
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

/// `juju debug-log` lines for the unit.
pub fn debug_log(state: &AgentState) -> String {
    let tag = format!("unit-{}-{}", state.app_name, state.unit_number);
    let unit = state.unit_name();
    state
        .logs
        .iter()
        .map(|l| {
            format!(
                "{tag}: {} {} unit.{unit}.juju-log {}\n",
                l.context, l.level, l.message
            )
        })
        .collect()
}
