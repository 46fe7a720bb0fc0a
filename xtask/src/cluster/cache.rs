//! The build cache shared by the Go builds xtask makes (the control plane, containerd, upstream
//! MetalLB): the inputs of a Go build and their hash, the lock of a cache folder, running `go`
//! visibly, and marking a build as used.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

/// Every file under `src` that affects the Go build (`*.go`, `go.mod`, `go.sum`), as sorted
/// paths relative to `src`.
pub(crate) fn inputs(src: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                // Go ignores testdata and dot/underscore folders when building.
                if name != "testdata" && !name.starts_with(['.', '_']) {
                    walk(root, &path, files)?;
                }
            } else if name.ends_with(".go") || name == "go.mod" || name == "go.sum" {
                files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(src, src, &mut files)?;
    files.sort();
    Ok(files)
}

/// FNV-1a (64 bit) of `bytes`, in hex.
pub(crate) fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// FNV-1a (64 bit) over the build flags and each input's relative path and content: enough to
/// notice any change of the inputs.
pub(crate) fn inputs_hash(src: &Path, files: &[PathBuf], build_args: &[String]) -> Result<String> {
    let mut bytes = build_args.join(" ").into_bytes();
    for file in files {
        let content = std::fs::read(src.join(file))
            .with_context(|| format!("cannot read {}", src.join(file).display()))?;
        bytes.push(0);
        bytes.extend(file.to_string_lossy().as_bytes());
        bytes.push(0);
        bytes.extend((content.len() as u64).to_le_bytes());
        bytes.extend(content);
    }
    Ok(fnv(&bytes))
}

/// Takes the lock of a build cache folder (waiting for another builder of `what`).
pub(crate) fn lock_builds(builds: &Path, what: &str) -> Result<std::fs::File> {
    std::fs::create_dir_all(builds)
        .with_context(|| format!("cannot create {}", builds.display()))?;
    let lock_path = builds.join("build.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        println!("==> waiting for another build of {what} to finish");
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    }
    Ok(lock)
}

/// Runs `go args...` in `dir` at low priority with `env` added, passing its output through and
/// printing a line every 30 s so that a long build of `what` is visibly alive.
pub(crate) fn run_go_env(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    start: Instant,
    what: &str,
) -> Result<()> {
    let spawn = |nice: bool| -> std::io::Result<Child> {
        let mut cmd = if nice {
            let mut cmd = Command::new("nice");
            cmd.args(["-n", "10", "go"]);
            cmd
        } else {
            Command::new("go")
        };
        cmd.args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
    };
    let mut child = match spawn(true) {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            spawn(false).context("cannot run `go` (is Go 1.26 or newer installed?)")?
        }
        Err(err) => return Err(err).context("cannot run `go`"),
    };
    let mut next_report = Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for go")? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
        if start.elapsed() >= next_report {
            println!("    still building {what}... {}s", next_report.as_secs());
            next_report += Duration::from_secs(30);
        }
    };
    if !status.success() {
        bail!(
            "`go {}` failed ({status}) in {}",
            args.join(" "),
            dir.display()
        );
    }
    Ok(())
}

/// Marks a build as used now (the cache keeps the most recently used builds).
pub(crate) fn touch(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.set_modified(SystemTime::now());
    }
}
