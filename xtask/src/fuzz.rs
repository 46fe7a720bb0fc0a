//! `cargo xtask fuzz`: runs a libFuzzer target of `fuzz/` (the BGP message decoder) for a
//! while. The target is built with coverage instrumentation (the flags cargo-fuzz uses), in
//! its own target dir; the corpus and any crash are kept under `fuzz/`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths::{cache_dir, workspace_root};

/// Flags that instrument the build for libFuzzer (as cargo-fuzz sets them, without ASan).
const INSTRUMENT: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions \
    -Coverflow-checks";

/// Arguments of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct FuzzArgs {
    /// The fuzz target (a binary of `fuzz/`).
    #[arg(default_value = "bgp_message")]
    target: String,
    /// How long to fuzz, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

/// Builds the target and fuzzes it for `--seconds`; fails when libFuzzer finds a crash.
pub fn run(args: &FuzzArgs) -> Result<()> {
    let root = workspace_root().join("fuzz");
    let target_dir = cache_dir().join("fuzz-target");
    // With an explicit --target, RUSTFLAGS reach only the target's code, not build scripts.
    let triple = host_triple()?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--bin",
            &args.target,
            "--target",
            &triple,
        ])
        .env("RUSTFLAGS", INSTRUMENT)
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&root)
        .status()
        .context("cannot run cargo build for the fuzz target")?;
    if !status.success() {
        bail!("the fuzz target {} did not build", args.target);
    }
    let corpus: PathBuf = root.join("corpus").join(&args.target);
    let artifacts = root.join("artifacts").join(&args.target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let binary = target_dir.join(&triple).join("release").join(&args.target);
    let status = Command::new(&binary)
        .arg(format!("-max_total_time={}", args.seconds))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus)
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !status.success() {
        bail!(
            "libFuzzer found a failing input for {} (see {})",
            args.target,
            artifacts.display()
        );
    }
    println!("fuzzed {} for {} s: no failure", args.target, args.seconds);
    Ok(())
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
