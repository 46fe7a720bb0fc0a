//! The agent's half of the hook-tool transport: it answers the requests of the `jujuc` clients
//! (see [`juju_ops::sim::jujuc`]) over a Unix socket, one at a time, for the running hook.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use juju_ops::sim::jujuc::{Request, Response};
use juju_ops::sim::{Agent, ToolReply, run_tool};

/// Serves tool requests on `socket` against `agent`, one at a time, until the process exits.
pub fn serve(socket: &Path, agent: Arc<Mutex<Agent>>) -> Result<()> {
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(err) = answer(stream, &agent) {
                eprintln!("juju-sim: hook tool request failed: {err:#}");
            }
        }
    });
    Ok(())
}

fn answer(stream: UnixStream, agent: &Mutex<Agent>) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request: Request = serde_json::from_str(&line).context("bad request")?;
    let response = {
        let mut agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
        let current = agent.session.as_ref().map(|s| s.context_id.clone());
        if current.as_deref() != Some(request.context_id.as_str()) {
            Response {
                code: 1,
                stdout: String::new(),
                stderr: format!(
                    "ERROR bad request: unknown context {:?}\n",
                    request.context_id
                ),
                need_stdin: false,
            }
        } else {
            match run_tool(
                &mut agent,
                &request.command,
                &request.args,
                request.stdin.as_deref(),
            ) {
                ToolReply::Done {
                    code,
                    stdout,
                    stderr,
                } => Response {
                    code,
                    stdout,
                    stderr,
                    need_stdin: false,
                },
                ToolReply::NeedStdin => Response {
                    code: 0,
                    stdout: String::new(),
                    stderr: String::new(),
                    need_stdin: true,
                },
            }
        }
    };
    let mut out = stream;
    serde_json::to_writer(&mut out, &response)?;
    out.write_all(b"\n")?;
    Ok(())
}
