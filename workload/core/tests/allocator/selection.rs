//! §3.3 pool order and §3.4 address order.

use std::collections::BTreeMap;

use metallb_core::allocator::{AllocError, Family, PoolAllocation};
use metallb_core::selector::Selector;

use crate::common::*;

#[test]
fn first_free_address_lowest_first_and_freed_addresses_are_reused() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    assert_eq!(
        got(&mut a, &svc("a")),
        "198.18.0.0",
        "network address is handed out"
    );
    assert_eq!(got(&mut a, &svc("b")), "198.18.0.1");
    assert!(a.release("default/a"));
    assert!(!a.release("default/a"), "second release is a no-op");
    assert_eq!(
        got(&mut a, &svc("c")),
        "198.18.0.0",
        "freed lowest address first"
    );
    assert_eq!(
        got(&mut a, &svc("b")),
        "198.18.0.1",
        "re-allocation keeps the address"
    );
    assert_eq!(got(&mut a, &svc("d")), "198.18.0.2");
    assert_eq!(
        got(&mut a, &svc("e")),
        "198.18.0.3",
        "broadcast address is handed out"
    );
    assert_eq!(a.allocate(&svc("f")), Err(AllocError::NoAvailableIps));
    assert_eq!(a.allocation("default/f"), None);
}

#[test]
fn ranges_in_spec_order_and_ipv6_slash_64() {
    let mut a = allocator(vec![pool(
        "p",
        &["198.18.1.0/31", "198.18.0.0/31", "2001:db8::/64"],
    )]);
    let order: Vec<String> = (0..4)
        .map(|i| got(&mut a, &svc(&format!("s{i}"))))
        .collect();
    assert_eq!(
        order,
        ["198.18.1.0", "198.18.1.1", "198.18.0.0", "198.18.0.1"]
    );
    let mut v6 = svc("v6");
    v6.families = vec![Family::V6];
    assert_eq!(got(&mut a, &v6), "2001:db8::");
    v6.key = "default/v6b".into();
    assert_eq!(got(&mut a, &v6), "2001:db8::1");
    let c = a.counters("p").unwrap();
    assert_eq!(
        (c.v4_total, c.v6_total, c.v4_in_use, c.v6_in_use),
        (4, 1 << 64, 4, 2)
    );
}

#[test]
fn avoid_buggy_ips_skips_dot_zero_and_dot_255() {
    let mut p = pool("p", &["198.18.0.255-198.18.1.1", "2001:db8::ff/128"]);
    p.avoid_buggy_ips = true;
    let mut a = allocator(vec![p]);
    assert_eq!(got(&mut a, &svc("a")), "198.18.1.1");
    assert_eq!(a.allocate(&svc("b")), Err(AllocError::NoAvailableIps));
    let mut req = svc("b");
    req.requested_ips = vec![ip("198.18.1.0")];
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::NotInConfig(ip("198.18.1.0")))
    );
    let c = a.counters("p").unwrap();
    assert_eq!(
        (c.v4_total, c.v6_total),
        (1, 1),
        "buggy addresses are no capacity; IPv6 unaffected"
    );
}

#[test]
fn auto_assign_false_pools_serve_only_explicit_requests() {
    let mut manual = pool("manual", &["198.18.0.0/30"]);
    manual.auto_assign = false;
    let mut a = allocator(vec![manual]);
    assert_eq!(a.allocate(&svc("a")), Err(AllocError::NoAvailableIps));
    let mut by_pool = svc("a");
    by_pool.requested_pool = Some("manual".into());
    assert_eq!(got(&mut a, &by_pool), "198.18.0.0");
    let mut by_ip = svc("b");
    by_ip.requested_ips = vec![ip("198.18.0.3")];
    assert_eq!(got(&mut a, &by_ip), "198.18.0.3");
}

fn ns_pool(priority: i32, namespaces: &[&str]) -> PoolAllocation {
    PoolAllocation {
        priority,
        namespace_restricted: !namespaces.is_empty(),
        namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        service_selectors: vec![],
    }
}

#[test]
fn pinned_pools_by_priority_then_unrestricted_pools_by_name() {
    let mut a = allocator(vec![
        pool("b-open", &["198.18.3.0/30"]),
        pool("a-open", &["198.18.2.0/30"]),
        restricted("low", &["198.18.1.0/32"], ns_pool(2, &["default"])),
        restricted("high", &["198.18.0.0/32"], ns_pool(1, &["default"])),
        restricted("zero", &["198.18.4.0/32"], ns_pool(0, &[])),
        restricted("negative", &["198.18.6.0/32"], ns_pool(-1, &[])),
        restricted("elsewhere", &["198.18.5.0/30"], ns_pool(1, &["other"])),
    ]);
    let order: Vec<String> = (0..7)
        .map(|i| a.allocate(&svc(&format!("s{i}"))).unwrap().pool)
        .collect();
    assert_eq!(
        order,
        [
            "high", "low", "negative", "zero", "a-open", "a-open", "a-open"
        ],
        "positive priorities ascending, then non-positive, then open pools by name"
    );
    let mut foreign = svc("x");
    foreign.namespace = "other".into();
    assert_eq!(a.allocate(&foreign).unwrap().pool, "elsewhere");
    foreign.requested_pool = Some("high".into());
    assert_eq!(
        a.allocate(&foreign),
        Err(AllocError::Incompatible("high".into()))
    );
    let mut explicit = svc("y");
    explicit.namespace = "third".into();
    explicit.requested_ips = vec![ip("198.18.5.1")];
    assert_eq!(
        a.allocate(&explicit),
        Err(AllocError::Incompatible("elsewhere".into())),
        "requested IPs still honour serviceAllocation"
    );
}

#[test]
fn restricted_pools_are_never_a_fallback() {
    let mut a = allocator(vec![
        restricted("mine", &["198.18.0.0/32"], ns_pool(0, &["team"])),
        pool("open", &["198.18.1.0/32"]),
    ]);
    assert_eq!(a.allocate(&svc("s")).unwrap().pool, "open");
    assert_eq!(
        a.allocate(&svc("t")),
        Err(AllocError::NoAvailableIps),
        "'mine' is not for default"
    );
    let mut team = svc("u");
    team.namespace = "team".into();
    assert_eq!(a.allocate(&team).unwrap().pool, "mine");
    team.key = "team/v".into();
    assert_eq!(
        a.allocate(&team),
        Err(AllocError::NoAvailableIps),
        "pinned exhausted, open exhausted"
    );
    a.release("default/s");
    assert_eq!(
        a.allocate(&team).unwrap().pool,
        "open",
        "falls back once pinned pools are full"
    );
}

#[test]
fn namespace_selectors_resolving_to_nothing_admit_nobody() {
    let empty = PoolAllocation {
        namespace_restricted: true,
        ..PoolAllocation::default()
    };
    let mut a = allocator(vec![restricted("p", &["198.18.0.0/30"], empty)]);
    let mut req = svc("a");
    req.requested_ips = vec![ip("198.18.0.1")];
    assert_eq!(a.allocate(&req), Err(AllocError::Incompatible("p".into())));
    assert_eq!(a.allocate(&svc("b")), Err(AllocError::NoAvailableIps));
}

#[test]
fn service_selectors_pin_services_by_label() {
    let web = PoolAllocation {
        service_selectors: vec![Selector {
            match_labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
            match_expressions: vec![],
        }],
        ..PoolAllocation::default()
    };
    let mut a = allocator(vec![
        restricted("web", &["198.18.0.0/30"], web),
        pool("rest", &["198.18.1.0/30"]),
    ]);
    let mut labelled = svc("w");
    labelled.labels.insert("tier".into(), "web".into());
    assert_eq!(a.allocate(&labelled).unwrap().pool, "web");
    assert_eq!(a.allocate(&svc("plain")).unwrap().pool, "rest");
    let mut wrong = svc("p2");
    wrong.requested_pool = Some("web".into());
    assert_eq!(
        a.allocate(&wrong),
        Err(AllocError::Incompatible("web".into()))
    );
}

#[test]
fn priority_only_service_allocation_is_pinned_for_everyone() {
    let mut a = allocator(vec![
        pool("a-open", &["198.18.0.0/30"]),
        restricted("z-preferred", &["198.18.1.0/30"], ns_pool(5, &[])),
    ]);
    assert_eq!(a.allocate(&svc("s")).unwrap().pool, "z-preferred");
}
