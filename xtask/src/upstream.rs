//! `cargo xtask upstream build|src`: upstream MetalLB as a test peer, built here from the Go
//! module proxy and never shipped.
//!
//! Each folder `tests/upstream/<line>/` is a small Go module of ours that requires one upstream
//! release (`go.universe.tf/metallb vX.Y.Z`) and names its `controller` and `speaker` packages
//! in `tools.go`; `v0.16/` also replaces `github.com/metallb/frr-k8s`, which the proxy does not
//! serve at the version v0.16.2 asks for, by a stand-in of ours (`v0.16/frrk8s`). `build`
//! compiles both binaries into `cache_dir()/upstream/<hash>/`, the hash covering the folder's
//! Go files, go.mod, go.sum and the build flags (same cache and lock pattern as the control
//! plane). `src` only downloads upstream's module (its CRDs and documentation, for the
//! compatibility tests) and prints where Go keeps it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::cluster::cache::{inputs, inputs_hash, lock_builds, run_go_env, touch};
use crate::paths::{cache_dir, workspace_root};

/// The module path of upstream MetalLB.
pub const MODULE: &str = "go.universe.tf/metallb";
/// The release the benchmarks and tests use unless told otherwise.
pub const DEFAULT_VERSION: &str = "v0.16.2";
/// The binaries a build holds.
pub const BINARIES: &[&str] = &["controller", "speaker"];
/// How many builds (newest first) stay in the cache.
const KEEP_BUILDS: usize = 4;

/// Upstream sub-commands.
#[derive(Subcommand)]
pub enum UpstreamCommand {
    /// Build upstream's controller and speaker if their inputs changed; print the directory.
    Build(VersionArgs),
    /// Download upstream's module (CRDs, documentation); print its directory.
    Src(VersionArgs),
}

/// `--version`.
#[derive(Args)]
pub struct VersionArgs {
    /// The upstream release (one of those `tests/upstream/*/go.mod` require).
    #[arg(long, default_value = DEFAULT_VERSION)]
    version: String,
}

/// Runs an upstream sub-command.
pub fn run(cmd: UpstreamCommand) -> Result<()> {
    let dir = match cmd {
        UpstreamCommand::Build(args) => ensure_built(&args.version)?,
        UpstreamCommand::Src(args) => ensure_source(&args.version)?,
    };
    println!("{}", dir.display());
    Ok(())
}

/// The upstream version a `go.mod` text requires, if any.
fn required_version(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let mut first = words.next()?;
        if first == "require" {
            first = words.next()?;
        }
        let version = words.next()?;
        (first == MODULE && version.starts_with('v')).then(|| version.to_string())
    })
}

/// The folder of `tests/upstream` whose module requires upstream `version`.
fn source_dir(version: &str) -> Result<PathBuf> {
    let root = workspace_root().join("tests").join("upstream");
    let mut known = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot read {}", root.display()))?
    {
        let dir = entry?.path();
        let Ok(go_mod) = std::fs::read_to_string(dir.join("go.mod")) else {
            continue;
        };
        if let Some(required) = required_version(&go_mod) {
            if required == version {
                return Ok(dir);
            }
            known.push(required);
        }
    }
    known.sort();
    bail!(
        "no folder of {} builds upstream MetalLB {version} (available: {})",
        root.display(),
        known.join(", ")
    )
}

/// The arguments of `go build` (without `-o` and packages): stripped, reproducible paths.
const BUILD_ARGS: &[&str] = &["build", "-trimpath", "-ldflags=-s -w"];
/// The environment of every `go` run: the module files stay as committed, static binaries.
const GO_ENV: &[(&str, &str)] = &[("GOFLAGS", "-mod=readonly"), ("CGO_ENABLED", "0")];

fn complete(dir: &Path) -> bool {
    BINARIES.iter().all(|b| dir.join(b).is_file())
}

/// Builds upstream's `controller` and `speaker` of `version` unless a build for the same inputs
/// is cached; returns the directory holding them.
pub fn ensure_built(version: &str) -> Result<PathBuf> {
    let src = source_dir(version)?;
    let mut hashed: Vec<String> = BUILD_ARGS.iter().map(|a| a.to_string()).collect();
    hashed.extend(GO_ENV.iter().map(|(k, v)| format!("{k}={v}")));
    let hash = inputs_hash(&src, &inputs(&src)?, &hashed)?;
    let builds = cache_dir().join("upstream");
    let out = builds.join(&hash);
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let lock = lock_builds(&builds, "upstream MetalLB")?;
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let result = build(&src, version, &builds, &out);
    drop(lock);
    result?;
    prune(&builds, &out);
    Ok(out)
}

fn build(src: &Path, version: &str, builds: &Path, out: &Path) -> Result<()> {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("build");
    let tmp = builds.join(format!("{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    println!(
        "==> building upstream MetalLB {version} (controller, speaker) from the Go module proxy into {}\n    \
         (test tooling, never shipped; a first build downloads ~300 MB of modules and compiles for several minutes)",
        out.display()
    );
    let start = Instant::now();
    let what = format!("upstream MetalLB {version}");
    println!("==> [1/2] go mod download");
    run_go_env(src, &["mod", "download"], GO_ENV, start, &what)?;
    let mut args: Vec<String> = BUILD_ARGS.iter().map(|a| a.to_string()).collect();
    args.extend(["-o".to_string(), format!("{}/", tmp.display())]);
    args.extend(BINARIES.iter().map(|b| format!("{MODULE}/{b}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!("==> [2/2] go {}", args.join(" "));
    run_go_env(src, &args, GO_ENV, start, &what)?;
    std::fs::write(tmp.join("VERSION"), format!("{version}\n"))
        .context("cannot write the build's VERSION file")?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {}", out.display()))?;
    }
    std::fs::rename(&tmp, out).context("cannot move the build into the cache")?;
    println!(
        "==> upstream MetalLB {version} built in {}s: {}",
        start.elapsed().as_secs(),
        out.display()
    );
    Ok(())
}

/// Downloads upstream's module of `version` (one module, no dependencies) into Go's module
/// cache unless it is there; returns its directory.
pub fn ensure_source(version: &str) -> Result<PathBuf> {
    let src = source_dir(version)?;
    let out = Command::new("go")
        .args(["mod", "download", "-json", MODULE])
        .current_dir(&src)
        .envs(GO_ENV.iter().copied())
        .output()
        .context("cannot run `go mod download` (is Go 1.26 or newer installed?)")?;
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "`go mod download -json {MODULE}` in {} printed no JSON: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if let Some(error) = info["Error"].as_str() {
        bail!("cannot download {MODULE} {version}: {error}");
    }
    if !out.status.success() {
        bail!(
            "`go mod download {MODULE}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = info["Dir"]
        .as_str()
        .map(PathBuf::from)
        .with_context(|| format!("`go mod download -json` named no directory: {info}"))?;
    if info["Version"].as_str() != Some(version) {
        bail!(
            "{} requires {MODULE} {}, not {version}",
            src.display(),
            info["Version"]
        );
    }
    Ok(dir)
}

/// Removes all but the `KEEP_BUILDS` most recently used builds (never `current`), and
/// leftovers of interrupted builds older than a day.
fn prune(builds: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(builds) else {
        return;
    };
    let mut done: Vec<(SystemTime, PathBuf)> = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if !path.is_dir() || path == current {
            continue;
        }
        let modified = path
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".partial") {
            let old = modified
                .elapsed()
                .is_ok_and(|age| age > Duration::from_secs(24 * 3600));
            if old {
                let _ = std::fs::remove_dir_all(&path);
            }
        } else if complete(&path) {
            done.push((modified, path));
        }
    }
    done.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, path) in done.into_iter().skip(KEEP_BUILDS.saturating_sub(1)) {
        println!("==> removing an old upstream build: {}", path.display());
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_release_comes_from_go_mod() {
        let go_mod = "module x\n\ngo 1.26.0\n\nrequire go.universe.tf/metallb v0.16.2\n\nrequire (\n\tgithub.com/x/y v1.0.0 // indirect\n)\n";
        assert_eq!(required_version(go_mod).as_deref(), Some("v0.16.2"));
        let block = "module x\nrequire (\n\tgo.universe.tf/metallb v0.13.5\n)\n";
        assert_eq!(required_version(block).as_deref(), Some("v0.13.5"));
        assert_eq!(required_version("module x\n"), None);
        assert_eq!(
            required_version("replace go.universe.tf/metallb => ../x\n"),
            None
        );
    }

    #[test]
    fn every_upstream_folder_requires_a_release() -> Result<()> {
        let dir = source_dir(DEFAULT_VERSION)?;
        assert!(dir.join("tools.go").is_file());
        assert!(source_dir("v0.0.1").is_err());
        Ok(())
    }
}
