//! `cargo xtask crds`: regenerates `workload/api/crds/metallb.io.yaml` from the Rust types.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths::workspace_root;

/// Runs the `crdgen` binary and writes its output to the committed CRD file.
pub fn run() -> Result<()> {
    let root = workspace_root();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "run",
            "--quiet",
            "--package",
            "metallb-api",
            "--bin",
            "crdgen",
        ])
        .current_dir(&root)
        .output()
        .context("cannot run crdgen")?;
    if !out.status.success() {
        bail!("crdgen failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let path = root.join("workload/api/crds/metallb.io.yaml");
    std::fs::write(&path, &out.stdout)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
