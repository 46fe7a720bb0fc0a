//! Secrets through the compiled fixture charm and `juju-sim`: user secrets added, granted and
//! updated as with `juju add-secret`/`grant-secret`/`update-secret`, read by the charm with
//! `secret-get`; a charm secret created and granted over a relation; values never in plain
//! sight.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Sim;
use serde_json::Value;

const VALUE: &str = "hunter2-value";

fn secrets(sim: &Sim) -> Value {
    serde_json::from_str(&sim.ok(&["secrets", "--format", "json"])).unwrap()
}

#[test]
fn a_granted_user_secret_is_read_and_updates_fire_secret_changed() {
    let sim = Sim::new();
    sim.deploy(&["-n", "2"]);
    let uri = sim
        .ok(&["add-secret", "bgp", &format!("password={VALUE}")])
        .trim()
        .to_string();
    assert!(uri.starts_with("secret:") && uri.len() == 27, "{uri}");
    let setting = format!("password-secret={uri}");
    sim.ok(&["config", &setting]);
    assert_eq!(
        sim.unit_status(),
        (
            "blocked".into(),
            "password-secret unavailable (PermissionDenied)".into()
        ),
        "not granted yet: Juju answers permission denied"
    );
    let handled = sim.handled().len();
    sim.ok(&["grant-secret", "bgp", "fixture"]);
    assert_eq!(sim.handled().len(), handled, "granting fires no hook");
    sim.ok(&["update-status"]);
    assert_eq!(
        sim.unit_status(),
        ("active".into(), "password has 13 characters".into())
    );
    let listed = secrets(&sim);
    assert_eq!(listed[0]["consumers"]["fixture/0"], 1);
    assert_eq!(listed[0]["consumers"]["fixture/1"], 1);

    sim.ok(&["update-secret", &uri, "password=longer-password"]);
    for unit in ["fixture/0", "fixture/1"] {
        assert_eq!(
            sim.handled_by(unit).last().map(String::as_str),
            Some("secret-changed")
        );
        assert_eq!(
            sim.logged_by(unit, "secret event"),
            [format!("secret event Changed {uri} label=- revision=-")]
        );
        assert_eq!(
            sim.logged_by(unit, "refreshed"),
            [format!("refreshed {uri}: password has 15 characters")]
        );
    }
    assert_eq!(
        sim.unit_status(),
        ("active".into(), "password has 15 characters".into())
    );
    assert_eq!(secrets(&sim)[0]["revision"], 2);
    let handled = sim.handled().len();
    sim.ok(&["update-secret", "bgp", "password=longer-password"]);
    assert_eq!(
        sim.handled().len(),
        handled,
        "same content: no revision, no hook"
    );

    sim.ok(&["revoke-secret", "bgp", "fixture"]);
    sim.ok(&["update-status"]);
    assert_eq!(sim.unit_status().0, "blocked");
    sim.ok(&["remove-secret", "bgp"]);
    sim.ok(&["update-status"]);
    assert_eq!(
        sim.unit_status(),
        (
            "blocked".into(),
            "password-secret unavailable (NotFound)".into()
        )
    );
}

#[test]
fn secret_values_are_not_in_plain_sight() {
    let sim = Sim::new();
    sim.deploy(&[]);
    let uri = sim
        .ok(&["add-secret", "bgp", &format!("password={VALUE}")])
        .trim()
        .to_string();
    sim.ok(&["grant-secret", &uri, "fixture"]);
    sim.ok(&["config", &format!("password-secret={uri}")]);
    assert_eq!(sim.unit_status().0, "active");
    let state_dir = sim.dir.path().join("state");
    let state = std::fs::read_to_string(state_dir.join("state.json")).unwrap();
    assert!(!state.contains(VALUE), "state.json holds no value");
    assert!(!state.contains("aHVudGVyMi12YWx1ZQ"), "nor its base64");
    let secrets_file = state_dir.join("secrets.json");
    let mode = std::fs::metadata(&secrets_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the content file is the owner's only");
    assert!(
        std::fs::read_to_string(&secrets_file)
            .unwrap()
            .contains("aHVudGVyMi12YWx1ZQ")
    );
    for args in [
        &["debug-log"][..],
        &["status"],
        &["status", "--format", "json"],
        &["timings"],
        &["secrets"],
        &["secrets", "--format", "json"],
    ] {
        assert!(!sim.ok(args).contains(VALUE), "{args:?} shows the value");
    }
}

#[test]
fn the_charm_creates_and_grants_a_secret_over_a_relation() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["integrate", "metrics-endpoint", "prom"]);
    let out: Value = serde_json::from_str(&sim.ok(&[
        "run",
        "add-secret",
        "password=s3cret",
        "--format",
        "json",
    ]))
    .unwrap();
    let uri = out["fixture/0"]["results"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = secrets(&sim);
    assert_eq!(listed[0]["uri"], uri);
    assert_eq!(listed[0]["owner"], "application-fixture");
    assert_eq!(listed[0]["label"], "fixture-password");
    assert_eq!(listed[0]["grants"], serde_json::json!(["prom"]));
    sim.ok(&["remove-relation", "metrics-endpoint"]);
    assert_eq!(
        secrets(&sim)[0]["grants"],
        serde_json::json!([]),
        "a grant ends with its relation"
    );
    let err = sim.err(&["run", "fixture/0", "add-secret", "password=x"]);
    assert!(err.contains("the following task failed"), "{err}");
    assert!(
        sim.ok(&["debug-log"])
            .contains("secret with label \"fixture-password\" already exists"),
        "labels are unique per owner"
    );
}

#[test]
fn secret_commands_refuse_what_juju_refuses() {
    let sim = Sim::new();
    sim.deploy(&[]);
    sim.ok(&["add-secret", "bgp", "password=x"]);
    for (args, expected) in [
        (
            &["add-secret", "bgp", "password=y"][..],
            "secret with name \"bgp\" already exists",
        ),
        (
            &["add-secret", "other", "Password=y"],
            "key \"Password\" not valid",
        ),
        (
            &["grant-secret", "bgp", "other"],
            "application \"other\" not found",
        ),
        (
            &["grant-secret", "nope", "fixture"],
            "secret \"nope\" not found",
        ),
        (
            &["update-secret", "nope", "password=y"],
            "secret \"nope\" not found",
        ),
        (
            &["remove-secret", "secret:d1ab8mnmp25c76b2q3e0"],
            "not found",
        ),
    ] {
        let err = sim.err(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-a-file").unwrap();
    sim.ok(&[
        "add-secret",
        "filed",
        &format!("password#file={}", file.display()),
    ]);
}
