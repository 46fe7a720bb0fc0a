//! Allocation speed: N Services allocated one after another from a /16 (IPv4) and a /64 (IPv6)
//! pool, then re-claimed as after a controller restart. Prints nanoseconds per operation.

use std::hint::black_box;
use std::time::Instant;

use metallb_core::allocator::{Allocator, Family, Pool, Port, ServiceRequest};
use metallb_core::iprange::IpRange;

fn service(i: usize, family: Family) -> ServiceRequest {
    ServiceRequest {
        key: format!("ns/svc-{i}"),
        namespace: "ns".into(),
        families: vec![family],
        ports: vec![Port {
            protocol: "TCP".into(),
            port: 80,
        }],
        ..ServiceRequest::default()
    }
}

fn run(label: &str, range: &str, family: Family, n: usize) {
    let mut allocator = Allocator::new();
    allocator.set_pools(vec![Pool::new(
        "p",
        vec![IpRange::parse(range).unwrap_or_else(|e| panic!("{e}"))],
    )]);
    let start = Instant::now();
    let mut allocations = Vec::with_capacity(n);
    for i in 0..n {
        let svc = service(i, family);
        let got = allocator.allocate(&svc).unwrap_or_else(|e| panic!("{e}"));
        allocations.push((svc, got.ips));
    }
    let allocate = start.elapsed();
    let mut restarted = Allocator::new();
    restarted.set_pools(allocator.pools().cloned().collect());
    let start = Instant::now();
    for (svc, ips) in &allocations {
        black_box(restarted.assign(svc, ips).unwrap_or_else(|e| panic!("{e}")));
    }
    let reclaim = start.elapsed();
    println!(
        "{label:<10} n={n:<6} allocate {:>8.0} ns/service (total {:>7.1} ms)   reclaim after restart {:>6.0} ns/service",
        allocate.as_nanos() as f64 / n as f64,
        allocate.as_secs_f64() * 1e3,
        reclaim.as_nanos() as f64 / n as f64,
    );
}

fn main() {
    for n in [1000, 5000] {
        run("IPv4 /16", "198.18.0.0/16", Family::V4, n);
        run("IPv6 /64", "2001:db8::/64", Family::V6, n);
    }
}
