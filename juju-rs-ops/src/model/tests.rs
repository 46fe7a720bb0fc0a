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
