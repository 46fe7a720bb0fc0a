//! Relations through the in-process harness: relations with remote data in, databags out,
//! and ops' consistency rules.

#[path = "fixture/charm.rs"]
#[allow(dead_code)]
mod charm;

use std::collections::BTreeMap;
use std::path::Path;

use charm::FixtureCharm;
use juju_ops::testing::{Harness, State, TestEvent, TestRelation};
use juju_ops::{Bag, Charm, Context, Event, ModelError};

fn harness() -> Harness {
    Harness::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")).unwrap()
}

/// A charm whose handler is a closure, for probing the model API.
struct Probe<F>(F);

impl<F: FnMut(&Context<'_>, &Event) -> anyhow::Result<()>> Charm for Probe<F> {
    fn handle(&mut self, ctx: &Context<'_>, event: &Event) -> anyhow::Result<()> {
        (self.0)(ctx, event)
    }
}

fn prometheus() -> TestRelation {
    TestRelation::new("metrics-endpoint", "prom")
        .with_id(3)
        .with_interface("prometheus_scrape")
        .with_remote_unit("prom/0", &[("target", "t0")])
        .with_remote_unit("prom/1", &[("target", "t1")])
        .with_remote_app_data(&[("want", "scrape")])
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_leader_reads_remote_data_and_publishes_both_bags() {
    let rel = prometheus();
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_changed(&rel, Some("prom/1")),
            State::default().with_relation(rel),
        )
        .unwrap();
    assert!(out.success);
    assert!(out.logged(
        "metrics-endpoint:3: relation event metrics-endpoint:3 Changed remote-app=prom remote-unit=prom/1 departing=-"
    ));
    assert!(out.logged(
        "relation metrics-endpoint:3: remote prom want=scrape units=[prom/0(t0) prom/1(t1)]"
    ));
    let after = out.state.relation(3).unwrap();
    assert_eq!(
        after.local_app_data,
        map(&[("greeting", "hello"), ("seen", "scrape")])
    );
    assert_eq!(after.local_unit_data, map(&[("unit", "fixture/0")]));
    assert_eq!(after.remote_app_data, map(&[("want", "scrape")]));
}

#[test]
fn a_follower_writes_only_its_unit_bag() {
    let rel = prometheus().with_local_app_data(&[("greeting", "old")]);
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_joined(&rel, "prom/0"),
            State::default()
                .with_leader(false)
                .with_peer(0, "active")
                .with_unit_id(1)
                .with_relation(rel),
        )
        .unwrap();
    assert!(out.success);
    let after = out.state.relation(3).unwrap();
    assert_eq!(after.local_app_data, map(&[("greeting", "old")]));
    assert_eq!(after.local_unit_data, map(&[("unit", "fixture/1")]));
}

#[test]
fn app_bag_writes_by_a_follower_fail_the_hook_and_commit_nothing() {
    let rel = prometheus();
    let out = harness()
        .run(
            |_| {
                Probe(|ctx: &Context<'_>, _: &Event| {
                    let rel = ctx.relations("metrics-endpoint")?.remove(0);
                    ctx.set_relation_data(&rel, Bag::Unit, &map(&[("a", "1")]))?;
                    let err = ctx
                        .set_relation_data(&rel, Bag::App, &map(&[("b", "2")]))
                        .unwrap_err();
                    assert!(matches!(err, ModelError::NotLeader(_)));
                    Err(err.into())
                })
            },
            TestEvent::hook("update-status"),
            State::default().with_leader(false).with_relation(rel),
        )
        .unwrap();
    assert!(!out.success);
    assert!(out.logged(
        "cannot write the application databag of relation metrics-endpoint:3: this unit is not the leader"
    ));
    assert!(
        out.state.relation(3).unwrap().local_unit_data.is_empty(),
        "a failed hook commits no relation data"
    );
}

#[test]
fn an_application_data_change_has_no_remote_unit() {
    let rel = prometheus();
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_changed(&rel, None),
            State::default().with_relation(rel),
        )
        .unwrap();
    assert!(out.logged("Changed remote-app=prom remote-unit=- departing=-"));
}

#[test]
fn a_departing_unit_is_no_longer_listed_and_broken_hides_the_relation() {
    let rel = prometheus();
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_departed(&rel, "prom/0", "prom/0"),
            State::default().with_relation(rel.clone()),
        )
        .unwrap();
    assert!(out.logged("Departed remote-app=prom remote-unit=prom/0 departing=prom/0"));
    assert!(out.logged("units=[prom/1(t1)]"));
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_broken(&rel),
            State::default().with_relation(rel),
        )
        .unwrap();
    assert!(out.logged("Broken remote-app=prom remote-unit=- departing=-"));
    assert!(
        !out.logged("relation metrics-endpoint:3: remote"),
        "the broken relation is not listed"
    );
    assert!(out.state.relation(3).unwrap().local_app_data.is_empty());
}

#[test]
fn created_runs_before_any_unit_joined() {
    let rel = TestRelation::new("db", "pg").with_id(7);
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::relation_created(&rel),
            State::default().with_relation(rel),
        )
        .unwrap();
    assert!(out.logged("db:7: relation event db:7 Created remote-app=pg remote-unit=-"));
}

#[test]
fn peer_relations_read_other_units_and_the_shared_app_bag() {
    let rel = TestRelation::peer("cluster")
        .with_id(1)
        .with_peer(1, &[("addr", "10.0.0.2")])
        .with_local_app_data(&[("token", "t")]);
    let out = harness()
        .run(
            |_| {
                Probe(|ctx: &Context<'_>, _: &Event| {
                    let rel = ctx.relations("cluster")?.remove(0);
                    assert_eq!(rel.remote_app.as_deref(), Some("fixture"));
                    assert_eq!(rel.remote_units, ["fixture/1"]);
                    let peer = ctx.relation_data(&rel, "fixture/1")?;
                    let app = ctx.relation_data(&rel, "fixture")?;
                    tracing::info!("peer {} token {}", peer["addr"], app["token"]);
                    Ok(())
                })
            },
            TestEvent::hook("update-status"),
            State::default()
                .with_leader(false)
                .with_unit_id(2)
                .with_relation(rel),
        )
        .unwrap();
    assert!(out.success, "{:?}", out.logs);
    assert!(
        out.logged("peer 10.0.0.2 token t"),
        "a follower reads a peer app bag"
    );
}

#[test]
fn goal_state_lists_the_relations() {
    let out = harness()
        .run(
            |_| FixtureCharm,
            TestEvent::action("goal-state", &[]),
            State::default().with_relation(prometheus()),
        )
        .unwrap();
    assert_eq!(
        out.action.unwrap().run.results["relations"],
        "metrics-endpoint:prom=joined metrics-endpoint:prom/0=active metrics-endpoint:prom/1=active"
    );
}

#[test]
fn inconsistent_relations_are_refused() {
    let h = harness();
    let rel = prometheus();
    for (state, event, expected) in [
        (
            State::default().with_relation(TestRelation::new("nope", "x")),
            TestEvent::hook("update-status"),
            "endpoint \"nope\" is not declared in metadata.yaml (declared: cluster, db, metrics-endpoint)",
        ),
        (
            State::default().with_relation(prometheus().with_interface("http")),
            TestEvent::hook("update-status"),
            "interface \"http\" does not match metadata.yaml's \"prometheus_scrape\"",
        ),
        (
            State::default()
                .with_relation(prometheus())
                .with_relation(TestRelation::new("db", "pg").with_id(3)),
            TestEvent::hook("update-status"),
            "relation id 3 is used twice",
        ),
        (
            State::default().with_relation(TestRelation::new("db", "fixture")),
            TestEvent::hook("update-status"),
            "needs a remote application other than \"fixture\"",
        ),
        (
            State::default()
                .with_relation(TestRelation::new("db", "pg").with_remote_unit("other/0", &[])),
            TestEvent::hook("update-status"),
            "remote unit \"other/0\" is not a unit of \"pg\"",
        ),
        (
            State::default().with_relation(TestRelation::peer("cluster").with_peer(0, &[])),
            TestEvent::hook("update-status"),
            "peer unit 0 is this unit",
        ),
        (
            State::default(),
            TestEvent::relation_changed(&rel, Some("prom/0")),
            "for relation metrics-endpoint:3, which is not in the state",
        ),
        (
            State::default().with_relation(prometheus()),
            TestEvent::relation_changed(&rel, Some("prom/9")),
            "remote unit \"prom/9\" is not in relation metrics-endpoint:3",
        ),
        (
            State::default().with_relation(prometheus()),
            TestEvent::relation_departed(&rel, "prom/0", "prom/1"),
            "the departing unit is \"prom/0\" or this unit",
        ),
        (
            State::default().with_relation(prometheus()),
            TestEvent::hook("metrics-endpoint-relation-changed"),
            "use TestEvent::relation_*",
        ),
    ] {
        let err = h.run(|_| FixtureCharm, event, state).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
