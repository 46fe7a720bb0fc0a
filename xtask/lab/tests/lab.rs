//! The lab end to end: it comes up and shows the Service answering, a second `up` replaces a
//! running lab, and `down` cleans up after a crash (SIGKILL).
//!
//! Needs root, the control plane and node binaries (`METALLB_RS_CLUSTER_BIN`), the workload
//! images (`METALLB_RS_IMAGES_DIR`) and the workspace's binaries, as `cargo xtask test` provides.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netlab::spawn_tied;

const UP_TIMEOUT: Duration = Duration::from_secs(300);

fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn lab(state: &Path, prefix: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metallb-lab"));
    cmd.arg("--state").arg(state).args(["--prefix", prefix]);
    cmd
}

fn up(state: &Path, prefix: &str) -> Command {
    let mut cmd = lab(state, prefix);
    cmd.arg("up")
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--charm-src")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    cmd
}

/// Starts a lab that stays up; returns it once it says so, with its output so far.
fn start_waiting(state: &Path, prefix: &str) -> (Child, String) {
    let mut child = spawn_tied(
        up(state, prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + UP_TIMEOUT;
    let mut output = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                output.push_str(&line);
                output.push('\n');
                if line.starts_with("The lab is up") {
                    return (child, output);
                }
            }
            Err(_) => {
                let _ = child.kill();
                let err = child
                    .wait_with_output()
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
                panic!("the lab did not come up:\n{output}\n{err:?}");
            }
        }
    }
}

fn exited_within(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

#[test]
#[ignore = "needs root and the control plane: cargo xtask test"]
fn lab_comes_up_replaces_itself_and_is_cleaned_after_a_crash() {
    assert!(
        netlab::available(),
        "the lab test needs root and iproute2 (run `cargo xtask test`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("lab");
    let prefix = format!("mlt{}", std::process::id() % 10_000);
    let ns_prefix = format!("{prefix}-");

    // A lab comes up and shows the Service answering; the charm reports active.
    let (mut first, shown) = start_waiting(&state, &prefix);
    assert!(
        shown.contains("hello from lab-node-"),
        "curl did not reach a node:\n{shown}"
    );
    assert!(
        shown.contains("3 packets received"),
        "arping did not get answers:\n{shown}"
    );
    assert!(
        shown.contains(" active "),
        "the charm is not active:\n{shown}"
    );
    // The charm's workloads run as real pods, ready, one speaker per node.
    let ready_pods: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("1/1") && l.contains("Running"))
        .collect();
    assert!(
        ready_pods
            .iter()
            .filter(|l| l.contains("controller-"))
            .count()
            == 1
            && ready_pods.iter().filter(|l| l.contains("speaker-")).count() == 3,
        "the lab does not show one ready controller pod and three ready speaker pods:\n{shown}"
    );
    // BGP on: FRR learns the Service's route from every speaker.
    assert!(
        shown.contains("FRR has 3 paths to 198.18.100.240/32"),
        "FRR did not learn the route from the three speakers:\n{shown}"
    );
    assert!(!netlab::namespaces_with_prefix(&ns_prefix).is_empty());

    // Running it again replaces the first lab rather than adding a second one.
    let second = up(&state, &prefix).arg("--no-wait").output().unwrap();
    assert!(
        second.status.success(),
        "second lab failed:\n{}",
        text(&second)
    );
    assert!(
        exited_within(&mut first, Duration::from_secs(30)),
        "the first lab is still running"
    );
    assert!(
        netlab::namespaces_with_prefix(&ns_prefix).is_empty(),
        "namespaces left after the lab stopped: {:?}",
        netlab::namespaces_with_prefix(&ns_prefix)
    );

    // After a crash, `down` removes the namespaces, the processes and the state.
    let (mut third, _) = start_waiting(&state, &prefix);
    let cluster_state = std::fs::read_to_string(state.join("cluster-state")).unwrap();
    let pid = third.id();
    third.kill().unwrap();
    third.wait().unwrap();
    assert!(
        !netlab::namespaces_with_prefix(&ns_prefix).is_empty(),
        "the crash left nothing to clean?"
    );
    let down = lab(&state, &prefix).arg("down").output().unwrap();
    assert!(down.status.success(), "down failed:\n{}", text(&down));
    assert!(netlab::namespaces_with_prefix(&ns_prefix).is_empty());
    assert!(!state.exists(), "the state directory is still there");
    assert!(
        !Path::new(cluster_state.trim()).exists(),
        "the control plane's state {cluster_state} is still there"
    );
    // The control plane follows its parent (the crashed lab) out.
    let needle = format!("--parent-pid {pid} ");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes_mentioning(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes outlived the lab: {:?}",
            processes_mentioning(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
