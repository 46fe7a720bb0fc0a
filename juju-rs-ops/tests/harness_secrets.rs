//! Secrets through the in-process harness: secrets in, secrets out, events and consistency.

#[path = "fixture/charm.rs"]
#[allow(dead_code)]
mod charm;

use std::path::Path;

use charm::FixtureCharm;
use juju_ops::testing::{Harness, State, TestEvent, TestRelation, TestSecret, TestSecretOwner};
use juju_ops::{SecretEventKind, Status};

fn harness() -> Harness {
    Harness::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")).unwrap()
}

fn with_password_secret(secret: &TestSecret) -> State {
    State::default()
        .with_config("password-secret", secret.uri())
        .with_secret(secret.clone())
}

#[test]
fn a_granted_user_secret_is_read_and_tracked() {
    let secret = TestSecret::user("bgp", &[("password", "hunter2")]).granted();
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("config-changed"),
            with_password_secret(&secret),
        )
        .unwrap();
    assert!(out.success);
    assert_eq!(
        out.state.unit_status,
        Status::active("password has 7 characters")
    );
    let after = out.state.secret(&secret.uri()).unwrap();
    assert_eq!(
        after.tracked,
        Some(1),
        "the first read tracks the latest revision"
    );
    assert!(
        !out.logs.iter().any(|l| l.message.contains("hunter2")),
        "the value is never logged"
    );
}

#[test]
fn not_granted_and_missing_secrets_block_with_their_kind() {
    let secret = TestSecret::user("bgp", &[("password", "x")]);
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("config-changed"),
            with_password_secret(&secret),
        )
        .unwrap();
    assert_eq!(
        out.state.unit_status,
        Status::blocked("password-secret unavailable (PermissionDenied)")
    );
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("config-changed"),
            State::default().with_config("password-secret", "secret:d1ab8mnmp25c76b2q3e0"),
        )
        .unwrap();
    assert_eq!(
        out.state.unit_status,
        Status::blocked("password-secret unavailable (NotFound)")
    );
}

#[test]
fn a_consumer_keeps_its_revision_until_secret_changed_refreshes() {
    let secret = TestSecret::user("bgp", &[("password", "one")])
        .with_revision(&[("password", "three")])
        .granted()
        .tracking(1)
        .with_consumer_label("bgp-password");
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::hook("update-status"),
            with_password_secret(&secret),
        )
        .unwrap();
    assert_eq!(
        out.state.unit_status,
        Status::active("password has 3 characters")
    );
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::secret(SecretEventKind::Changed, &secret, None),
            with_password_secret(&secret),
        )
        .unwrap();
    assert!(out.logged(&format!(
        "secret event Changed {} label=bgp-password revision=-",
        secret.uri()
    )));
    assert!(out.logged("password has 5 characters"));
    assert_eq!(
        out.state.unit_status,
        Status::active("password has 5 characters")
    );
    assert_eq!(out.state.secret(&secret.id).unwrap().tracked, Some(2));
}

#[test]
fn the_leader_adds_and_grants_a_secret() {
    let rel = TestRelation::new("metrics-endpoint", "prom")
        .with_id(4)
        .with_remote_unit("prom/0", &[]);
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("add-secret", &[("password", "s3cret")]),
            State::default().with_relation(rel),
        )
        .unwrap();
    let action = out.action.clone().unwrap();
    assert_eq!(action.status, "completed", "{:?}", out.logs);
    let uri = &action.run.results["uri"];
    let secret = out.state.secret(uri).unwrap();
    assert_eq!(secret.owner, TestSecretOwner::App);
    assert_eq!(secret.label.as_deref(), Some("fixture-password"));
    assert_eq!(secret.content()["password"], "s3cret");
    assert_eq!(secret.grants.len(), 1);
    assert_eq!(
        (secret.grants[0].target.as_str(), secret.grants[0].relation),
        ("prom", Some(4))
    );
    assert_eq!(
        out.state.secret_by_label("fixture-password").map(|s| &s.id),
        Some(&secret.id)
    );
}

#[test]
fn a_follower_cannot_add_an_application_secret() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("add-secret", &[("password", "s3cret")]),
            State::default().with_leader(false),
        )
        .unwrap();
    assert!(!out.success);
    assert!(out.logged("cannot add an application-owned secret: this unit is not the leader"));
    assert!(out.state.secrets.is_empty());
}

#[test]
fn owner_events_carry_label_and_revision() {
    let secret = TestSecret::new(TestSecretOwner::App, &[("password", "a")])
        .with_label("mine")
        .with_revision(&[("password", "b")]);
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::secret(SecretEventKind::Remove, &secret, Some(1)),
            State::default().with_secret(secret.clone()),
        )
        .unwrap();
    assert!(out.logged(&format!(
        "secret event Remove {} label=mine revision=1",
        secret.uri()
    )));
    assert!(
        out.logged("password has 1 characters"),
        "owners read the latest"
    );
}

#[test]
fn inconsistent_secrets_are_refused() {
    let h = harness();
    let owned = TestSecret::new(TestSecretOwner::App, &[("password", "a")]);
    let consumed = TestSecret::user("x", &[("password", "a")]).granted();
    for (state, event, expected) in [
        (
            State::default()
                .with_secret(owned.clone())
                .with_secret(owned.clone()),
            TestEvent::hook("update-status"),
            "is given twice",
        ),
        (
            State::default().with_secret(owned.clone().tracking(1)),
            TestEvent::hook("update-status"),
            "only consumers track one",
        ),
        (
            State::default().with_secret(consumed.clone().tracking(5)),
            TestEvent::hook("update-status"),
            "tracked revision 5 does not exist",
        ),
        (
            State::default().with_secret(owned.clone()),
            TestEvent::secret(SecretEventKind::Changed, &owned, None),
            "secret-changed fires on consumers",
        ),
        (
            State::default().with_secret(consumed.clone()),
            TestEvent::secret(SecretEventKind::Changed, &consumed, None),
            "only on units that have read",
        ),
        (
            State::default().with_secret(consumed.clone()),
            TestEvent::secret(SecretEventKind::Rotate, &consumed, None),
            "fires on the owner",
        ),
        (
            State::default().with_secret(owned.clone()),
            TestEvent::secret(SecretEventKind::Expired, &owned, None),
            "secret-expired needs a revision",
        ),
        (
            State::default().with_secret(owned.clone()),
            TestEvent::secret(SecretEventKind::Remove, &owned, Some(9)),
            "has no revision 9",
        ),
        (
            State::default(),
            TestEvent::secret(SecretEventKind::Rotate, &owned, None),
            "which is not in the state",
        ),
        (
            State::default(),
            TestEvent::hook("secret-changed"),
            "use TestEvent::relation_* or TestEvent::secret",
        ),
    ] {
        let err = h.run(|_| FixtureCharm, event, state).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
