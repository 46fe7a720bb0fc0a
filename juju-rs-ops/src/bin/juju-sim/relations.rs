//! Relations with simulated remote applications: `integrate`, `remove-relation`,
//! `set-relation-data`, `relation-data`, and the relation hook sequences Juju fires.
//!
//! Sequences (Juju's relation resolver): a new relation runs `<ep>-relation-created` on every
//! unit of ours, then a `-relation-changed` without remote unit when the remote application's
//! databag is set (application hooks come first), then for each remote unit in name order
//! `-relation-joined` immediately followed by `-relation-changed`. Removing a relation runs
//! `-relation-departed` for each remote unit the unit saw (`JUJU_DEPARTING_UNIT` is that remote
//! unit), then `-relation-broken`. A unit that is itself leaving departs with itself as the
//! departing unit. A changed remote databag runs `-relation-changed` on each unit of ours that
//! sees it.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use juju_ops::RelationEventKind;
use juju_ops::metadata::EndpointRole;
use juju_ops::sim::relations::{apply_writes, parse_pairs};
use juju_ops::sim::{HookSpec, Life, ModelState, RelationState};
use serde_json::json;

use crate::runner::on_units;
use crate::store::Store;

/// `<ep>-relation-created` for each relation the application has (for a unit that arrives).
pub fn created_hooks(state: &ModelState) -> Vec<HookSpec> {
    state
        .relations
        .iter()
        .filter(|r| r.life == Life::Alive && !r.peer)
        .map(|r| HookSpec::relation(&r.endpoint, RelationEventKind::Created, r.id, None, None))
        .collect()
}

/// What a unit runs when it meets a relation's remote side: the remote application's data
/// (if set), then each remote unit joining and changing.
pub fn arrival_hooks(rel: &RelationState) -> Vec<HookSpec> {
    let mut hooks = Vec::new();
    if !rel.remote_app_data.is_empty() {
        hooks.push(HookSpec::relation(
            &rel.endpoint,
            RelationEventKind::Changed,
            rel.id,
            None,
            None,
        ));
    }
    for unit in &rel.remote_units {
        for kind in [RelationEventKind::Joined, RelationEventKind::Changed] {
            hooks.push(HookSpec::relation(
                &rel.endpoint,
                kind,
                rel.id,
                Some(unit),
                None,
            ));
        }
    }
    hooks
}

/// [`arrival_hooks`] for every live relation.
pub fn arrival_hooks_all(state: &ModelState) -> Vec<HookSpec> {
    state
        .relations
        .iter()
        .filter(|r| r.life == Life::Alive && !r.peer)
        .flat_map(arrival_hooks)
        .collect()
}

/// How `unit` leaves relation `rel`: `-departed` for each remote unit it still sees (the
/// departing unit is `departing`, or each remote unit itself when `None`), then `-broken`
/// unless it ran already (or failed and is about to be retried).
fn leave(
    state: &ModelState,
    rel: &RelationState,
    unit: u32,
    departing: Option<&str>,
) -> Vec<HookSpec> {
    let mut hooks: Vec<HookSpec> = rel
        .seen_by(unit)
        .iter()
        .map(|remote| {
            HookSpec::relation(
                &rel.endpoint,
                RelationEventKind::Departed,
                rel.id,
                Some(remote),
                Some(departing.unwrap_or(remote)),
            )
        })
        .collect();
    let broken = HookSpec::relation(&rel.endpoint, RelationEventKind::Broken, rel.id, None, None);
    let retried = state.unit(unit).is_some_and(|u| {
        u.failed_hook.as_deref() == Some(broken.name.as_str()) && u.failed_context == broken.context
    });
    if !rel.peer && !rel.broken.contains(&unit) && !retried {
        hooks.push(broken);
    }
    hooks
}

/// What a departing unit runs for all its relations before `stop`.
pub fn leaving_hooks(state: &ModelState, unit: u32) -> Vec<HookSpec> {
    let me = state.unit_name(unit);
    state
        .relations
        .iter()
        .flat_map(|rel| leave(state, rel, unit, Some(&me)))
        .collect()
}

/// What `integrate` was asked for.
pub struct Integration {
    /// Our endpoint.
    pub endpoint: String,
    /// The simulated remote application.
    pub remote_app: String,
    /// How many remote units (`REMOTE_APP/0..N-1`).
    pub units: u32,
    /// The remote application's databag (`k=v`).
    pub app_data: Vec<String>,
    /// Every remote unit's databag (`k=v`).
    pub unit_data: Vec<String>,
}

fn valid_app_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// `juju-sim integrate ENDPOINT REMOTE_APP`: relates our endpoint to a simulated application
/// and runs the arrival sequence on every unit; prints the relation id.
pub fn integrate(store: Store, ask: Integration) -> Result<ExitCode> {
    let mut sim = crate::load_alive(store)?;
    let (app, charm, endpoint) = sim.with_agent(|a| {
        (
            a.state.app.name.clone(),
            a.meta.name.clone(),
            a.meta.endpoints.get(&ask.endpoint).cloned(),
        )
    });
    let endpoint = match endpoint {
        Some(e) if e.role != EndpointRole::Peers => e,
        Some(_) => bail!(
            "{:?} is a peer endpoint of charm {charm:?}: Juju relates peers by itself",
            ask.endpoint
        ),
        None => {
            let declared: Vec<String> = sim.with_agent(|a| {
                a.meta
                    .endpoints
                    .iter()
                    .filter(|e| e.role != EndpointRole::Peers)
                    .map(|e| format!("{} ({} {})", e.name, e.role.as_str(), e.interface))
                    .collect()
            });
            bail!(
                "charm {charm:?} has no provides or requires endpoint {:?} (it has: {})",
                ask.endpoint,
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            );
        }
    };
    if !valid_app_name(&ask.remote_app) || ask.remote_app == app {
        bail!(
            "invalid remote application name {:?} (lowercase letters, digits and dashes, not {app:?})",
            ask.remote_app
        );
    }
    let exists = sim.with_agent(|a| {
        a.state
            .relations
            .iter()
            .any(|r| r.endpoint == endpoint.name && r.remote_app == ask.remote_app)
    });
    if exists {
        bail!(
            "relation {app}:{} {}:{} already exists",
            endpoint.name,
            ask.remote_app,
            endpoint.name
        );
    }
    let app_data = parse_pairs(&ask.app_data)
        .map_err(anyhow::Error::msg)
        .context("--app-data")?;
    let unit_data = parse_pairs(&ask.unit_data)
        .map_err(anyhow::Error::msg)
        .context("--unit-data")?;
    let id = sim.with_agent(|a| {
        let id = a
            .state
            .add_relation(&endpoint.name, &endpoint.interface, &ask.remote_app);
        if let Some(rel) = a.state.relation_mut(id) {
            for n in 0..ask.units {
                rel.add_remote_unit(&format!("{}/{n}", ask.remote_app), unit_data.clone());
            }
            rel.remote_app_data = app_data;
        }
        id
    });
    sim.save()?;
    println!("{id}");
    let units = sim.with_agent(|a| a.state.live_units());
    on_units(&mut sim, &units, |sim, _| {
        sim.with_agent(|a| {
            let Some(rel) = a.state.relation(id) else {
                return Vec::new();
            };
            let mut hooks = vec![HookSpec::relation(
                &rel.endpoint,
                RelationEventKind::Created,
                id,
                None,
                None,
            )];
            hooks.extend(arrival_hooks(rel));
            hooks
        })
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim remove-relation ID|ENDPOINT`: departed and broken on every unit, then the relation
/// and the secret grants made in its scope are gone.
pub fn remove_relation(store: Store, which: &str) -> Result<ExitCode> {
    let mut sim = crate::load_alive(store)?;
    let id = sim
        .with_agent(|a| a.state.find_relation(which))
        .map_err(anyhow::Error::msg)?;
    let name = sim.with_agent(|a| {
        let rel = a.state.relation_mut(id);
        rel.map(|r| {
            r.life = Life::Dying;
            r.name()
        })
        .unwrap_or_default()
    });
    sim.save()?;
    let units = sim.with_agent(|a| a.state.live_units());
    on_units(&mut sim, &units, |sim, unit| {
        sim.with_agent(|a| match a.state.relation(id) {
            Some(rel) => leave(&a.state, rel, unit, None),
            None => Vec::new(),
        })
    })
    .context("the relation stays dying; run the command again to retry")?;
    sim.with_agent(|a| {
        a.state.relations.retain(|r| r.id != id);
        for secret in &mut a.state.secrets {
            secret.grants.retain(|g| g.relation != Some(id));
        }
    });
    sim.save()?;
    println!("removed relation {name}");
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim set-relation-data ID|ENDPOINT [--unit REMOTE_UNIT] k=v...`: the remote side writes
/// (an empty value deletes); `-relation-changed` runs on each unit of ours that sees it.
pub fn set_relation_data(
    store: Store,
    which: &str,
    unit: Option<String>,
    pairs: &[String],
) -> Result<ExitCode> {
    let mut sim = crate::load_alive(store)?;
    let id = sim
        .with_agent(|a| a.state.find_relation(which))
        .map_err(anyhow::Error::msg)?;
    let writes = parse_pairs(pairs).map_err(anyhow::Error::msg)?;
    if writes.is_empty() {
        bail!("give the data to set as key=value (an empty value deletes the key)");
    }
    let changed: Result<(String, Option<String>)> = sim.with_agent(|a| {
        let rel = a.state.relation_mut(id).context("relation vanished")?;
        if rel.life != Life::Alive {
            bail!("relation {} is being removed", rel.name());
        }
        match &unit {
            Some(u) if !rel.remote_units.contains(u) => bail!(
                "{u:?} is not a remote unit of relation {} (units: {})",
                rel.name(),
                rel.remote_units
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(u) => apply_writes(rel.remote_unit_data.entry(u.clone()).or_default(), &writes),
            None => apply_writes(&mut rel.remote_app_data, &writes),
        }
        Ok((rel.endpoint.clone(), unit.clone()))
    });
    let (endpoint, unit) = changed?;
    sim.save()?;
    let units: Vec<u32> = sim.with_agent(|a| {
        let rel = a.state.relation(id);
        a.state
            .live_units()
            .into_iter()
            .filter(|n| match (&unit, rel) {
                (Some(u), Some(rel)) => rel.seen_by(*n).contains(u),
                _ => true,
            })
            .collect()
    });
    on_units(&mut sim, &units, |_, _| {
        vec![HookSpec::relation(
            &endpoint,
            RelationEventKind::Changed,
            id,
            unit.as_deref(),
            None,
        )]
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim relation-data ID|ENDPOINT [--format yaml|json]`: every databag of the relation.
pub fn relation_data(store: Store, which: &str, format: &str) -> Result<ExitCode> {
    let state = store.load()?;
    let model = &state.model;
    let id = model.find_relation(which).map_err(anyhow::Error::msg)?;
    let rel = model.relation(id).context("relation vanished")?;
    let units: BTreeMap<String, &BTreeMap<String, String>> = rel
        .unit_data
        .iter()
        .map(|(n, bag)| (model.unit_name(*n), bag))
        .collect();
    let doc = json!({
        "id": rel.id,
        "endpoint": rel.endpoint,
        "interface": rel.interface,
        "life": rel.life,
        "application-data": rel.app_data,
        "units": units,
        "remote-application": rel.remote_app,
        "remote-application-data": rel.remote_app_data,
        "remote-units": rel.remote_unit_data,
    });
    match format {
        "json" => println!("{doc}"),
        "yaml" => print!("{}", serde_yaml::to_string(&doc)?),
        other => bail!("unknown format {other:?} (use yaml or json)"),
    }
    Ok(ExitCode::SUCCESS)
}
