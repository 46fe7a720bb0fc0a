//! §3.9 restart recovery and the re-assign checks of §3.2 step 8.

use std::collections::BTreeMap;

use metallb_core::allocator::{AllocError, PoolAllocation};
use metallb_core::selector::Selector;

use crate::common::*;

#[test]
fn restart_recovery_reclaims_addresses_before_pending_services() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    // A service that held .2 before the restart re-claims it; a pending one gets the lowest free.
    a.restore(&svc("old"), &[ip("198.18.0.2")]).unwrap();
    assert_eq!(got(&mut a, &svc("new")), "198.18.0.0");
    assert_eq!(got(&mut a, &svc("old")), "198.18.0.2");
    assert_eq!(
        a.restore(&svc("old"), &[ip("198.18.0.2")]).unwrap().ips,
        [ip("198.18.0.2")],
        "idempotent"
    );
}

#[test]
fn a_second_claim_on_one_address_loses() {
    // Two Services whose status both say .1 (the v0.13 duplicate-IP bug): the first restored
    // keeps it, the second is released and re-allocated elsewhere.
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    a.restore(&svc("first"), &[ip("198.18.0.1")]).unwrap();
    assert!(matches!(
        a.restore(&svc("second"), &[ip("198.18.0.1")]),
        Err(AllocError::Sharing(_))
    ));
    assert_eq!(got(&mut a, &svc("second")), "198.18.0.0");
    assert_eq!(a.users_of(ip("198.18.0.1")), ["default/first"]);
}

#[test]
fn restore_clears_when_the_request_or_pool_annotation_changed() {
    let mut a = allocator(vec![
        pool("a", &["198.18.0.0/30"]),
        pool("b", &["198.18.1.0/30"]),
    ]);
    let mut s = svc("s");
    s.requested_pool = Some("b".into());
    assert_eq!(
        a.restore(&s, &[ip("198.18.0.1")]),
        Err(AllocError::PoolChanged {
            current: "a".into(),
            requested: "b".into()
        })
    );
    assert_eq!(a.allocation("default/s"), None);
    s.requested_pool = None;
    s.requested_ips = vec![ip("198.18.0.3")];
    assert!(matches!(
        a.restore(&s, &[ip("198.18.0.1")]),
        Err(AllocError::RequestChanged { .. })
    ));
    assert_eq!(a.allocation("default/s"), None);
    assert_eq!(a.restore(&s, &[ip("198.18.0.3")]).unwrap().pool, "a");
    assert_eq!(a.restore(&s, &[]), Err(AllocError::NoCurrentIps));
    assert_eq!(
        a.restore(&svc("gone"), &[ip("198.18.9.9")]),
        Err(AllocError::NotInConfig(ip("198.18.9.9")))
    );
}

#[test]
fn restore_clears_when_the_pool_no_longer_admits_the_service() {
    let selected = PoolAllocation {
        service_selectors: vec![Selector {
            match_labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
            match_expressions: vec![],
        }],
        ..PoolAllocation::default()
    };
    let mut a = allocator(vec![
        restricted("web", &["198.18.0.0/30"], selected),
        pool("rest", &["198.18.1.0/30"]),
    ]);
    let mut s = svc("s");
    s.labels.insert("tier".into(), "web".into());
    assert_eq!(a.allocate(&s).unwrap().pool, "web");
    s.labels.clear();
    assert_eq!(
        a.restore(&s, &[ip("198.18.0.0")]),
        Err(AllocError::Incompatible("web".into()))
    );
    assert_eq!(a.allocate(&s).unwrap().pool, "rest");
}
