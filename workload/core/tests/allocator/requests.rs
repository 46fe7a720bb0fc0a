//! §3.3 requested IPs and the `address-pool` annotation; §3.6 Assign validation.

use metallb_core::allocator::{AllocError, Family};

use crate::common::*;

#[test]
fn requested_ips_any_pool_and_their_failures() {
    let mut a = allocator(vec![
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
    assert_eq!(
        a.allocate(&other).unwrap_err().to_string(),
        "198.18.9.9 is not allowed in config"
    );
    other.requested_ips = vec![ip("198.18.0.3")];
    other.requested_pool = Some("two".into());
    assert_eq!(
        a.allocate(&other),
        Err(AllocError::WrongPool {
            requested: "two".into(),
            actual: "one".into()
        })
    );
    let mut v6 = svc("c");
    v6.requested_ips = vec![ip("2001:db8::1")];
    assert_eq!(
        a.allocate(&v6),
        Err(AllocError::FamilyMismatch(vec![ip("2001:db8::1")]))
    );
}

#[test]
fn requested_ip_pairs() {
    let mut a = allocator(vec![
        pool("dual", &["198.18.0.0/30", "2001:db8::/126"]),
        pool("v6", &["2001:db8:1::/126"]),
    ]);
    let mut req = svc("a");
    req.families = vec![Family::V6, Family::V4];
    req.requested_ips = vec![ip("2001:db8::2"), ip("198.18.0.2")];
    assert_eq!(
        ips(&a.allocate(&req).unwrap()),
        ["2001:db8::2", "198.18.0.2"],
        "requested order is kept"
    );
    let mut same = svc("b");
    same.families = vec![Family::V4, Family::V6];
    same.requested_ips = vec![ip("198.18.0.1"), ip("198.18.0.3")];
    assert_eq!(
        a.allocate(&same),
        Err(AllocError::FamilyMismatch(same.requested_ips.clone()))
    );
    assert_eq!(
        a.assign(&same, &same.requested_ips),
        Err(AllocError::BadIpCount)
    );
    assert_eq!(a.assign(&same, &[]), Err(AllocError::BadIpCount));
    same.requested_ips = vec![ip("198.18.0.1"), ip("2001:db8:1::1")];
    assert_eq!(
        a.allocate(&same),
        Err(AllocError::SplitAcrossPools(same.requested_ips.clone())),
        "both addresses must come from one pool"
    );
}

#[test]
fn address_pool_annotation() {
    let mut a = allocator(vec![
        pool("a", &["198.18.0.0/31"]),
        pool("b", &["198.18.1.0/32"]),
    ]);
    let mut req = svc("s");
    req.requested_pool = Some("b".into());
    assert_eq!(got(&mut a, &req), "198.18.1.0");
    assert_eq!(got(&mut a, &req), "198.18.1.0", "idempotent");
    let mut second = svc("t");
    second.requested_pool = Some("b".into());
    assert_eq!(
        a.allocate(&second),
        Err(AllocError::PoolExhausted("b".into()))
    );
    assert_eq!(
        a.allocate(&second).unwrap_err().to_string(),
        "no available IPs in pool \"b\""
    );
    req.requested_pool = Some("a".into());
    let moved = a.allocate(&req).unwrap();
    assert_eq!(
        (moved.pool.as_str(), ips(&moved)),
        ("a", vec!["198.18.0.0".to_string()])
    );
    assert_eq!(
        got(&mut a, &second),
        "198.18.1.0",
        "the old address was freed by the move"
    );
    req.requested_pool = Some("nope".into());
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::UnknownPool("nope".into()))
    );
    assert_eq!(
        a.allocation("default/s").unwrap().pool,
        "a",
        "a failed allocation keeps the old one"
    );
}

#[test]
fn missing_or_bad_cluster_ips() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    let mut none = svc("n");
    none.families.clear();
    assert_eq!(a.allocate(&none), Err(AllocError::NoClusterIps));
    assert_eq!(AllocError::NoClusterIps.event_reason(), "AllocationFailed");
    assert_eq!(AllocError::NoAvailableIps.metric_label(), "exhausted");
}
