//! `cargo xtask lab [down]`: builds what the lab needs and hands over to `metallb-lab`.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::paths::{cache_dir, workspace_root};

/// Options of `cargo xtask lab`.
#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    action: Option<LabAction>,
    /// Show the Service answering, then stop (instead of waiting for Ctrl-C).
    #[arg(long)]
    no_wait: bool,
}

/// `lab` actions; without one, the lab starts.
#[derive(Subcommand)]
enum LabAction {
    /// Stop a running lab and remove its namespaces, processes and files (also after a crash).
    Down,
}

fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Runs the lab (replacing this process with `metallb-lab`).
pub fn run(args: &LabArgs) -> Result<()> {
    let state = cache_dir().join("lab");
    let bin_dir = target_dir().join("debug");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if matches!(args.action, Some(LabAction::Down)) {
        let lab = bin_dir.join("metallb-lab");
        if !lab.is_file() {
            // Nothing was ever built here: only namespaces could be left over.
            build(&cargo, &["-p", "metallb-lab"])?;
        }
        let err = Command::new(lab)
            .arg("--state")
            .arg(&state)
            .arg("down")
            .exec();
        bail!("cannot run metallb-lab: {err}");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        bail!("the lab creates network namespaces: run it as root");
    }
    crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
    crate::packages::ensure(crate::packages::ROUTER_TOOLS)?;
    crate::packages::ensure(crate::packages::NODE_TOOLS)?;
    println!("==> control plane binaries (built once from the official Go modules, then cached)");
    let cluster_bin = crate::cluster::ensure_built()?;
    println!("==> building the workload images (the nodes run them as the charm's pods)");
    let images_dir = crate::artifacts::build_dir().join("images");
    crate::images::run(&crate::images::ImagesArgs::to(images_dir.clone()))?;
    println!("==> building the charm, juju-sim and the lab");
    build(
        &cargo,
        &[
            "-p",
            "metallb-charm",
            "-p",
            "juju-rs-ops",
            "-p",
            "metallb-lab",
        ],
    )?;
    let mut cmd = Command::new(bin_dir.join("metallb-lab"));
    cmd.arg("--state")
        .arg(&state)
        .arg("up")
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--charm-src")
        .arg(workspace_root())
        .env("METALLB_RS_CLUSTER_BIN", cluster_bin)
        .env("METALLB_RS_IMAGES_DIR", images_dir);
    if args.no_wait {
        cmd.arg("--no-wait");
    }
    let err = cmd.exec();
    bail!("cannot run metallb-lab: {err}")
}

fn build(cargo: &str, packages: &[&str]) -> Result<()> {
    let status = Command::new(cargo)
        .arg("build")
        .arg("--bins")
        .args(packages)
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("the build failed");
    }
    Ok(())
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
