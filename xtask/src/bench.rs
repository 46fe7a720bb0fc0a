//! `cargo xtask bench ...`: benchmarks that print numbers.
//!
//! `bench hooks`: deploys the release-built charm through `juju-sim` against a fresh control
//! plane and prints how long each hook took (dispatch start to exit), for a deploy and a config
//! change.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::paths::workspace_root;

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time every hook of a charm deploy and a config change against a real control plane.
    Hooks {
        /// How many config changes to time.
        #[arg(long, default_value_t = 5)]
        changes: u32,
    },
    /// Create N LoadBalancer Services at once against a real control plane with the release
    /// controller; print time to all allocated, per-service p50/p99, CPU and peak RSS.
    Controller {
        /// Number of Services.
        #[arg(long, default_value_t = 1000)]
        services: usize,
    },
    /// Restart safety under churn: N Services against a real control plane, the release
    /// controller killed with SIGKILL at a random moment of each round of creations, deletions,
    /// broken requests and pool edits; prints what was held and lost per round.
    Churn {
        /// Number of Services.
        #[arg(long, default_value_t = 1000)]
        services: usize,
        /// Rounds (one kill each).
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Seed of the random choices (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Layer 2 failover on network namespaces with the release speaker: kill -9 and SIGTERM
    /// the announcer, and take its uplink down; time to the first reply from the new node
    /// (min/median/p90/max).
    Failover {
        /// Trials per kind of stop.
        #[arg(long, default_value_t = 20)]
        trials: u32,
        /// Then watch an idle cluster this long for spurious failovers.
        #[arg(long, default_value_t = 0)]
        idle_seconds: u64,
    },
    /// BGP with the release speaker and FRR: Service address to route in FRR (min/median/p90/
    /// max), and the time to pack and encode 10,000 prefixes.
    Bgp {
        /// Services to time.
        #[arg(long, default_value_t = 20)]
        trials: u32,
    },
    /// The same workloads against upstream MetalLB v0.16.2 and metallb-rs in one run, on fresh
    /// control planes: one table with ratios (controller, Layer 2 failover, speaker memory,
    /// BGP, sizes).
    Compare(crate::bench_compare::CompareArgs),
}

/// Runs a benchmark.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Hooks { changes } => hooks(changes),
        BenchCommand::Controller { services } => controller(services),
        BenchCommand::Churn {
            services,
            rounds,
            seed,
        } => churn(services, rounds, seed),
        BenchCommand::Failover {
            trials,
            idle_seconds,
        } => failover(trials, idle_seconds),
        BenchCommand::Bgp { trials } => bgp(trials),
        BenchCommand::Compare(args) => crate::bench_compare::run(&args),
    }
}

fn controller(services: usize) -> Result<()> {
    let bin = crate::cluster::ensure_built()?;
    // Measure the binary that ships (static, as in the image), not the bench's own build.
    let shipped = crate::artifacts::build_static(&[("metallb-controller", "metallb-controller")])?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["bench", "-p", "metallb-controller", "--bench", "scale"])
        .env("METALLB_RS_CLUSTER_BIN", bin)
        .env(
            "BENCH_CONTROLLER_BIN",
            shipped.first().context("no controller binary was built")?,
        )
        .env("BENCH_SERVICES", services.to_string())
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the controller benchmark failed");
    }
    Ok(())
}

fn churn(services: usize, rounds: usize, seed: Option<u64>) -> Result<()> {
    let bin = crate::cluster::ensure_built()?;
    let shipped = crate::artifacts::build_static(&[("metallb-controller", "metallb-controller")])?;
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(["bench", "-p", "metallb-controller", "--bench", "churn"])
        .env("METALLB_RS_CLUSTER_BIN", bin)
        .env(
            "BENCH_CONTROLLER_BIN",
            shipped.first().context("no controller binary was built")?,
        )
        .env("CHURN_SERVICES", services.to_string())
        .env("CHURN_ROUNDS", rounds.to_string())
        .current_dir(workspace_root());
    if let Some(seed) = seed {
        command.env("CHURN_SEED", seed.to_string());
    }
    let status = command.status().context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the churn benchmark failed (or lost addresses)");
    }
    Ok(())
}

fn failover(trials: u32, idle_seconds: u64) -> Result<()> {
    crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
    let bin = crate::cluster::ensure_built()?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["bench", "-p", "metallb-speaker", "--bench", "failover"])
        .env("METALLB_RS_CLUSTER_BIN", bin)
        .env("BENCH_TRIALS", trials.to_string())
        .env("BENCH_IDLE_SECONDS", idle_seconds.to_string())
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the failover benchmark failed");
    }
    Ok(())
}

fn bgp(trials: u32) -> Result<()> {
    crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
    crate::packages::ensure(crate::packages::CHECK_TOOLS)?;
    let bin = crate::cluster::ensure_built()?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["bench", "-p", "metallb-speaker", "--bench", "bgp"])
        .env("METALLB_RS_CLUSTER_BIN", bin)
        .env("BENCH_TRIALS", trials.to_string())
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the BGP benchmark failed");
    }
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Stops the control plane when dropped.
struct ControlPlane(Child);

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn sim(juju_sim: &Path, state: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(juju_sim)
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .context("cannot run juju-sim")?;
    if !out.status.success() {
        bail!(
            "juju-sim {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn hooks(changes: u32) -> Result<()> {
    println!("==> building the charm and juju-sim (release)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "metallb-charm",
            "--bin",
            "metallb-charm",
            "-p",
            "juju-rs-ops",
            "--bin",
            "juju-sim",
        ])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let release = target_dir().join("release");
    let bin = crate::cluster::ensure_built()?;
    let work = tempfile::tempdir()?;
    let state_dir = work.path().join("cluster");
    let started = Instant::now();
    let child = Command::new(bin.join("kcp"))
        .arg("up")
        .arg("--dir")
        .arg(&state_dir)
        .args(["--parent-pid", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _plane = ControlPlane(child);
    while !state_dir.join("ready.json").exists() {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the control plane did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "==> control plane ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let kubeconfig = state_dir.join("admin.kubeconfig");
    let nodes = "apiVersion: v1\nkind: List\nitems:\n".to_string()
        + &(1..=3)
            .map(|i| format!("- apiVersion: v1\n  kind: Node\n  metadata:\n    name: bench-{i}\n    annotations: {{kwok.x-k8s.io/node: fake}}\n    labels: {{kubernetes.io/os: linux}}\n"))
            .collect::<String>();
    let mut apply = Command::new(bin.join("kcp"))
        .args(["kubectl", "apply", "-f", "-", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = apply.stdin.take() {
        use std::io::Write;
        stdin.write_all(nodes.as_bytes())?;
    }
    if !apply.wait()?.success() {
        bail!("cannot create the simulated nodes");
    }

    let charm = work.path().join("charm");
    std::fs::create_dir(&charm)?;
    for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
        std::fs::copy(workspace_root().join(file), charm.join(file))?;
    }
    std::fs::copy(release.join("metallb-charm"), charm.join("dispatch"))?;
    let juju_sim = release.join("juju-sim");
    let state = work.path().join("sim");
    let kc = kubeconfig.display().to_string();
    let charm_arg = charm.display().to_string();
    sim(
        &juju_sim,
        &state,
        &[
            "deploy",
            &charm_arg,
            "--trust",
            "--kubeconfig",
            &kc,
            "--config",
            "iprange=198.18.100.0/28",
        ],
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        sim(&juju_sim, &state, &["update-status"])?;
        let status = sim(&juju_sim, &state, &["status", "--format", "json"])?;
        if status.contains("\"workload-status\":{\"current\":\"active\"") {
            break;
        }
        if Instant::now() > deadline {
            bail!("the charm did not become active: {status}");
        }
    }
    for i in 0..changes {
        sim(
            &juju_sim,
            &state,
            &["config", &format!("iprange=198.18.{}.0/28", 101 + i)],
        )?;
    }
    let timings: Vec<serde_json::Value> =
        serde_json::from_str(&sim(&juju_sim, &state, &["timings", "--format", "json"])?)?;
    println!("\n{:<24} {:>8}", "hook", "ms");
    let mut config_changes = Vec::new();
    for (i, t) in timings.iter().enumerate() {
        let name = t["name"].as_str().unwrap_or("?");
        let ms = t["millis"].as_u64().unwrap_or(0);
        if i < 4 || name != "update-status" {
            println!("{name:<24} {ms:>8}");
        }
        if name == "config-changed" && i >= 4 {
            config_changes.push(ms);
        }
    }
    let updates: Vec<u64> = timings
        .iter()
        .filter(|t| t["name"] == "update-status")
        .filter_map(|t| t["millis"].as_u64())
        .collect();
    config_changes.sort_unstable();
    if let (Some(min), Some(max)) = (config_changes.first(), config_changes.last()) {
        println!(
            "\nconfig-changed after deploy: {} runs, min {min} ms, median {} ms, max {max} ms",
            config_changes.len(),
            config_changes[config_changes.len() / 2]
        );
    }
    if !updates.is_empty() {
        println!(
            "update-status: {} runs, mean {} ms",
            updates.len(),
            updates.iter().sum::<u64>() / updates.len() as u64
        );
    }
    Ok(())
}
