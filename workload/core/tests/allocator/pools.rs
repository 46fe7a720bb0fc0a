//! §3.7 configuration changes, validation, §3.10 counters.

use metallb_core::allocator::{AllocError, Allocator, METRIC_NAMES, PoolsError, PoolsUpdate};

use crate::common::*;

#[test]
fn pool_shrink_releases_rename_moves() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/29"])]);
    for i in 0..6 {
        a.allocate(&svc(&format!("s{i}"))).unwrap();
    }
    let update = a
        .try_set_pools(vec![pool("renamed", &["198.18.0.0/30"])])
        .unwrap();
    assert_eq!(
        update.released,
        ["default/s4", "default/s5"],
        "shrunk: outside addresses released"
    );
    assert_eq!(update.moved.len(), 4);
    assert_eq!(
        update.moved[0],
        (
            "default/s0".to_string(),
            "p".to_string(),
            "renamed".to_string()
        )
    );
    assert_eq!(a.allocation("default/s0").unwrap().pool, "renamed");
    assert_eq!(a.allocation("default/s4"), None);
    assert_eq!(
        a.allocate(&svc("s4")),
        Err(AllocError::NoAvailableIps),
        "needs re-allocation, none free"
    );
    let released = a.set_pools(vec![]);
    assert_eq!(
        released.len(),
        4,
        "no pools: every service loses its address"
    );
    assert!(a.holders().is_empty());
}

#[test]
fn pool_split_moves_allocations_without_changing_addresses() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    let s0 = a.allocate(&svc("s0")).unwrap().ips;
    let _ = a.allocate(&svc("s1")).unwrap();
    let _ = a.allocate(&svc("s2")).unwrap();
    let update = a
        .try_set_pools(vec![
            pool("p", &["198.18.0.0/31"]),
            pool("q", &["198.18.0.2/31"]),
        ])
        .unwrap();
    assert_eq!(
        update,
        PoolsUpdate {
            released: vec![],
            moved: vec![("default/s2".into(), "p".into(), "q".into())]
        }
    );
    assert_eq!(a.allocation("default/s0").unwrap().ips, s0);
    assert_eq!(a.counters("q").unwrap().v4_in_use, 1);
}

#[test]
fn enabling_avoid_buggy_ips_releases_dot_zero() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    assert_eq!(got(&mut a, &svc("zero")), "198.18.0.0");
    assert_eq!(got(&mut a, &svc("one")), "198.18.0.1");
    let mut buggy = pool("p", &["198.18.0.0/30"]);
    buggy.avoid_buggy_ips = true;
    let update = a.try_set_pools(vec![buggy]).unwrap();
    assert_eq!(update.released, ["default/zero"]);
    assert_eq!(got(&mut a, &svc("zero")), "198.18.0.2");
}

#[test]
fn invalid_pool_sets_are_refused_and_change_nothing() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    a.allocate(&svc("s")).unwrap();
    let cases = [
        (
            vec![
                pool("a", &["198.18.0.0/24"]),
                pool("b", &["198.18.0.128-198.18.0.130"]),
            ],
            PoolsError::Overlap {
                pool: "b".into(),
                range: "198.18.0.128-198.18.0.130".into(),
                other_pool: "a".into(),
                other_range: "198.18.0.0/24".into(),
            },
        ),
        (
            vec![pool("a", &["2001:db8::/64", "2001:db8::5/128"])],
            PoolsError::Overlap {
                pool: "a".into(),
                range: "2001:db8::5/128".into(),
                other_pool: "a".into(),
                other_range: "2001:db8::/64".into(),
            },
        ),
        (
            vec![pool("a", &["198.18.0.0/30"]), pool("a", &["198.18.1.0/30"])],
            PoolsError::DuplicateName("a".into()),
        ),
        (vec![pool("a", &[])], PoolsError::NoAddresses("a".into())),
        (vec![pool("", &["198.18.0.0/30"])], PoolsError::EmptyName),
    ];
    for (pools, expected) in cases {
        assert_eq!(a.try_set_pools(pools), Err(expected));
    }
    assert_eq!(
        PoolsError::DuplicateName("a".into()).to_string(),
        "duplicate definition of pool \"a\""
    );
    assert!(
        a.try_set_pools(vec![
            pool("a", &["198.18.0.0/24"]),
            pool("b", &["198.18.0.0/25"])
        ])
        .unwrap_err()
        .to_string()
        .contains("overlaps with already defined")
    );
    assert_eq!(
        a.pools().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["p"]
    );
    assert_eq!(a.allocation("default/s").unwrap().pool, "p");
    // Touching ranges and mixed families are fine.
    assert!(
        a.try_set_pools(vec![
            pool("a", &["198.18.0.0/31", "2001:db8::/64"]),
            pool("b", &["198.18.0.2-198.18.0.3"])
        ])
        .is_ok()
    );
}

#[test]
fn counters_queries_and_metrics() {
    let mut p = pool("p", &["198.18.0.0/24", "2001:db8::/64"]);
    p.avoid_buggy_ips = true;
    let mut a = allocator(vec![p, pool("q", &["198.18.1.0/30"])]);
    let c = a.counters("p").unwrap();
    assert_eq!(
        (c.v4_total, c.v6_total, c.v4_in_use, c.v6_in_use),
        (254, 1 << 64, 0, 0)
    );
    for i in 0..3 {
        a.allocate(&svc(&format!("s{i}"))).unwrap();
    }
    let c = a.counters("p").unwrap();
    assert_eq!((c.v4_in_use, c.v4_available()), (3, 251));
    assert_eq!(a.counters("nope"), None);
    assert_eq!(a.all_counters().len(), 2);
    assert_eq!(
        a.pool_of_ip(ip("198.18.0.0")),
        Some("p"),
        "buggy addresses still belong to the pool"
    );
    assert_eq!(a.pool_of_ip(ip("198.18.1.3")), Some("q"));
    assert_eq!(a.pool_of_ip(ip("198.18.2.0")), None);
    assert_eq!(a.pool("q").unwrap().ranges.len(), 1);
    assert_eq!(a.addresses_in_use().count(), 3);
    assert_eq!(c.metrics().map(|(name, _)| name), METRIC_NAMES);
    assert_eq!(METRIC_NAMES[3], "metallb_allocator_addresses_in_use_total");
    let empty = Allocator::new();
    assert!(empty.all_counters().is_empty());
}
