//! The `juju-sim` helper shared by the integration tests: a charm directory (the fixture's
//! metadata and the compiled fixture as `dispatch`) and a state directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A charm directory (fixture metadata + the compiled example as `dispatch`) and a state dir.
pub struct Sim {
    pub dir: tempfile::TempDir,
}

pub fn fixture_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fixture-charm"))
}

impl Sim {
    /// A fresh charm and state directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let charm = dir.path().join("charm");
        std::fs::create_dir(&charm).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture");
        for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
            std::fs::copy(fixture.join(file), charm.join(file)).unwrap();
        }
        let binary = fixture_binary();
        std::fs::copy(&binary, charm.join("dispatch")).unwrap();
        Self { dir }
    }

    pub fn charm(&self) -> PathBuf {
        self.dir.path().join("charm")
    }

    pub fn sim(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_juju-sim"))
            .arg("--state")
            .arg(self.dir.path().join("state"))
            .args(args)
            .env_remove("JUJU_SIM_KUBECONFIG")
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.sim(args);
        assert!(
            out.status.success(),
            "juju-sim {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn err(&self, args: &[&str]) -> String {
        let out = self.sim(args);
        assert!(!out.status.success(), "juju-sim {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn deploy(&self, extra: &[&str]) {
        let charm = self.charm();
        let mut args = vec!["deploy", charm.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--format", "json"])).unwrap()
    }

    pub fn unit_status(&self) -> (String, String) {
        let s = self.status();
        let w = &s["applications"]["fixture"]["units"]["fixture/0"]["workload-status"];
        (
            w["current"].as_str().unwrap().to_string(),
            w["message"].as_str().unwrap().to_string(),
        )
    }

    /// The events the charm handled, in order, from its log lines.
    pub fn handled(&self) -> Vec<String> {
        self.ok(&["debug-log"])
            .lines()
            .filter_map(|l| l.split_once("handling ").map(|(_, e)| e.to_string()))
            .collect()
    }

    /// The events one unit handled, in order (`debug-log --include UNIT`).
    pub fn handled_by(&self, unit: &str) -> Vec<String> {
        let tag = format!("unit-{}: ", unit.replace('/', "-"));
        self.ok(&["debug-log", "--include", unit])
            .lines()
            .inspect(|l| assert!(l.starts_with(&tag), "{l} is not from {unit}"))
            .filter_map(|l| l.split_once("handling ").map(|(_, e)| e.to_string()))
            .collect()
    }

    /// The messages a unit logged that contain `text`.
    pub fn logged_by(&self, unit: &str, text: &str) -> Vec<String> {
        let marker = format!("unit.{unit}.juju-log ");
        self.ok(&["debug-log"])
            .lines()
            .filter_map(|l| l.split_once(&marker).map(|(_, m)| m.to_string()))
            .filter(|m| m.contains(text))
            .collect()
    }

    /// One unit's entry in `status --format json`.
    pub fn unit(&self, unit: &str) -> Value {
        self.status()["applications"]["fixture"]["units"][unit].clone()
    }

    /// The results of the fixture's `goal-state` action, run as `juju-sim run ARGS...`.
    pub fn goal_state(&self, args: &[&str]) -> (String, Value) {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["goal-state", "--format", "json"]);
        let json: Value = serde_json::from_str(&self.ok(&all)).unwrap();
        let (unit, task) = json.as_object().unwrap().iter().next().unwrap();
        (unit.clone(), task["results"].clone())
    }
}
