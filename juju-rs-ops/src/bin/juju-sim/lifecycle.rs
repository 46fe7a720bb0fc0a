//! The event sequences Juju fires on a unit's way in and out, and on the whole application.
//!
//! * A unit starts with `install`, `<ep>-relation-created` for each relation the application
//!   already has, then `leader-elected` (the leader) or `leader-settings-changed` (every other
//!   unit), `config-changed`, `start`, and then joins each relation's remote units
//!   ([`crate::relations`]).
//! * A departing unit is marked dying first (goal-state shows it `dying`), then leaves its
//!   relations (`-relation-departed` for each remote unit it saw, `-relation-broken`), then runs
//!   `stop` and `remove`. A departing leader keeps leadership until it is gone (Juju revokes the lease when
//!   the unit is dead); then the lowest-numbered unit in service is elected and runs
//!   `leader-elected`. Nobody else gets a hook (leader settings did not change).
//! * Removing the application marks every unit dying at once (planned units 0).
//!
//! Units run one after the other, the leader first; a unit whose hook fails stops its own
//! sequence, the others carry on, and the command reports every failure.

use anyhow::{Result, anyhow};
use juju_ops::sim::{HookSpec, Life};

use crate::relations;
use crate::runner::{Sim, on_units};

/// Runs the same hooks on every unit in service, the leader first (`config`, `trust`,
/// `update-status`).
pub fn on_live_units(sim: &mut Sim, hooks: &'static [&'static str]) -> Result<()> {
    let units = sim.with_agent(|a| a.state.live_units());
    on_units(sim, &units, |_, _| specs(hooks))
}

/// Hook specs for plain hook names.
pub fn specs(hooks: &[&str]) -> Vec<HookSpec> {
    hooks.iter().map(|h| HookSpec::new(h)).collect()
}

/// Whether `unit` leads.
fn leads(sim: &Sim, unit: u32) -> bool {
    sim.with_agent(|a| a.state.is_leader(unit))
}

/// Starts new units: `install`, `leader-elected` or `leader-settings-changed`,
/// `config-changed`, `start`.
pub fn start_units(sim: &mut Sim, units: &[u32]) -> Result<()> {
    let mut ordered = units.to_vec();
    ordered.sort_by_key(|u| (!leads(sim, *u), *u));
    on_units(sim, &ordered, |sim, unit| {
        let leadership = if leads(sim, unit) {
            "leader-elected"
        } else {
            "leader-settings-changed"
        };
        let mut hooks = specs(&["install"]);
        hooks.extend(sim.with_agent(|a| relations::created_hooks(&a.state)));
        hooks.extend(specs(&[leadership, "config-changed", "start"]));
        hooks.extend(sim.with_agent(|a| relations::arrival_hooks_all(&a.state)));
        hooks
    })
}

/// After a refresh, on each unit in service: `upgrade-charm`, `config-changed`,
/// `leader-settings-changed` (not on the leader), `start`.
pub fn upgrade_units(sim: &mut Sim) -> Result<()> {
    let units = sim.with_agent(|a| a.state.live_units());
    on_units(sim, &units, |sim, unit| {
        if leads(sim, unit) {
            specs(&["upgrade-charm", "config-changed", "start"])
        } else {
            specs(&[
                "upgrade-charm",
                "config-changed",
                "leader-settings-changed",
                "start",
            ])
        }
    })
}

/// What a dying unit still has to run: leave its relations, `stop` (if it was started) and
/// `remove`, resuming after a hook that failed earlier (that one is retried first).
fn teardown_hooks(sim: &Sim, unit: u32) -> Vec<HookSpec> {
    let (failed, started) = sim.with_agent(|a| {
        a.state
            .unit(unit)
            .map(|u| (u.failed_hook.clone(), u.started))
            .unwrap_or_default()
    });
    let mut hooks = match failed.as_deref() {
        Some("remove" | "stop") => Vec::new(),
        _ => sim.with_agent(|a| relations::leaving_hooks(&a.state, unit)),
    };
    hooks.extend(specs(match failed.as_deref() {
        Some("remove") => &[],
        Some("stop") => &["remove"],
        _ if started => &["stop", "remove"],
        _ => &["remove"],
    }));
    hooks
}

/// Marks `units` dying, then tears each down; a unit whose `remove` succeeded is dead (its lease
/// revoked if it led). Returns the units that are gone, in order, and the failures.
fn tear_down(sim: &mut Sim, units: &[u32]) -> (Vec<u32>, Result<()>) {
    sim.with_agent(|a| {
        for &unit in units {
            if let Some(u) = a.state.unit_mut(unit)
                && u.life == Life::Alive
            {
                u.life = Life::Dying;
            }
        }
    });
    let mut gone = Vec::new();
    let mut errors = Vec::new();
    for &unit in units {
        let hooks = teardown_hooks(sim, unit);
        match sim.run_hooks(unit, &hooks) {
            Ok(()) => {
                sim.with_agent(|a| {
                    if let Some(u) = a.state.unit_mut(unit) {
                        u.life = Life::Dead;
                    }
                    if a.state.is_leader(unit) {
                        a.state.app.leader = None;
                    }
                });
                gone.push(unit);
            }
            Err(err) => errors.push(format!("{err:#}")),
        }
    }
    let result = if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "{} (the unit stays dying; run the command again to retry)",
            errors.join("\n  ")
        ))
    };
    (gone, result)
}

/// `remove-unit`: tears the units down, forgets them, and elects a new leader if the leader
/// left. Returns the names of the removed units.
pub fn remove_units(sim: &mut Sim, units: &[u32]) -> Result<Vec<String>> {
    let (gone, result) = tear_down(sim, units);
    let names: Vec<String> = sim.with_agent(|a| {
        let names = gone.iter().map(|u| a.state.unit_name(*u)).collect();
        a.state.units.retain(|u| !gone.contains(&u.number));
        for rel in &mut a.state.relations {
            for unit in &gone {
                rel.forget_unit(*unit);
            }
        }
        names
    });
    sim.save()?;
    let elected = sim.with_agent(|a| a.state.elect_leader());
    if let Some(leader) = elected {
        sim.save()?;
        sim.run_hooks(leader, &specs(&["leader-elected"]))?;
    }
    result.map(|()| names)
}

/// `remove-application`: every unit dying at once, then each torn down (the leader first). The
/// units stay in the state as dead (`terminated`) so that `status` shows how it ended.
pub fn remove_application(sim: &mut Sim) -> Result<()> {
    let units = sim.with_agent(|a| {
        a.state.app.life = Life::Dying;
        let mut units: Vec<u32> = a
            .state
            .units
            .iter()
            .filter(|u| u.life != Life::Dead)
            .map(|u| u.number)
            .collect();
        units.sort_by_key(|u| (!a.state.is_leader(*u), *u));
        units
    });
    sim.save()?;
    let (_, result) = tear_down(sim, &units);
    result?;
    sim.with_agent(|a| a.state.app.life = Life::Dead);
    sim.save()
}
