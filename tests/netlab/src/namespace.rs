//! Network namespaces: creating, entering, running commands in and removing them.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};

/// Runs a command and fails with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<Output> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// Runs `args` inside network namespace `ns`.
pub fn netns_exec(ns: &str, args: &[&str]) -> Result<Output> {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Network namespaces whose name starts with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Kills every process in namespace `ns` and deletes it.
pub fn remove_namespace(ns: &str) {
    if let Ok(output) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Moves the calling thread into network namespace `ns`.
pub fn enter(ns: &str) -> std::io::Result<()> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread inside namespace `ns` and returns its result.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || -> std::io::Result<T> {
        enter(&ns)?;
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread in a network namespace panicked"))?
    .context("cannot enter the network namespace")
}

/// Runs `f` on a background thread inside namespace `ns`.
pub fn spawn_in_netns(
    ns: &str,
    f: impl FnOnce() + Send + 'static,
) -> JoinHandle<std::io::Result<()>> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns)?;
        f();
        Ok(())
    })
}

/// Whether this process may create network namespaces (root with `ip`).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Sets sysctl `key` (dotted, e.g. `net.ipv4.ip_forward`) to `value` inside namespace `ns`.
pub(crate) fn write_sysctl(ns: &str, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    netns_exec(ns, &["sh", "-c", &format!("echo {value} > {path}")]).map(|_| ())
}
