//! Static release builds of the shipped binaries, shared by `pack` and `images`.
//!
//! They use their own target directory (`~/.cache/metallb-rs/static-<checkout>`) because the
//! static flags would otherwise invalidate the everyday debug builds. It is keyed by the
//! checkout's path: cargo does not re-copy a fresh binary to `release/`, so two checkouts
//! sharing one target directory could ship each other's binaries.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths::{cache_dir, workspace_root};

/// The target triple of the shipped binaries.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds `bins` (binary, package) statically in release mode; returns their paths in order.
pub fn build_static(bins: &[(&str, &str)]) -> Result<Vec<PathBuf>> {
    let target_dir = static_target_dir();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "--target", TARGET])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    for (bin, package) in bins {
        cmd.args(["--bin", bin, "-p", package]);
    }
    println!(
        "==> static release build of {} (target dir {})",
        bins.iter().map(|(b, _)| *b).collect::<Vec<_>>().join(", "),
        target_dir.display()
    );
    let status = cmd.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("the static build failed");
    }
    Ok(bins
        .iter()
        .map(|(bin, _)| target_dir.join(TARGET).join("release").join(bin))
        .collect())
}

/// The static target directory of this checkout.
pub fn static_target_dir() -> PathBuf {
    use sha2::{Digest, Sha256};
    let key = Sha256::digest(workspace_root().to_string_lossy().as_bytes());
    let hex: String = key.iter().take(6).map(|b| format!("{b:02x}")).collect();
    cache_dir().join(format!("static-{hex}"))
}

/// Where artifacts go by default: `build/` in the workspace.
pub fn build_dir() -> PathBuf {
    workspace_root().join("build")
}
