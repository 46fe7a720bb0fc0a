//! `cargo xtask bench ...`: benchmarks that print numbers.
//!
//! `bench hooks`: deploys the static release charm (as `pack` ships it) through a static
//! `juju-sim`, whose hook tools are links to its static `jujuc`, against a fresh control plane
//! and prints how long each hook took (dispatch start to exit) and how many Kubernetes
//! API requests it made (the charm logs the count at DEBUG), for a deploy, config changes,
//! config-changed with nothing to change, and update-status.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::paths::workspace_root;

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time every hook of a charm deploy, config changes, config-changed with nothing to
    /// change and update-status against a real control plane; print the API requests of each.
    Hooks {
        /// How many config changes to time.
        #[arg(long, default_value_t = 5)]
        changes: u32,
        /// How many config-changed with nothing to change, and how many update-status.
        #[arg(long, default_value_t = 20)]
        idle: u32,
        /// Time this charm binary instead of building the workspace's (to compare two
        /// builds on the same machine at the same time).
        #[arg(long)]
        charm: Option<PathBuf>,
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
        BenchCommand::Hooks {
            changes,
            idle,
            charm,
        } => hooks(changes, idle, charm.as_deref()),
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

fn hooks(changes: u32, idle: u32, prebuilt: Option<&Path>) -> Result<()> {
    // What Juju runs: the static charm binary `pack` ships, and hook tools that are links to a
    // static `jujuc` client (Juju's own jujuc is a static binary too).
    let charm_built = crate::artifacts::build_static(&[("metallb-charm", "metallb-charm")])?;
    let sim_built =
        crate::artifacts::build_static(&[("juju-sim", "juju-rs-ops"), ("jujuc", "juju-rs-ops")])?;
    let charm_binary = match prebuilt {
        Some(path) => path.to_path_buf(),
        None => charm_built[0].clone(),
    };
    println!("==> timing {}", charm_binary.display());
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
    std::fs::copy(&charm_binary, charm.join("dispatch"))?;
    let juju_sim = sim_built[0].clone();
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
    let settled = timings(&juju_sim, &state)?.len();
    let mut last = "iprange=198.18.100.0/28".to_string();
    for i in 0..changes {
        last = format!("iprange=198.18.{}.0/28", 101 + i);
        sim(&juju_sim, &state, &["config", &last])?;
    }
    let changed = timings(&juju_sim, &state)?.len();
    for _ in 0..idle {
        sim(&juju_sim, &state, &["config", &last])?;
    }
    let idled = timings(&juju_sim, &state)?.len();
    for _ in 0..idle {
        sim(&juju_sim, &state, &["update-status"])?;
    }
    let timings = timings(&juju_sim, &state)?;
    let requests = hook_requests(&sim(&juju_sim, &state, &["debug-log"])?, &timings);

    println!(
        "\n{:<24} {:>8} {:>9} {:>7}",
        "hook (deploy)", "ms", "requests", "writes"
    );
    for (t, r) in timings.iter().zip(&requests).take(4) {
        println!(
            "{:<24} {:>8} {:>9} {:>7}",
            t.name,
            t.millis,
            r.as_ref().map_or("-".into(), |r| r.total.to_string()),
            r.as_ref().map_or("-".into(), |r| r.writes.to_string())
        );
    }
    println!(
        "\n{:<36} {:>5} {:>7} {:>7} {:>9} {:>7} {:>7}",
        "hook kind", "runs", "median", "p90", "requests", "writes", "API ms"
    );
    let phases = [
        ("config-changed (a change)", settled..changed, None),
        (
            "config-changed (nothing to change)",
            changed..idled,
            Some(("config-changed with nothing to change", 50)),
        ),
        (
            "update-status",
            idled..timings.len(),
            Some(("update-status", 20)),
        ),
    ];
    let mut goals = Vec::new();
    for (kind, range, goal) in phases {
        let runs: Vec<u64> = timings[range.clone()].iter().map(|t| t.millis).collect();
        let counts: Vec<&Requests> = requests[range].iter().flatten().collect();
        let median = percentile(&runs, 50);
        let stat = |f: fn(&Requests) -> u64| {
            let values: Vec<u64> = counts.iter().map(|r| f(r)).collect();
            percentile(&values, 50).map_or("-".to_string(), |v| v.to_string())
        };
        println!(
            "{kind:<36} {:>5} {:>7} {:>7} {:>9} {:>7} {:>7}",
            runs.len(),
            median.map_or("-".into(), |m| format!("{m} ms")),
            percentile(&runs, 90).map_or("-".into(), |m| format!("{m} ms")),
            stat(|r| r.total),
            stat(|r| r.writes),
            stat(|r| r.millis),
        );
        if let (Some((what, limit)), Some(median)) = (goal, median) {
            let verdict = if median < limit { "met" } else { "NOT met" };
            goals.push(format!(
                "goal: {what} < {limit} ms (median {median} ms): {verdict}"
            ));
        }
    }
    println!(
        "(requests, writes and API ms are medians; API ms is the time the charm waited on the API)"
    );
    // What the charm applied although nothing changed, and why (it logs both).
    let mut unchanged: Vec<&String> = requests[changed..]
        .iter()
        .flatten()
        .flat_map(|r| &r.applying)
        .collect();
    unchanged.sort_unstable();
    unchanged.dedup();
    for applied in unchanged {
        println!("applied with nothing to change: {applied}");
    }
    for goal in goals {
        println!("{goal}");
    }
    Ok(())
}

/// One dispatch's timing, as `juju-sim timings --format json` prints it.
struct Timing {
    name: String,
    millis: u64,
}

fn timings(juju_sim: &Path, state: &Path) -> Result<Vec<Timing>> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&sim(juju_sim, state, &["timings", "--format", "json"])?)?;
    Ok(all
        .iter()
        .map(|t| Timing {
            name: t["name"].as_str().unwrap_or("?").to_string(),
            millis: t["millis"].as_u64().unwrap_or(0),
        })
        .collect())
}

/// The API requests of one hook, as the charm logs them ("N Kubernetes API requests (W
/// writes, T ms)"), and what it said it applied and why ("applying ...").
#[derive(Clone)]
struct Requests {
    total: u64,
    writes: u64,
    millis: u64,
    applying: Vec<String>,
}

/// The requests each of `timings` made: the k-th count the charm logged during hooks named
/// like the k-th such timing (None when it logged none, as charms before the count did).
fn hook_requests(debug_log: &str, timings: &[Timing]) -> Vec<Option<Requests>> {
    // unit-metallb-0: config-changed DEBUG unit.metallb/0.juju-log 12 Kubernetes API ...
    let mut logged: Vec<(String, Requests)> = Vec::new();
    let mut applying = Vec::new();
    for line in debug_log.lines() {
        let Some(message) = line.split(".juju-log ").nth(1) else {
            continue;
        };
        if let Some(what) = message.strip_prefix("applying ") {
            applying.push(what.to_string());
            continue;
        }
        if !message.contains(" Kubernetes API requests") {
            continue;
        }
        let Some(hook) = line.split_whitespace().nth(1) else {
            continue;
        };
        let numbers: Vec<u64> = message
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        let Some(total) = numbers.first().copied() else {
            continue;
        };
        let requests = Requests {
            total,
            writes: numbers.get(1).copied().unwrap_or(0),
            millis: numbers.get(2).copied().unwrap_or(0),
            applying: std::mem::take(&mut applying),
        };
        logged.push((hook.to_string(), requests));
    }
    logged.reverse();
    timings
        .iter()
        .map(|t| {
            let at = logged.iter().rposition(|(hook, _)| *hook == t.name)?;
            Some(logged.remove(at).1)
        })
        .collect()
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile(values: &[u64], p: usize) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}
