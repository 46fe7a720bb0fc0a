//! The fixture charm driven in-process through `juju_ops::testing`.

#[path = "fixture/charm.rs"]
#[allow(dead_code)]
mod charm;

use std::path::Path;

use charm::FixtureCharm;
use juju_ops::Status;
use juju_ops::testing::{Harness, State, TestEvent};

fn harness() -> Harness {
    Harness::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")).unwrap()
}

#[test]
fn install_sets_active_status_version_and_stored_state() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("install"),
            State::default(),
        )
        .unwrap();
    assert!(out.success);
    let expected = Status::active("hello on port 8080 (events seen: 1)");
    assert_eq!(out.state.unit_status, expected);
    assert_eq!(out.state.app_status, expected);
    assert_eq!(out.state.workload_version, "1.2.3");
    assert_eq!(out.state.stored["events"], "1");
    assert!(out.logged("handling install"));
    assert_eq!(out.logs[0].level, "DEBUG");
    assert!(out.logs[0].message.contains("up and running"));
}

#[test]
fn stored_state_carries_over_between_events() {
    let mut state = State::default();
    state.stored.insert("events".into(), "41".into());
    let out = harness()
        .run(|_| FixtureCharm, TestEvent::hook("update-status"), state)
        .unwrap();
    assert_eq!(out.state.stored["events"], "42");
}

#[test]
fn bad_config_blocks_and_names_the_option() {
    let state = State::default().with_config("port", 70000);
    let out = harness()
        .run(|_| FixtureCharm, TestEvent::hook("config-changed"), state)
        .unwrap();
    assert!(out.success, "a blocked charm still exits 0");
    match &out.state.unit_status {
        Status::Blocked(message) => {
            assert!(
                message.contains("invalid config option \"port\""),
                "{message}"
            );
            assert!(message.contains("70000"), "{message}");
        }
        other => panic!("expected blocked, got {other:?}"),
    }
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("config-changed"),
            State::default().with_config("greeting", ""),
        )
        .unwrap();
    assert_eq!(
        out.state.unit_status,
        Status::blocked("greeting must not be empty")
    );
}

#[test]
fn non_leader_never_sets_app_status() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("start"),
            State::default().with_leader(false),
        )
        .unwrap();
    assert_eq!(out.state.app_status, Status::Unknown);
    assert!(out.status_history.iter().all(|c| c.target == "unit"));
    // Active beats nothing: the standby waiting status has higher priority than active.
    assert_eq!(
        out.state.unit_status,
        Status::waiting("standby (not the leader)")
    );
}

#[test]
fn a_failing_hook_logs_the_chain_and_commits_nothing() {
    let mut state = State::default().with_config("fail-hook", "config-changed");
    state.stored.insert("events".into(), "5".into());
    let out = harness()
        .run(|_| FixtureCharm, TestEvent::hook("config-changed"), state)
        .unwrap();
    assert!(!out.success);
    assert_eq!(
        out.state.stored["events"], "5",
        "state-set is not committed"
    );
    let error = out
        .logs
        .iter()
        .find(|l| l.level == "ERROR")
        .expect("an ERROR line");
    assert_eq!(
        error.message,
        "Uncaught error: config-changed failed: asked to fail config-changed"
    );
}

#[test]
fn unknown_events_are_ignored() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("web-pebble-ready"),
            State::default(),
        )
        .unwrap();
    assert!(out.success);
    assert!(out.logged("ignoring event hooks/web-pebble-ready"));
    assert!(!out.logged("handling"));
}

#[test]
fn action_results_params_and_logs() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("echo", &[("message", "hi"), ("times", "3")]),
            State::default(),
        )
        .unwrap();
    let action = out.action.unwrap();
    assert_eq!(action.status, "completed");
    assert_eq!(action.run.results["echo"], "hihihi");
    assert_eq!(action.run.results["detail.times"], "3");
    assert_eq!(action.run.results["detail.action-id"], "1");
    assert_eq!(action.run.logs, ["echoing"]);
    let defaulted = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("echo", &[("message", "x")]),
            State::default(),
        )
        .unwrap();
    assert_eq!(defaulted.action.unwrap().run.results["echo"], "x");
}

#[test]
fn failed_and_erroring_actions() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("fail-me", &[]),
            State::default(),
        )
        .unwrap();
    let action = out.action.unwrap();
    assert_eq!(
        (action.status.as_str(), action.message.as_str()),
        ("failed", "asked to fail")
    );
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("explode", &[]),
            State::default(),
        )
        .unwrap();
    assert!(!out.success);
    let action = out.action.clone().unwrap();
    assert_eq!(action.status, "failed");
    assert!(out.logged("the explode action always errors"));
}

#[test]
fn impossible_scenarios_are_refused() {
    let h = harness();
    let err = h
        .run(
            |_| FixtureCharm,
            TestEvent::hook("install"),
            State::default().with_config("nope", 1),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("\"nope\" is not in config.yaml"),
        "{err}"
    );
    let err = h
        .run(
            |_| FixtureCharm,
            TestEvent::hook("install"),
            State::default().with_config("port", "eighty"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("of type int"), "{err}");
    let err = h
        .run(
            |_| FixtureCharm,
            TestEvent::action("nope", &[]),
            State::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not defined"), "{err}");
    let err = h
        .run(
            |_| FixtureCharm,
            TestEvent::action("echo", &[]),
            State::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("required"), "{err}");
}

#[test]
fn resources_are_read_through_resource_get() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.yaml");
    std::fs::write(&path, "registrypath: example/image:1\n").unwrap();
    let mut state = State::default();
    state.resources.insert("image".into(), path);
    let out = harness()
        .run(|_| FixtureCharm, TestEvent::hook("install"), state)
        .unwrap();
    assert!(out.logged("image resource: registrypath: example/image:1"));
}

fn goal_results(state: State) -> std::collections::BTreeMap<String, String> {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("goal-state", &[]),
            state,
        )
        .unwrap();
    out.action.unwrap().run.results
}

#[test]
fn a_lone_unit_plans_one_unit() {
    let results = goal_results(State::default());
    assert_eq!(results["planned-units"], "1");
    assert_eq!(results["dying"], "false");
    assert_eq!(results["units"], "fixture/0=unknown");
}

#[test]
fn peers_and_planned_units_shape_goal_state() {
    let results = goal_results(
        State::default()
            .with_unit_id(1)
            .with_leader(false)
            .with_peer(0, "active")
            .with_peer(4, "dying"),
    );
    assert_eq!(results["planned-units"], "2");
    assert_eq!(results["leader"], "false");
    assert_eq!(
        results["units"],
        "fixture/0=active fixture/1=unknown fixture/4=dying"
    );
    let results = goal_results(State::default().with_planned_units(3));
    assert_eq!(results["planned-units"], "3");
}

#[test]
fn removing_one_unit_keeps_the_application() {
    let state = State::default().with_dying(true).with_planned_units(1);
    let out = harness()
        .run(|_| FixtureCharm, TestEvent::hook("remove"), state)
        .unwrap();
    assert!(out.success);
    assert!(
        out.logged(
            "remove: leader=true planned-units=1 goal-state fixture/0=dying fixture/1=active"
        )
    );
    assert!(out.logged("unit removal: the application stays"));
    assert!(!out.logged("cleaning up"));
    assert!(out.state.dying);
}

#[test]
fn removing_the_application_plans_no_units() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("remove"),
            State::default().with_planned_units(0),
        )
        .unwrap();
    assert!(out.logged("remove: leader=true planned-units=0 goal-state fixture/0=dying"));
    assert!(out.logged("application removal: cleaning up"));
}

#[test]
fn impossible_goal_states_are_refused() {
    let h = harness();
    for (state, expected) in [
        (
            State::default()
                .with_peer(1, "active")
                .with_planned_units(0),
            "planned_units is 0 but 1 units are not dying",
        ),
        (
            State::default()
                .with_planned_units(2)
                .with_peer(1, "active")
                .with_peer(2, "waiting"),
            "planned_units is 2 but 3 units are not dying",
        ),
        (
            State::default().with_peer(0, "active"),
            "peer unit 0 is this unit",
        ),
    ] {
        let err = h
            .run(|_| FixtureCharm, TestEvent::hook("remove"), state)
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
