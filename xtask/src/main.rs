//! `cargo xtask <cmd>`: the one entry point for every project task.

mod artifacts;
mod bench;
mod bench_compare;
mod cluster;
mod crds;
mod faults;
mod fuzz;
mod images;
mod lab;
mod pack;
mod packages;
mod paths;
mod python_charm;
mod test;
mod test_args;
mod upstream;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Project tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "metallb-rs project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every check and test (what CI runs).
    Test(test::TestArgs),
    /// Build, start, stop or inspect the local Kubernetes control plane.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Benchmarks that print numbers.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Build the charm statically and write metallb_amd64.charm.
    Pack(pack::PackArgs),
    /// Build the controller and speaker images as OCI archives (build/images/*.oci.tar).
    Images(images::ImagesArgs),
    /// Regenerate workload/api/crds/metallb.io.yaml from the API types.
    Crds,
    /// Start the local lab (a real control plane, the charm through juju-sim, controller and
    /// speakers on network-namespace nodes); `lab down` removes it.
    Lab(lab::LabArgs),
    /// Upstream MetalLB as a test peer: build its controller and speaker, or fetch its source.
    #[command(subcommand)]
    Upstream(upstream::UpstreamCommand),
    /// Fuzz a decoder with libFuzzer (default target: bgp_message; `--all`: every target in
    /// turn) for `--seconds` each, then print a table.
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Test(args) => test::run(&args),
        Command::Cluster(cmd) => cluster::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Crds => crds::run(),
        Command::Pack(args) => pack::run(&args).map(|_| ()),
        Command::Images(args) => images::run(&args).map(|_| ()),
        Command::Lab(args) => lab::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Upstream(cmd) => upstream::run(cmd),
    }
}
