//! The Python `metallb` charm as a test peer (the charm metallb-rs replaces; never copied into
//! the project): where its snapshot is, and a virtualenv with its requirements from PyPI, cached
//! by a hash of `requirements.txt` and the Python version.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::paths::{cache_dir, workspace_root};

/// The upstream release whose images stand in for the v0.13.10 images the peer's manifests name
/// (the closest the Go module proxy serves).
pub const UPSTREAM_VERSION: &str = "v0.13.5";

/// The environment variable that names the peer's directory (default: the shared peers folder
/// next to the workspace).
pub const PEER_ENV: &str = "METALLB_RS_PYTHON_CHARM";

/// The peer's directory: `$METALLB_RS_PYTHON_CHARM`, else `../shared/peers/metallb-operator`
/// next to the workspace, else `/work/shared/peers/metallb-operator`.
pub fn peer_dir() -> Result<PathBuf> {
    let candidates = match std::env::var_os(PEER_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            workspace_root().join("../shared/peers/metallb-operator"),
            PathBuf::from("/work/shared/peers/metallb-operator"),
        ],
    };
    candidates
        .iter()
        .find(|d| d.join("src/charm.py").is_file())
        .cloned()
        .with_context(|| {
            format!(
                "the Python metallb charm (test peer) is not at {}: set {PEER_ENV}",
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
}

/// Installs Python's `venv` (Debian's python3-venv) unless `python3` has it.
fn ensure_python_venv() -> Result<()> {
    let has_venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_venv {
        return Ok(());
    }
    crate::packages::install(&["python3", "python3-venv"])
}

fn python_version() -> Result<String> {
    let out = Command::new("python3")
        .arg("--version")
        .output()
        .context("cannot run python3 (install python3 and python3-venv)")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A virtualenv with the peer's requirements; returns its directory (`bin/python3` inside).
pub fn ensure_venv(peer: &Path) -> Result<PathBuf> {
    ensure_python_venv()?;
    let requirements = peer.join("requirements.txt");
    let text = std::fs::read(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(&text);
    hasher.update(python_version()?.as_bytes());
    let hash: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let venvs = cache_dir().join("python-charm");
    let out = venvs.join(&hash);
    if out.join("complete").is_file() {
        return Ok(out);
    }
    // A virtualenv's scripts name its path: it is built where it stays, complete once marked.
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("cannot remove {}", out.display()))?;
    }
    println!(
        "==> a virtualenv for the Python metallb charm (test peer) from PyPI: {}",
        out.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(&out))
        .context("python3 -m venv failed (install python3-venv)")?;
    run(Command::new(out.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(out.join("complete"), b"")?;
    Ok(out)
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
