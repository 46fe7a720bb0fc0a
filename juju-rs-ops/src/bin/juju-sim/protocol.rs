//! The hook-tool transport: tools are thin clients that send `{context, dir, command, args}` to
//! the agent over a Unix socket and print what comes back, as Juju's `jujuc` does. When a tool
//! needs stdin and none was sent, the agent says so and the client sends again with stdin.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use juju_ops::sim::{Agent, ToolReply, run_tool};
use serde::{Deserialize, Serialize};

/// One tool invocation.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// `JUJU_CONTEXT_ID` of the caller.
    pub context_id: String,
    /// The caller's working directory.
    pub dir: String,
    /// Tool name.
    pub command: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Standard input, once the agent asked for it.
    pub stdin: Option<Vec<u8>>,
}

/// The agent's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The tool needs stdin: send the request again with it.
    pub need_stdin: bool,
}

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

fn exchange(socket: &str, request: &Request) -> Result<Response> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to agent at {socket}"))?;
    serde_json::to_writer(&mut stream, request)?;
    stream.write_all(b"\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).context("bad response from the agent")
}

/// Runs as hook tool `command` (the binary was invoked through a tool-named link).
pub fn tool_main(command: &str, args: Vec<String>) -> i32 {
    let context_id = std::env::var("JUJU_CONTEXT_ID").unwrap_or_default();
    if context_id.is_empty() {
        eprintln!("ERROR JUJU_CONTEXT_ID not set");
        return 1;
    }
    let socket = std::env::var("JUJU_AGENT_SOCKET_ADDRESS").unwrap_or_default();
    let mut request = Request {
        context_id,
        dir: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        command: command.to_string(),
        args,
        stdin: None,
    };
    let mut response = exchange(&socket, &request);
    if response.as_ref().is_ok_and(|r| r.need_stdin) {
        let mut input = Vec::new();
        if let Err(err) = std::io::stdin().read_to_end(&mut input) {
            eprintln!("ERROR cannot read stdin: {err}");
            return 1;
        }
        request.stdin = Some(input);
        response = exchange(&socket, &request);
    }
    match response {
        Ok(r) => {
            print!("{}", r.stdout);
            eprint!("{}", r.stderr);
            r.code
        }
        Err(err) => {
            eprintln!("ERROR {err:#}");
            1
        }
    }
}
