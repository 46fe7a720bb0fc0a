//! `metallb-lab`: the local lab behind `cargo xtask lab`.
//!
//! `up` builds a small network of namespaces, starts the control plane in one of them and a real
//! node (containerd, kubelet, kube-proxy) in each node namespace, imports the workload images
//! into the nodes, deploys the compiled charm through `juju-sim deploy --trust` with those images
//! as resources, waits until the charm is active because its pods became ready, creates a sample
//! LoadBalancer Service, shows it answering (ARP, HTTP, then BGP routes in FRR), and stays up
//! until Ctrl-C. `down` removes everything a lab created, also after a
//! crash.
//!
//! A developer tool, like the rest of `xtask/`: it runs from a source checkout (`cargo xtask lab`
//! builds the control plane, the images and the charm first), is never shipped, and is built on
//! the test infrastructure on purpose: the same `test_support::scenario` builder (network →
//! control plane → real nodes) and `netlab` network the tests use, so the lab shows what the
//! tests check.

mod bgp;
mod down;
mod sim;
mod up;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The local MetalLB lab.
#[derive(Parser)]
#[command(name = "metallb-lab")]
struct Cli {
    /// State directory (kubeconfig, juju-sim state, logs, pid file).
    #[arg(long, global = true, default_value = "/root/.cache/metallb-rs/lab")]
    state: PathBuf,
    /// Prefix of every network namespace the lab creates.
    #[arg(long, global = true, default_value = "mlab", hide = true)]
    prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the lab (replacing a running one) and stay up until Ctrl-C.
    Up(up::UpArgs),
    /// Stop a running lab and remove its namespaces, processes and files.
    Down,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Up(args) => up::run(&cli.state, &cli.prefix, args),
        Command::Down => down::run(&cli.state, &cli.prefix),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
