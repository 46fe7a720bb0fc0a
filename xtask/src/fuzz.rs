//! `cargo xtask fuzz`: runs libFuzzer targets of `fuzz/` for a while: one target (default
//! `bgp_message`), or every one in turn with `--all`, then prints a table (target, seconds,
//! runs, result). Targets are built with coverage instrumentation (the flags cargo-fuzz uses),
//! in their own target dir; each target's corpus and any crash are kept under `fuzz/`, its
//! libFuzzer output in `<cache>/fuzz-logs/<target>.log`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::paths::{cache_dir, workspace_root};

/// Flags that instrument the build for libFuzzer (as cargo-fuzz sets them, without ASan).
const INSTRUMENT: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions \
    -Coverflow-checks";

/// Every target of `fuzz/`, one per decoder of untrusted input.
pub const TARGETS: &[(&str, &str)] = &[
    ("bgp_message", "BGP messages from a peer"),
    ("bfd_packet", "BFD control packets"),
    (
        "bfd_session",
        "the BFD session state machine fed any packets",
    ),
    ("arp_request", "ARP requests"),
    ("ndp_solicitation", "NDP neighbor solicitations"),
    (
        "membership_header",
        "the membership header and replay guard",
    ),
    (
        "membership_packet",
        "membership packets: opening, and the gossip decoder behind it",
    ),
];

/// Arguments of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct FuzzArgs {
    /// The fuzz target (a binary of `fuzz/`).
    #[arg(default_value = "bgp_message", conflicts_with = "all")]
    target: String,
    /// Fuzz every target in turn, `--seconds` each.
    #[arg(long)]
    all: bool,
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

/// What one target's run gave.
struct Outcome {
    target: String,
    seconds: f64,
    runs: Option<u64>,
    failure: Option<String>,
}

/// Builds the targets and fuzzes each for `--seconds`; fails when libFuzzer finds a crash.
pub fn run(args: &FuzzArgs) -> Result<()> {
    let targets: Vec<&str> = if args.all {
        TARGETS.iter().map(|(name, _)| *name).collect()
    } else {
        let known = TARGETS.iter().any(|(name, _)| *name == args.target);
        if !known {
            let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
            bail!(
                "no fuzz target {:?}; the targets are {}",
                args.target,
                names.join(", ")
            );
        }
        vec![args.target.as_str()]
    };
    let root = workspace_root().join("fuzz");
    let target_dir = cache_dir().join("fuzz-target");
    let triple = host_triple()?;
    build(&root, &target_dir, &triple, &targets)?;
    let logs = cache_dir().join("fuzz-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut outcomes = Vec::new();
    for target in &targets {
        let binary = target_dir.join(&triple).join("release").join(target);
        println!("fuzzing {target} for {} s ...", args.seconds);
        outcomes.push(fuzz_one(&root, &binary, target, args.seconds, &logs)?);
    }
    print_table(&outcomes);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|o| o.target.as_str()).collect();
        bail!("libFuzzer found failing inputs for {}", names.join(", "));
    }
    Ok(())
}

/// Builds `targets` with coverage instrumentation.
fn build(root: &Path, target_dir: &Path, triple: &str, targets: &[&str]) -> Result<()> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.args(["build", "--release"]);
    for target in targets {
        cargo.args(["--bin", target]);
    }
    // With an explicit --target, RUSTFLAGS reach only the targets' code, not build scripts.
    let status = cargo
        .args(["--target", triple])
        .env("RUSTFLAGS", INSTRUMENT)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(root)
        .status()
        .context("cannot run cargo build for the fuzz targets")?;
    if !status.success() {
        bail!("the fuzz targets {} did not build", targets.join(", "));
    }
    Ok(())
}

/// Runs one target for `seconds`, its output in `<logs>/<target>.log`.
fn fuzz_one(
    root: &Path,
    binary: &Path,
    target: &str,
    seconds: u64,
    logs: &Path,
) -> Result<Outcome> {
    let corpus: PathBuf = root.join("corpus").join(target);
    let artifacts = root.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let log_path = logs.join(format!("{target}.log"));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let started = Instant::now();
    let status = Command::new(binary)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus)
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let failure = (!status.success()).then(|| {
        let tail: Vec<&str> = output.lines().rev().take(30).collect();
        eprintln!(
            "--- {target}: last lines of {} ---\n{}",
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        format!("failing input in {}", artifacts.display())
    });
    Ok(Outcome {
        target: target.to_string(),
        seconds: elapsed,
        runs: executed_runs(&output),
        failure,
    })
}

/// The number of inputs libFuzzer ran, from its final statistics (or its last status line).
fn executed_runs(output: &str) -> Option<u64> {
    let from_stats = output.lines().find_map(|line| {
        line.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    from_stats.or_else(|| {
        output.lines().rev().find_map(|line| {
            let rest = line.strip_prefix('#')?;
            rest.split_whitespace().next()?.parse().ok()
        })
    })
}

fn print_table(outcomes: &[Outcome]) {
    println!();
    println!("{:<20} {:>9} {:>14}  result", "target", "seconds", "runs");
    for o in outcomes {
        let runs = o.runs.map_or_else(|| "?".to_string(), |r| r.to_string());
        let result = o.failure.as_deref().unwrap_or("no failure");
        println!("{:<20} {:>9.0} {:>14}  {result}", o.target, o.seconds, runs);
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV printed no host triple")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_from_the_final_stats_or_the_last_status_line() {
        let stats = "#2\tINITED\n#1000\tpulse\nstat::number_of_executed_units: 123456\n";
        assert_eq!(executed_runs(stats), Some(123_456));
        let status_only = "#512\tpulse cov: 10\n#1024\tpulse cov: 12\n==1== ERROR: deadly signal\n";
        assert_eq!(executed_runs(status_only), Some(1024));
        assert_eq!(executed_runs("nothing"), None);
    }
}
