//! The Debian packages the network tests and the lab need, installed on first use.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// (program, Debian package) pairs for Layer 2 tests and the lab.
pub const NETWORK_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("arping", "arping"),
    ("ndisc6", "ndisc6"),
    ("curl", "curl"),
    ("tcpdump", "tcpdump"),
];

/// Whether `program` (a name looked up on `PATH`, or an absolute path) exists.
fn on_path(program: &str) -> bool {
    if Path::new(program).is_absolute() {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(Into::into))
        .any(|dir: std::path::PathBuf| Path::new(&dir).join(program).is_file())
}

/// What the real test nodes need besides the binaries `cargo xtask cluster build` makes: runc
/// (containerd's OCI runtime), the CNI plugins (bridge, host-local, loopback) and iptables (the
/// CNI bridge's masquerading and kube-proxy), and `nsenter` to start a node in its namespace.
pub const NODE_TOOLS: &[(&str, &str)] = &[
    ("runc", "runc"),
    ("/usr/lib/cni/bridge", "containernetworking-plugins"),
    ("iptables", "iptables"),
    ("nsenter", "util-linux"),
];

/// FRR, the router of the lab's BGP step.
pub const ROUTER_TOOLS: &[(&str, &str)] = &[("vtysh", "frr")];

/// What `cargo xtask test` needs besides [`NETWORK_TOOLS`]: `skopeo` (image checks), the
/// BGP daemons the BGP tests peer with (FRR, GoBGP, BIRD), `promtool` (the alert rules) and
/// `xz` (the dashboard as Grafana decompresses it).
pub const CHECK_TOOLS: &[(&str, &str)] = &[
    ("skopeo", "skopeo"),
    ("promtool", "prometheus"),
    ("xz", "xz-utils"),
    ("vtysh", "frr"),
    ("gobgpd", "gobgpd"),
    ("bird", "bird2"),
];

/// Installs the packages of the programs in `tools` that are missing (with apt-get, as root).
pub fn ensure(tools: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(&missing)
}

/// Installs Debian `packages` (with apt-get, as root).
pub fn install(missing: &[&str]) -> Result<()> {
    println!("==> installing Debian packages: {}", missing.join(" "));
    let status = Command::new("apt-get")
        .args(["update", "-qq"])
        .status()
        .context("cannot run apt-get (the network tests need a Debian-like system)")?;
    if !status.success() {
        bail!(
            "apt-get update failed (root is needed to install {})",
            missing.join(" ")
        );
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get install")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}
