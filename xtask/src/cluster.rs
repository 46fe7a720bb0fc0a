//! `cargo xtask cluster up|down|status`: the local Kubernetes control plane.

use anyhow::Result;
use clap::Subcommand;

/// Control-plane sub-commands.
#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Start the control plane in the background and wait until it is ready.
    Up,
    /// Stop the control plane and remove its state.
    Down,
    /// Say whether the control plane is running.
    Status,
}

/// Runs one control-plane sub-command.
pub fn run(_cmd: ClusterCommand) -> Result<()> {
    anyhow::bail!("the control plane is not implemented yet")
}
