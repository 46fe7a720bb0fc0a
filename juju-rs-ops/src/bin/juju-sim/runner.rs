//! Running the charm's `dispatch` the way a unit agent does: a constructed environment, the
//! charm directory as working directory, no stdin, hook tools served over the agent socket, and
//! Juju's commit rules applied when the process exits. One dispatch runs at a time, on one unit.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use juju_ops::RelationEventKind;
use juju_ops::sim::retry;
use juju_ops::sim::state::HookTiming;
use juju_ops::sim::{
    ActionOutcome, Agent, CharmMeta, HookSpec, Life, LogRecord, env::hook_environment,
};
use serde_json::{Map, Value};

use crate::protocol;
use crate::store::{SimState, Store};

/// Checks that `charm_dir` holds a charm Juju could run: metadata.yaml and an executable dispatch.
pub fn check_charm_dir(charm_dir: &Path) -> Result<CharmMeta> {
    if !charm_dir.is_dir() {
        bail!("charm directory {} does not exist", charm_dir.display());
    }
    let meta = CharmMeta::load(charm_dir).map_err(anyhow::Error::msg)?;
    let dispatch = charm_dir.join("dispatch");
    let metadata = std::fs::metadata(&dispatch)
        .with_context(|| format!("charm has no dispatch file: {}", dispatch.display()))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        bail!(
            "{} is not an executable file (Juju would fail the hook)",
            dispatch.display()
        );
    }
    Ok(meta)
}

/// The `-relation-changed` Juju queues after a `-relation-joined` of the same remote unit.
fn changed_after_joined(hook: &HookSpec) -> Option<HookSpec> {
    let rel = hook.context.relation.as_ref()?;
    let endpoint = hook
        .name
        .strip_suffix(RelationEventKind::Joined.suffix())?
        .strip_suffix('-')?;
    Some(HookSpec::relation(
        endpoint,
        RelationEventKind::Changed,
        rel.id,
        rel.remote_unit.as_deref(),
        None,
    ))
}

/// The deployed application during one `juju-sim` command: the agents of all its units.
pub struct Sim {
    /// The state directory.
    pub store: Store,
    agent: Arc<Mutex<Agent>>,
    cluster_kubeconfig: Option<PathBuf>,
    serving: bool,
}

impl Sim {
    /// The model over loaded state, reading the charm's metadata.
    pub fn new(store: Store, state: SimState) -> Result<Self> {
        let meta = check_charm_dir(&state.model.app.charm_dir)?;
        Ok(Self {
            store,
            agent: Arc::new(Mutex::new(Agent::new(state.model, meta))),
            cluster_kubeconfig: state.cluster_kubeconfig,
            serving: false,
        })
    }

    /// Loads the application deployed in `store` (refused once it was removed).
    pub fn load(store: Store) -> Result<Self> {
        let state = store.load()?;
        if state.model.app.life == Life::Dead {
            bail!("the application was removed; deploy it again");
        }
        Self::new(store, state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Agent> {
        self.agent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads or changes the agent.
    pub fn with_agent<T>(&self, f: impl FnOnce(&mut Agent) -> T) -> T {
        f(&mut self.lock())
    }

    /// Saves the state (secret content to its own 0600 file).
    pub fn save(&self) -> Result<()> {
        let state = SimState {
            model: self.lock().state.clone(),
            cluster_kubeconfig: self.cluster_kubeconfig.clone(),
        };
        self.store.save(&state)
    }

    /// The admin kubeconfig of the attached cluster.
    pub fn cluster_kubeconfig(&self) -> Option<&Path> {
        self.cluster_kubeconfig.as_deref()
    }

    fn ensure_serving(&mut self) -> Result<()> {
        if !self.serving {
            self.store.install_tools()?;
            protocol::serve(&self.store.socket(), self.agent.clone())?;
            self.serving = true;
        }
        Ok(())
    }

    /// Runs a sequence of hooks on `unit`, stopping at the first failure. A hook that failed
    /// earlier on that unit is retried first (with its relation or secret), as Juju retries it
    /// before running anything else.
    pub fn run_hooks(&mut self, unit: u32, hooks: &[HookSpec]) -> Result<()> {
        let pending = self.lock().state.unit(unit).and_then(|u| {
            u.failed_hook.clone().map(|name| HookSpec {
                name,
                context: u.failed_context.clone(),
            })
        });
        if let Some(failed) = pending {
            let name = self.lock().state.unit_name(unit);
            println!("retrying failed hook {:?} on {name}", failed.name);
            self.run_hook(unit, &failed)?;
            // Juju runs -relation-changed right after a -relation-joined ("changed pending").
            if let Some(changed) = changed_after_joined(&failed) {
                self.run_hook(unit, &changed)?;
            }
        }
        for hook in hooks {
            self.run_hook(unit, hook)?;
        }
        Ok(())
    }

    /// Runs one hook on `unit`. A failure puts the unit in error; with `automatically-retry-hooks`
    /// on, the hook runs again on Juju's schedule until it passes or the command's retry window
    /// is spent. A failure left standing is an error naming the unit and the hook.
    pub fn run_hook(&mut self, unit: u32, hook: &HookSpec) -> Result<()> {
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        let name_of_hook = hook.name.as_str();
        loop {
            let code = self.run_hook_once(unit, hook)?;
            if code == 0 {
                return Ok(());
            }
            let (name, retrying) =
                self.with_agent(|a| (a.state.unit_name(unit), a.state.automatically_retry_hooks));
            let next = retry::next_delay(attempt, waited, self.store.retry_window);
            match next.filter(|_| retrying) {
                Some(delay) => {
                    eprintln!(
                        "hook failed: {name_of_hook:?} on {name} (exit code {code}); retrying in {} s",
                        delay.as_secs()
                    );
                    std::thread::sleep(delay);
                    waited += delay;
                    attempt += 1;
                }
                None => bail!(
                    "hook failed: {name_of_hook:?} on {name} (exit code {code}); see `juju-sim debug-log`"
                ),
            }
        }
    }

    /// Dispatches `hook` once on `unit`, commits or puts the unit in error, saves, and returns
    /// the exit code.
    fn run_hook_once(&mut self, unit: u32, hook: &HookSpec) -> Result<i32> {
        self.ensure_serving()?;
        self.lock().begin(unit, hook);
        let (code, _, _) = self.dispatch(&hook.name)?;
        self.lock().finish(code, "", "");
        self.save()?;
        Ok(code)
    }

    /// Runs an action on `unit` with `juju run`-style parameters; the outcome has results and
    /// logs.
    pub fn run_action(
        &mut self,
        unit: u32,
        name: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<ActionOutcome> {
        let params: Map<String, Value> = self
            .lock()
            .meta
            .action_params(name, params)
            .map_err(anyhow::Error::msg)?;
        self.ensure_serving()?;
        self.lock().begin_action(unit, name, params);
        let (code, stdout, stderr) = self.dispatch(name)?;
        let outcome = self
            .lock()
            .finish(code, &stdout, &stderr)
            .context("the action produced no outcome")?;
        self.save()?;
        Ok(outcome)
    }

    /// Spawns dispatch for the open session; returns exit code, stdout and stderr.
    fn dispatch(&mut self, what: &str) -> Result<(i32, String, String)> {
        let (env, charm_dir) = {
            let agent = self.lock();
            let session = agent.session.clone().context("no hook session is open")?;
            let mut extra = BTreeMap::new();
            if self.cluster_kubeconfig.is_some() {
                extra.insert(
                    "KUBECONFIG".to_string(),
                    self.store.charm_kubeconfig().display().to_string(),
                );
            }
            let base_path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
            let env = hook_environment(
                &agent.state,
                &session,
                &self.store.tools_dir(),
                &self.store.socket(),
                &base_path,
                &extra,
            );
            (env, agent.state.app.charm_dir.clone())
        };
        let dispatch = charm_dir.join("dispatch");
        let started = std::time::Instant::now();
        let output = Command::new(&dispatch)
            .env_clear()
            .envs(&env)
            .current_dir(&charm_dir)
            .stdin(Stdio::null())
            .output();
        let (code, stdout, stderr) = match output {
            Ok(out) => (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ),
            Err(err) => (
                -1,
                String::new(),
                format!("cannot run {}: {err}", dispatch.display()),
            ),
        };
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut agent = self.lock();
        let unit = agent.session_unit_name();
        agent.state.timings.push(HookTiming {
            name: what.to_string(),
            unit: unit.clone(),
            millis,
            code,
        });
        for (level, text) in [("DEBUG", &stdout), ("WARNING", &stderr)] {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                agent.state.logs.push(LogRecord {
                    unit: unit.clone(),
                    level: level.to_string(),
                    message: format!("unit.{unit}.{what}: {line}"),
                    context: what.to_string(),
                });
            }
        }
        Ok((code, stdout, stderr))
    }
}

/// Runs `hooks_for(sim, unit)` on each of `units`; every unit is tried, failures are reported
/// together.
pub fn on_units(
    sim: &mut Sim,
    units: &[u32],
    hooks_for: impl Fn(&Sim, u32) -> Vec<HookSpec>,
) -> Result<()> {
    let mut errors = Vec::new();
    for &unit in units {
        let hooks = hooks_for(sim, unit);
        if let Err(err) = sim.run_hooks(unit, &hooks) {
            errors.push(err);
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        n => {
            let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            Err(anyhow!("{n} units failed:\n  {}", all.join("\n  ")))
        }
    }
}
