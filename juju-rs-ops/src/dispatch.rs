//! The dispatch driver: one fixed lifecycle for every hook and action.
//!
//! Order, as in ops: set up logging, build the event (actions read their parameters), let the
//! charm handle it (unknown events are logged and ignored), run collect-status and set the
//! winning statuses, exit. An error logs its full chain through `juju-log` at ERROR and the
//! process exits non-zero, so Juju does not commit the hook's transactional changes.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::context::JujuContext;
use crate::event::Event;
use crate::hooktools::{HookTools, ProcessHookTools};
use crate::log::JujuLogLayer;
use crate::model::Context;
use crate::status::StatusCollector;

/// A charm: one entry point for every event, plus the collect-status step.
pub trait Charm {
    /// Handles one event. A holistic charm reconciles everything here, whatever the event.
    fn handle(&mut self, ctx: &Context<'_>, event: &Event) -> Result<()>;

    /// Adds candidate statuses at the end of every dispatch; the highest-priority unit status
    /// (and, on the leader, app status) is set. The default adds none.
    fn collect_status(&mut self, ctx: &Context<'_>, statuses: &mut StatusCollector) -> Result<()> {
        let _ = (ctx, statuses);
        Ok(())
    }
}

/// Runs one dispatch of `charm` with `tools`: event, handler, collect-status.
pub fn dispatch<C: Charm>(juju: &JujuContext, tools: &dyn HookTools, charm: &mut C) -> Result<()> {
    let (event, params) = match &juju.action {
        Some(action) => {
            let params = tools
                .action_get()
                .context("cannot read the action's parameters")?;
            (
                Event::action(&action.name, &action.id, params.clone()),
                Some(params),
            )
        }
        None => (Event::from_context(juju), None),
    };
    let ctx = Context::new(juju, tools, params);
    // One line, one juju-log call: every call is a process and a round trip to the agent.
    let version = env!("CARGO_PKG_VERSION");
    match &event {
        Event::Other(path) => tracing::debug!(
            "juju-rs-ops {version} up and running; ignoring event {path}: this charm does not handle it"
        ),
        _ => {
            tracing::debug!(
                "juju-rs-ops {version} up and running; emitting {}",
                event.describe()
            );
            charm
                .handle(&ctx, &event)
                .with_context(|| format!("{} failed", event.describe()))?;
        }
    }
    let leader = ctx.is_leader().context("cannot find out leadership")?;
    let mut statuses = StatusCollector::new(leader);
    charm
        .collect_status(&ctx, &mut statuses)
        .context("collect-status failed")?;
    if let (Some(status), Some(app)) = (statuses.app_status(), ctx.app()?) {
        app.set_status(status)
            .context("cannot set the application status")?;
    }
    if let Some(status) = statuses.unit_status() {
        ctx.set_unit_status(status)
            .context("cannot set the unit status")?;
    }
    Ok(())
}

/// Libraries whose DEBUG output is per-request transport detail, not worth a `juju-log` call.
const NOISY_TARGETS: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "tower_http",
    "rustls",
    "kube_client",
    "kube_runtime",
    "tokio_util",
    "want",
    "mio",
];

/// Runs a dispatch with logging to `juju-log`; returns whether it succeeded. Errors are logged
/// with their full chain at ERROR (and printed to stderr, which Juju shows for actions).
pub fn execute<C: Charm>(
    juju: &JujuContext,
    tools: Arc<dyn HookTools>,
    make: impl FnOnce(&JujuContext) -> C,
) -> bool {
    // Every juju-log line is a hook-tool call: the chatty transport libraries only from INFO up.
    let filter = NOISY_TARGETS
        .iter()
        .fold(Targets::new().with_default(Level::DEBUG), |f, target| {
            f.with_target(*target, Level::INFO)
        });
    let (log_layer, log_writer) = JujuLogLayer::new(tools.clone(), juju.debug);
    let subscriber = tracing_subscriber::registry().with(log_layer).with(filter);
    let succeeded = tracing::subscriber::with_default(subscriber, || {
        let mut charm = make(juju);
        match dispatch(juju, tools.as_ref(), &mut charm) {
            Ok(()) => true,
            Err(err) => {
                let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
                let text = format!("Uncaught error: {}", chain.join(": "));
                tracing::error!("{text}");
                eprintln!("{text}");
                false
            }
        }
    });
    log_writer.finish();
    succeeded
}

/// The charm binary's `main`: parse the environment, run the real hook tools, exit 0 on
/// success and 1 on failure.
pub fn main<C: Charm>(make: impl FnOnce(&JujuContext) -> C) -> ExitCode {
    let juju = match JujuContext::from_env() {
        Ok(juju) => juju,
        Err(err) => {
            eprintln!("ERROR {err}");
            return ExitCode::FAILURE;
        }
    };
    let tools: Arc<dyn HookTools> = Arc::new(ProcessHookTools::system());
    if execute(&juju, tools, make) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
