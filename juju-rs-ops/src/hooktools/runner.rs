//! Running one hook tool: the single place that spawns processes.

use std::io::Write;
use std::process::{Command, Stdio};

/// What a hook tool printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Runs a hook tool by name with arguments and optional stdin.
pub trait CommandRunner: Send + Sync {
    /// Runs `tool args...`, feeding `stdin` when given.
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>)
    -> std::io::Result<ToolOutput>;
}

/// Spawns the tool found on `PATH`, as a deployed charm does.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> std::io::Result<ToolOutput> {
        let mut child = Command::new(tool)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input)?;
        }
        let out = child.wait_with_output()?;
        Ok(ToolOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
