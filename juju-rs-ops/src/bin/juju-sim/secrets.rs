//! User secrets, as `juju add-secret`, `grant-secret`, `revoke-secret`, `update-secret`,
//! `remove-secret` and `secrets` handle them.
//!
//! Granting never fires a hook (the charm reads the secret when its config names it). A new
//! revision fires `secret-changed` on each unit that has read the secret and tracks an older
//! revision; it keeps reading that revision until it refreshes. Values are never printed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use juju_ops::SecretEventKind;
use juju_ops::sim::secrets::{SecretGrant, parse_content};
use juju_ops::sim::{HookSpec, SecretOwnerState};
use serde_json::json;

use crate::runner::Sim;
use crate::runner::on_units;
use crate::store::Store;

fn content(args: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    if args.is_empty() {
        bail!("give the content as key=value, key#base64=value or key#file=path");
    }
    parse_content(args, Path::new(".")).map_err(anyhow::Error::msg)
}

fn find(sim: &Sim, name_or_uri: &str) -> Result<String> {
    sim.with_agent(|a| a.state.find_user_secret(name_or_uri))
        .map_err(anyhow::Error::msg)
}

/// `juju-sim add-secret NAME KEY=VALUE... [--info TEXT]`: prints the URI.
pub fn add_secret(
    store: Store,
    name: &str,
    args: &[String],
    info: Option<String>,
) -> Result<ExitCode> {
    let sim = crate::load_alive(store)?;
    if name.is_empty() {
        bail!("a secret needs a name");
    }
    let taken = sim.with_agent(|a| {
        a.state
            .secrets
            .iter()
            .any(|s| s.owner == SecretOwnerState::Model && s.label == name)
    });
    if taken {
        bail!("secret with name {name:?} already exists");
    }
    let content = content(args)?;
    let id = sim.with_agent(|a| {
        let id = a.state.add_secret(SecretOwnerState::Model, name, content);
        if let (Some(info), Some(s)) = (info, a.state.secret_mut(&id)) {
            s.description = info;
        }
        id
    });
    sim.save()?;
    println!("secret:{id}");
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim grant-secret NAME|URI APP`: no hook runs.
pub fn grant_secret(store: Store, which: &str, app: &str, grant: bool) -> Result<ExitCode> {
    let sim = crate::load_alive(store)?;
    crate::check_app(&sim, app)?;
    let id = find(&sim, which)?;
    sim.with_agent(|a| {
        if let Some(secret) = a.state.secret_mut(&id) {
            let wanted = SecretGrant {
                target: app.to_string(),
                relation: None,
            };
            secret.grants.retain(|g| *g != wanted);
            if grant {
                secret.grants.push(wanted);
            }
        }
    });
    sim.save()?;
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim update-secret NAME|URI KEY=VALUE...`: a new revision (when the content differs),
/// then `secret-changed` on every unit that tracks an older one.
pub fn update_secret(store: Store, which: &str, args: &[String]) -> Result<ExitCode> {
    let mut sim = crate::load_alive(store)?;
    let id = find(&sim, which)?;
    let content = content(args)?;
    let Some(revision) = sim.with_agent(|a| a.state.add_secret_revision(&id, content)) else {
        println!("secret:{id} unchanged (same content as its latest revision)");
        return Ok(ExitCode::SUCCESS);
    };
    sim.save()?;
    let consumers: Vec<(u32, String)> = sim.with_agent(|a| {
        let Some(secret) = a.state.secret(&id) else {
            return Vec::new();
        };
        a.state
            .live_units()
            .into_iter()
            .filter_map(|n| {
                let consumer = secret.consumers.get(&a.state.unit_name(n))?;
                (consumer.current < revision).then(|| (n, consumer.label.clone()))
            })
            .collect()
    });
    let units: Vec<u32> = consumers.iter().map(|(n, _)| *n).collect();
    let uri = format!("secret:{id}");
    on_units(&mut sim, &units, |_, unit| {
        let label = consumers
            .iter()
            .find(|(n, _)| *n == unit)
            .map(|(_, l)| l.as_str())
            .filter(|l| !l.is_empty());
        vec![HookSpec::secret(
            SecretEventKind::Changed,
            &uri,
            label,
            None,
        )]
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim remove-secret NAME|URI`.
pub fn remove_secret(store: Store, which: &str) -> Result<ExitCode> {
    let sim = crate::load_alive(store)?;
    let id = find(&sim, which)?;
    sim.with_agent(|a| a.state.remove_secret(&id, None));
    sim.save()?;
    Ok(ExitCode::SUCCESS)
}

/// `juju-sim secrets [--format json]`: every secret's metadata (never a value).
pub fn list_secrets(store: Store, format: &str) -> Result<ExitCode> {
    let state = store.load()?;
    let model = &state.model;
    let rows: Vec<serde_json::Value> = model
        .secrets
        .iter()
        .map(|s| {
            json!({
                "uri": s.uri(),
                "label": s.label,
                "owner": match &s.owner {
                    SecretOwnerState::Application(a) => format!("application-{a}"),
                    SecretOwnerState::Unit(u) => format!("unit-{}", u.replace('/', "-")),
                    SecretOwnerState::Model => "model".to_string(),
                },
                "description": s.description,
                "revision": s.revision,
                "grants": s.grants.iter().map(|g| g.target.clone()).collect::<Vec<_>>(),
                "consumers": s.consumers.iter().map(|(u, c)| (u.clone(), c.current)).collect::<std::collections::BTreeMap<_, _>>(),
            })
        })
        .collect();
    match format {
        "json" => println!("{}", serde_json::Value::Array(rows)),
        "tabular" => {
            println!(
                "{:<27}  {:<20}  {:<24}  Revision",
                "URI", "Name/Label", "Owner"
            );
            for row in &rows {
                println!(
                    "{:<27}  {:<20}  {:<24}  {}",
                    row["uri"].as_str().unwrap_or_default(),
                    row["label"].as_str().unwrap_or_default(),
                    row["owner"].as_str().unwrap_or_default(),
                    row["revision"]
                );
            }
        }
        other => bail!("unknown format {other:?} (use tabular or json)"),
    }
    Ok(ExitCode::SUCCESS)
}
