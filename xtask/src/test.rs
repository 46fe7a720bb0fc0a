//! `cargo xtask test`: every check and test, in the order CI runs them.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::process::Command;

use crate::paths::workspace_root;

/// Options of `cargo xtask test`.
#[derive(Args)]
pub struct TestArgs {}

/// Runs formatting, lint and the test suites.
pub fn run(_args: &TestArgs) -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace"])?;
    Ok(())
}

fn cargo(args: &[&str]) -> Result<()> {
    println!("==> cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
