//! The allocator against the rules of the behaviour reference §3.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use metallb_core::allocator::{
    AllocError, Allocator, Family, FamilyPolicy, Pool, PoolAllocation, Port, ServiceRequest,
};
use metallb_core::iprange::IpRange;
use metallb_core::selector::Selector;

fn pool(name: &str, ranges: &[&str]) -> Pool {
    Pool::new(
        name,
        ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
    )
}

fn svc(key: &str) -> ServiceRequest {
    ServiceRequest {
        key: format!("default/{key}"),
        namespace: "default".into(),
        families: vec![Family::V4],
        ports: vec![Port {
            protocol: "TCP".into(),
            port: 80,
        }],
        ..ServiceRequest::default()
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn ips(a: &metallb_core::allocator::Allocation) -> Vec<String> {
    a.ips.iter().map(ToString::to_string).collect()
}

#[test]
fn first_free_address_lowest_first_and_freed_addresses_are_reused() {
    let mut a = Allocator::new();
    a.set_pools(vec![pool("p", &["198.18.0.0/30"])]);
    assert_eq!(ips(&a.allocate(&svc("a")).unwrap()), ["198.18.0.0"]);
    assert_eq!(ips(&a.allocate(&svc("b")).unwrap()), ["198.18.0.1"]);
    assert!(a.release("default/a"));
    assert_eq!(ips(&a.allocate(&svc("c")).unwrap()), ["198.18.0.0"]);
    assert_eq!(
        ips(&a.allocate(&svc("b")).unwrap()),
        ["198.18.0.1"],
        "re-allocation keeps the address"
    );
    a.allocate(&svc("d")).unwrap();
    a.allocate(&svc("e")).unwrap();
    assert_eq!(a.allocate(&svc("f")), Err(AllocError::NoAvailableIps));
}

#[test]
fn avoid_buggy_ips_skips_dot_zero_and_dot_255() {
    let mut p = pool("p", &["198.18.0.255-198.18.1.1"]);
    p.avoid_buggy_ips = true;
    let mut a = Allocator::new();
    a.set_pools(vec![p]);
    assert_eq!(ips(&a.allocate(&svc("a")).unwrap()), ["198.18.1.1"]);
    let mut req = svc("b");
    req.requested_ips = vec![ip("198.18.1.0")];
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::NotInConfig(ip("198.18.1.0")))
    );
    assert_eq!(a.counters("p").unwrap().v4_total, 1);
}

#[test]
fn requested_ips_and_pools() {
    let mut a = Allocator::new();
    a.set_pools(vec![
        pool("one", &["198.18.0.0/29"]),
        pool("two", &["198.18.1.0/29"]),
    ]);
    let mut req = svc("a");
    req.requested_ips = vec![ip("198.18.1.5")];
    let got = a.allocate(&req).unwrap();
    assert_eq!(
        (got.pool.as_str(), ips(&got)),
        ("two", vec!["198.18.1.5".to_string()])
    );
    let mut other = svc("b");
    other.requested_ips = vec![ip("198.18.1.5")];
    assert!(matches!(a.allocate(&other), Err(AllocError::Sharing(_))));
    other.requested_ips = vec![ip("198.18.9.9")];
    assert_eq!(
        a.allocate(&other),
        Err(AllocError::NotInConfig(ip("198.18.9.9")))
    );
    other.requested_ips = vec![ip("198.18.0.3")];
    other.requested_pool = Some("two".into());
    assert!(matches!(
        a.allocate(&other),
        Err(AllocError::WrongPool { .. })
    ));
    other.requested_ips.clear();
    assert_eq!(ips(&a.allocate(&other).unwrap()), ["198.18.1.0"]);
    other.requested_pool = Some("nope".into());
    assert_eq!(
        a.allocate(&other),
        Err(AllocError::UnknownPool("nope".into()))
    );
    let mut v6 = svc("c");
    v6.requested_ips = vec![ip("2001:db8::1")];
    assert!(matches!(
        a.allocate(&v6),
        Err(AllocError::FamilyMismatch(_))
    ));
}

#[test]
fn auto_assign_false_pools_serve_only_explicit_requests() {
    let mut manual = pool("manual", &["198.18.0.0/30"]);
    manual.auto_assign = false;
    let mut a = Allocator::new();
    a.set_pools(vec![manual]);
    assert_eq!(a.allocate(&svc("a")), Err(AllocError::NoAvailableIps));
    let mut req = svc("a");
    req.requested_pool = Some("manual".into());
    assert_eq!(ips(&a.allocate(&req).unwrap()), ["198.18.0.0"]);
}

#[test]
fn sharing_needs_the_same_key_backend_and_distinct_ports() {
    let mut a = Allocator::new();
    a.set_pools(vec![pool("p", &["198.18.0.0/30"])]);
    let shared = |key: &str, port: i32| {
        let mut s = svc(key);
        s.sharing_key = Some("k".into());
        s.ports = vec![Port {
            protocol: "TCP".into(),
            port,
        }];
        s
    };
    assert_eq!(ips(&a.allocate(&shared("a", 80)).unwrap()), ["198.18.0.0"]);
    assert_eq!(
        ips(&a.allocate(&shared("b", 443)).unwrap()),
        ["198.18.0.0"],
        "lowest compatible shared address"
    );
    assert_eq!(
        ips(&a.allocate(&shared("c", 80)).unwrap()),
        ["198.18.0.1"],
        "port 80 is taken on .0"
    );
    let mut local = shared("d", 8080);
    local.backend_key = "app=x".into();
    assert_eq!(
        ips(&a.allocate(&local).unwrap()),
        ["198.18.0.2"],
        "different backend"
    );
    assert_eq!(a.users_of(ip("198.18.0.0")).len(), 2);
    a.release("default/a");
    assert_eq!(a.users_of(ip("198.18.0.0")), ["default/b"]);
    assert_eq!(
        a.counters("p").unwrap().v4_in_use,
        3,
        "a shared address counts once"
    );
}

#[test]
fn pinned_pools_by_priority_then_unrestricted_pools_by_name() {
    let restricted = |name: &str, range: &str, priority: i32, namespaces: &[&str]| {
        let mut p = pool(name, &[range]);
        p.allocation = Some(PoolAllocation {
            priority,
            namespace_restricted: !namespaces.is_empty(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            service_selectors: vec![],
        });
        p
    };
    let mut a = Allocator::new();
    a.set_pools(vec![
        pool("b-open", &["198.18.3.0/30"]),
        pool("a-open", &["198.18.2.0/30"]),
        restricted("low", "198.18.1.0/32", 2, &["default"]),
        restricted("high", "198.18.0.0/32", 1, &["default"]),
        restricted("zero", "198.18.4.0/32", 0, &[]),
        restricted("elsewhere", "198.18.5.0/30", 1, &["other"]),
    ]);
    let order: Vec<String> = (0..5)
        .map(|i| a.allocate(&svc(&format!("s{i}"))).unwrap().pool)
        .collect();
    assert_eq!(order, ["high", "low", "zero", "a-open", "a-open"]);
    let mut foreign = svc("x");
    foreign.namespace = "other".into();
    assert_eq!(a.allocate(&foreign).unwrap().pool, "elsewhere");
    foreign.requested_pool = Some("high".into());
    assert_eq!(
        a.allocate(&foreign),
        Err(AllocError::Incompatible("high".into()))
    );
}

#[test]
fn service_selectors_pin_services_by_label() {
    let mut web = pool("web", &["198.18.0.0/30"]);
    web.allocation = Some(PoolAllocation {
        service_selectors: vec![Selector {
            match_labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
            match_expressions: vec![],
        }],
        ..PoolAllocation::default()
    });
    let mut a = Allocator::new();
    a.set_pools(vec![web, pool("rest", &["198.18.1.0/30"])]);
    let mut labelled = svc("w");
    labelled.labels.insert("tier".into(), "web".into());
    assert_eq!(a.allocate(&labelled).unwrap().pool, "web");
    assert_eq!(a.allocate(&svc("plain")).unwrap().pool, "rest");
}

#[test]
fn dual_stack_policies() {
    let mut a = Allocator::new();
    a.set_pools(vec![
        pool("v4only", &["198.18.0.0/30"]),
        pool("dual", &["198.18.1.0/30", "2001:db8::/126"]),
    ]);
    let mut req = svc("d");
    req.families = vec![Family::V6, Family::V4];
    req.policy = FamilyPolicy::RequireDualStack;
    let got = a.allocate(&req).unwrap();
    assert_eq!(
        (got.pool.as_str(), ips(&got)),
        (
            "dual",
            vec!["198.18.1.0".to_string(), "2001:db8::".to_string()]
        )
    );
    let mut prefer = svc("p");
    prefer.families = vec![Family::V4, Family::V6];
    prefer.policy = FamilyPolicy::PreferDualStack;
    assert_eq!(a.allocate(&prefer).unwrap().ips.len(), 2);
    let mut single = svc("s");
    single.families = vec![Family::V4, Family::V6];
    let got = a.allocate(&single).unwrap();
    assert_eq!(
        (got.pool.as_str(), ips(&got)),
        ("dual", vec!["198.18.1.2".to_string()]),
        "SingleStack takes one address of the primary family, pools in name order"
    );
    let mut a = Allocator::new();
    a.set_pools(vec![pool("v4only", &["198.18.0.0/30"])]);
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::NoAvailableIps),
        "RequireDualStack needs both"
    );
    assert_eq!(
        a.allocate(&prefer).unwrap().ips.len(),
        1,
        "PreferDualStack settles for one"
    );
}

#[test]
fn pool_changes_release_moved_out_addresses_and_follow_renames() {
    let mut a = Allocator::new();
    a.set_pools(vec![pool("p", &["198.18.0.0/29"])]);
    for i in 0..6 {
        a.allocate(&svc(&format!("s{i}"))).unwrap();
    }
    let released = a.set_pools(vec![pool("renamed", &["198.18.0.0/30"])]);
    assert_eq!(released, ["default/s4", "default/s5"]);
    assert_eq!(a.allocation("default/s0").unwrap().pool, "renamed");
    let released = a.set_pools(vec![]);
    assert_eq!(
        released.len(),
        4,
        "no pools: every service loses its address"
    );
}

#[test]
fn restart_recovery_reclaims_addresses_before_pending_services() {
    let mut a = Allocator::new();
    a.set_pools(vec![pool("p", &["198.18.0.0/30"])]);
    // A service that held .2 before the restart re-claims it; a pending one gets the lowest free.
    a.assign(&svc("old"), &[ip("198.18.0.2")]).unwrap();
    assert_eq!(ips(&a.allocate(&svc("new")).unwrap()), ["198.18.0.0"]);
    assert_eq!(ips(&a.allocate(&svc("old")).unwrap()), ["198.18.0.2"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any sequence of allocations and releases: no address is held by two services unless they
    /// share by the rules, and the in-use counters match a recount.
    #[test]
    fn no_double_allocation_and_counters_match(ops in proptest::collection::vec((0u8..20, proptest::bool::ANY, 0u8..3), 1..80)) {
        let mut a = Allocator::new();
        a.set_pools(vec![pool("p", &["198.18.0.0/28", "2001:db8::/124"])]);
        for (n, release, flavour) in ops {
            let key = format!("s{n}");
            if release {
                a.release(&format!("default/{key}"));
                continue;
            }
            let mut s = svc(&key);
            match flavour {
                0 => {}
                1 => { s.sharing_key = Some("k".into()); s.ports = vec![Port { protocol: "TCP".into(), port: i32::from(n) }]; }
                _ => { s.families = vec![Family::V4, Family::V6]; s.policy = FamilyPolicy::RequireDualStack; }
            }
            let _ = a.allocate(&s);
        }
        let mut holders: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
        for n in 0u8..20 {
            let key = format!("default/s{n}");
            if let Some(allocation) = a.allocation(&key) {
                for ip in allocation.ips {
                    holders.entry(ip).or_default().insert(key.clone());
                }
            }
        }
        for (ip, keys) in &holders {
            let users: BTreeSet<String> = a.users_of(*ip).into_iter().collect();
            proptest::prop_assert_eq!(&users, keys);
        }
        let counters = a.counters("p").unwrap();
        let v4 = holders.keys().filter(|ip| ip.is_ipv4()).count() as u128;
        let v6 = holders.keys().filter(|ip| ip.is_ipv6()).count() as u128;
        proptest::prop_assert_eq!((counters.v4_in_use, counters.v6_in_use), (v4, v6));
    }
}
