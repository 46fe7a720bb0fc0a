//! The alert rules and the dashboard as the COS charms will read them: promtool checks the
//! shipped rules and their unit tests, and the rules as the charm sends them (topology labels
//! added); `xz` decompresses the dashboard as Grafana's charm library does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use metallb_charm::cos::{Topology, dashboard, scrape};

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring")
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (cargo xtask test installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

fn topology() -> Topology {
    Topology {
        model: "lab".into(),
        model_uuid: "c2e9f4d5-dcb3-4870-8509-330eb9745ee8".into(),
        application: "metallb".into(),
        unit: "metallb/0".into(),
        charm_name: "metallb".into(),
    }
}

#[test]
#[ignore = "needs promtool: cargo xtask test"]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let dir = monitoring_dir();
    let checked = run("promtool", &["check", "rules", "alert_rules.yaml"], &dir);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run(
        "promtool",
        &["test", "rules", "alert_rules_test.yaml"],
        &dir,
    );
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
#[ignore = "needs promtool: cargo xtask test"]
fn the_rules_as_sent_over_the_relation_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let sent = scrape::alert_rules(&topology());
    let file = dir.path().join("sent.rules.yaml");
    std::fs::write(&file, serde_yaml::to_string(&sent).unwrap()).unwrap();
    let checked = run(
        "promtool",
        &["check", "rules", "sent.rules.yaml"],
        dir.path(),
    );
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
}

#[test]
#[ignore = "needs xz: cargo xtask test"]
fn xz_decompresses_the_dashboard_the_charm_sends() {
    let data = dashboard::app_data(&topology());
    let document: serde_json::Value = serde_json::from_str(&data["dashboards"]).unwrap();
    let template = document["templates"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(template["content"].as_str().unwrap())
        .unwrap();
    let mut child = Command::new("xz")
        .args(["--decompress", "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("xz runs (cargo xtask test installs xz-utils)");
    child.stdin.take().unwrap().write_all(&compressed).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), dashboard::DASHBOARD);
}
