//! Building `kcp` (and the `pause` program, as the pods' sandbox image) from `tests/cluster` into
//! `cache_dir()/cluster/<hash>/`, where the hash covers every build input (Go sources, go.mod,
//! go.sum, the build flags and the container runtime's build). A build for the same hash is
//! reused; concurrent builders wait for each other through a lock file.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::cache::{inputs, inputs_hash, lock_builds, run_go_env, touch};
use crate::paths::{cache_dir, workspace_root};

/// The Kubernetes release that `src/go.mod` requires (`k8s.io/kubernetes vX.Y.Z`).
pub(super) fn kubernetes_version(src: &Path) -> Result<String> {
    let go_mod = src.join("go.mod");
    let text = std::fs::read_to_string(&go_mod)
        .with_context(|| format!("cannot read {}", go_mod.display()))?;
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let first = words.next()?;
            let (module, version) = if first == "require" {
                (words.next()?, words.next()?)
            } else {
                (first, words.next()?)
            };
            (module == "k8s.io/kubernetes" && version.starts_with('v')).then(|| version.to_string())
        })
        .next()
        .with_context(|| format!("{} does not require k8s.io/kubernetes", go_mod.display()))
}

/// The arguments of `go build` (without `-o`): stripped, reproducible paths, and the release
/// version stamped in as the Kubernetes release build does (else `/version` says
/// `v0.0.0-master`). Part of the hash, so changing them rebuilds.
pub(super) fn go_build_args(src: &Path) -> Result<Vec<String>> {
    let version = kubernetes_version(src)?;
    let minor = version.split('.').nth(1).unwrap_or("0");
    let mut ldflags = String::from("-s -w");
    for package in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        for (var, value) in [
            ("gitVersion", version.as_str()),
            ("gitMajor", "1"),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
        ] {
            ldflags.push_str(&format!(" -X {package}.{var}={value}"));
        }
    }
    Ok(vec![
        "build".into(),
        "-trimpath".into(),
        format!("-ldflags={ldflags}"),
    ])
}

/// How many builds (newest first) stay in the cache.
const KEEP_BUILDS: usize = 3;

/// What a complete build directory holds.
const BUILT: &[&str] = &["kcp", "kubectl", "pause.oci.tar"];

fn complete(dir: &Path) -> bool {
    BUILT
        .iter()
        .chain(super::runtime::FILES)
        .all(|f| dir.join(f).exists())
}

/// Builds the control plane and the test nodes' software unless a build for the same inputs is
/// cached; returns the directory holding them: `kcp` (control plane, kubelet, kube-proxy),
/// `kubectl` (a link to it), `pause.oci.tar` (the pods' sandbox image) and containerd's
/// binaries (linked from their own cache, see [`super::runtime`]).
pub fn ensure_built() -> Result<PathBuf> {
    let runtime = super::runtime::ensure_built()?;
    let src = workspace_root().join("tests").join("cluster");
    let mut build_args = go_build_args(&src)?;
    let hash = inputs_hash(&src, &inputs(&src)?, &{
        // The runtime and the pause image's flags are inputs too.
        let mut all = build_args.clone();
        all.push(format!("runtime={}", super::runtime::hash()));
        all.extend(PAUSE_ARGS.iter().map(|a| a.to_string()));
        all
    })?;
    let builds = cache_dir().join("cluster");
    let out = builds.join(&hash);
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let lock = lock_builds(&builds, "the control plane")?;
    // Another process may have built it while we waited.
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let result = build(&src, &mut build_args, &builds, &out, &runtime);
    drop(lock);
    result?;
    prune(&builds, &out);
    Ok(out)
}

/// `go build` arguments of the static pause program (without `-o`).
const PAUSE_ARGS: &[&str] = &["build", "-trimpath", "-ldflags=-s -w"];

fn build(
    src: &Path,
    build_args: &mut Vec<String>,
    builds: &Path,
    out: &Path,
    runtime: &Path,
) -> Result<()> {
    let tmp = builds.join(format!(
        "{}.partial",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("build")
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    println!(
        "==> building the control plane from the official Kubernetes Go modules into {}\n    \
         (a first build on a bare machine downloads ~800 MB of modules and compiles for many minutes)",
        out.display()
    );
    let start = Instant::now();
    println!("==> [1/3] go mod download");
    run_go(src, &["mod", "download"], start)?;
    build_args.extend([
        "-o".into(),
        tmp.join("kcp").display().to_string(),
        ".".into(),
    ]);
    let args: Vec<&str> = build_args.iter().map(String::as_str).collect();
    println!("==> [2/3] go {}", args.join(" "));
    run_go(src, &args, start)?;
    std::os::unix::fs::symlink("kcp", tmp.join("kubectl")).context("cannot link kubectl to kcp")?;
    let pause = tmp.join("pause");
    let mut args: Vec<String> = PAUSE_ARGS.iter().map(|a| a.to_string()).collect();
    args.extend(["-o".into(), pause.display().to_string(), "./pause".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!(
        "==> [3/3] CGO_ENABLED=0 go {} (the pods' sandbox image)",
        args.join(" ")
    );
    run_go_env(
        src,
        &args,
        &[("CGO_ENABLED", "0"), ("GOFLAGS", "-mod=readonly")],
        start,
        "the control plane",
    )?;
    let archive = crate::images::write_image(&crate::images::PAUSE, &pause, &tmp)?;
    std::fs::remove_file(&pause).context("cannot remove the pause binary")?;
    debug_assert!(archive.ends_with("pause.oci.tar"));
    for file in super::runtime::FILES {
        // Hard links: the runtime's cache may be pruned independently.
        std::fs::hard_link(runtime.join(file), tmp.join(file))
            .or_else(|_| std::fs::copy(runtime.join(file), tmp.join(file)).map(|_| ()))
            .with_context(|| format!("cannot link {file} into the build"))?;
    }
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {}", out.display()))?;
    }
    std::fs::rename(&tmp, out).context("cannot move the build into the cache")?;
    println!(
        "==> control plane built in {}s: {}",
        start.elapsed().as_secs(),
        out.display()
    );
    Ok(())
}

/// Runs `go args...` in `src` at low priority with the module kept read-only.
fn run_go(src: &Path, args: &[&str], start: Instant) -> Result<()> {
    run_go_env(
        src,
        args,
        &[("GOFLAGS", "-mod=readonly")],
        start,
        "the control plane",
    )
}

/// Removes all but the `KEEP_BUILDS` most recently used builds (never `current`), and
/// leftovers of interrupted builds.
fn prune(builds: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(builds) else {
        return;
    };
    let mut done: Vec<(SystemTime, PathBuf)> = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if !path.is_dir() || path == current {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".partial") {
            // Only a builder holding the lock writes a .partial folder, and we hold none now
            // that our build is finished, but another builder may have started: leave young ones.
            let old = path
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600));
            if old {
                let _ = std::fs::remove_dir_all(&path);
            }
        } else if path.join("kcp").is_file() {
            let modified = path
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            done.push((modified, path));
        }
    }
    done.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, path) in done.into_iter().skip(KEEP_BUILDS.saturating_sub(1)) {
        println!(
            "==> removing an old control-plane build: {}",
            path.display()
        );
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_names_contents_and_nested_files() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::fs::write(root.join("a.go"), "package main")?;
        std::fs::write(root.join("notes.txt"), "x")?;
        std::fs::create_dir_all(root.join("sub"))?;
        std::fs::create_dir_all(root.join("testdata"))?;
        std::fs::write(root.join("sub").join("b.go"), "package sub")?;
        std::fs::write(root.join("testdata").join("c.go"), "package x")?;
        let files = inputs(root)?;
        assert_eq!(
            files,
            vec![PathBuf::from("a.go"), PathBuf::from("sub").join("b.go")]
        );
        let args = vec!["build".to_string()];
        let h1 = inputs_hash(root, &files, &args)?;
        assert_eq!(h1, inputs_hash(root, &files, &args)?);
        assert_ne!(h1, inputs_hash(root, &files, &["build -x".to_string()])?);
        std::fs::write(root.join("sub").join("b.go"), "package sub // changed")?;
        let h2 = inputs_hash(root, &files, &args)?;
        assert_ne!(h1, h2);
        std::fs::rename(root.join("sub").join("b.go"), root.join("b.go"))?;
        std::fs::write(root.join("notes.txt"), "y")?;
        let h3 = inputs_hash(root, &inputs(root)?, &args)?;
        assert_ne!(h2, h3, "moving a file changes the hash");
        Ok(())
    }

    #[test]
    fn the_kubernetes_version_comes_from_go_mod() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("go.mod"),
            "module x\n\ngo 1.26.0\n\nrequire (\n\tk8s.io/api v0.36.3\n\tk8s.io/kubernetes v1.36.3\n)\n",
        )?;
        assert_eq!(kubernetes_version(dir.path())?, "v1.36.3");
        let args = go_build_args(dir.path())?;
        assert!(args[2].contains("k8s.io/component-base/version.gitVersion=v1.36.3"));
        assert!(args[2].contains("version.gitMinor=36 "));
        std::fs::write(
            dir.path().join("go.mod"),
            "module x\nrequire k8s.io/kubernetes v1.37.0\n",
        )?;
        assert_eq!(kubernetes_version(dir.path())?, "v1.37.0");
        std::fs::write(dir.path().join("go.mod"), "module x\n")?;
        assert!(kubernetes_version(dir.path()).is_err());
        Ok(())
    }
}
