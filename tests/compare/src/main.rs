//! `cargo xtask bench compare`: the same workloads against upstream MetalLB (v0.16.2, built by
//! `cargo xtask upstream build`) and metallb-rs (the static binaries that ship), in one run, each
//! on a fresh control plane, printed as one table with ratios.
//!
//! Sections (`--only` picks some): `controller` (N Services created at once: time until all are
//! addressed after the last create, CPU per Service, peak RSS, API requests per Service),
//! `failover` (Layer 2, 3 nodes: kill -9 and SIGTERM of the announcer, median and max),
//! `memory` (speaker RSS at rest and with 1,000 announced Services), `bgp` (Service address to
//! route in FRR, upstream in native mode, IPv4), `sizes` (binaries, and each as a one-layer
//! gzip'd image).
//!
//! Environment (set by xtask): `METALLB_RS_CLUSTER_BIN`, `BENCH_UPSTREAM_BIN` (a directory with
//! upstream's `controller` and `speaker`), `BENCH_OURS_CONTROLLER`, `BENCH_OURS_SPEAKER`. The
//! speaker sections need root (network namespaces).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use metallb_compare::implementation::{Implementation, Which};
use metallb_compare::table::{self, Row, median_max};
use metallb_compare::{controller, speaker};

/// The sections of the comparison.
const SECTIONS: &[&str] = &["controller", "failover", "memory", "bgp", "sizes"];

/// Options.
#[derive(Parser)]
#[command(name = "metallb-compare")]
struct Args {
    /// Only these sections (controller, failover, memory, bgp, sizes); default: all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Service counts for the controller section.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 5000])]
    services: Vec<usize>,
    /// Trials per kind of failover, and Services timed in the BGP section.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Announced Services for the memory section.
    #[arg(long, default_value_t = 1000)]
    loaded: usize,
}

fn env_path(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .with_context(|| format!("{name} is not set: run `cargo xtask bench compare`"))
}

/// Both implementations, upstream first.
fn implementations() -> Result<[Implementation; 2]> {
    let upstream = env_path("BENCH_UPSTREAM_BIN")?;
    Ok([
        Implementation {
            which: Which::Upstream,
            controller: upstream.join("controller"),
            speaker: upstream.join("speaker"),
        },
        Implementation {
            which: Which::Ours,
            controller: env_path("BENCH_OURS_CONTROLLER")?,
            speaker: env_path("BENCH_OURS_SPEAKER")?,
        },
    ])
}

/// Upstream's and our result of one measurement (either may have failed).
type Pair<T> = [Option<T>; 2];

fn report<T>(what: &str, name: &str, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            println!("!! {what} with {name} failed: {err:#}");
            None
        }
    }
}

fn gzip_size(path: &std::path::Path) -> Result<u64> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&data)?;
    Ok(encoder.finish()?.len() as u64)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    for section in &args.only {
        anyhow::ensure!(
            SECTIONS.contains(&section.as_str()),
            "unknown section {section:?} (sections: {})",
            SECTIONS.join(", ")
        );
    }
    let wants = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let cluster_bin = env_path(test_support::CLUSTER_BIN_ENV)?;
    let impls = implementations()?;
    let mut rows: Vec<Row> = Vec::new();

    if wants("controller") {
        for &n in &args.services {
            let mut runs: Pair<controller::ControllerRun> = [None, None];
            for (i, implementation) in impls.iter().enumerate() {
                println!("==> controller, {n} Services: {}", implementation.name());
                runs[i] = report(
                    "the controller run",
                    implementation.name(),
                    controller::run(implementation, &cluster_bin, n).await,
                );
                if let Some(run) = &runs[i] {
                    println!(
                        "    all addressed {:.2} s after the first create, {:.0} ms after the last; \
                         CPU {:.3} ms per Service; peak RSS {:.1} MiB; {:.2} API requests per Service",
                        run.total.as_secs_f64(),
                        run.settle.as_secs_f64() * 1e3,
                        run.cpu_per_service.as_secs_f64() * 1e3,
                        run.peak_rss as f64 / 1048576.0,
                        run.requests_per_service
                    );
                }
            }
            let [u, o] = &runs;
            rows.push(Row::time(
                format!("controller, {n} Services: all addressed after the last create"),
                u.as_ref().map(|r| r.settle),
                o.as_ref().map(|r| r.settle),
            ));
            rows.push(Row::time(
                format!("controller, {n} Services: CPU per Service"),
                u.as_ref().map(|r| r.cpu_per_service),
                o.as_ref().map(|r| r.cpu_per_service),
            ));
            rows.push(Row::bytes(
                format!("controller, {n} Services: peak RSS"),
                u.as_ref().map(|r| r.peak_rss),
                o.as_ref().map(|r| r.peak_rss),
            ));
            rows.push(Row::count(
                format!("controller, {n} Services: API requests per Service"),
                u.as_ref().map(|r| r.requests_per_service),
                o.as_ref().map(|r| r.requests_per_service),
            ));
        }
    }

    if wants("failover") || wants("memory") {
        let trials = if wants("failover") { args.trials } else { 0 };
        let loaded = if wants("memory") { args.loaded } else { 0 };
        let mut runs: Pair<speaker::Layer2Run> = [None, None];
        for (i, implementation) in impls.iter().enumerate() {
            println!(
                "==> Layer 2, 3 nodes ({trials} trials of each stop, {loaded} Services for memory): {}",
                implementation.name()
            );
            runs[i] = report(
                "the Layer 2 run",
                implementation.name(),
                speaker::layer2(implementation, trials, loaded).await,
            );
            if let Some(run) = &runs[i] {
                println!(
                    "    kill -9 {:?}\n    SIGTERM {:?}\n    RSS at rest {} B, loaded {} B",
                    run.kill, run.term, run.rss_rest, run.rss_loaded
                );
            }
        }
        if trials > 0 {
            for (what, pick) in [
                (
                    "kill -9",
                    (|r: &speaker::Layer2Run| r.kill.clone())
                        as fn(&speaker::Layer2Run) -> Vec<Duration>,
                ),
                ("SIGTERM", |r: &speaker::Layer2Run| r.term.clone()),
            ] {
                let stats: Vec<Option<(Duration, Duration)>> = runs
                    .iter()
                    .map(|r| r.as_ref().and_then(|r| median_max(&pick(r))))
                    .collect();
                rows.push(Row::time(
                    format!("Layer 2 failover after {what}, median of {trials}"),
                    stats[0].map(|s| s.0),
                    stats[1].map(|s| s.0),
                ));
                rows.push(Row::time(
                    format!("Layer 2 failover after {what}, max"),
                    stats[0].map(|s| s.1),
                    stats[1].map(|s| s.1),
                ));
            }
        }
        if loaded > 0 {
            rows.push(Row::bytes(
                "speaker RSS at rest (largest of 3)",
                runs[0].as_ref().map(|r| r.rss_rest),
                runs[1].as_ref().map(|r| r.rss_rest),
            ));
            rows.push(Row::bytes(
                format!("speaker RSS with {loaded} announced Services (largest of 3)"),
                runs[0].as_ref().map(|r| r.rss_loaded),
                runs[1].as_ref().map(|r| r.rss_loaded),
            ));
        }
    }

    if wants("bgp") {
        let mut runs: Pair<Vec<Duration>> = [None, None];
        for (i, implementation) in impls.iter().enumerate() {
            println!(
                "==> BGP, 3 nodes, {} Services: {}",
                args.trials,
                implementation.name()
            );
            runs[i] = report(
                "the BGP run",
                implementation.name(),
                speaker::bgp(implementation, args.trials).await,
            );
            if let Some(run) = &runs[i] {
                println!("    {run:?}");
            }
        }
        let stats: Vec<Option<(Duration, Duration)>> = runs
            .iter()
            .map(|r| r.as_ref().and_then(|r| median_max(r)))
            .collect();
        rows.push(Row::time(
            "BGP: Service address to route in FRR from all 3 nodes, median",
            stats[0].map(|s| s.0),
            stats[1].map(|s| s.0),
        ));
        rows.push(Row::time(
            "BGP: Service address to route in FRR from all 3 nodes, max",
            stats[0].map(|s| s.1),
            stats[1].map(|s| s.1),
        ));
    }

    if wants("sizes") {
        for (what, pick) in [
            (
                "controller",
                (|i: &Implementation| i.controller.clone()) as fn(&Implementation) -> PathBuf,
            ),
            ("speaker", |i: &Implementation| i.speaker.clone()),
        ] {
            let sizes: Vec<Option<u64>> = impls
                .iter()
                .map(|i| std::fs::metadata(pick(i)).ok().map(|m| m.len()))
                .collect();
            rows.push(Row::bytes(
                format!("{what} binary (static, stripped)"),
                sizes[0],
                sizes[1],
            ));
            let layers: Vec<Option<u64>> = impls.iter().map(|i| gzip_size(&pick(i)).ok()).collect();
            rows.push(Row::bytes(
                format!("{what} as a one-layer image (gzip'd binary)"),
                layers[0],
                layers[1],
            ));
        }
    }

    println!("\n{}", table::render(&rows));
    Ok(())
}
