//! Relations through the compiled fixture charm and `juju-sim`: the event sequences of
//! `integrate`, `set-relation-data`, `remove-relation` and of units arriving and leaving, and
//! the databags the charm published, read back with `relation-data`.

mod common;

use common::Sim;
use serde_json::{Value, json};

const EP: &str = "metrics-endpoint";

fn hooks(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{EP}-relation-{n}")).collect()
}

/// The relation events one unit logged (`Created remote-app=... remote-unit=... departing=...`).
fn relation_events(sim: &Sim, unit: &str) -> Vec<String> {
    sim.logged_by(unit, "relation event ")
        .iter()
        .filter_map(|m| m.split_once(" relation event ").map(|(_, e)| e.to_string()))
        .collect()
}

fn relation_data(sim: &Sim, relation: &str) -> Value {
    serde_json::from_str(&sim.ok(&["relation-data", relation, "--format", "json"])).unwrap()
}

#[test]
fn integrate_runs_created_then_app_changed_then_joined_and_changed_per_unit() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    let id = sim.ok(&[
        "integrate",
        EP,
        "prom",
        "--units",
        "2",
        "--app-data",
        "want=scrape",
        "--unit-data",
        "target=t",
    ]);
    assert_eq!(id, "0\n");
    for unit in ["fixture/0", "fixture/1"] {
        assert_eq!(
            sim.handled_by(unit)[4..],
            hooks(&[
                "created", "changed", "joined", "changed", "joined", "changed"
            ])
        );
    }
    assert_eq!(
        relation_events(&sim, "fixture/1"),
        [
            "metrics-endpoint:0 Created remote-app=prom remote-unit=- departing=-",
            "metrics-endpoint:0 Changed remote-app=prom remote-unit=- departing=-",
            "metrics-endpoint:0 Joined remote-app=prom remote-unit=prom/0 departing=-",
            "metrics-endpoint:0 Changed remote-app=prom remote-unit=prom/0 departing=-",
            "metrics-endpoint:0 Joined remote-app=prom remote-unit=prom/1 departing=-",
            "metrics-endpoint:0 Changed remote-app=prom remote-unit=prom/1 departing=-",
        ]
    );
    let seen = sim.logged_by("fixture/0", "remote prom want=");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("metrics-endpoint:0: relation metrics-endpoint:0: remote prom want=scrape units=[]"),
        "during -created no unit has joined yet"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some(
            "metrics-endpoint:0: relation metrics-endpoint:0: remote prom want=scrape units=[prom/0(t) prom/1(t)]"
        )
    );
    let data = relation_data(&sim, "0");
    assert_eq!(
        data["application-data"],
        json!({"greeting": "hello", "seen": "scrape"})
    );
    assert_eq!(
        data["units"],
        json!({"fixture/0": {"unit": "fixture/0"}, "fixture/1": {"unit": "fixture/1"}})
    );
    assert_eq!(data["remote-application-data"], json!({"want": "scrape"}));
    assert_eq!(data["remote-units"]["prom/1"], json!({"target": "t"}));
    assert_eq!(data["interface"], "prometheus_scrape");
    let yaml = sim.ok(&["relation-data", "metrics-endpoint"]);
    assert!(yaml.contains("remote-application: prom"), "{yaml}");
    let (_, goal) = sim.goal_state(&[]);
    assert_eq!(
        goal["relations"],
        "metrics-endpoint:prom=joined metrics-endpoint:prom/0=active metrics-endpoint:prom/1=active"
    );
    let status = sim.status();
    assert_eq!(
        status["applications"]["fixture"]["relations"][EP][0]["related-application"],
        "prom"
    );
    let tabular = sim.ok(&["status"]);
    assert!(
        tabular.contains(
            "fixture:metrics-endpoint  metrics-endpoint:0  prom    prometheus_scrape  joined"
        ),
        "{tabular}"
    );
}

#[test]
fn without_remote_app_data_there_is_no_application_changed() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["integrate", "db", "pg"]);
    assert_eq!(
        sim.handled_by("fixture/0")[4..],
        [
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed"
        ]
    );
}

#[test]
fn integrate_refuses_what_juju_refuses() {
    let sim = Sim::new();
    sim.deploy(&[]);
    for (args, expected) in [
        (
            &["integrate", "nope", "prom"][..],
            "charm \"fixture\" has no provides or requires endpoint \"nope\" (it has: db (requires pgsql), metrics-endpoint (provides prometheus_scrape))",
        ),
        (
            &["integrate", "cluster", "prom"],
            "\"cluster\" is a peer endpoint of charm \"fixture\"",
        ),
        (
            &["integrate", EP, "Prom"],
            "invalid remote application name \"Prom\"",
        ),
        (
            &["integrate", EP, "fixture"],
            "invalid remote application name \"fixture\"",
        ),
        (
            &["integrate", EP, "prom", "--app-data", "x"],
            "expected \"key=value\", got \"x\"",
        ),
    ] {
        let err = sim.err(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    sim.ok(&["integrate", EP, "prom"]);
    assert!(
        sim.err(&["integrate", EP, "prom"])
            .contains("relation fixture:metrics-endpoint prom:metrics-endpoint already exists")
    );
    assert!(
        sim.err(&["relation-data", "7"])
            .contains("relation \"7\" not found")
    );
    assert!(
        sim.err(&["relation-data", "db"])
            .contains("no relation on endpoint \"db\"")
    );
}

#[test]
fn remote_writes_fire_changed_where_they_are_seen() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    sim.ok(&["integrate", EP, "prom", "--units", "2"]);
    let before = sim.handled_by("fixture/1").len();
    sim.ok(&["set-relation-data", "metrics-endpoint:0", "want=more"]);
    assert_eq!(sim.handled_by("fixture/1")[before..], hooks(&["changed"]));
    assert_eq!(
        relation_events(&sim, "fixture/0")
            .last()
            .map(String::as_str),
        Some("metrics-endpoint:0 Changed remote-app=prom remote-unit=- departing=-")
    );
    assert_eq!(relation_data(&sim, "0")["application-data"]["seen"], "more");
    sim.ok(&["set-relation-data", "0", "--unit", "prom/1", "target=x"]);
    assert_eq!(
        relation_events(&sim, "fixture/1")
            .last()
            .map(String::as_str),
        Some("metrics-endpoint:0 Changed remote-app=prom remote-unit=prom/1 departing=-")
    );
    assert!(
        sim.logged_by("fixture/1", "units=[prom/0(-) prom/1(x)]")
            .len()
            == 1,
        "the charm read the new unit data"
    );
    sim.ok(&["set-relation-data", "0", "want="]);
    assert_eq!(
        relation_data(&sim, "0")["remote-application-data"],
        json!({})
    );
    assert!(
        sim.err(&["set-relation-data", "0", "--unit", "prom/9", "a=b"])
            .contains("\"prom/9\" is not a remote unit of relation metrics-endpoint:0")
    );
}

#[test]
fn remove_relation_departs_each_unit_then_breaks() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["integrate", EP, "prom", "--units", "2"]);
    assert_eq!(
        sim.ok(&["remove-relation", EP]),
        "removed relation metrics-endpoint:0\n"
    );
    assert_eq!(
        relation_events(&sim, "fixture/0")[5..],
        [
            "metrics-endpoint:0 Departed remote-app=prom remote-unit=prom/0 departing=prom/0",
            "metrics-endpoint:0 Departed remote-app=prom remote-unit=prom/1 departing=prom/1",
            "metrics-endpoint:0 Broken remote-app=prom remote-unit=- departing=-",
        ]
    );
    assert!(
        sim.logged_by("fixture/0", "units=[prom/1(-)]").len() == 1,
        "during prom/0's -departed only prom/1 is listed"
    );
    assert!(sim.err(&["relation-data", "0"]).contains("not found"));
    let (_, goal) = sim.goal_state(&[]);
    assert_eq!(goal["relations"], "");
    assert_eq!(
        sim.ok(&["integrate", EP, "prom"]),
        "1\n",
        "relation ids are not reused"
    );
}

#[test]
fn units_arriving_and_leaving_meet_and_leave_the_relations() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["integrate", EP, "prom", "--app-data", "want=x"]);
    sim.ok(&["add-unit"]);
    assert_eq!(
        sim.handled_by("fixture/1"),
        [
            "install",
            "metrics-endpoint-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start",
            "metrics-endpoint-relation-changed",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-changed",
        ]
    );
    assert_eq!(
        relation_data(&sim, "0")["units"]["fixture/1"],
        json!({"unit": "fixture/1"})
    );
    sim.ok(&["remove-unit", "fixture/1"]);
    assert_eq!(
        sim.handled_by("fixture/1")[8..],
        [
            "metrics-endpoint-relation-departed",
            "metrics-endpoint-relation-broken",
            "stop",
            "remove"
        ]
    );
    assert_eq!(
        relation_events(&sim, "fixture/1")[4],
        "metrics-endpoint:0 Departed remote-app=prom remote-unit=prom/0 departing=fixture/1",
        "the departing unit is the unit itself"
    );
    assert!(
        relation_data(&sim, "0")["units"].get("fixture/1").is_none(),
        "a removed unit's bag is gone"
    );
    assert_eq!(
        sim.handled_by("fixture/0").len(),
        8,
        "the staying unit runs nothing for the departure (no peer relation is simulated)"
    );
}

#[test]
fn a_failed_joined_is_retried_with_its_relation_then_changed_follows() {
    let sim = Sim::new();
    sim.deploy(&["--config", "fail-hook=metrics-endpoint-relation-joined"]);
    sim.ok(&["model-config", "automatically-retry-hooks=false"]);
    let err = sim.err(&["integrate", EP, "prom"]);
    assert!(
        err.contains("hook failed: \"metrics-endpoint-relation-joined\" on fixture/0"),
        "{err}"
    );
    assert_eq!(sim.unit_status().0, "error");
    let out = sim.ok(&["config", "fail-hook="]);
    assert_eq!(
        out,
        "retrying failed hook \"metrics-endpoint-relation-joined\" on fixture/0\n"
    );
    assert_eq!(
        sim.handled_by("fixture/0")[4..],
        [
            "metrics-endpoint-relation-created",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-joined",
            "metrics-endpoint-relation-changed",
            "config-changed"
        ]
    );
    assert_eq!(
        relation_events(&sim, "fixture/0")[1..],
        [
            "metrics-endpoint:0 Joined remote-app=prom remote-unit=prom/0 departing=-",
            "metrics-endpoint:0 Changed remote-app=prom remote-unit=prom/0 departing=-",
        ],
        "the retry keeps the relation context, and -changed follows"
    );
    assert_eq!(
        relation_data(&sim, "0")["units"]["fixture/0"],
        json!({"unit": "fixture/0"})
    );
}
