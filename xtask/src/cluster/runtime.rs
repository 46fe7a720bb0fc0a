//! The container runtime of the test nodes: containerd 2.x (`containerd`, `ctr`,
//! `containerd-shim-runc-v2`), built with `go install` from its published Go module into
//! `cache_dir()/runtime/<hash>/`, where the hash covers the module version and the build flags.
//!
//! Why build it: Debian's containerd is 1.6, and Kubernetes 1.36's kubelet needs containerd 2.
//! Its module has no `replace` directives, so `go install MODULE/cmd/...@VERSION` builds it
//! exactly as released (static, with the release's build tags), sharing the Go module and build
//! caches with `kcp`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::cache::{fnv, lock_builds, run_go_env, touch};
use crate::paths::cache_dir;

/// The containerd module and the release built.
pub const CONTAINERD_MODULE: &str = "github.com/containerd/containerd/v2";
/// The containerd release (its go.mod asks for Go 1.26.6, which the machine's Go satisfies).
pub const CONTAINERD_VERSION: &str = "v2.4.2";
/// The binaries built, each with the build tags of containerd's own Makefile for a static build.
const BINARIES: &[(&str, &str)] = &[
    (
        "containerd",
        "urfave_cli_no_docs osusergo netgo static_build",
    ),
    ("ctr", "urfave_cli_no_docs osusergo netgo static_build"),
    (
        "containerd-shim-runc-v2",
        "urfave_cli_no_docs osusergo netgo static_build no_grpc",
    ),
];

/// The files a runtime build leaves in its directory.
pub const FILES: &[&str] = &["containerd", "ctr", "containerd-shim-runc-v2"];

fn ldflags() -> String {
    format!(
        "-s -w -X {CONTAINERD_MODULE}/version.Version={CONTAINERD_VERSION} -X {CONTAINERD_MODULE}/version.Package={CONTAINERD_MODULE}"
    )
}

/// The build's identity: module, version, binaries, tags and flags.
pub fn hash() -> String {
    let mut text = format!("{CONTAINERD_MODULE}@{CONTAINERD_VERSION} {}", ldflags());
    for (binary, tags) in BINARIES {
        text.push_str(&format!(" {binary}:{tags}"));
    }
    fnv(text.as_bytes())
}

fn complete(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file())
}

/// Builds the runtime unless a build for the same hash is cached; returns its directory.
pub fn ensure_built() -> Result<PathBuf> {
    let builds = cache_dir().join("runtime");
    let out = builds.join(hash());
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let lock = lock_builds(&builds, "the container runtime")?;
    if complete(&out) {
        touch(&out);
        return Ok(out);
    }
    let tmp = builds.join(format!("{}.partial", hash()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    println!(
        "==> building containerd {CONTAINERD_VERSION} (containerd, ctr, containerd-shim-runc-v2) from its Go module into {}",
        out.display()
    );
    let start = Instant::now();
    let ldflags = format!("-ldflags={}", ldflags());
    for (binary, tags) in BINARIES {
        let package = format!("{CONTAINERD_MODULE}/cmd/{binary}@{CONTAINERD_VERSION}");
        let tags = format!("-tags={tags}");
        let args = [
            "install",
            "-trimpath",
            tags.as_str(),
            ldflags.as_str(),
            &package,
        ];
        println!("==> go {}", args.join(" "));
        run_go_env(
            &builds,
            &args,
            &[("CGO_ENABLED", "0"), ("GOBIN", &tmp.display().to_string())],
            start,
            "containerd",
        )?;
    }
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("cannot remove {}", out.display()))?;
    }
    std::fs::rename(&tmp, &out).context("cannot move the runtime build into the cache")?;
    drop(lock);
    println!(
        "==> containerd built in {}s: {}",
        start.elapsed().as_secs(),
        out.display()
    );
    Ok(out)
}
