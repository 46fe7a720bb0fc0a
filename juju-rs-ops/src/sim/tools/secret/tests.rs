//! Tests of the secret tools: formats, exit codes, Juju's messages, staging and tracking.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::super::{ToolReply, run_tool};
use crate::sim::agent::Agent;
use crate::sim::meta::CharmMeta;
use crate::sim::secrets::{SecretGrant, SecretOwnerState};
use crate::sim::state::ModelState;

/// `demo/0` (leader) and `demo/1`, related on `db` (id 0) to `pg` (unit `pg/0`); a hook runs on
/// `unit`.
fn agent(unit: u32) -> Agent {
    let mut state = ModelState::new("m", "demo", PathBuf::from("/c"));
    state.add_unit();
    state.add_unit();
    state.app.leader = Some(0);
    let id = state.add_relation("db", "pgsql", "pg");
    state
        .relation_mut(id)
        .unwrap()
        .add_remote_unit("pg/0", BTreeMap::new());
    let mut a = Agent::new(state, CharmMeta::default());
    a.begin_hook(unit, "config-changed");
    a
}

fn run(a: &mut Agent, tool: &str, args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match run_tool(a, tool, &args, None) {
        ToolReply::Done {
            code,
            stdout,
            stderr,
        } => (code, stdout, stderr),
        ToolReply::NeedStdin => panic!("needs stdin"),
    }
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

fn encoded(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), STANDARD.encode(v)))
        .collect()
}

/// A user secret `bgp` (password=one), optionally granted to `demo`; returns its URI.
fn user_secret(a: &mut Agent, granted: bool) -> String {
    let id = a.state.add_secret(
        SecretOwnerState::Model,
        "bgp",
        encoded(&[("password", "one")]),
    );
    if granted {
        a.state.secret_mut(&id).unwrap().grants.push(SecretGrant {
            target: "demo".into(),
            relation: None,
        });
    }
    format!("secret:{id}")
}

#[test]
fn the_owner_adds_reads_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret").unwrap();
    let mut a = agent(0);
    let file_arg = format!("password#file={}", file.display());
    let (code, uri, err) = run(
        &mut a,
        "secret-add",
        &[
            "--label",
            "bgp",
            "--description",
            "BGP",
            &file_arg,
            "user=admin",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    let uri = uri.trim().to_string();
    assert!(uri.starts_with("secret:") && uri.len() == 27, "{uri}");
    assert_eq!(
        json(&run(&mut a, "secret-get", &["--format=json", &uri]).1),
        serde_json::json!({"password": "s3cret", "user": "admin"}),
        "readable in the hook that created it"
    );
    assert_eq!(
        run(
            &mut a,
            "secret-get",
            &["--label", "bgp", "--format", "json"]
        )
        .1,
        "{\"password\":\"s3cret\",\"user\":\"admin\"}\n"
    );
    let id = uri.strip_prefix("secret:").unwrap().to_string();
    assert_eq!(
        run(&mut a, "secret-ids", &["--format=json"]).1,
        format!("[\"{id}\"]\n")
    );
    let info = json(&run(&mut a, "secret-info-get", &["--format=json", &uri]).1);
    assert_eq!(info[&id]["revision"], 1);
    assert_eq!(info[&id]["label"], "bgp");
    assert_eq!(info[&id]["owner"], "application");
    assert_eq!(info[&id]["description"], "BGP");
    assert!(a.state.secrets.is_empty(), "nothing before the hook ends");
    a.finish(0, "", "");
    let secret = a.state.secret(&id).unwrap();
    assert_eq!(secret.owner, SecretOwnerState::Application("demo".into()));
    assert_eq!(secret.label, "bgp");
    // Any unit of the owning application reads the latest revision as an owner.
    a.begin_hook(1, "update-status");
    assert_eq!(run(&mut a, "secret-get", &[&uri, "password"]).1, "s3cret\n");
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password#base64"]).1,
        format!("{}\n", STANDARD.encode("s3cret"))
    );
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "nope"]).2,
        "ERROR secret key \"nope\" not found\n"
    );
    assert_eq!(
        run(&mut a, "secret-ids", &[]).1,
        "",
        "a non-leader does not list application secrets"
    );
}

#[test]
fn a_failed_hook_creates_nothing() {
    let mut a = agent(0);
    run(&mut a, "secret-add", &["password=x"]);
    a.finish(1, "", "");
    assert!(a.state.secrets.is_empty());
    assert!(a.state.secret_content.is_empty());
}

#[test]
fn application_secrets_need_the_leader() {
    let mut a = agent(1);
    assert_eq!(
        run(&mut a, "secret-add", &["password=x"]),
        (1, "".into(), "ERROR this unit is not the leader\n".into())
    );
    let (code, uri, _) = run(&mut a, "secret-add", &["--owner", "unit", "password=x"]);
    assert_eq!(code, 0);
    a.finish(0, "", "");
    let id = uri.trim().strip_prefix("secret:").unwrap();
    assert_eq!(
        a.state.secret(id).unwrap().owner,
        SecretOwnerState::Unit("demo/1".into())
    );
}

#[test]
fn argument_errors_exit_2_with_juju_messages() {
    let mut a = agent(0);
    for (args, message) in [
        (&[][..], "missing secret value or filename"),
        (&["Bad=x"], "key \"Bad\" not valid"),
        (&["novalue"], "key value \"novalue\" not valid"),
        (
            &["--owner", "model", "abc=x"],
            "secret owner \"model\" not valid",
        ),
        (
            &["--rotate", "often", "abc=x"],
            "rotate policy \"often\" not valid",
        ),
        (
            &["--expire", "soon", "abc=x"],
            "expire time or duration \"soon\" not valid",
        ),
    ] {
        assert_eq!(
            run(&mut a, "secret-add", args),
            (2, "".into(), format!("ERROR {message}\n")),
            "{args:?}"
        );
    }
    for (args, message) in [
        (&[][..], "require either a secret URI or label"),
        (&["secret:nope"], "secret URI \"secret:nope\" not valid"),
    ] {
        assert_eq!(
            run(&mut a, "secret-get", args),
            (2, "".into(), format!("ERROR {message}\n"))
        );
    }
    let uri = user_secret(&mut a, true);
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "--peek", "--refresh"]).2,
        "ERROR specify one of --peek or --refresh but not both\n"
    );
    assert_eq!(run(&mut a, "secret-get", &[&uri, "--format=smart"]).0, 2);
    assert_eq!(
        run(&mut a, "secret-set", &[]).2,
        "ERROR missing secret URI\n"
    );
    assert_eq!(
        run(&mut a, "secret-info-get", &[&uri, "--label", "x"]).2,
        "ERROR specify either a secret URI or label but not both\n"
    );
    assert_eq!(
        run(&mut a, "secret-add", &["--expire", "24h", "abc=x"]).0,
        0
    );
    assert_eq!(
        run(
            &mut a,
            "secret-add",
            &["--expire", "2030-01-02T03:04:05Z", "abd=x"]
        )
        .0,
        0
    );
}

#[test]
fn labels_are_unique_per_owner() {
    let mut a = agent(0);
    run(&mut a, "secret-add", &["--label", "x", "abc=1"]);
    assert_eq!(
        run(&mut a, "secret-add", &["--label", "x", "abc=2"]),
        (
            1,
            "".into(),
            "ERROR secret with label \"x\" already exists\n".into()
        )
    );
    assert_eq!(
        run(
            &mut a,
            "secret-add",
            &["--owner", "unit", "--label", "x", "abc=2"]
        )
        .0,
        0
    );
}

#[test]
fn consumers_need_a_grant_and_track_their_revision() {
    let mut a = agent(1);
    let uri = user_secret(&mut a, false);
    assert_eq!(
        run(&mut a, "secret-get", &[&uri]),
        (1, "".into(), "ERROR permission denied\n".into())
    );
    assert_eq!(
        run(&mut a, "secret-get", &["secret:d1ab8mnmp25c76b2q3e0"]).2,
        "ERROR secret \"secret:d1ab8mnmp25c76b2q3e0\" not found\n"
    );
    let id = uri.strip_prefix("secret:").unwrap().to_string();
    a.state.secret_mut(&id).unwrap().grants.push(SecretGrant {
        target: "demo".into(),
        relation: None,
    });
    assert_eq!(run(&mut a, "secret-get", &[&uri]).1, "password: one\n");
    a.state
        .add_secret_revision(&id, encoded(&[("password", "two")]));
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password"]).1,
        "one\n",
        "the revision first read stays until a refresh"
    );
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password", "--peek"]).1,
        "two\n"
    );
    assert_eq!(run(&mut a, "secret-get", &[&uri, "password"]).1, "one\n");
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password", "--refresh"]).1,
        "two\n"
    );
    assert_eq!(run(&mut a, "secret-get", &[&uri, "password"]).1, "two\n");
    assert_eq!(
        a.state.secret(&id).unwrap().consumers["demo/1"].current,
        2,
        "tracking is recorded at once, not at the end of the hook"
    );
}

#[test]
fn consumer_labels_are_attached_with_the_uri() {
    let mut a = agent(0);
    let uri = user_secret(&mut a, true);
    assert_eq!(
        run(&mut a, "secret-get", &["--label", "bgp"]).2,
        "ERROR consumer label \"bgp\" not found\n",
        "a user secret's name is not a label the charm can use"
    );
    run(&mut a, "secret-get", &[&uri, "--label", "peer-password"]);
    assert_eq!(
        run(&mut a, "secret-get", &["--label", "peer-password"]).1,
        "password: one\n"
    );
    assert_eq!(
        run(
            &mut a,
            "secret-get",
            &["--label", "peer-password", "password"]
        )
        .2,
        "ERROR secret URI \"password\" not valid\n",
        "as in Juju, the first argument is always the URI"
    );
    assert_eq!(
        run(&mut a, "secret-info-get", &[&uri]).2,
        format!(
            "ERROR secret \"{}\" not found\n",
            uri.strip_prefix("secret:").unwrap()
        ),
        "metadata is for owners only"
    );
}

#[test]
fn set_makes_a_revision_when_the_hook_succeeds() {
    let mut a = agent(0);
    let (_, uri, _) = run(&mut a, "secret-add", &["--label", "pw", "password=one"]);
    let uri = uri.trim().to_string();
    a.finish(0, "", "");
    let id = uri.strip_prefix("secret:").unwrap().to_string();
    a.begin_hook(0, "config-changed");
    assert_eq!(run(&mut a, "secret-set", &[&uri, "password=two"]).0, 0);
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password"]).1,
        "one\n",
        "the committed revision until the hook ends"
    );
    assert_eq!(
        run(&mut a, "secret-get", &[&uri, "password", "--peek"]).1,
        "two\n"
    );
    a.finish(0, "", "");
    assert_eq!(a.state.secret(&id).unwrap().revision, 2);
    a.begin_hook(0, "config-changed");
    run(&mut a, "secret-set", &[&uri, "password=two"]);
    a.finish(0, "", "");
    assert_eq!(
        a.state.secret(&id).unwrap().revision,
        2,
        "same content, same revision"
    );
    a.begin_hook(1, "config-changed");
    assert_eq!(
        run(&mut a, "secret-set", &[&uri, "password=three"]).2,
        "ERROR this unit is not the leader\n"
    );
    let user = user_secret(&mut a, true);
    assert_eq!(
        run(&mut a, "secret-set", &[&user, "password=mine"]).2,
        "ERROR permission denied\n"
    );
    assert_eq!(
        run(&mut a, "secret-remove", &[&user]).2,
        "ERROR permission denied\n"
    );
}

#[test]
fn remove_and_grant_are_staged() {
    let mut a = agent(0);
    let (_, uri, _) = run(&mut a, "secret-add", &["password=one"]);
    let uri = uri.trim().to_string();
    let id = uri.strip_prefix("secret:").unwrap().to_string();
    a.finish(0, "", "");
    a.begin_hook(0, "config-changed");
    assert_eq!(
        run(&mut a, "secret-grant", &[&uri]).2,
        "ERROR no relation id specified\n"
    );
    assert_eq!(
        run(&mut a, "secret-grant", &[&uri, "-r", "9"]).2,
        "ERROR invalid value \"9\" for flag -r: relation not found\n"
    );
    assert_eq!(
        run(
            &mut a,
            "secret-grant",
            &["--relation", "0", "--unit", "other/0", &uri]
        )
        .2,
        "ERROR cannot specify unit \"other/0\" in relation to application \"pg\"\n"
    );
    assert_eq!(
        run(
            &mut a,
            "secret-grant",
            &["--relation", "0", "--unit", "pg", &uri]
        )
        .2,
        "ERROR unit \"pg\" not valid\n"
    );
    assert_eq!(
        run(&mut a, "secret-grant", &["--relation", "0", &uri]),
        (0, "".into(), "".into())
    );
    let info = json(&run(&mut a, "secret-info-get", &["--format=json", &uri]).1);
    assert_eq!(
        info[&id]["access"],
        serde_json::json!([{"target": "application-pg", "scope": "relation-demo.db#pg.db", "role": "view"}])
    );
    a.finish(0, "", "");
    assert_eq!(a.state.secret(&id).unwrap().grants[0].relation, Some(0));
    a.begin_hook(0, "config-changed");
    assert_eq!(
        run(&mut a, "secret-remove", &[&uri, "--revision", "x"]).0,
        2
    );
    assert_eq!(run(&mut a, "secret-remove", &[&uri]).0, 0);
    assert_eq!(run(&mut a, "secret-ids", &["--format=json"]).1, "null\n");
    assert!(a.state.secret(&id).is_some());
    a.finish(0, "", "");
    assert!(a.state.secret(&id).is_none());
    assert!(a.state.secret_content.is_empty());
}
