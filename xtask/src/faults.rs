//! `cargo xtask test --faults`: the fault and bad-input suite. Each case is a test or a bench
//! that provokes one kind of fault (bad options, lost units, a second instance, control-plane
//! outages, killed workloads) and checks that nothing the user owns was lost. Cases report
//! themselves with lines `faults: <case> tried=N held=M [lost=<what>]`; this module runs them
//! in turn and prints one table.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::paths::workspace_root;

/// One case of the suite: what it proves and the command that runs it.
struct Case {
    /// What is tried, in the table.
    title: &'static str,
    /// The command, run from the workspace root (`cargo` is the running cargo).
    args: &'static [&'static str],
    /// Extra environment (sizes of the long versions).
    env: &'static [(&'static str, &'static str)],
}

/// Every case, cheapest first.
const CASES: &[Case] = &[
    Case {
        title: "adversarial option values through juju-sim",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "bad_option_values",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "remove keeps the CRDs and the user's objects",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "remove_keeps",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "a user's namespace is never taken or deleted",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "a_namespace_the_user_made",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "remove-unit of the leader with two units",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "removing_the_leader_unit",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "a failed clean-up fails the hook and is retried",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "a_failed_clean_up",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "two charm instances in one cluster",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "two_instances",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "control plane (API server and etcd) restarted during hooks",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_faults",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "control plane killed and restarted during a controller burst",
        args: &[
            "test",
            "--workspace",
            "--test",
            "outage",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "announcing speaker killed (SIGKILL) and stopped (SIGTERM)",
        args: &[
            "test",
            "--workspace",
            "--test",
            "layer2",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "adopting an upstream install keeps the user's objects",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_migration",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
    Case {
        title: "controller killed during churn (1,000 Services, 10 rounds)",
        args: &[
            "test",
            "--workspace",
            "--test",
            "churn",
            "--",
            "--nocapture",
        ],
        env: &[("CHURN_SERVICES", "1000"), ("CHURN_ROUNDS", "10")],
    },
    Case {
        title: "least privilege on the real API (SubjectAccessReview)",
        args: &[
            "test",
            "--workspace",
            "--test",
            "charm_safety",
            "exactly_the_access",
            "--",
            "--nocapture",
        ],
        env: &[],
    },
];

/// What one case reported.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    tried: u64,
    held: u64,
    lost: Vec<String>,
}

impl Outcome {
    /// Adds one `faults: <case> tried=N held=M [lost=...]` line (other lines are ignored).
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("faults: ") else {
            return;
        };
        for word in rest.split_whitespace().skip(1) {
            if let Some(n) = word
                .strip_prefix("tried=")
                .and_then(|n| n.parse::<u64>().ok())
            {
                self.tried += n;
            } else if let Some(n) = word
                .strip_prefix("held=")
                .and_then(|n| n.parse::<u64>().ok())
            {
                self.held += n;
            }
        }
        if let Some((_, lost)) = rest.split_once(" lost=") {
            self.lost.push(lost.trim().to_string());
        }
    }
}

/// Runs every case and prints the table; fails when a case lost anything.
pub fn run(env: &[(&str, &Path)]) -> Result<()> {
    let mut rows = Vec::new();
    for case in CASES {
        println!("==> faults: {}", case.title);
        let outcome = run_case(case, env)?;
        rows.push((case.title, outcome));
    }
    println!("\n{:<62} {:>6} {:>6}  lost", "case", "tried", "held");
    let mut failed = 0;
    for (title, o) in &rows {
        let lost = if o.lost.is_empty() && o.held == o.tried {
            "-".to_string()
        } else {
            failed += 1;
            o.lost.join("; ")
        };
        println!("{title:<62} {:>6} {:>6}  {lost}", o.tried, o.held);
    }
    let (tried, held) = rows
        .iter()
        .fold((0, 0), |(t, h), (_, o)| (t + o.tried, h + o.held));
    println!("{:<62} {tried:>6} {held:>6}", "total");
    if failed > 0 {
        bail!("{failed} fault case(s) lost something");
    }
    Ok(())
}

/// Runs one case, echoing its output, and collects its `faults:` lines. A command that fails
/// without reporting counts as one case tried and lost.
fn run_case(case: &Case, env: &[(&str, &Path)]) -> Result<Outcome> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    let args: Vec<String> = case.args.iter().map(|a| a.to_string()).collect();
    cmd.args(crate::test_args::with_ignored(&args))
        .current_dir(workspace_root());
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.envs(case.env.iter().copied());
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run cargo {}", case.args.join(" ")))?;
    let mut outcome = Outcome::default();
    let mut tail = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("cannot read the case's output")?;
            println!("{line}");
            outcome.add_line(&line);
            if line.contains("panicked") || line.starts_with("Error") {
                tail.push(line);
            }
        }
    }
    let status = child.wait().context("the case did not finish")?;
    if !status.success() {
        if outcome.tried == 0 {
            outcome.tried = 1;
        }
        outcome.lost.push(
            tail.last()
                .cloned()
                .unwrap_or_else(|| format!("failed ({status})")),
        );
    } else if outcome.tried == 0 {
        // A passing case that reports no count is one fault tried and held.
        outcome.tried = 1;
        outcome.held = 1;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn reads_fault_lines() {
        let mut o = Outcome::default();
        o.add_line("faults: bad-options tried=43 held=43");
        o.add_line("running 1 test");
        o.add_line("faults: churn tried=10 held=9 lost=2 addresses moved in round 4");
        assert_eq!((o.tried, o.held), (53, 52));
        assert_eq!(o.lost, ["2 addresses moved in round 4"]);
    }
}
