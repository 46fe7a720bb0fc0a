//! Logging: a `tracing` layer that sends records to `juju-log` at the matching level.
//!
//! The calls run in order on a writer thread of their own, so a hook's work does not wait for
//! each `juju-log` process; [`LogWriter::finish`] waits until every line is sent (the hook's
//! context ends when the dispatch exits).

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

use crate::hooktools::{HookTools, LogLevel};

/// Sends every `tracing` event at DEBUG or above to `juju-log`, through its [`LogWriter`].
pub struct JujuLogLayer {
    lines: Sender<Line>,
    also_stderr: bool,
}

/// What the writer thread is given: a line to send, or the end.
enum Line {
    Log(LogLevel, String),
    End,
}

/// The thread that sends the lines of a [`JujuLogLayer`] with `juju-log`, one after the other.
pub struct LogWriter {
    lines: Sender<Line>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Waits until every line logged so far has been sent.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.lines.send(Line::End);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl JujuLogLayer {
    /// A layer sending through `tools`, and the writer to finish before the dispatch exits;
    /// with `also_stderr` (`JUJU_DEBUG`) lines are echoed at once.
    pub fn new(tools: Arc<dyn HookTools>, also_stderr: bool) -> (Self, LogWriter) {
        let (lines, queue) = channel::<Line>();
        let thread = std::thread::spawn(move || {
            for line in queue {
                let Line::Log(level, text) = line else {
                    break;
                };
                if let Err(err) = tools.juju_log(level, &text) {
                    eprintln!("juju-log failed: {err}; message was: {text}");
                }
            }
        });
        let writer = LogWriter {
            lines: lines.clone(),
            thread: Some(thread),
        };
        let layer = Self { lines, also_stderr };
        (layer, writer)
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
        let sent = self.lines.send(Line::Log(juju_level(level), line));
        if let Err(unsent) = sent
            && let Line::Log(_, line) = unsent.0
        {
            eprintln!("juju-log writer gone; message was: {line}");
        }
        IN_LOG.with(|f| f.set(false));
    }
}
