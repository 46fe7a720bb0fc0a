//! `cargo xtask test`: every check and test, in the order CI runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::paths::{cache_dir, workspace_root};

/// Options of `cargo xtask test`.
#[derive(Args)]
pub struct TestArgs {}

/// Runs formatting, lint and the test suites, then prints one summary line.
pub fn run(_args: &TestArgs) -> Result<()> {
    println!("==> caches in {}", cache_dir().display());
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
    crate::packages::ensure(crate::packages::CHECK_TOOLS)?;
    crate::packages::ensure(crate::packages::NODE_TOOLS)?;
    let cluster_bin = crate::cluster::ensure_built()?;
    // Upstream MetalLB's module (CRDs and documentation) for the compatibility tests: one
    // module download, not a build.
    let upstream_src = crate::upstream::ensure_source(crate::upstream::DEFAULT_VERSION)?;
    // The shipped artifacts, which the tests check as they are.
    let build = crate::artifacts::build_dir();
    let charm_file = crate::pack::run(&crate::pack::PackArgs::to(
        build.join("metallb_amd64.charm"),
    ))?;
    let images_dir = build.join("images");
    crate::images::run(&crate::images::ImagesArgs::to(images_dir.clone()))?;
    let mut totals = Totals::default();
    let outcome = cargo_test(
        &["test", "--workspace"],
        &[
            ("METALLB_RS_CLUSTER_BIN", cluster_bin.as_path()),
            ("METALLB_RS_CHARM_FILE", charm_file.as_path()),
            ("METALLB_RS_IMAGES_DIR", images_dir.as_path()),
            ("METALLB_RS_UPSTREAM_SRC", upstream_src.as_path()),
        ],
        &mut totals,
    );
    println!(
        "summary: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    outcome
}

/// Test counts summed over every `test result:` line.
#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds the counts of one libtest `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(workspace_root());
    cmd
}

fn cargo(args: &[&str]) -> Result<()> {
    println!("==> cargo {}", args.join(" "));
    let status = command(args)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs `cargo test` with the control plane's binaries available, echoing its output and
/// counting results.
fn cargo_test(args: &[&str], env: &[(&str, &std::path::Path)], totals: &mut Totals) -> Result<()> {
    println!("==> cargo {}", args.join(" "));
    let mut cmd = command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("cannot read cargo test output")?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait().context("cargo test did not finish")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn counts_libtest_summary_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 47 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add_line(
            "test result: FAILED. 1 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 3 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (48, 3, 2));
    }
}
