//! `juju-sim`: a simulated Juju controller and unit agents that run a compiled charm exactly as
//! Juju does, for one application with any number of units.
//!
//! Sub-commands mirror the juju CLI (`deploy`, `add-unit`, `remove-unit`, `config`,
//! `model-config`, `trust`, `refresh`, `update-status`, `run`, `remove`, `status`, `debug-log`,
//! `integrate`, `remove-relation`, `add-secret`, `grant-secret`, `revoke-secret`,
//! `update-secret`, `remove-secret`, `secrets`), plus `relation-data` and `set-relation-data` to
//! read what the charm published and to write as the simulated remote side; they fire the
//! event sequences Juju fires, on every unit concerned. Invoked through a link named like a hook tool
//! (`config-get`, `status-set`, ...), the same binary acts as that tool and talks to the running
//! agent over its socket, as the small `jujuc` binary next to it does (the tools link to that
//! one when it is there).

mod k8s;
mod lifecycle;
mod protocol;
mod relations;
mod render;
mod runner;
mod secrets;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use juju_ops::sim::retry::AUTOMATICALLY_RETRY_HOOKS;
use juju_ops::sim::tools::TOOL_NAMES;
use juju_ops::sim::{Life, ModelState};
use serde_json::Value;

use runner::{Sim, check_charm_dir};
use store::{SimState, Store};

/// A simulated Juju agent for running and testing a charm without a Juju controller.
#[derive(Parser)]
#[command(name = "juju-sim", version)]
struct Cli {
    /// State directory of the simulated model.
    #[arg(
        long,
        global = true,
        default_value = "./.juju-sim",
        env = "JUJU_SIM_STATE"
    )]
    state: PathBuf,
    /// Seconds a command keeps retrying a failed hook on Juju's schedule (5 s, 10 s, 20 s, …)
    /// while `automatically-retry-hooks` is on; Juju retries forever, a command has to return.
    #[arg(
        long,
        global = true,
        default_value_t = store::DEFAULT_RETRY_WINDOW.as_secs(),
        env = "JUJU_SIM_HOOK_RETRY_WINDOW"
    )]
    hook_retry_window: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a charm directory; each unit runs install, leader-elected (the leader) or
    /// leader-settings-changed, config-changed, start.
    Deploy {
        /// The unpacked charm (metadata.yaml and an executable dispatch).
        charm_dir: PathBuf,
        /// Set a config option (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Trust the application with cluster-wide access.
        #[arg(long)]
        trust: bool,
        /// Attach a resource: an image reference for oci-image resources, a file path otherwise.
        #[arg(long = "resource", value_name = "NAME=VALUE")]
        resources: Vec<String>,
        /// Admin kubeconfig of the Kubernetes cluster the model runs on.
        #[arg(long, env = "JUJU_SIM_KUBECONFIG")]
        kubeconfig: Option<PathBuf>,
        /// Model name (also the namespace of the model).
        #[arg(long, default_value = "lab")]
        model: String,
        /// Application name (default: the charm's name).
        #[arg(long)]
        app: Option<String>,
        /// Number of units (unit 0 leads).
        #[arg(short = 'n', long = "num-units", default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..))]
        num_units: u32,
    },
    /// Add units; each runs install, leader-settings-changed, config-changed, start.
    AddUnit {
        /// The application (optional: there is one).
        app: Option<String>,
        /// How many units to add.
        #[arg(short = 'n', long = "num-units", default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..))]
        num_units: u32,
    },
    /// Remove units: each runs stop and remove while goal-state shows it dying; a removed
    /// leader is replaced, and the new leader runs leader-elected.
    RemoveUnit {
        /// Unit names (`app/N`), or the application name with --num-units.
        #[arg(required = true, value_name = "UNIT|APP")]
        targets: Vec<String>,
        /// With the application name: remove this many units, highest numbers first (as
        /// Kubernetes scales down).
        #[arg(long = "num-units")]
        num_units: Option<u32>,
    },
    /// Show config, or set options and fire config-changed on every unit.
    Config {
        /// `key=value` to set, or `key` to show one value.
        settings: Vec<String>,
        /// Reset options to their defaults.
        #[arg(long, value_delimiter = ',')]
        reset: Vec<String>,
    },
    /// Show the model config, or set `automatically-retry-hooks=true|false` (like
    /// `juju model-config`).
    ModelConfig {
        /// `key=value` to set, or `key` to show one value.
        settings: Vec<String>,
    },
    /// Grant (or with --remove, revoke) cluster access; fires config-changed on every unit.
    Trust {
        /// Revoke trust.
        #[arg(long)]
        remove: bool,
    },
    /// Upgrade to a new charm directory: stop, upgrade-charm, config-changed,
    /// (leader-settings-changed,) start on every unit.
    Refresh {
        /// The new charm directory.
        charm_dir: PathBuf,
        /// Attach or replace a resource.
        #[arg(long = "resource", value_name = "NAME=VALUE")]
        resources: Vec<String>,
    },
    /// Fire update-status on every unit.
    UpdateStatus,
    /// Run an action, like `juju run [UNIT] ACTION [key=value...]`; on the leader unless a unit
    /// is named.
    Run {
        /// `[UNIT] ACTION [key=value...]`; UNIT is `app/N` or `app/leader`.
        #[arg(required = true, value_name = "ARGS")]
        args: Vec<String>,
        /// The unit to run on (instead of naming it first).
        #[arg(long)]
        unit: Option<String>,
        /// Output format: `plain` (results as YAML) or `json`.
        #[arg(long, default_value = "plain")]
        format: String,
    },
    /// Remove the application: every unit runs stop and remove (goal-state shows all dying).
    Remove,
    /// Show application and unit status, like `juju status` (`*` marks the leader).
    Status {
        /// `tabular` or `json`.
        #[arg(long, default_value = "tabular")]
        format: String,
    },
    /// Print the charm's log lines, each tagged with its unit.
    DebugLog {
        /// Only these units (`app/N` or `unit-app-N`) or applications (repeatable).
        #[arg(long)]
        include: Vec<String>,
    },
    /// Print how long each dispatch took (hook or action, milliseconds, exit code, unit).
    Timings {
        /// `plain` or `json`.
        #[arg(long, default_value = "plain")]
        format: String,
    },
    /// Relate an endpoint (provides/requires) to a simulated remote application: every unit
    /// runs <ep>-relation-created, then -changed for the remote application's data (if any),
    /// then -joined and -changed per remote unit. Prints the relation id.
    Integrate {
        /// Our endpoint (from metadata.yaml).
        endpoint: String,
        /// The simulated remote application.
        remote_app: String,
        /// Number of remote units (REMOTE_APP/0 ...).
        #[arg(long, default_value_t = 1)]
        units: u32,
        /// The remote application's databag (repeatable).
        #[arg(long = "app-data", value_name = "KEY=VALUE")]
        app_data: Vec<String>,
        /// Each remote unit's databag (repeatable).
        #[arg(long = "unit-data", value_name = "KEY=VALUE")]
        unit_data: Vec<String>,
    },
    /// Remove a relation: every unit runs -relation-departed per remote unit, then
    /// -relation-broken.
    RemoveRelation {
        /// The relation id (`3` or `ep:3`), or an endpoint with one relation.
        relation: String,
    },
    /// Print a relation's databags: ours (application and units) and the remote side's.
    RelationData {
        /// The relation id (`3` or `ep:3`), or an endpoint with one relation.
        relation: String,
        /// `yaml` or `json`.
        #[arg(long, default_value = "yaml")]
        format: String,
    },
    /// Write as the remote side (its application bag, or a unit's with --unit); an empty value
    /// deletes. Fires -relation-changed on the units that see it.
    SetRelationData {
        /// The relation id (`3` or `ep:3`), or an endpoint with one relation.
        relation: String,
        /// The remote unit whose databag to write (default: the remote application's).
        #[arg(long)]
        unit: Option<String>,
        /// `key=value` pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Add a user secret, like `juju add-secret NAME key=value...`; prints its URI.
    AddSecret {
        /// The secret's name.
        name: String,
        /// `key=value`, `key#base64=value` or `key#file=path`.
        #[arg(required = true, value_name = "KEY=VALUE")]
        content: Vec<String>,
        /// A description.
        #[arg(long)]
        info: Option<String>,
    },
    /// Let the application read a user secret (no hook runs), like `juju grant-secret`.
    GrantSecret {
        /// The secret's name or URI.
        secret: String,
        /// The application.
        app: String,
    },
    /// Take a grant back, like `juju revoke-secret`.
    RevokeSecret {
        /// The secret's name or URI.
        secret: String,
        /// The application.
        app: String,
    },
    /// Give a user secret a new revision, like `juju update-secret`; fires secret-changed on
    /// the units that read an older revision.
    UpdateSecret {
        /// The secret's name or URI.
        secret: String,
        /// The new content.
        #[arg(required = true, value_name = "KEY=VALUE")]
        content: Vec<String>,
    },
    /// Remove a user secret, like `juju remove-secret`.
    RemoveSecret {
        /// The secret's name or URI.
        secret: String,
    },
    /// List secrets (metadata only, never values), like `juju secrets`.
    Secrets {
        /// `tabular` or `json`.
        #[arg(long, default_value = "tabular")]
        format: String,
    },
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let name = juju_ops::sim::jujuc::invoked_as(&args.next().unwrap_or_default());
    if TOOL_NAMES.contains(&name.as_str()) {
        let code = juju_ops::sim::jujuc::tool_main(&name, args.collect());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `juju-sim model-config`: the one model setting the simulator honours.
fn model_config(store: Store, settings: &[String]) -> Result<ExitCode> {
    let sim = Sim::load(store)?;
    let current = sim.with_agent(|a| a.state.automatically_retry_hooks);
    match settings {
        [] => {
            println!("Attribute                  Value\n{AUTOMATICALLY_RETRY_HOOKS:<26} {current}")
        }
        [key] if key == AUTOMATICALLY_RETRY_HOOKS => println!("{current}"),
        _ => {
            for setting in settings {
                let (key, value) = key_value(setting, "model config")?;
                if key != AUTOMATICALLY_RETRY_HOOKS {
                    bail!(
                        "unknown model config key {key:?} (juju-sim knows {AUTOMATICALLY_RETRY_HOOKS})"
                    );
                }
                let on: bool = value
                    .parse()
                    .with_context(|| format!("{key}: expected true or false, got {value:?}"))?;
                sim.with_agent(|a| a.state.automatically_retry_hooks = on);
            }
            sim.save()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn key_value(text: &str, what: &str) -> Result<(String, String)> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .with_context(|| format!("{what} {text:?} is not of the form key=value"))
}

/// Loads the application for a command that changes it: refused while it is being removed.
fn load_alive(store: Store) -> Result<Sim> {
    let sim = Sim::load(store)?;
    let (app, life) = sim.with_agent(|a| (a.state.app.name.clone(), a.state.app.life));
    if life != Life::Alive {
        bail!("application {app:?} is being removed (run `juju-sim remove` again to finish)");
    }
    Ok(sim)
}

/// Checks an application name given on the command line against the deployed one.
fn check_app(sim: &Sim, app: &str) -> Result<()> {
    let deployed = sim.with_agent(|a| a.state.app.name.clone());
    if app != deployed {
        bail!("application {app:?} not found (deployed: {deployed:?})");
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut store = Store::open(&cli.state)?;
    store.retry_window = Duration::from_secs(cli.hook_retry_window);
    match cli.command {
        Command::Deploy {
            charm_dir,
            config,
            trust,
            resources,
            kubeconfig,
            model,
            app,
            num_units,
        } => deploy(
            store,
            &charm_dir,
            DeployOptions {
                config,
                trust,
                resources,
                kubeconfig,
                model,
                app,
                num_units,
            },
        ),
        Command::AddUnit { app, num_units } => add_unit(store, app.as_deref(), num_units),
        Command::RemoveUnit { targets, num_units } => remove_unit(store, &targets, num_units),
        Command::Config { settings, reset } => configure(store, &settings, &reset),
        Command::ModelConfig { settings } => model_config(store, &settings),
        Command::Trust { remove } => {
            // Trust can still change while the application is being removed (an operator
            // granting the access a failed clean-up needs); dying units get no new hooks, the
            // next `remove` retries theirs.
            let mut sim = Sim::load(store)?;
            let alive = sim.with_agent(|a| a.state.app.life == Life::Alive);
            sim.with_agent(|a| a.state.app.trusted = !remove);
            sim.save()?;
            refresh_identity(&sim)?;
            if alive {
                lifecycle::on_live_units(&mut sim, &["config-changed"])?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Refresh {
            charm_dir,
            resources,
        } => refresh(store, &charm_dir, &resources),
        Command::UpdateStatus => {
            let mut sim = load_alive(store)?;
            refresh_identity(&sim)?;
            lifecycle::on_live_units(&mut sim, &["update-status"])?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { args, unit, format } => run_action(store, &args, unit, &format),
        Command::Remove => {
            let mut sim = Sim::load(store)?;
            refresh_identity(&sim)?;
            lifecycle::remove_application(&mut sim)?;
            let (model, app) =
                sim.with_agent(|a| (a.state.model_name.clone(), a.state.app.name.clone()));
            if let Some(admin) = sim.cluster_kubeconfig() {
                k8s::remove_identity(admin, &model, &app)?;
            }
            println!("removed application {app}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { format } => {
            let state = store.load()?;
            print!("{}", render::status(&state.model, &format)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::DebugLog { include } => {
            let state = store.load()?;
            print!("{}", render::debug_log(&state.model, &include));
            Ok(ExitCode::SUCCESS)
        }
        Command::Integrate {
            endpoint,
            remote_app,
            units,
            app_data,
            unit_data,
        } => relations::integrate(
            store,
            relations::Integration {
                endpoint,
                remote_app,
                units,
                app_data,
                unit_data,
            },
        ),
        Command::RemoveRelation { relation } => relations::remove_relation(store, &relation),
        Command::RelationData { relation, format } => {
            relations::relation_data(store, &relation, &format)
        }
        Command::SetRelationData {
            relation,
            unit,
            pairs,
        } => relations::set_relation_data(store, &relation, unit, &pairs),
        Command::AddSecret {
            name,
            content,
            info,
        } => secrets::add_secret(store, &name, &content, info),
        Command::GrantSecret { secret, app } => secrets::grant_secret(store, &secret, &app, true),
        Command::RevokeSecret { secret, app } => secrets::grant_secret(store, &secret, &app, false),
        Command::UpdateSecret { secret, content } => {
            secrets::update_secret(store, &secret, &content)
        }
        Command::RemoveSecret { secret } => secrets::remove_secret(store, &secret),
        Command::Secrets { format } => secrets::list_secrets(store, &format),
        Command::Timings { format } => {
            let state = store.load()?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string(&state.model.timings)?),
                _ => {
                    for t in &state.model.timings {
                        println!(
                            "{:<24} {:>6} ms  exit {}  {}",
                            t.name, t.millis, t.code, t.unit
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize()
        .with_context(|| format!("charm directory {} does not exist", path.display()))
}

/// What `deploy` was asked for besides the charm directory.
struct DeployOptions {
    config: Vec<String>,
    trust: bool,
    resources: Vec<String>,
    kubeconfig: Option<PathBuf>,
    model: String,
    app: Option<String>,
    num_units: u32,
}

fn deploy(store: Store, charm_dir: &Path, options: DeployOptions) -> Result<ExitCode> {
    if store.exists()
        && !store
            .load()
            .map(|s| s.model.app.life == Life::Dead)
            .unwrap_or(false)
    {
        bail!(
            "an application is already deployed in {} (use `juju-sim refresh`, or `juju-sim remove` first)",
            store.dir.display()
        );
    }
    let charm_dir = absolute(charm_dir)?;
    let meta = check_charm_dir(&charm_dir)?;
    let app = options.app.unwrap_or_else(|| meta.name.clone());
    let mut model = ModelState::new(&options.model, &app, charm_dir);
    model.app.trusted = options.trust;
    for setting in &options.config {
        let (key, value) = key_value(setting, "config")?;
        let typed = meta
            .parse_config_value(&key, &value)
            .map_err(anyhow::Error::msg)?;
        model.app.config.insert(key, typed);
    }
    attach_resources(&store, &meta, &mut model, &options.resources)?;
    let units: Vec<u32> = (0..options.num_units).map(|_| model.add_unit()).collect();
    model.elect_leader();
    let kubeconfig = options.kubeconfig.map(|k| absolute(&k)).transpose()?;
    let state = SimState {
        model,
        cluster_kubeconfig: kubeconfig,
    };
    store.save(&state)?;
    let mut sim = Sim::new(store, state)?;
    refresh_identity(&sim)?;
    lifecycle::start_units(&mut sim, &units)?;
    println!("Deployed {app:?} from {}", meta.name);
    Ok(ExitCode::SUCCESS)
}

fn add_unit(store: Store, app: Option<&str>, count: u32) -> Result<ExitCode> {
    let mut sim = load_alive(store)?;
    if let Some(app) = app {
        check_app(&sim, app)?;
    }
    let (units, names) = sim.with_agent(|a| {
        let units: Vec<u32> = (0..count).map(|_| a.state.add_unit()).collect();
        // An application whose units were all removed has no leader: the first new unit leads.
        a.state.elect_leader();
        let names: Vec<String> = units.iter().map(|u| a.state.unit_name(*u)).collect();
        (units, names)
    });
    sim.save()?;
    refresh_identity(&sim)?;
    lifecycle::start_units(&mut sim, &units)?;
    for name in names {
        println!("added unit {name}");
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_unit(store: Store, targets: &[String], num_units: Option<u32>) -> Result<ExitCode> {
    let mut sim = load_alive(store)?;
    let units: Vec<u32> = match (num_units, targets) {
        (Some(count), [app]) if !app.contains('/') => {
            check_app(&sim, app)?;
            let live = sim.with_agent(|a| {
                let mut live: Vec<u32> = a
                    .state
                    .units
                    .iter()
                    .filter(|u| u.life == Life::Alive)
                    .map(|u| u.number)
                    .collect();
                live.sort_unstable_by(|x, y| y.cmp(x));
                live
            });
            if count == 0 || count as usize > live.len() {
                bail!(
                    "cannot remove {count} units of {app:?}: it has {} (give 1 to {})",
                    live.len(),
                    live.len()
                );
            }
            live[..count as usize].to_vec()
        }
        (Some(_), _) => bail!("--num-units takes the application name, not unit names"),
        (None, names) => {
            let mut units = Vec::new();
            for name in names {
                if !name.contains('/') {
                    bail!("{name:?} is not a unit name (use APP/N, or APP --num-units N)");
                }
                let unit = sim.with_agent(|a| a.state.unit_number(name));
                let unit = unit.map_err(anyhow::Error::msg)?;
                if !units.contains(&unit) {
                    units.push(unit);
                }
            }
            units
        }
    };
    refresh_identity(&sim)?;
    let removed = lifecycle::remove_units(&mut sim, &units)?;
    for name in removed {
        println!("removed unit {name}");
    }
    Ok(ExitCode::SUCCESS)
}

fn refresh(store: Store, charm_dir: &Path, resources: &[String]) -> Result<ExitCode> {
    let mut sim = load_alive(store)?;
    let units = sim.with_agent(|a| a.state.live_units());
    runner::on_units(&mut sim, &units, |_, _| lifecycle::specs(&["stop"]))?;
    let charm_dir = absolute(charm_dir)?;
    let meta = check_charm_dir(&charm_dir)?;
    let mut model = sim.with_agent(|a| a.state.clone());
    model.app.charm_dir = charm_dir;
    attach_resources(&sim.store, &meta, &mut model, resources)?;
    sim.with_agent(|a| {
        a.state = model;
        a.meta = meta;
    });
    sim.save()?;
    refresh_identity(&sim)?;
    lifecycle::upgrade_units(&mut sim)?;
    Ok(ExitCode::SUCCESS)
}

fn run_action(
    store: Store,
    args: &[String],
    unit: Option<String>,
    format: &str,
) -> Result<ExitCode> {
    let mut sim = load_alive(store)?;
    let (named, rest) = match args.split_first() {
        Some((first, rest)) if first.contains('/') => (Some(first.clone()), rest),
        _ => (None, args),
    };
    let target = match (named, unit) {
        (Some(_), Some(_)) => bail!("name the unit once: as the first argument or with --unit"),
        (a, b) => a.or(b),
    };
    let Some((action, params)) = rest.split_first() else {
        bail!("no action name given");
    };
    let params = params
        .iter()
        .map(|p| key_value(p, "parameter"))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let number = sim.with_agent(|a| {
        let name = target.unwrap_or_else(|| format!("{}/leader", a.state.app.name));
        a.state.unit_number(&name)
    });
    let number = number.map_err(anyhow::Error::msg)?;
    refresh_identity(&sim)?;
    let outcome = sim.run_action(number, action, &params)?;
    let unit_name = sim.with_agent(|a| a.state.unit_name(number));
    print!("{}", render::action(&unit_name, &outcome, format)?);
    if outcome.status == "completed" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "ERROR the following task failed:\n id {:?} with return code {}\n",
            outcome.run.id,
            outcome
                .run
                .results
                .get("return-code")
                .map_or("0", String::as_str)
        );
        Ok(ExitCode::FAILURE)
    }
}

fn attach_resources(
    store: &Store,
    meta: &juju_ops::sim::CharmMeta,
    model: &mut ModelState,
    resources: &[String],
) -> Result<()> {
    for resource in resources {
        let (name, value) = key_value(resource, "resource")?;
        let declared = meta
            .resources
            .get(&name)
            .with_context(|| format!("resource {name:?} is not declared in metadata.yaml"))?;
        let dir = store.resources_dir().join(&name);
        std::fs::create_dir_all(&dir)?;
        let path = if declared.kind == "oci-image" {
            // What Juju hands a charm for an image resource: a YAML file with the registry path.
            let path = dir.join("image.yaml");
            let doc = serde_json::json!({"registrypath": value, "username": "", "password": ""});
            std::fs::write(&path, serde_yaml::to_string(&doc)?)?;
            path
        } else {
            let source = PathBuf::from(&value);
            let file_name = declared
                .filename
                .clone()
                .or_else(|| source.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_else(|| name.clone());
            let path = dir.join(file_name);
            std::fs::copy(&source, &path)
                .with_context(|| format!("cannot read resource file {value}"))?;
            path
        };
        model.app.resources.insert(name, path);
    }
    Ok(())
}

fn configure(store: Store, settings: &[String], reset: &[String]) -> Result<ExitCode> {
    let mut sim = load_alive(store)?;
    if settings.iter().all(|s| !s.contains('=')) && reset.is_empty() {
        let config = sim.with_agent(|a| a.meta.effective_config(&a.state.app.config, true));
        match settings {
            [] => print!("{}", serde_yaml::to_string(&Value::Object(config))?),
            [key] => {
                if !sim.with_agent(|a| a.meta.options.contains_key(key)) {
                    bail!("unknown option {key:?}");
                }
                match config.get(key) {
                    Some(Value::String(s)) => println!("{s}"),
                    Some(Value::Null) | None => println!(),
                    Some(v) => println!("{v}"),
                }
            }
            _ => bail!("give either one key to show, or key=value settings"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut changes = BTreeMap::new();
    for setting in settings {
        let (key, value) = key_value(setting, "config")?;
        let typed = sim.with_agent(|a| a.meta.parse_config_value(&key, &value));
        changes.insert(key, typed.map_err(anyhow::Error::msg)?);
    }
    for key in reset {
        if !sim.with_agent(|a| a.meta.options.contains_key(key)) {
            bail!("unknown option {key:?}");
        }
    }
    sim.with_agent(|a| {
        for key in reset {
            a.state.app.config.remove(key);
        }
        a.state.app.config.extend(changes);
    });
    sim.save()?;
    refresh_identity(&sim)?;
    lifecycle::on_live_units(&mut sim, &["config-changed"])?;
    Ok(ExitCode::SUCCESS)
}

/// Re-applies the charm's Kubernetes identity (roles follow trust) and mints a fresh token.
fn refresh_identity(sim: &Sim) -> Result<()> {
    let Some(admin) = sim.cluster_kubeconfig() else {
        return Ok(());
    };
    let (model, app, trusted) = sim.with_agent(|a| {
        (
            a.state.model_name.clone(),
            a.state.app.name.clone(),
            a.state.app.trusted,
        )
    });
    let charm_kubeconfig = sim.store.charm_kubeconfig();
    match k8s::ensure_identity(admin, &model, &app, trusted, &charm_kubeconfig) {
        Ok(()) => Ok(()),
        // A unit keeps its service-account token while the cluster is away (the agent talks
        // to the Juju controller, not to Kubernetes): hooks still run, and the charm finds out.
        Err(err) if charm_kubeconfig.exists() => {
            eprintln!(
                "WARNING cannot refresh the charm's Kubernetes identity (keeping the current one): {err:#}"
            );
            Ok(())
        }
        Err(err) => Err(err).context("cannot set up the charm's Kubernetes identity"),
    }
}
