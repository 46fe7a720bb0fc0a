//! Properties over random operation sequences: no address is held twice unless the sharing
//! rules allow it, the next address is the lowest usable one (so freed addresses are reused),
//! counters match a recount, and the allocator's views agree with each other.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use metallb_core::allocator::{Allocator, Family, FamilyPolicy, Pool, Port, ServiceRequest};
use proptest::prelude::*;

use crate::common::*;

#[derive(Debug, Clone, Copy)]
struct Flavour {
    sharing: u8,
    backend: u8,
    port: u8,
    family: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Allocate(u8, Flavour),
    Request(u8, Flavour, u8),
    RequestPool(u8, Flavour, u8),
    Release(u8),
    Restore(u8, Flavour, u8),
    Upgrade(u8, Flavour),
    Pools(u8),
    Reserve(u8, u8),
    Unreserve(u8),
}

const ADDRESSES: [&str; 14] = [
    "198.18.0.0",
    "198.18.0.1",
    "198.18.0.2",
    "198.18.0.3",
    "198.18.0.5",
    "198.18.0.7",
    "198.18.0.254",
    "198.18.0.255",
    "198.18.1.0",
    "198.18.1.1",
    "2001:db8::",
    "2001:db8::1",
    "2001:db8::3",
    "198.18.9.9",
];

fn flavour() -> impl Strategy<Value = Flavour> {
    (0u8..3, 0u8..2, 0u8..3, 0u8..5).prop_map(|(sharing, backend, port, family)| Flavour {
        sharing,
        backend,
        port,
        family,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0u8..12;
    prop_oneof![
        4 => (n.clone(), flavour()).prop_map(|(s, f)| Op::Allocate(s, f)),
        1 => (n.clone(), flavour(), 0u8..14).prop_map(|(s, f, a)| Op::Request(s, f, a)),
        1 => (n.clone(), flavour(), 0u8..4).prop_map(|(s, f, p)| Op::RequestPool(s, f, p)),
        2 => n.clone().prop_map(Op::Release),
        1 => (n.clone(), flavour(), 0u8..14).prop_map(|(s, f, a)| Op::Restore(s, f, a)),
        1 => (n, flavour()).prop_map(|(s, f)| Op::Upgrade(s, f)),
        1 => (0u8..4).prop_map(Op::Pools),
        1 => (0u8..3, 0u8..14).prop_map(|(s, a)| Op::Reserve(s, a)),
        1 => (0u8..3).prop_map(Op::Unreserve),
    ]
}

fn request(n: u8, f: Flavour) -> ServiceRequest {
    let mut s = svc(&format!("s{n}"));
    s.sharing_key = match f.sharing {
        0 => None,
        1 => Some("k1".into()),
        _ => Some("k2".into()),
    };
    s.backend_key = if f.backend == 0 {
        String::new()
    } else {
        "app=x".into()
    };
    s.ports = vec![Port {
        protocol: if f.port == 2 {
            "UDP".into()
        } else {
            "TCP".into()
        },
        port: if f.port == 1 { 443 } else { 80 },
    }];
    (s.families, s.policy) = match f.family {
        0 => (vec![Family::V4], FamilyPolicy::SingleStack),
        1 => (vec![Family::V6], FamilyPolicy::SingleStack),
        2 => (vec![Family::V4, Family::V6], FamilyPolicy::RequireDualStack),
        3 => (vec![Family::V6, Family::V4], FamilyPolicy::PreferDualStack),
        _ => (vec![Family::V4, Family::V6], FamilyPolicy::PreferDualStack),
    };
    s
}

fn pools(variant: u8) -> Vec<Pool> {
    let buggy = |mut p: Pool| {
        p.avoid_buggy_ips = true;
        p
    };
    match variant {
        0 => vec![
            pool("a", &["198.18.0.0/29", "2001:db8::/126"]),
            buggy(pool("b", &["198.18.0.254-198.18.1.1"])),
        ],
        1 => vec![
            pool("a", &["198.18.0.0/30", "2001:db8::/127"]),
            buggy(pool("b", &["198.18.0.254-198.18.1.1"])),
        ],
        2 => vec![
            pool("c", &["198.18.0.0/29"]),
            pool("d", &["198.18.0.254-198.18.1.1", "2001:db8::/126"]),
        ],
        _ => vec![],
    }
}

fn pool_name(i: u8) -> String {
    ["a", "b", "c", "zz"][usize::from(i % 4)].to_string()
}

/// Whether `svc` may join the users of an address (the rule, written independently).
fn may_share(users: &[&ServiceRequest], svc: &ServiceRequest) -> bool {
    users.iter().all(|u| {
        u.key == svc.key
            || (svc.sharing_key.as_deref().is_some_and(|k| !k.is_empty())
                && u.sharing_key == svc.sharing_key
                && u.backend_key == svc.backend_key
                && !u.ports.iter().any(|p| svc.ports.contains(p)))
    })
}

/// The lowest address of `family` a fresh `svc` may use, by a plain scan of every pool in name
/// order (the test pools are all unrestricted and autoAssign).
fn naive_first(
    a: &Allocator,
    model: &BTreeMap<String, ServiceRequest>,
    svc: &ServiceRequest,
    family: Family,
) -> Option<IpAddr> {
    for pool in a.pools() {
        for range in pool
            .ranges
            .iter()
            .filter(|r| Family::of(r.first()) == family)
        {
            for ip in range.iter() {
                let users: Vec<&ServiceRequest> =
                    a.users_of(ip).iter().filter_map(|k| model.get(k)).collect();
                if !pool.is_buggy(ip) && may_share(&users, svc) && a.foreign_users_of(ip).is_empty()
                {
                    return Some(ip);
                }
            }
        }
    }
    None
}

fn check(
    a: &Allocator,
    model: &BTreeMap<String, ServiceRequest>,
    foreign: &BTreeMap<String, IpAddr>,
) -> Result<(), TestCaseError> {
    let holders: BTreeSet<String> = a.holders().into_iter().collect();
    prop_assert_eq!(&holders, &model.keys().cloned().collect::<BTreeSet<_>>());
    let mut recount: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
    for key in &holders {
        let allocation = a.allocation(key).unwrap();
        let pool = a.pool(&allocation.pool).unwrap();
        prop_assert!(!allocation.ips.is_empty() && allocation.ips.len() <= 2);
        for ip in &allocation.ips {
            prop_assert!(
                pool.allows(*ip),
                "{} holds {} outside pool {}",
                key,
                ip,
                pool.name
            );
            recount.entry(*ip).or_default().insert(key.clone());
        }
    }
    let in_use: BTreeMap<IpAddr, BTreeSet<String>> = a
        .addresses_in_use()
        .map(|(ip, users)| (ip, users.into_iter().map(str::to_string).collect()))
        .collect();
    prop_assert_eq!(&in_use, &recount);
    for (ip, users) in &recount {
        let requests: Vec<&ServiceRequest> = users.iter().map(|k| &model[k]).collect();
        for (i, s) in requests.iter().enumerate() {
            prop_assert!(
                may_share(&requests[..i], s),
                "{} shared against the rules: {:?}",
                ip,
                users
            );
        }
    }
    for pool in a.pools() {
        let counters = a.counters(&pool.name).unwrap();
        let count = |v4: bool| {
            recount
                .keys()
                .chain(foreign.values().filter(|ip| pool.allows(**ip)))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|ip| ip.is_ipv4() == v4 && pool.contains(**ip))
                .count() as u128
        };
        prop_assert_eq!(
            (counters.v4_in_use, counters.v6_in_use),
            (count(true), count(false))
        );
        prop_assert!(
            counters.v4_in_use <= counters.v4_total && counters.v6_in_use <= counters.v6_total
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_every_invariant(ops in proptest::collection::vec(op(), 1..60)) {
        let mut a = Allocator::new();
        a.try_set_pools(pools(0)).unwrap();
        let mut model: BTreeMap<String, ServiceRequest> = BTreeMap::new();
        // Services of another controller and the one address each holds.
        let mut foreign: BTreeMap<String, IpAddr> = BTreeMap::new();
        // An address held by a Service of another controller is never newly given to ours.
        let fresh_ok = |a: &Allocator, before: &Option<Vec<IpAddr>>, key: &str| {
            let after = a.allocation(key).map(|x| x.ips).unwrap_or_default();
            after.iter().all(|ip| {
                a.foreign_users_of(*ip).is_empty() || before.as_ref().is_some_and(|b| b.contains(ip))
            })
        };
        for op in ops {
            match op {
                Op::Allocate(n, f) => {
                    let s = request(n, f);
                    let before = a.allocation(&s.key).map(|x| x.ips);
                    if a.allocate(&s).is_ok() { model.insert(s.key.clone(), s.clone()); }
                    prop_assert!(fresh_ok(&a, &before, &s.key));
                }
                Op::Request(n, f, i) => {
                    let mut s = request(n, f);
                    s.requested_ips = vec![ip(ADDRESSES[usize::from(i)])];
                    let before = a.allocation(&s.key).map(|x| x.ips);
                    if a.allocate(&s).is_ok() { model.insert(s.key.clone(), s.clone()); }
                    prop_assert!(fresh_ok(&a, &before, &s.key));
                }
                Op::RequestPool(n, f, p) => {
                    let mut s = request(n, f);
                    s.requested_pool = Some(pool_name(p));
                    let before = a.allocation(&s.key).map(|x| x.ips);
                    if a.allocate(&s).is_ok() { model.insert(s.key.clone(), s.clone()); }
                    prop_assert!(fresh_ok(&a, &before, &s.key));
                }
                Op::Reserve(n, i) => {
                    let key = format!("other/f{n}");
                    a.reserve(&key, &[ip(ADDRESSES[usize::from(i)])]);
                    foreign.insert(key, ip(ADDRESSES[usize::from(i)]));
                }
                Op::Unreserve(n) => {
                    let key = format!("other/f{n}");
                    prop_assert_eq!(a.unreserve(&key), foreign.remove(&key).is_some());
                }
                Op::Release(n) => {
                    let key = format!("default/s{n}");
                    prop_assert_eq!(a.release(&key), model.remove(&key).is_some());
                }
                Op::Restore(n, f, i) => {
                    let s = request(n, f);
                    match a.restore(&s, &[ip(ADDRESSES[usize::from(i)])]) {
                        Ok(_) => { model.insert(s.key.clone(), s); }
                        Err(_) => { model.remove(&s.key); }
                    }
                }
                Op::Upgrade(n, f) => {
                    let s = request(n, f);
                    let before = a.allocation(&s.key).map(|x| x.ips);
                    if model.contains_key(&s.key) && let Ok(Some(_)) = a.add_missing_family(&s) {
                        model.insert(s.key.clone(), s.clone());
                    }
                    prop_assert!(fresh_ok(&a, &before, &s.key));
                }
                Op::Pools(v) => {
                    let update = a.try_set_pools(pools(v)).unwrap();
                    for key in update.released { model.remove(&key); }
                }
            }
            check(&a, &model, &foreign)?;
        }
        // The next fresh Service gets the lowest usable address: freed addresses are reused.
        for (family, sharing) in [(Family::V4, None), (Family::V6, None), (Family::V4, Some("k1")), (Family::V6, Some("k2"))] {
            let mut probe = svc("probe");
            probe.families = vec![family];
            probe.sharing_key = sharing.map(str::to_string);
            probe.ports = vec![tcp(9999)];
            let expected = naive_first(&a, &model, &probe, family);
            let got = a.clone().allocate(&probe).ok().map(|x| x.ips[0]);
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn release_then_allocate_reuses_the_lowest_freed_address(n in 2usize..40, freed in proptest::collection::btree_set(0usize..40, 1..10)) {
        let mut a = allocator(vec![pool("p", &["2001:db8::/64"])]);
        let v6 = |i: usize| { let mut s = svc(&format!("s{i}")); s.families = vec![Family::V6]; s };
        let held: Vec<IpAddr> = (0..n).map(|i| a.allocate(&v6(i)).unwrap().ips[0]).collect();
        let freed: Vec<usize> = freed.into_iter().filter(|i| *i < n).collect();
        for i in &freed { a.release(&format!("default/s{i}")); }
        for (j, i) in freed.iter().enumerate() {
            prop_assert_eq!(a.allocate(&v6(100 + j)).unwrap().ips[0], held[*i]);
        }
        prop_assert_eq!(a.allocate(&v6(999)).unwrap().ips[0], ip(&format!("2001:db8::{:x}", n)));
    }
}
