//! The hook-tool client, `jujuc`: what a hook tool on `PATH` runs. It sends `{context, dir,
//! command, args}` to the unit agent over a Unix socket and prints what comes back, as Juju's
//! own `jujuc` does; when a tool needs stdin and none was sent, the agent says so and the
//! client sends again with stdin. The agent's half lives in `juju-sim`.
//!
//! Kept free of the agent's engine so the `jujuc` binary stays small: every hook-tool call
//! starts one, and its start-up time is part of every hook's.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

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

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The agent's socket could not be reached or the exchange broke off.
    #[error("cannot talk to the agent at {socket}: {source}")]
    Io {
        /// `JUJU_AGENT_SOCKET_ADDRESS`.
        socket: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The request could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(serde_json::Error),
    /// The agent answered something that is not a [`Response`].
    #[error("bad response from the agent: {0}")]
    BadResponse(serde_json::Error),
}

/// Sends `request` to the agent listening on `socket` and reads its [`Response`].
pub fn exchange(socket: &str, request: &Request) -> Result<Response, ClientError> {
    let io = |source| ClientError::Io {
        socket: socket.to_string(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    let mut line = serde_json::to_vec(request).map_err(ClientError::Encode)?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    serde_json::from_str(&answer).map_err(ClientError::BadResponse)
}

/// The tool a process was invoked as: the file name of its `argv[0]` (a link named like the
/// tool).
pub fn invoked_as(argv0: &str) -> String {
    std::path::Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs as hook tool `command` with `args`: reads the context from the environment, asks the
/// agent, prints its stdout and stderr, and returns its exit code.
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
            eprintln!("ERROR {err}");
            1
        }
    }
}
