//! Running `juju-sim` with the lab's state, and showing its output on the lab's screen.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `juju-sim` with the lab's state directory.
pub(crate) fn juju_sim(bin_dir: &Path, state: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(bin_dir.join("juju-sim"))
        .arg("--state")
        .arg(state.join("juju-sim"))
        .args(args)
        .output()
        .context("cannot run juju-sim")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("juju-sim {} failed:\n{text}", args.join(" "));
    }
    Ok(text)
}

/// `text` with every line indented for the lab's output.
pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
