//! `juju-sim`: a simulated Juju unit agent that runs a compiled charm exactly as Juju does.
//!
//! Sub-commands mirror the juju CLI (`deploy`, `config`, `trust`, `refresh`, `update-status`,
//! `run`, `remove`, `status`, `debug-log`) and fire the event sequences Juju fires. Invoked through
//! a link named like a hook tool (`config-get`, `status-set`, ...), the same binary acts as that
//! tool and talks to the running agent over its socket.

mod k8s;
mod protocol;
mod render;
mod runner;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use juju_ops::sim::AgentState;
use juju_ops::sim::tools::TOOL_NAMES;
use serde_json::Value;

use runner::{Unit, check_charm_dir};
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a charm directory: install, leader-elected, config-changed, start.
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
    },
    /// Show config, or set options and fire config-changed.
    Config {
        /// `key=value` to set, or `key` to show one value.
        settings: Vec<String>,
        /// Reset options to their defaults.
        #[arg(long, value_delimiter = ',')]
        reset: Vec<String>,
    },
    /// Grant (or with --remove, revoke) cluster access; fires config-changed.
    Trust {
        /// Revoke trust.
        #[arg(long)]
        remove: bool,
    },
    /// Upgrade to a new charm directory: stop, upgrade-charm, config-changed, start.
    Refresh {
        /// The new charm directory.
        charm_dir: PathBuf,
        /// Attach or replace a resource.
        #[arg(long = "resource", value_name = "NAME=VALUE")]
        resources: Vec<String>,
    },
    /// Fire update-status.
    UpdateStatus,
    /// Run an action, like `juju run`.
    Run {
        /// Action name.
        action: String,
        /// Parameters as `key=value`.
        params: Vec<String>,
        /// Output format: `plain` (results as YAML) or `json`.
        #[arg(long, default_value = "plain")]
        format: String,
    },
    /// Remove the application: stop, remove.
    Remove,
    /// Show application and unit status, like `juju status`.
    Status {
        /// `tabular` or `json`.
        #[arg(long, default_value = "tabular")]
        format: String,
    },
    /// Print the charm's log lines.
    DebugLog,
    /// Print how long each dispatch took (hook or action, milliseconds, exit code).
    Timings {
        /// `plain` or `json`.
        #[arg(long, default_value = "plain")]
        format: String,
    },
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if TOOL_NAMES.contains(&name.as_str()) {
        let code = protocol::tool_main(&name, args.collect());
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

fn key_value(text: &str, what: &str) -> Result<(String, String)> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .with_context(|| format!("{what} {text:?} is not of the form key=value"))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let store = Store::open(&cli.state)?;
    match cli.command {
        Command::Deploy {
            charm_dir,
            config,
            trust,
            resources,
            kubeconfig,
            model,
            app,
        } => deploy(
            store, &charm_dir, &config, trust, &resources, kubeconfig, &model, app,
        ),
        Command::Config { settings, reset } => configure(store, &settings, &reset),
        Command::Trust { remove } => {
            let mut unit = Unit::load(store)?;
            unit.with_agent(|a| a.state.trusted = !remove);
            unit.save()?;
            refresh_identity(&unit)?;
            unit.run_hooks(&["config-changed"])?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Refresh {
            charm_dir,
            resources,
        } => {
            let mut unit = Unit::load(store)?;
            unit.run_hooks(&["stop"])?;
            let charm_dir = absolute(&charm_dir)?;
            let meta = check_charm_dir(&charm_dir)?;
            let mut state = unit.store.load()?;
            state.agent.charm_dir = charm_dir;
            attach_resources(&unit.store, &meta, &mut state.agent, &resources)?;
            unit.store.save(&state)?;
            let mut unit = Unit::new(unit.store, state)?;
            refresh_identity(&unit)?;
            unit.run_hooks(&["upgrade-charm", "config-changed", "start"])?;
            Ok(ExitCode::SUCCESS)
        }
        Command::UpdateStatus => {
            let mut unit = Unit::load(store)?;
            refresh_identity(&unit)?;
            unit.run_hooks(&["update-status"])?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            action,
            params,
            format,
        } => {
            let mut unit = Unit::load(store)?;
            let params = params
                .iter()
                .map(|p| key_value(p, "parameter"))
                .collect::<Result<BTreeMap<_, _>>>()?;
            refresh_identity(&unit)?;
            let outcome = unit.run_action(&action, &params)?;
            let unit_name = unit.with_agent(|a| a.state.unit_name());
            print!("{}", render::action(&unit_name, &outcome, &format)?);
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
        Command::Remove => {
            let mut unit = Unit::load(store)?;
            refresh_identity(&unit)?;
            unit.run_hooks(&["stop", "remove"])?;
            let (model, app) =
                unit.with_agent(|a| (a.state.model_name.clone(), a.state.app_name.clone()));
            if let Some(admin) = unit.cluster_kubeconfig() {
                k8s::remove_identity(admin, &model, &app)?;
            }
            println!("removed application {app}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { format } => {
            let state = store.load()?;
            print!("{}", render::status(&state.agent, &format)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::DebugLog => {
            let state = store.load()?;
            print!("{}", render::debug_log(&state.agent));
            Ok(ExitCode::SUCCESS)
        }
        Command::Timings { format } => {
            let state = store.load()?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string(&state.agent.timings)?),
                _ => {
                    for t in &state.agent.timings {
                        println!("{:<24} {:>6} ms  exit {}", t.name, t.millis, t.code);
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

#[allow(clippy::too_many_arguments)]
fn deploy(
    store: Store,
    charm_dir: &Path,
    config: &[String],
    trust: bool,
    resources: &[String],
    kubeconfig: Option<PathBuf>,
    model: &str,
    app: Option<String>,
) -> Result<ExitCode> {
    if store.exists() && !store.load().map(|s| s.agent.removed).unwrap_or(false) {
        bail!(
            "an application is already deployed in {} (use `juju-sim refresh`, or `juju-sim remove` first)",
            store.dir.display()
        );
    }
    let charm_dir = absolute(charm_dir)?;
    let meta = check_charm_dir(&charm_dir)?;
    let app = app.unwrap_or_else(|| meta.name.clone());
    let mut agent = AgentState::new(model, &app, charm_dir);
    agent.trusted = trust;
    for setting in config {
        let (key, value) = key_value(setting, "config")?;
        let typed = meta
            .parse_config_value(&key, &value)
            .map_err(anyhow::Error::msg)?;
        agent.config.insert(key, typed);
    }
    attach_resources(&store, &meta, &mut agent, resources)?;
    let kubeconfig = kubeconfig.map(|k| absolute(&k)).transpose()?;
    let state = SimState {
        agent,
        cluster_kubeconfig: kubeconfig,
    };
    store.save(&state)?;
    let mut unit = Unit::new(store, state)?;
    refresh_identity(&unit)?;
    unit.run_hooks(&["install", "leader-elected", "config-changed", "start"])?;
    println!("Deployed {app:?} from {}", meta.name);
    Ok(ExitCode::SUCCESS)
}

fn attach_resources(
    store: &Store,
    meta: &juju_ops::sim::CharmMeta,
    agent: &mut AgentState,
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
        agent.resources.insert(name, path);
    }
    Ok(())
}

fn configure(store: Store, settings: &[String], reset: &[String]) -> Result<ExitCode> {
    let mut unit = Unit::load(store)?;
    if settings.iter().all(|s| !s.contains('=')) && reset.is_empty() {
        let config = unit.with_agent(|a| a.meta.effective_config(&a.state.config, true));
        match settings {
            [] => print!("{}", serde_yaml::to_string(&Value::Object(config))?),
            [key] => {
                if !unit.with_agent(|a| a.meta.options.contains_key(key)) {
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
        let typed = unit.with_agent(|a| a.meta.parse_config_value(&key, &value));
        changes.insert(key, typed.map_err(anyhow::Error::msg)?);
    }
    for key in reset {
        if !unit.with_agent(|a| a.meta.options.contains_key(key)) {
            bail!("unknown option {key:?}");
        }
    }
    unit.with_agent(|a| {
        for key in reset {
            a.state.config.remove(key);
        }
        a.state.config.extend(changes);
    });
    unit.save()?;
    refresh_identity(&unit)?;
    unit.run_hooks(&["config-changed"])?;
    Ok(ExitCode::SUCCESS)
}

/// Re-applies the charm's Kubernetes identity (roles follow trust) and mints a fresh token.
fn refresh_identity(unit: &Unit) -> Result<()> {
    let Some(admin) = unit.cluster_kubeconfig() else {
        return Ok(());
    };
    let (model, app, trusted) = unit.with_agent(|a| {
        (
            a.state.model_name.clone(),
            a.state.app_name.clone(),
            a.state.trusted,
        )
    });
    k8s::ensure_identity(admin, &model, &app, trusted, &unit.store.charm_kubeconfig())
        .context("cannot set up the charm's Kubernetes identity")
}
