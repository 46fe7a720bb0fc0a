//! `cargo xtask test`: every check and test, in the order CI runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::paths::{cache_dir, workspace_root};

/// Options of `cargo xtask test`.
#[derive(Args)]
pub struct TestArgs {
    /// Run the fault and bad-input suite instead (long: outages, kills, bad options) and
    /// print its table.
    #[arg(long)]
    faults: bool,
    /// Run only the tests that need neither root, nor the control plane, nor anything else this
    /// command prepares (what plain `cargo test` runs: the others are `#[ignore]`d with the
    /// reason).
    #[arg(long, conflicts_with = "faults")]
    fast: bool,
    /// Run only these `cargo test --workspace` arguments with the tests' environment, without
    /// the formatting and lint checks (e.g. `cargo xtask test -- --test pods_migration`).
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// Runs formatting, lint and the test suites, then prints one summary line.
pub fn run(args: &TestArgs) -> Result<()> {
    println!("==> caches in {}", cache_dir().display());
    if args.faults {
        let prepared = prepare(&mut Steps::default())?;
        return crate::faults::run(&prepared.env());
    }
    if args.fast {
        let mut command = vec!["test", "--workspace", "--no-fail-fast"];
        command.extend(args.cargo_args.iter().map(String::as_str));
        let mut totals = Totals::default();
        let outcome = cargo_test(&command, &[], &mut totals);
        println!(
            "summary: {} passed, {} failed, {} left for `cargo xtask test` (root, control plane)",
            totals.passed, totals.failed, totals.ignored
        );
        return outcome;
    }
    if !args.cargo_args.is_empty() {
        let prepared = prepare(&mut Steps::default())?;
        let command = crate::test_args::with_ignored(&args.cargo_args);
        let mut command: Vec<&str> = command.iter().map(String::as_str).collect();
        command.splice(0..0, ["test", "--workspace"]);
        let mut totals = Totals::default();
        return cargo_test(&command, &prepared.env(), &mut totals);
    }
    let mut steps = Steps::default();
    steps.time("fmt", || cargo(&["fmt", "--all", "--check"]))?;
    steps.time("clippy", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    // The tests' debug build runs while `prepare` builds the shipped binaries: their fat-LTO
    // links are single-threaded and would leave a core idle.
    let test_build = Background::start(&["test", "--workspace", "--no-run"], &[], "test-build")?;
    let prepared = match prepare(&mut steps) {
        Ok(prepared) => prepared,
        Err(err) => {
            test_build.stop();
            return Err(err);
        }
    };
    steps.time("test build (after prepare)", || {
        let (status, output) = test_build.wait()?;
        if !status.success() {
            println!("{output}");
            bail!("cargo test --workspace --no-run failed ({status})");
        }
        Ok(())
    })?;
    let mut totals = Totals::default();
    let outcome = steps.time("tests", || {
        let runs = test_runs()?;
        let runs: Vec<Vec<&str>> = runs
            .iter()
            .map(|run| run.iter().map(String::as_str).collect())
            .collect();
        let runs: Vec<&[&str]> = runs.iter().map(Vec::as_slice).collect();
        side_by_side(&runs, &prepared.env(), &mut totals)?;
        // Doc tests cannot be selected with targets: on their own, after.
        cargo_test(
            &["test", "--workspace", "--doc", "--no-fail-fast"],
            &prepared.env(),
            &mut totals,
        )
    });
    println!("==> took {}", steps.summary());
    println!(
        "summary: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    outcome
}

/// The package whose integration tests run beside everyone else's tests.
const CHARM_PACKAGE: &str = "metallb-charm";

/// The test runs of `cargo xtask test`, side by side: the charm's integration tests (real
/// pods, the control plane) and every other test (networks of namespaces, routers, the unit
/// tests), about half the time each. Every test owns its network, control plane and nodes
/// (named after its process), so the two runs share nothing but the machine. Both select the
/// whole workspace and pick test targets by name: selecting packages would resolve other
/// features than the build made with `--workspace` and build everything again.
fn test_runs() -> Result<[Vec<String>; 2]> {
    let out = command(&["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let (charm, others) = integration_tests(&metadata);
    let run = |selection: Vec<String>| {
        let mut args: Vec<String> = ["test", "--workspace", "--no-fail-fast"]
            .map(String::from)
            .to_vec();
        args.extend(selection);
        args.extend(["--", "--include-ignored"].map(String::from));
        args
    };
    let charm_run = charm.into_iter().flat_map(|t| ["--test".to_string(), t]);
    let other_run = ["--lib", "--bins"]
        .map(String::from)
        .into_iter()
        .chain(others.into_iter().flat_map(|t| ["--test".to_string(), t]));
    Ok([run(charm_run.collect()), run(other_run.collect())])
}

/// The integration test targets of the workspace in `cargo metadata`: the charm's, then the
/// others'.
fn integration_tests(metadata: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut charm = Vec::new();
    let mut others = Vec::new();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    for package in &packages {
        let targets = package["targets"].as_array().cloned().unwrap_or_default();
        for target in &targets {
            let is_test = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "test"));
            let Some(name) = target["name"].as_str().filter(|_| is_test) else {
                continue;
            };
            if package["name"] == CHARM_PACKAGE {
                charm.push(name.to_string());
            } else {
                others.push(name.to_string());
            }
        }
    }
    (charm, others)
}

/// Runs the `cargo` commands `runs` at once, printing each one's output whole when it ends
/// and counting its results; fails when any failed.
fn side_by_side(
    runs: &[&[&str]],
    env: &[(&str, &std::path::Path)],
    totals: &mut Totals,
) -> Result<()> {
    let (done, finished) = std::sync::mpsc::channel();
    let mut waiting = Vec::new();
    for (i, args) in runs.iter().enumerate() {
        let run = Background::start(args, env, &format!("tests-{i}"))?;
        let done = done.clone();
        let text = run_text(args);
        waiting.push(std::thread::spawn(move || {
            let outcome = run.wait();
            let _ = done.send((text, outcome));
        }));
    }
    drop(done);
    let mut failed = Vec::new();
    for (args, outcome) in finished {
        let (status, output) = outcome?;
        println!("==> cargo {args}: {status}");
        println!("{output}");
        for line in output.lines() {
            totals.add_line(line);
        }
        if !status.success() {
            failed.push(args);
        }
    }
    for thread in waiting {
        let _ = thread.join();
    }
    if !failed.is_empty() {
        bail!("failed: cargo {}", failed.join("; cargo "));
    }
    Ok(())
}

fn run_text(args: &[&str]) -> String {
    args.join(" ")
}

/// A cargo command running beside the rest, its output (stdout and stderr, in order) kept in a
/// log file in the target directory until it ends.
struct Background {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Background {
    /// Starts `cargo ARGS` with `env`, its output going to `xtask-<name>.log`.
    fn start(args: &[&str], env: &[(&str, &std::path::Path)], name: &str) -> Result<Self> {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let log = dir.join(format!("xtask-{name}.log"));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        println!(
            "==> cargo {} (alongside, output in {})",
            run_text(args),
            log.display()
        );
        let mut cmd = command(args);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot run cargo {}", run_text(args)))?;
        Ok(Self { child, log })
    }

    /// Stops the command (the run failed before it is needed).
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the command: how it ended and what it printed.
    fn wait(mut self) -> Result<(std::process::ExitStatus, String)> {
        let status = self.child.wait().context("cargo did not finish")?;
        let output = std::fs::read_to_string(&self.log)
            .with_context(|| format!("cannot read {}", self.log.display()))?;
        Ok((status, output))
    }
}

/// How long each step of a run took, to print at its end (where CI's time goes).
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration)>);

impl Steps {
    /// Runs `step`, noting how long it took (failed or not).
    fn time<T>(&mut self, name: &'static str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = std::time::Instant::now();
        let out = step();
        self.0.push((name, started.elapsed()));
        out
    }

    /// "fmt 1 s, clippy 95 s, ..., 1234 s in all".
    fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, took)| format!("{name} {} s", took.as_secs()))
            .collect();
        let all: std::time::Duration = self.0.iter().map(|(_, took)| *took).sum();
        parts.push(format!("{} s in all", all.as_secs()));
        parts.join(", ")
    }
}

/// What the tests need besides the workspace: the control plane, the shipped artifacts and
/// upstream MetalLB (its source and binaries).
struct Prepared {
    cluster_bin: std::path::PathBuf,
    charm_file: std::path::PathBuf,
    images_dir: std::path::PathBuf,
    upstream_src: std::path::PathBuf,
    upstream_bin: std::path::PathBuf,
    ours_bin: std::path::PathBuf,
    python_charm: std::path::PathBuf,
    python_venv: std::path::PathBuf,
}

impl Prepared {
    /// The environment variables that tell the tests where they are.
    fn env(&self) -> [(&'static str, &std::path::Path); 8] {
        [
            ("METALLB_RS_CLUSTER_BIN", self.cluster_bin.as_path()),
            ("METALLB_RS_CHARM_FILE", self.charm_file.as_path()),
            ("METALLB_RS_IMAGES_DIR", self.images_dir.as_path()),
            ("METALLB_RS_UPSTREAM_SRC", self.upstream_src.as_path()),
            ("METALLB_RS_UPSTREAM_BIN", self.upstream_bin.as_path()),
            ("METALLB_RS_OURS_BIN", self.ours_bin.as_path()),
            (crate::python_charm::PEER_ENV, self.python_charm.as_path()),
            ("METALLB_RS_PYTHON_VENV", self.python_venv.as_path()),
        ]
    }
}

/// Installs the packages the tests use, builds the control plane and upstream MetalLB (both
/// cached by hash), packs the charm and builds the images (the tests check the shipped
/// artifacts as they are).
fn prepare(steps: &mut Steps) -> Result<Prepared> {
    steps.time("packages", || {
        crate::packages::ensure(crate::packages::NETWORK_TOOLS)?;
        crate::packages::ensure(crate::packages::CHECK_TOOLS)?;
        crate::packages::ensure(crate::packages::NODE_TOOLS)
    })?;
    let cluster_bin = steps.time("control plane", crate::cluster::ensure_built)?;
    // Upstream MetalLB: its module (CRDs and documentation) for the compatibility tests, and
    // its controller and speaker (cached by hash) for the interoperation tests.
    let (upstream_src, upstream_bin) = steps.time("upstream", || {
        Ok((
            crate::upstream::ensure_source(crate::upstream::DEFAULT_VERSION)?,
            crate::upstream::ensure_built(crate::upstream::DEFAULT_VERSION)?,
        ))
    })?;
    // The shipped artifacts, which the tests check as they are.
    let build = crate::artifacts::build_dir();
    let charm_file = steps.time("pack", || {
        crate::pack::run(&crate::pack::PackArgs::to(
            build.join("metallb_amd64.charm"),
        ))
    })?;
    let images_dir = build.join("images");
    steps.time("images", || {
        crate::images::run(&crate::images::ImagesArgs::to(images_dir.clone()))?;
        crate::images::write_upstream(
            &upstream_bin,
            crate::upstream::DEFAULT_VERSION,
            &images_dir,
        )?;
        // The Python charm the project replaces, with the release of upstream closest to the
        // one its manifests name (v0.13.10; the module proxy serves v0.13.5), for the refresh
        // test.
        let old_upstream = crate::upstream::ensure_built(crate::python_charm::UPSTREAM_VERSION)?;
        crate::images::write_upstream(
            &old_upstream,
            crate::python_charm::UPSTREAM_VERSION,
            &images_dir,
        )
    })?;
    // Without the peer, only the test that runs it fails (saying so), not every test.
    let (python_charm, python_venv) = steps.time("python charm", || {
        Ok(match crate::python_charm::peer_dir() {
            Ok(peer) => {
                let venv = crate::python_charm::ensure_venv(&peer)?;
                (peer, venv)
            }
            Err(err) => {
                println!("==> warning: {err:#}; the Python charm's refresh test will fail");
                Default::default()
            }
        })
    })?;
    // The static binaries the images hold (built by `images` above).
    let ours_bin = crate::artifacts::static_target_dir()
        .join(crate::artifacts::TARGET)
        .join("release");
    Ok(Prepared {
        cluster_bin,
        charm_file,
        images_dir,
        upstream_src,
        upstream_bin,
        ours_bin,
        python_charm,
        python_venv,
    })
}

/// Test counts summed over every `test result:` line.
#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds the counts of one libtest `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(workspace_root());
    cmd
}

fn cargo(args: &[&str]) -> Result<()> {
    println!("==> cargo {}", args.join(" "));
    let status = command(args)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs `cargo test` with the control plane's binaries available, echoing its output and
/// counting results.
fn cargo_test(args: &[&str], env: &[(&str, &std::path::Path)], totals: &mut Totals) -> Result<()> {
    println!("==> cargo {}", args.join(" "));
    let mut cmd = command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("cannot read cargo test output")?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait().context("cargo test did not finish")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Steps, Totals, integration_tests};

    #[test]
    fn integration_tests_split_into_the_charms_and_the_others() {
        let metadata = serde_json::json!({"packages": [
            {"name": "metallb-charm", "targets": [
                {"name": "metallb_charm", "kind": ["lib"]},
                {"name": "real_pods", "kind": ["test"]},
            ]},
            {"name": "metallb-speaker", "targets": [
                {"name": "layer2", "kind": ["test"]},
                {"name": "metallb-speaker", "kind": ["bin"]},
                {"name": "failover", "kind": ["bench"]},
            ]},
        ]});
        let (charm, others) = integration_tests(&metadata);
        assert_eq!(charm, ["real_pods"]);
        assert_eq!(others, ["layer2"]);
    }

    #[test]
    fn the_summary_names_each_step_and_the_sum() {
        let mut steps = Steps::default();
        steps
            .0
            .push(("fmt", std::time::Duration::from_millis(1500)));
        steps.0.push(("tests", std::time::Duration::from_secs(60)));
        assert_eq!(steps.summary(), "fmt 1 s, tests 60 s, 61 s in all");
    }

    #[test]
    fn counts_libtest_summary_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 47 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add_line(
            "test result: FAILED. 1 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 3 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (48, 3, 2));
    }
}
