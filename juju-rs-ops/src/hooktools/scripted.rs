//! Test support: a [`CommandRunner`] that records every call and answers from a script.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{CommandRunner, ToolOutput};

/// One recorded call: tool, arguments, stdin.
pub type Call = (String, Vec<String>, Option<Vec<u8>>);

/// Records every call; answers with the queued answers in order, then repeats the last one.
pub struct Scripted {
    calls: Mutex<Vec<Call>>,
    answers: Mutex<VecDeque<(i32, String, String)>>,
    last: Mutex<(i32, String, String)>,
}

impl Scripted {
    /// Always answers `(code, stdout, stderr)`.
    pub fn new(code: i32, stdout: &str, stderr: &str) -> Self {
        Self::sequence(&[(code, stdout, stderr)])
    }

    /// Answers each call with the next of `answers` (the last one repeats).
    pub fn sequence(answers: &[(i32, &str, &str)]) -> Self {
        let owned: VecDeque<(i32, String, String)> = answers
            .iter()
            .map(|(c, o, e)| (*c, o.to_string(), e.to_string()))
            .collect();
        let last = owned.back().cloned().unwrap_or_default();
        Self {
            calls: Mutex::new(Vec::new()),
            answers: Mutex::new(owned),
            last: Mutex::new(last),
        }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl CommandRunner for &Scripted {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> std::io::Result<ToolOutput> {
        self.calls
            .lock()
            .unwrap()
            .push((tool.into(), args.to_vec(), stdin.map(<[u8]>::to_vec)));
        let answer = match self.answers.lock().unwrap().pop_front() {
            Some(a) => {
                *self.last.lock().unwrap() = a.clone();
                a
            }
            None => self.last.lock().unwrap().clone(),
        };
        Ok(ToolOutput {
            code: answer.0,
            stdout: answer.1.into_bytes(),
            stderr: answer.2.into_bytes(),
        })
    }
}

/// The first call's argv (tool name first).
pub fn argv(s: &Scripted) -> Vec<String> {
    let (tool, args, _) = s.calls().remove(0);
    std::iter::once(tool).chain(args).collect()
}
