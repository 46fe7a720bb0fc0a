//! §3.5 IP sharing.

use metallb_core::allocator::{AllocError, Port, ServiceRequest, SharingConflict};

use crate::common::*;

fn shared(name: &str, key: &str, port: i32) -> ServiceRequest {
    let mut s = svc(name);
    s.sharing_key = Some(key.into());
    s.ports = vec![tcp(port)];
    s
}

#[test]
fn sharing_needs_the_same_key_backend_and_distinct_ports() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/29"])]);
    assert_eq!(got(&mut a, &shared("a", "k", 80)), "198.18.0.0");
    assert_eq!(
        got(&mut a, &shared("b", "k", 443)),
        "198.18.0.0",
        "lowest compatible shared address"
    );
    assert_eq!(
        got(&mut a, &shared("c", "k", 80)),
        "198.18.0.1",
        "port 80 is taken on .0"
    );
    let mut udp = shared("u", "k", 80);
    udp.ports = vec![Port {
        protocol: "UDP".into(),
        port: 80,
    }];
    assert_eq!(got(&mut a, &udp), "198.18.0.0", "same port, other protocol");
    let mut local = shared("d", "k", 8080);
    local.backend_key = "app=x".into();
    assert_eq!(got(&mut a, &local), "198.18.0.2", "different backend");
    assert_eq!(
        got(&mut a, &shared("e", "other", 9999)),
        "198.18.0.3",
        "different key"
    );
    assert_eq!(
        got(&mut a, &svc("plain")),
        "198.18.0.4",
        "no key never shares"
    );
    let mut empty = shared("f", "", 1);
    empty.ports = vec![tcp(1)];
    assert_eq!(
        got(&mut a, &empty),
        "198.18.0.5",
        "an empty key does not share"
    );
    assert_eq!(
        a.users_of(ip("198.18.0.0")),
        ["default/a", "default/b", "default/u"]
    );
    a.release("default/a");
    assert_eq!(a.users_of(ip("198.18.0.0")), ["default/b", "default/u"]);
    assert_eq!(
        a.counters("p").unwrap().v4_in_use,
        6,
        "a shared address counts once"
    );
}

#[test]
fn explicit_sharing_errors_say_why() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    a.allocate(&shared("a", "k", 80)).unwrap();
    let mut req = shared("b", "k", 80);
    req.requested_ips = vec![ip("198.18.0.0")];
    assert_eq!(
        a.allocate(&req),
        Err(AllocError::Sharing(SharingConflict::PortInUse {
            ip: ip("198.18.0.0"),
            other: "default/a".into(),
            port: tcp(80)
        }))
    );
    assert_eq!(
        a.allocate(&req).unwrap_err().to_string(),
        "port 80/TCP is already used on 198.18.0.0 by default/a"
    );
    req.ports = vec![tcp(81)];
    req.backend_key = "app=x".into();
    assert!(matches!(
        a.allocate(&req),
        Err(AllocError::Sharing(
            SharingConflict::DifferentBackend { .. }
        ))
    ));
    req.sharing_key = Some("other".into());
    assert!(matches!(
        a.allocate(&req),
        Err(AllocError::Sharing(SharingConflict::DifferentKey { .. }))
    ));
    req.sharing_key = Some("k".into());
    req.backend_key.clear();
    assert_eq!(ips(&a.allocate(&req).unwrap()), ["198.18.0.0"]);
}

#[test]
fn the_only_user_may_change_its_terms_but_a_sharer_may_not() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    let mut one = shared("a", "k", 80);
    a.allocate(&one).unwrap();
    one.sharing_key = Some("new".into());
    one.backend_key = "app=x".into();
    assert_eq!(
        a.restore(&one, &[ip("198.18.0.0")]).unwrap().ips,
        [ip("198.18.0.0")]
    );
    let mut two = shared("b", "new", 443);
    two.backend_key = "app=x".into();
    assert_eq!(
        got(&mut a, &two),
        "198.18.0.0",
        "the new terms are in force"
    );
    // Switching one of two sharers to another backend (Cluster -> Local) loses the address.
    two.backend_key = "app=y".into();
    assert!(matches!(
        a.restore(&two, &[ip("198.18.0.0")]),
        Err(AllocError::Sharing(
            SharingConflict::DifferentBackend { .. }
        ))
    ));
    assert_eq!(a.allocation("default/b"), None, "a failed restore releases");
    assert_eq!(got(&mut a, &two), "198.18.0.1");
}
