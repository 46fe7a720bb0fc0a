//! The speaker refuses to run a membership without a key: no unencrypted, unauthenticated
//! gossip. It says why and exits before touching the network or the API server.

use std::path::Path;
use std::process::{Command, Output};

fn speaker(key_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metallb-speaker"))
        .args([
            "--node-name",
            "node-a",
            "--port",
            "0",
            "--health-probe-port",
            "0",
        ])
        .args(["--ml-bindaddr", "127.0.0.1", "--ml-labels", "app=metallb"])
        .arg("--ml-secret-key-path")
        .arg(key_dir)
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .expect("the speaker runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn membership_without_a_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = speaker(dir.path());
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("refusing to start")
            && text.contains("secretkey does not exist")
            && text.contains("never gossips unencrypted"),
        "{text}"
    );
}

#[test]
fn an_empty_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secretkey"), " \n").unwrap();
    let output = speaker(dir.path());
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("refusing to start") && text.contains("secretkey is empty"),
        "{text}"
    );
}

#[test]
fn with_a_key_the_speaker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secretkey"), "c2VjcmV0").unwrap();
    let output = speaker(dir.path());
    let text = stderr(&output);
    // It stops later, at the missing kubeconfig, not at the key.
    assert!(!output.status.success(), "{text}");
    assert!(!text.contains("refusing"), "{text}");
    assert!(text.contains("kubeconfig"), "{text}");
}
