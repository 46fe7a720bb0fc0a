//! The compiled fixture charm run through the `juju-sim` binary: real processes, real PATH,
//! hook tools served over the agent socket.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Sim, fixture_binary};
use serde_json::Value;

const START_AS_LEADER: [&str; 4] = ["install", "leader-elected", "config-changed", "start"];
const START_AS_FOLLOWER: [&str; 4] = [
    "install",
    "leader-settings-changed",
    "config-changed",
    "start",
];

#[test]
fn deploy_runs_the_juju_sequence_and_reaches_active() {
    let sim = Sim::new();
    sim.deploy(&[
        "--config",
        "greeting=hi",
        "--resource",
        "image=example/img:1",
    ]);
    assert_eq!(
        sim.handled(),
        ["install", "leader-elected", "config-changed", "start"]
    );
    assert_eq!(
        sim.unit_status(),
        ("active".into(), "hi on port 8080 (events seen: 4)".into())
    );
    let status = sim.status();
    assert_eq!(status["applications"]["fixture"]["version"], "1.2.3");
    assert_eq!(
        status["applications"]["fixture"]["application-status"]["current"],
        "active"
    );
    let log = sim.ok(&["debug-log"]);
    assert!(
        log.contains("image resource: password: '' registrypath: example/img:1"),
        "{log}"
    );
    let tabular = sim.ok(&["status"]);
    assert!(tabular.contains("fixture/0*  active"), "{tabular}");
}

#[test]
fn config_changes_fire_config_changed_and_are_validated() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["config", "port=70000"]);
    let (status, message) = sim.unit_status();
    assert_eq!(status, "blocked");
    assert!(
        message.contains("invalid config option \"port\""),
        "{message}"
    );
    assert_eq!(sim.ok(&["config", "port"]), "70000\n");
    sim.ok(&["config", "--reset", "port"]);
    assert_eq!(sim.unit_status().0, "active");
    assert!(sim.err(&["config", "port=eighty"]).contains("expected int"));
    assert!(
        sim.err(&["config", "nope=1"])
            .contains("unknown option \"nope\"")
    );
    assert!(
        sim.err(&["config", "verbose=perhaps"])
            .contains("expected boolean")
    );
    let handled = sim.handled();
    assert_eq!(handled.len(), 6, "{handled:?}");
}

#[test]
fn a_failed_hook_commits_nothing_and_is_retried_first() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["model-config", "automatically-retry-hooks=false"]);
    assert_eq!(
        sim.ok(&["model-config", "automatically-retry-hooks"]),
        "false\n"
    );
    let before = sim.status();
    let err = sim.err(&["config", "fail-hook=config-changed"]);
    assert!(err.contains("hook failed: \"config-changed\""), "{err}");
    assert_eq!(
        sim.unit_status(),
        ("error".into(), "hook failed: \"config-changed\"".into())
    );
    let log = sim.ok(&["debug-log"]);
    assert!(log.contains("ERROR unit.fixture/0.juju-log Uncaught error: config-changed failed: asked to fail config-changed"), "{log}");
    // Fixing the config retries the failed hook (which now passes) before the new one.
    sim.ok(&["config", "fail-hook="]);
    let (status, message) = sim.unit_status();
    assert_eq!(status, "active");
    // 4 deploy hooks + the retried and the new config-changed commit; the failed one did not.
    assert!(
        message.ends_with("(events seen: 6)"),
        "{message} / {before}"
    );
}

#[test]
fn a_failed_hook_is_retried_automatically_until_it_passes() {
    let sim = Sim::new();
    sim.deploy(&[]);
    assert_eq!(
        sim.ok(&["model-config", "automatically-retry-hooks"]),
        "true\n"
    );
    assert!(
        sim.err(&["model-config", "nope=1"])
            .contains("unknown model config key")
    );
    let blocker = sim.dir.path().join("not-yet");
    std::fs::write(&blocker, "").unwrap();
    let setting = format!("fail-while-file={}", blocker.display());
    // The hook fails until the file goes; Juju retries it 5 s later and the command returns
    // once it passed.
    let remover = {
        let blocker = blocker.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            std::fs::remove_file(blocker).unwrap();
        })
    };
    let out = sim.sim(&["config", &setting]);
    remover.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "hook failed: \"config-changed\" on fixture/0 (exit code 1); retrying in 5 s"
        ),
        "{stderr}"
    );
    assert_eq!(sim.unit_status().0, "active");
    // A hook that keeps failing is given up after the window, leaving the unit in error.
    std::fs::write(&blocker, "").unwrap();
    let err = sim.err(&["--hook-retry-window", "0", "update-status"]);
    assert!(err.contains("hook failed: \"update-status\""), "{err}");
    assert_eq!(sim.unit_status().0, "error");
}

#[test]
fn actions_validate_params_and_report_results() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let out = sim.ok(&["run", "echo", "message=ab", "times=2"]);
    assert_eq!(
        out,
        "echoing\ndetail:\n  action-id: '1'\n  times: '2'\necho: abab\n"
    );
    let json: Value =
        serde_json::from_str(&sim.ok(&["run", "echo", "message=x", "--format", "json"])).unwrap();
    let task = &json["fixture/0"];
    assert_eq!(task["status"], "completed");
    assert_eq!(task["results"]["return-code"], "0");
    assert_eq!(task["results"]["detail"]["times"], "1");
    assert!(
        sim.err(&["run", "echo"])
            .contains("\"message\" property is missing and required")
    );
    assert!(
        sim.err(&["run", "echo", "message=x", "loud=1"])
            .contains("additional property \"loud\"")
    );
    assert!(
        sim.err(&["run", "echo", "message=x", "times=many"])
            .contains("Expected: integer")
    );
    assert!(
        sim.err(&["run", "nope"])
            .contains("not defined in actions.yaml")
    );
    let err = sim.err(&["run", "fail-me"]);
    assert!(err.contains("the following task failed"), "{err}");
    let json: Value = serde_json::from_str(&String::from_utf8_lossy(
        &sim.sim(&["run", "explode", "--format", "json"]).stdout,
    ))
    .unwrap();
    assert_eq!(json["fixture/0"]["status"], "failed");
    assert_eq!(json["fixture/0"]["message"], "exit status 1");
    assert!(
        json["fixture/0"]["results"]["stderr"]
            .as_str()
            .unwrap()
            .contains("always errors")
    );
    assert_eq!(
        sim.unit_status().0,
        "active",
        "a failed action never puts the unit in error"
    );
}

#[test]
fn the_hook_environment_is_constructed_like_juju_does() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let json: Value =
        serde_json::from_str(&sim.ok(&["run", "environment", "--format", "json"])).unwrap();
    let results = &json["fixture/0"]["results"];
    let names: Vec<&str> = results["names"].as_str().unwrap().split(',').collect();
    for required in [
        "JUJU_DISPATCH_PATH",
        "JUJU_HOOK_NAME",
        "JUJU_ACTION_NAME",
        "JUJU_ACTION_UUID",
        "JUJU_ACTION_TAG",
        "JUJU_CONTEXT_ID",
        "JUJU_AGENT_SOCKET_ADDRESS",
        "JUJU_UNIT_NAME",
        "JUJU_MODEL_NAME",
        "JUJU_MODEL_UUID",
        "JUJU_VERSION",
        "JUJU_CHARM_DIR",
        "CHARM_DIR",
        "PATH",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    for absent in ["HOME", "USER", "SHELL", "KUBECONFIG"] {
        assert!(!names.contains(&absent), "{absent} must not be inherited");
    }
    let charm = sim.charm().canonicalize().unwrap();
    assert_eq!(results["cwd"], charm.display().to_string());
    let tools = sim
        .dir
        .path()
        .join("state")
        .canonicalize()
        .unwrap()
        .join("tools");
    assert!(
        results["path"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", tools.display())),
        "{}",
        results["path"]
    );
    assert_eq!(results["args"], "1", "dispatch gets no arguments");
}

#[test]
fn refresh_and_remove_sequences() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let charm = sim.charm();
    sim.ok(&["refresh", charm.to_str().unwrap()]);
    sim.ok(&["update-status"]);
    sim.ok(&["trust"]);
    sim.ok(&["remove"]);
    assert_eq!(
        sim.handled()[4..],
        [
            "stop",
            "upgrade-charm",
            "config-changed",
            "start",
            "update-status",
            "config-changed",
            "stop",
            "remove"
        ]
    );
    assert_eq!(sim.unit_status().0, "terminated");
    assert!(sim.err(&["update-status"]).contains("removed"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let sim = Sim::new();
    assert!(sim.err(&["status"]).contains("no application deployed"));
    assert!(sim.err(&["frobnicate"]).contains("unrecognized subcommand"));
    assert!(
        sim.err(&["deploy", "/nonexistent/charm"])
            .contains("does not exist")
    );
    let charm = sim.charm();
    let charm_arg = charm.to_str().unwrap();
    assert!(
        sim.err(&["deploy", charm_arg, "--config", "port=x"])
            .contains("expected int")
    );
    assert!(
        sim.err(&["deploy", charm_arg, "--config", "nope=1"])
            .contains("unknown option")
    );
    assert!(
        sim.err(&["deploy", charm_arg, "--resource", "other=x"])
            .contains("not declared")
    );
    let dispatch = charm.join("dispatch");
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        sim.err(&["deploy", charm_arg])
            .contains("not an executable file")
    );
    std::fs::remove_file(&dispatch).unwrap();
    assert!(sim.err(&["deploy", charm_arg]).contains("no dispatch file"));
    std::fs::remove_file(charm.join("metadata.yaml")).unwrap();
    assert!(sim.err(&["deploy", charm_arg]).contains("metadata.yaml"));
}

#[test]
fn deploying_twice_is_refused() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let charm = sim.charm();
    assert!(
        sim.err(&["deploy", charm.to_str().unwrap()])
            .contains("already deployed")
    );
}

#[test]
fn hook_tools_outside_a_hook_refuse_to_run() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let tool = sim.dir.path().join("state/tools/config-get");
    // Every tool is a link to the small `jujuc` client built next to juju-sim.
    let target = std::fs::read_link(&tool).unwrap();
    assert_eq!(target.file_name().unwrap(), "jujuc", "{}", target.display());
    let out = Command::new(&tool)
        .env_remove("JUJU_CONTEXT_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR JUJU_CONTEXT_ID not set\n"
    );
}

#[test]
fn charm_refuses_to_run_without_juju_environment() {
    let out = Command::new(fixture_binary()).env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing Juju environment variables: JUJU_DISPATCH_PATH"),
        "{err}"
    );
}

#[test]
fn two_units_deploy_with_one_leader_and_share_config_changes() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    assert_eq!(sim.handled_by("fixture/0"), START_AS_LEADER);
    assert_eq!(sim.handled_by("fixture/1"), START_AS_FOLLOWER);
    let status = sim.status();
    let app = &status["applications"]["fixture"];
    assert_eq!(app["scale"], 2);
    assert_eq!(app["application-status"]["current"], "active");
    assert_eq!(app["units"]["fixture/0"]["leader"], true);
    assert!(app["units"]["fixture/1"].get("leader").is_none());
    assert_eq!(
        app["units"]["fixture/0"]["workload-status"]["message"],
        "hello on port 8080 (events seen: 4)",
        "each unit counts its own events in its own charm state"
    );
    assert_eq!(
        app["units"]["fixture/1"]["workload-status"]["message"],
        "standby (not the leader)"
    );
    let tabular = sim.ok(&["status"]);
    assert!(tabular.contains("fixture/0*  active"), "{tabular}");
    assert!(
        tabular.contains("fixture/1   waiting   idle   standby"),
        "{tabular}"
    );

    sim.ok(&["config", "greeting=hey"]);
    assert_eq!(sim.handled_by("fixture/0")[4..], ["config-changed"]);
    assert_eq!(sim.handled_by("fixture/1")[4..], ["config-changed"]);
    let timings: Value = serde_json::from_str(&sim.ok(&["timings", "--format", "json"])).unwrap();
    let last: Vec<(&str, &str)> = timings.as_array().unwrap()[8..]
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["unit"].as_str().unwrap()))
        .collect();
    assert_eq!(
        last,
        [
            ("config-changed", "fixture/0"),
            ("config-changed", "fixture/1")
        ],
        "the leader first"
    );
    let (_, goal) = sim.goal_state(&["fixture/1"]);
    assert_eq!(goal["units"], "fixture/0=active fixture/1=waiting");
    assert_eq!(goal["planned-units"], "2");
}

#[test]
fn add_unit_runs_the_joining_sequence_on_new_units_only() {
    let sim = Sim::new();
    sim.deploy(&[]);
    assert_eq!(sim.ok(&["add-unit"]), "added unit fixture/1\n");
    assert_eq!(sim.handled_by("fixture/1"), START_AS_FOLLOWER);
    assert_eq!(
        sim.handled_by("fixture/0"),
        START_AS_LEADER,
        "no hook on the others"
    );
    assert_eq!(
        sim.ok(&["add-unit", "fixture", "--num-units", "2"]),
        "added unit fixture/2\nadded unit fixture/3\n"
    );
    assert_eq!(sim.handled_by("fixture/3"), START_AS_FOLLOWER);
    let (unit, goal) = sim.goal_state(&[]);
    assert_eq!(unit, "fixture/0", "actions run on the leader by default");
    assert_eq!(goal["planned-units"], "4");
    assert_eq!(goal["leader"], "true");
    assert!(
        sim.err(&["add-unit", "other"])
            .contains("application \"other\" not found")
    );
    assert!(
        sim.err(&["add-unit", "-n", "0"])
            .contains("0 is not in 1..")
    );
}

#[test]
fn removing_the_leader_elects_another_unit_after_it_is_gone() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    assert_eq!(
        sim.ok(&["remove-unit", "fixture/0"]),
        "removed unit fixture/0\n"
    );
    assert_eq!(sim.handled_by("fixture/0")[4..], ["stop", "remove"]);
    assert_eq!(
        sim.logged_by("fixture/0", "planned-units"),
        [
            "stop: leader=true planned-units=1 goal-state fixture/0=dying fixture/1=waiting",
            "remove: leader=true planned-units=1 goal-state fixture/0=dying fixture/1=waiting",
        ],
        "the departing leader stays leader and sees itself dying while the application lives"
    );
    assert_eq!(
        sim.logged_by("fixture/0", "removal"),
        ["unit removal: the application stays"]
    );
    assert_eq!(sim.handled_by("fixture/1")[4..], ["leader-elected"]);
    let log = sim.ok(&["debug-log"]);
    let removed = log.find("unit-fixture-0: remove INFO unit.fixture/0.juju-log handling remove");
    let elected = log.find("unit-fixture-1: leader-elected INFO");
    assert!(removed.unwrap() < elected.unwrap(), "{log}");

    let status = sim.status();
    let app = &status["applications"]["fixture"];
    assert_eq!(app["scale"], 1);
    assert!(app["units"].get("fixture/0").is_none(), "{app}");
    assert_eq!(app["units"]["fixture/1"]["leader"], true);
    assert_eq!(
        app["units"]["fixture/1"]["workload-status"]["message"],
        "hello on port 8080 (events seen: 5)"
    );
    let (unit, goal) = sim.goal_state(&[]);
    assert_eq!(
        (unit.as_str(), goal["units"].as_str()),
        ("fixture/1", Some("fixture/1=active"))
    );
    assert_eq!(
        sim.ok(&["add-unit"]),
        "added unit fixture/0\n",
        "numbers are reused"
    );
    assert_eq!(sim.handled_by("fixture/0")[6..], START_AS_FOLLOWER);
}

#[test]
fn remove_unit_by_count_takes_the_highest_numbers_and_keeps_the_leader() {
    let sim = Sim::new();
    sim.deploy(&["-n", "3"]);
    assert_eq!(
        sim.ok(&["remove-unit", "fixture", "--num-units", "2"]),
        "removed unit fixture/2\nremoved unit fixture/1\n"
    );
    assert_eq!(
        sim.logged_by("fixture/2", "remove: "),
        [
            "remove: leader=false planned-units=1 goal-state fixture/0=active fixture/1=dying fixture/2=dying"
        ],
        "both departing units are dying from the start"
    );
    assert_eq!(
        sim.handled_by("fixture/0"),
        START_AS_LEADER,
        "the leader stays"
    );
    for (args, expected) in [
        (
            &["remove-unit", "fixture/9"][..],
            "unit \"fixture/9\" not found",
        ),
        (&["remove-unit", "fixture"], "not a unit name"),
        (
            &["remove-unit", "other/0"],
            "not a unit of application \"fixture\"",
        ),
        (
            &["remove-unit", "fixture", "--num-units", "2"],
            "cannot remove 2 units",
        ),
        (
            &["remove-unit", "fixture/0", "--num-units", "1"],
            "takes the application name",
        ),
        (
            &["remove-unit", "other", "--num-units", "1"],
            "application \"other\" not found",
        ),
    ] {
        let err = sim.err(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn removing_the_application_plans_zero_units_on_every_unit() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    assert_eq!(sim.ok(&["remove"]), "removed application fixture\n");
    assert_eq!(
        sim.logged_by("fixture/0", "remove: "),
        ["remove: leader=true planned-units=0 goal-state fixture/0=dying fixture/1=dying"]
    );
    assert_eq!(
        sim.logged_by("fixture/1", "remove: "),
        ["remove: leader=false planned-units=0 goal-state fixture/1=dying"],
        "a unit that is gone is not in goal-state"
    );
    for unit in ["fixture/0", "fixture/1"] {
        assert_eq!(sim.handled_by(unit)[4..], ["stop", "remove"]);
        assert_eq!(
            sim.logged_by(unit, "removal"),
            ["application removal: cleaning up"]
        );
        assert_eq!(sim.unit(unit)["workload-status"]["current"], "terminated");
    }
    assert_eq!(sim.status()["applications"]["fixture"]["scale"], 0);
    assert!(sim.err(&["add-unit"]).contains("removed"));
}

#[test]
fn a_failed_removal_keeps_the_unit_dying_until_retried() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2", "--config", "fail-hook=remove"]);
    sim.ok(&["model-config", "automatically-retry-hooks=false"]);
    let err = sim.err(&["remove-unit", "fixture/1"]);
    assert!(
        err.contains("hook failed: \"remove\" on fixture/1"),
        "{err}"
    );
    assert_eq!(sim.unit("fixture/1")["life"], "dying");
    assert_eq!(sim.unit("fixture/1")["juju-status"]["current"], "error");
    let (_, goal) = sim.goal_state(&[]);
    assert_eq!(goal["planned-units"], "1");
    sim.ok(&["config", "fail-hook="]);
    assert_eq!(
        sim.handled_by("fixture/1")[4..],
        ["stop", "remove"],
        "a dying unit gets no config-changed"
    );
    assert_eq!(
        sim.ok(&["remove-unit", "fixture/1"]),
        "retrying failed hook \"remove\" on fixture/1\nremoved unit fixture/1\n"
    );
    assert_eq!(
        sim.handled_by("fixture/1")[4..],
        ["stop", "remove", "remove"]
    );
    assert!(sim.unit("fixture/1").is_null());
}

#[test]
fn actions_run_on_the_leader_or_the_named_unit() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    let (unit, goal) = sim.goal_state(&["fixture/1"]);
    assert_eq!(unit, "fixture/1");
    assert_eq!(goal["leader"], "false");
    assert_eq!(goal["dying"], "false");
    assert_eq!(sim.goal_state(&["--unit", "fixture/1"]).0, "fixture/1");
    assert_eq!(sim.goal_state(&["fixture/leader"]).0, "fixture/0");
    let out = sim.ok(&["run", "fixture/1", "echo", "message=x"]);
    assert!(out.contains("echo: x"), "{out}");
    assert!(
        sim.err(&["run", "fixture/1", "echo", "--unit", "fixture/0"])
            .contains("name the unit once")
    );
    assert!(sim.err(&["run", "fixture/7", "echo"]).contains("not found"));
    assert!(
        sim.err(&["run", "fixture/1"])
            .contains("no action name given")
    );
}

#[test]
fn debug_log_tags_and_filters_units() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    let all = sim.ok(&["debug-log"]);
    assert!(
        all.contains("unit-fixture-1: install INFO unit.fixture/1.juju-log handling install"),
        "{all}"
    );
    let one = sim.ok(&["debug-log", "--include", "unit-fixture-1"]);
    assert!(
        !one.is_empty() && one.lines().all(|l| l.starts_with("unit-fixture-1: ")),
        "{one}"
    );
    assert_eq!(sim.ok(&["debug-log", "--include", "fixture"]), all);
}
