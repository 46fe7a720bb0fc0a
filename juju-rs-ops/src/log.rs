//! Logging: a `tracing` layer that sends records to `juju-log` at the matching level.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

use crate::hooktools::{HookTools, LogLevel};

/// Sends every `tracing` event at DEBUG or above to `juju-log`.
pub struct JujuLogLayer {
    tools: Arc<dyn HookTools>,
    also_stderr: bool,
}

impl JujuLogLayer {
    /// A layer sending through `tools`; with `also_stderr` (`JUJU_DEBUG`) lines are echoed.
    pub fn new(tools: Arc<dyn HookTools>, also_stderr: bool) -> Self {
        Self { tools, also_stderr }
    }
}

/// Maps a `tracing` level to a `juju-log` level.
pub fn juju_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

thread_local! {
    static IN_LOG: Cell<bool> = const { Cell::new(false) };
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for JujuLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let level = event.metadata().level();
        if *level == Level::TRACE {
            return;
        }
        // A hook tool that itself logs must not recurse into juju-log.
        if IN_LOG.with(|f| f.replace(true)) {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let line = format!("{}{}", visitor.message, visitor.fields);
        if self.also_stderr {
            eprintln!("{level} {line}");
        }
        if let Err(err) = self.tools.juju_log(juju_level(level), &line) {
            eprintln!("juju-log failed: {err}; message was: {line}");
        }
        IN_LOG.with(|f| f.set(false));
    }
}
