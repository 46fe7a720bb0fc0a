//! Addresses held by Services the controller does not handle (another loadBalancerClass), and
//! Services whose request cannot be read: neither kind of address is ever handed to someone
//! else.

use metallb_core::allocator::{AllocError, Allocator};

use crate::common::*;

#[test]
fn an_address_another_controller_holds_is_never_handed_out() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    assert!(!a.reserve("other/theirs", &[ip("198.18.0.0"), ip("198.18.0.2")]));
    assert_eq!(got(&mut a, &svc("first")), "198.18.0.1");
    assert_eq!(got(&mut a, &svc("second")), "198.18.0.3");
    assert_eq!(a.allocate(&svc("third")), Err(AllocError::NoAvailableIps));
    let mut wanted = svc("wanted");
    wanted.requested_ips = vec![ip("198.18.0.2")];
    assert_eq!(
        a.allocate(&wanted),
        Err(AllocError::HeldElsewhere {
            ip: ip("198.18.0.2"),
            holder: "other/theirs".into()
        })
    );
    // Not shareable either, whatever the sharing key says.
    let mut shared = svc("shared");
    shared.sharing_key = Some("k".into());
    shared.requested_ips = vec![ip("198.18.0.0")];
    assert!(matches!(
        a.allocate(&shared),
        Err(AllocError::HeldElsewhere { .. })
    ));
    let counters = a.counters("p").unwrap();
    assert_eq!(counters.v4_in_use, 4, "foreign holders count as in use");
    // Released by the other controller: free again.
    assert!(a.reserve("other/theirs", &[ip("198.18.0.2")]));
    assert_eq!(got(&mut a, &svc("third")), "198.18.0.0");
    assert!(a.unreserve("other/theirs"));
    assert!(!a.unreserve("other/theirs"));
    assert_eq!(a.allocate(&wanted).unwrap().ips, [ip("198.18.0.2")]);
}

#[test]
fn a_pool_change_does_not_drop_reservations_and_restore_keeps_a_contested_address() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    a.reserve("other/theirs", &[ip("198.18.0.1")]);
    a.try_set_pools(vec![pool("q", &["198.18.0.0/29"])])
        .unwrap();
    assert_eq!(got(&mut a, &svc("s0")), "198.18.0.0");
    assert_eq!(got(&mut a, &svc("s1")), "198.18.0.2");
    // Ours already had .1 in its status when the other controller claimed it too: ours keeps
    // it (nothing is taken away on a conflict this controller did not make).
    a.restore(&svc("mine"), &[ip("198.18.0.1")]).unwrap();
    assert_eq!(a.users_of(ip("198.18.0.1")), ["default/mine"]);
    assert_eq!(a.foreign_users_of(ip("198.18.0.1")), ["other/theirs"]);
    assert_eq!(
        got(&mut a, &svc("mine")),
        "198.18.0.1",
        "allocate keeps it too"
    );
    // Nobody joins a contested address, even with the same sharing key.
    let mut joiner = svc("joiner");
    joiner.sharing_key = Some("k".into());
    joiner.ports = vec![tcp(443)];
    let mut mine = svc("mine");
    mine.sharing_key = Some("k".into());
    a.restore(&mine, &[ip("198.18.0.1")]).unwrap();
    assert_ne!(got(&mut a, &joiner), "198.18.0.1");
    a.unreserve("other/theirs");
    a.release("default/mine");
    assert_eq!(
        a.counters("q").unwrap().v4_in_use,
        3,
        "s0, s1 and joiner remain"
    );
}

#[test]
fn an_unreadable_request_keeps_its_addresses_reserved() {
    let mut a = allocator(vec![pool("p", &["198.18.0.0/30"])]);
    // What is known of a Service whose loadBalancerIPs annotation does not parse.
    let known = svc("bad");
    assert_eq!(a.hold(&known, &[ip("198.18.0.0")]).unwrap().pool, "p");
    assert_eq!(got(&mut a, &svc("next")), "198.18.0.1");
    let mut wanted = svc("wanted");
    wanted.requested_ips = vec![ip("198.18.0.0")];
    assert!(matches!(a.allocate(&wanted), Err(AllocError::Sharing(_))));
    // Outside every pool, or taken by an earlier holder: released (the controller clears it).
    assert_eq!(
        a.hold(&svc("outside"), &[ip("198.18.9.9")]),
        Err(AllocError::NotInConfig(ip("198.18.9.9")))
    );
    assert!(a.hold(&svc("late"), &[ip("198.18.0.1")]).is_err());
    assert_eq!(a.allocation("default/late"), None);
    assert_eq!(a.hold(&svc("nothing"), &[]), Err(AllocError::NoCurrentIps));
}

#[test]
fn an_allocator_without_pools_is_not_configured() {
    let mut a = Allocator::new();
    assert!(!a.is_configured());
    a.try_set_pools(vec![]).unwrap();
    assert!(a.is_configured());
    let mut b = Allocator::new();
    assert!(b.try_set_pools(vec![pool("p", &[])]).is_err());
    assert!(!b.is_configured(), "a refused set configures nothing");
}
