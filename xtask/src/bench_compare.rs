//! `cargo xtask bench compare`: the same workloads against upstream MetalLB and metallb-rs in
//! one run (`tests/compare`, the `metallb-compare` program), printed as one table with ratios.
//! Builds what it needs first: the control plane, upstream's binaries (`cargo xtask upstream
//! build`) and our static binaries as they ship.

use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::paths::workspace_root;

/// Options of `bench compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// Only these sections: controller, failover, memory, bgp, sizes (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Service counts for the controller section (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 5000])]
    services: Vec<usize>,
    /// Trials per kind of failover, and Services timed in the BGP section.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Announced Services for the speaker memory measure.
    #[arg(long, default_value_t = 1000)]
    loaded: usize,
}

/// Runs the comparison.
pub fn run(args: &CompareArgs) -> Result<()> {
    crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
    crate::packages::ensure(crate::packages::ROUTER_TOOLS)?;
    let cluster = crate::cluster::ensure_built()?;
    let upstream = crate::upstream::ensure_built(crate::upstream::DEFAULT_VERSION)?;
    let ours = crate::artifacts::build_static(&[
        ("metallb-controller", "metallb-controller"),
        ("metallb-speaker", "metallb-speaker"),
    ])?;
    let (Some(controller), Some(speaker)) = (ours.first(), ours.get(1)) else {
        bail!("the static build returned no binaries");
    };
    let join = |v: &[usize]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "run",
        "--release",
        "-p",
        "metallb-compare",
        "--bin",
        "metallb-compare",
        "--",
    ])
    .args(["--services", &join(&args.services)])
    .args(["--trials", &args.trials.to_string()])
    .args(["--loaded", &args.loaded.to_string()]);
    if !args.only.is_empty() {
        cmd.args(["--only", &args.only.join(",")]);
    }
    let status = cmd
        .env("METALLB_RS_CLUSTER_BIN", &cluster)
        .env("BENCH_UPSTREAM_BIN", &upstream)
        .env("BENCH_OURS_CONTROLLER", controller)
        .env("BENCH_OURS_SPEAKER", speaker)
        .current_dir(workspace_root())
        .status()
        .context("cannot run the comparison")?;
    if !status.success() {
        bail!("the comparison failed");
    }
    Ok(())
}
