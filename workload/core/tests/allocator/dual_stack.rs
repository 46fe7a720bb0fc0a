//! §2.4 ipFamilyPolicy and dual stack.

use metallb_core::allocator::{AllocError, Family, FamilyPolicy, ServiceRequest};

use crate::common::*;

fn dual(name: &str, policy: FamilyPolicy, primary: Family) -> ServiceRequest {
    let mut s = svc(name);
    s.families = vec![primary, primary.other()];
    s.policy = policy;
    s
}

#[test]
fn dual_stack_policies() {
    let mut a = allocator(vec![
        pool("dual", &["198.18.1.0/30", "2001:db8::/126"]),
        pool("v4only", &["198.18.0.0/30"]),
    ]);
    let req = dual("d", FamilyPolicy::RequireDualStack, Family::V6);
    let got = a.allocate(&req).unwrap();
    assert_eq!(
        (got.pool.as_str(), ips(&got)),
        (
            "dual",
            vec!["198.18.1.0".to_string(), "2001:db8::".to_string()]
        ),
        "fresh pairs are IPv4 first"
    );
    let prefer = dual("p", FamilyPolicy::PreferDualStack, Family::V4);
    assert_eq!(a.allocate(&prefer).unwrap().ips.len(), 2);
    let mut single = svc("s");
    single.families = vec![Family::V6, Family::V4];
    assert_eq!(
        ips(&a.allocate(&single).unwrap()),
        ["2001:db8::2"],
        "SingleStack: the primary family"
    );

    let mut a = allocator(vec![pool("v4only", &["198.18.0.0/30"])]);
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::NoAvailableIps),
        "RequireDualStack needs both"
    );
    assert_eq!(
        ips(&a.allocate(&prefer).unwrap()),
        ["198.18.0.0"],
        "PreferDualStack settles for one"
    );
    let v6_first = dual("q", FamilyPolicy::PreferDualStack, Family::V6);
    assert_eq!(
        ips(&a.allocate(&v6_first).unwrap()),
        ["198.18.0.1"],
        "else the secondary family"
    );
}

#[test]
fn prefer_dual_stack_takes_the_primary_family_first() {
    let mut a = allocator(vec![
        pool("a4", &["198.18.0.0/30"]),
        pool("b6", &["2001:db8::/126"]),
    ]);
    let prefer = dual("p", FamilyPolicy::PreferDualStack, Family::V6);
    assert_eq!(
        ips(&a.allocate(&prefer).unwrap()),
        ["2001:db8::"],
        "no pool has both: the primary"
    );
}

#[test]
fn require_dual_stack_needs_two_cluster_ip_families() {
    let mut a = allocator(vec![pool("dual", &["198.18.1.0/30", "2001:db8::/126"])]);
    let mut req = svc("r");
    req.policy = FamilyPolicy::RequireDualStack;
    assert_eq!(a.allocate(&req), Err(AllocError::NotEnoughClusterIps));
    assert_eq!(
        AllocError::NotEnoughClusterIps.event_reason(),
        "not enough clusterips"
    );
    assert_eq!(
        a.restore(&req, &[ip("198.18.1.0")]),
        Err(AllocError::NotEnoughClusterIps)
    );
}

#[test]
fn prefer_dual_stack_upgrade_adds_the_missing_family_from_the_same_pool() {
    let mut a = allocator(vec![
        pool("a-v6", &["2001:db8:9::/126"]),
        pool("dual", &["198.18.1.0/30", "2001:db8::/126"]),
    ]);
    let mut s = dual("p", FamilyPolicy::PreferDualStack, Family::V4);
    a.restore(&s, &[ip("198.18.1.1")]).unwrap();
    let upgraded = a.add_missing_family(&s).unwrap().unwrap();
    assert_eq!(
        (upgraded.pool.as_str(), ips(&upgraded)),
        (
            "dual",
            vec!["198.18.1.1".to_string(), "2001:db8::".to_string()]
        ),
        "same pool, appended after the held address"
    );
    assert_eq!(a.add_missing_family(&s), Ok(None), "already dual");
    // #2724: single-stack cluster IPs never get a second family.
    let mut single = svc("one");
    single.policy = FamilyPolicy::PreferDualStack;
    a.restore(&single, &[ip("198.18.1.2")]).unwrap();
    assert_eq!(a.add_missing_family(&single), Ok(None));
    // Exhausted: the held address stays.
    for i in 0..3 {
        let mut t = svc(&format!("v6-{i}"));
        t.families = vec![Family::V6];
        t.requested_pool = Some("dual".into());
        a.allocate(&t).unwrap();
    }
    s.key = "default/q".into();
    a.restore(&s, &[ip("198.18.1.3")]).unwrap();
    assert_eq!(
        a.add_missing_family(&s),
        Err(AllocError::PoolExhausted("dual".into()))
    );
    assert_eq!(ips(&a.allocation("default/q").unwrap()), ["198.18.1.3"]);
}

#[test]
fn held_addresses_must_match_the_families() {
    let mut a = allocator(vec![pool("dual", &["198.18.1.0/30", "2001:db8::/126"])]);
    let mut s = svc("s");
    a.allocate(&s).unwrap();
    s.families = vec![Family::V6];
    assert_eq!(
        a.restore(&s, &[ip("198.18.1.0")]),
        Err(AllocError::CurrentFamilyChanged(vec![ip("198.18.1.0")]))
    );
    assert_eq!(
        AllocError::CurrentFamilyChanged(vec![]).event_reason(),
        "ClearAssignment"
    );
    assert_eq!(ips(&a.allocate(&s).unwrap()), ["2001:db8::"]);
    // A PreferDualStack service over dual cluster IPs may hold one address.
    let p = dual("p", FamilyPolicy::PreferDualStack, Family::V4);
    assert!(a.restore(&p, &[ip("2001:db8::3")]).is_ok());
    // A dual-stack holder that became SingleStack is cleared.
    let r = dual("r", FamilyPolicy::RequireDualStack, Family::V4);
    let pair = a.allocate(&r).unwrap().ips;
    let mut now_single = r.clone();
    now_single.policy = FamilyPolicy::SingleStack;
    assert!(matches!(
        a.restore(&now_single, &pair),
        Err(AllocError::CurrentFamilyChanged(_))
    ));
    // allocate() does not keep a held allocation that no longer fits, it replaces it.
    a.allocate(&r).unwrap();
    assert_eq!(a.allocate(&now_single).unwrap().ips.len(), 1);
}
