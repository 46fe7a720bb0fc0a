//! Allocation speed (`cargo bench -p metallb-core`): N Services allocated one after another
//! from a /16 (IPv4) and a /64 (IPv6) pool, then re-claimed as after a controller restart, then
//! churned (release one, allocate one). Prints nanoseconds per operation. Plain `std::time`, no
//! harness.

// The crate bans the clock in library code; a benchmark is where it belongs.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use metallb_core::allocator::{Allocator, Family, Pool, Port, ServiceRequest};
use metallb_core::iprange::IpRange;

fn service(i: usize, family: Family, sharing: bool) -> ServiceRequest {
    ServiceRequest {
        key: format!("ns/svc-{i}"),
        namespace: "ns".into(),
        families: vec![family],
        ports: vec![Port {
            protocol: "TCP".into(),
            // Sharing Services come in pairs on one address (ports 80 and 81).
            port: if sharing { 80 + (i % 2) as i32 } else { 80 },
        }],
        sharing_key: sharing.then(|| "shared".to_string()),
        ..ServiceRequest::default()
    }
}

fn ns_per(elapsed: std::time::Duration, n: usize) -> f64 {
    elapsed.as_nanos() as f64 / n as f64
}

fn run(label: &str, range: &str, family: Family, n: usize, avoid_buggy: bool, sharing: bool) {
    let mut pool = Pool::new(
        "p",
        vec![IpRange::parse(range).unwrap_or_else(|e| panic!("{e}"))],
    );
    pool.avoid_buggy_ips = avoid_buggy;
    let mut allocator = Allocator::new();
    allocator
        .try_set_pools(vec![pool])
        .unwrap_or_else(|e| panic!("{e}"));
    let services: Vec<ServiceRequest> = (0..n).map(|i| service(i, family, sharing)).collect();

    let start = Instant::now();
    let mut held = Vec::with_capacity(n);
    for svc in &services {
        let got = allocator.allocate(svc).unwrap_or_else(|e| panic!("{e}"));
        held.push(got.ips);
    }
    let allocate = start.elapsed();

    let mut restarted = Allocator::new();
    restarted
        .try_set_pools(allocator.pools().cloned().collect())
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    for (svc, ips) in services.iter().zip(&held) {
        black_box(
            restarted
                .restore(svc, ips)
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let restore = start.elapsed();

    // Churn: free every 7th Service and allocate a new one, so freed holes are reused.
    let start = Instant::now();
    let mut churn = 0;
    for i in (0..n).step_by(7) {
        restarted.release(&services[i].key);
        black_box(
            restarted
                .allocate(&service(n + i, family, sharing))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        churn += 1;
    }
    let churned = start.elapsed();

    let start = Instant::now();
    let counters = black_box(restarted.counters("p"));
    let count = start.elapsed();
    let in_use = counters.map_or(0, |c| c.in_use());

    println!(
        "{label:<22} n={n:<5} allocate {:>6.0} ns/svc (total {:>6.2} ms)  restore {:>6.0} ns/svc  release+allocate {:>6.0} ns  counters {:>6.0} ns ({in_use} in use)",
        ns_per(allocate, n),
        allocate.as_secs_f64() * 1e3,
        ns_per(restore, n),
        ns_per(churned, churn),
        count.as_nanos() as f64,
    );
}

fn main() {
    for n in [1000, 5000] {
        run("IPv4 /16", "198.18.0.0/16", Family::V4, n, false, false);
        run("IPv6 /64", "2001:db8::/64", Family::V6, n, false, false);
        run(
            "IPv4 /16 avoidBuggyIPs",
            "198.18.0.0/16",
            Family::V4,
            n,
            true,
            false,
        );
        run(
            "IPv4 /16 sharing pairs",
            "198.18.0.0/16",
            Family::V4,
            n,
            false,
            true,
        );
    }
}
