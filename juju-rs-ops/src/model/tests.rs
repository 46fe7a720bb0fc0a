//! The statuses a dispatch knows: reads answer from them, and setting one to what it already
//! is calls no tool.

use std::collections::BTreeMap;

use super::*;
use crate::hooktools::ProcessHookTools;
use crate::hooktools::scripted::Scripted;

/// The environment of an update-status hook on `unit` (the model tests' context).
pub(crate) fn update_status_on(unit: &str) -> JujuContext {
    let vars: BTreeMap<String, String> = [
        ("JUJU_DISPATCH_PATH", "hooks/update-status"),
        ("JUJU_HOOK_NAME", "update-status"),
        ("JUJU_MODEL_NAME", "m"),
        ("JUJU_MODEL_UUID", "u"),
        ("JUJU_UNIT_NAME", unit),
        ("JUJU_VERSION", "3.6.8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    JujuContext::from_map(&vars).unwrap()
}

fn juju() -> JujuContext {
    update_status_on("demo/1")
}

fn tools_called(s: &Scripted) -> Vec<String> {
    s.calls()
        .into_iter()
        .map(|(tool, args, _)| format!("{tool} {}", args.join(" ")))
        .collect()
}

const APP_STATUS: &str = r#"{"application-status": {"status": "active", "message": "ok",
    "status-data": {}, "units": {"demo/1": {"status": "active", "message": "ok",
    "status-data": {}}, "demo/2": {"status": "blocked", "message": "no", "status-data": {}}}}}"#;

#[test]
fn a_leader_reads_its_own_and_the_app_status_with_one_call_and_sets_neither_unchanged() {
    let s = Scripted::sequence(&[(0, "true", ""), (0, APP_STATUS, ""), (0, "", "")]);
    let tools = ProcessHookTools::new(&s);
    let juju = juju();
    let ctx = Context::new(&juju, &tools, None);
    assert!(ctx.is_leader().unwrap());
    let unit = ctx.unit_status().unwrap();
    assert_eq!(
        (unit.status.as_str(), unit.message.as_str()),
        ("active", "ok")
    );
    let app = ctx.app().unwrap().unwrap();
    assert_eq!(app.status().unwrap().message, "ok");
    ctx.set_unit_status(&Status::active("ok")).unwrap();
    app.set_status(&Status::active("ok")).unwrap();
    assert_eq!(
        tools_called(&s),
        [
            "is-leader --format=json",
            "status-get --include-data --format=json --application=true"
        ]
    );
    // A change is set, once.
    ctx.set_unit_status(&Status::blocked("needs trust"))
        .unwrap();
    ctx.set_unit_status(&Status::blocked("needs trust"))
        .unwrap();
    app.set_status(&Status::blocked("needs trust")).unwrap();
    assert_eq!(
        tools_called(&s)[2..],
        [
            "status-set --application=False blocked -- needs trust",
            "status-set --application=True blocked -- needs trust"
        ]
    );
}

#[test]
fn a_unit_not_known_to_lead_reads_its_own_status_only() {
    let s = Scripted::sequence(&[
        (
            0,
            r#"{"status": "waiting", "message": "w", "status-data": {}}"#,
            "",
        ),
        (0, "", ""),
    ]);
    let tools = ProcessHookTools::new(&s);
    let juju = juju();
    let ctx = Context::new(&juju, &tools, None);
    assert_eq!(ctx.unit_status().unwrap().status, "waiting");
    assert_eq!(ctx.unit_status().unwrap().message, "w");
    ctx.set_unit_status(&Status::waiting("w")).unwrap();
    ctx.set_unit_status(&Status::active("")).unwrap();
    assert_eq!(
        tools_called(&s),
        [
            "status-get --include-data --format=json --application=false",
            "status-set --application=False active -- "
        ]
    );
}

#[test]
fn without_a_read_every_status_is_set() {
    let s = Scripted::new(0, "", "");
    let tools = ProcessHookTools::new(&s);
    let juju = juju();
    let ctx = Context::new(&juju, &tools, None);
    ctx.set_unit_status(&Status::active("ok")).unwrap();
    assert_eq!(
        tools_called(&s),
        ["status-set --application=False active -- ok"]
    );
}

#[test]
fn relation_ids_read_alongside_the_hooks_work_are_not_read_again() {
    let charm = tempfile::tempdir().unwrap();
    std::fs::write(
        charm.path().join("metadata.yaml"),
        "name: demo\nprovides:\n  metrics-endpoint:\n    interface: prometheus_scrape\n  \
         grafana-dashboard:\n    interface: grafana_dashboard\n",
    )
    .unwrap();
    let mut juju = juju();
    juju.charm_dir = charm.path().to_path_buf();
    // The reader asks for both endpoints (in order) while the work runs here.
    let s = Scripted::sequence(&[
        (0, r#"["metrics-endpoint:7"]"#, ""),
        (0, "[]", ""),
        (0, r#"["prometheus/0"]"#, ""),
    ]);
    let tools = ProcessHookTools::new(&s);
    let ctx = Context::new(&juju, &tools, None);
    let here = std::thread::current().id();
    let ran_on = ctx
        .reading_relations_alongside(&["metrics-endpoint", "grafana-dashboard"], || {
            std::thread::current().id()
        });
    assert_eq!(ran_on, here, "the work runs on the hook's own thread");
    let metrics = ctx.relations("metrics-endpoint").unwrap();
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].id, 7);
    assert_eq!(metrics[0].remote_app.as_deref(), Some("prometheus"));
    assert!(ctx.relations("grafana-dashboard").unwrap().is_empty());
    assert_eq!(
        tools_called(&s),
        [
            "relation-ids metrics-endpoint --format=json",
            "relation-ids grafana-dashboard --format=json",
            "relation-list --format=json -r metrics-endpoint:7"
        ]
    );
    // Read already: nothing is read again, not even alongside.
    ctx.reading_relations_alongside(&["metrics-endpoint"], || ());
    assert_eq!(tools_called(&s).len(), 3);
}

#[test]
fn a_failed_read_alongside_is_made_again_and_reported_by_relations() {
    let charm = tempfile::tempdir().unwrap();
    std::fs::write(
        charm.path().join("metadata.yaml"),
        "name: demo\nprovides:\n  metrics-endpoint:\n    interface: prometheus_scrape\n",
    )
    .unwrap();
    let mut juju = juju();
    juju.charm_dir = charm.path().to_path_buf();
    let s = Scripted::new(1, "", "ERROR connection refused\n");
    let tools = ProcessHookTools::new(&s);
    let ctx = Context::new(&juju, &tools, None);
    ctx.reading_relations_alongside(&["metrics-endpoint"], || ());
    assert!(ctx.relations("metrics-endpoint").is_err());
    assert_eq!(tools_called(&s).len(), 2);
}
