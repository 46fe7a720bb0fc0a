//! Builders shared by the allocator tests.

use std::net::IpAddr;

use metallb_core::allocator::{
    Allocation, Allocator, Family, Pool, PoolAllocation, Port, ServiceRequest,
};
use metallb_core::iprange::IpRange;

pub fn pool(name: &str, ranges: &[&str]) -> Pool {
    Pool::new(
        name,
        ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
    )
}

pub fn restricted(name: &str, ranges: &[&str], allocation: PoolAllocation) -> Pool {
    let mut p = pool(name, ranges);
    p.allocation = Some(allocation);
    p
}

pub fn allocator(pools: Vec<Pool>) -> Allocator {
    let mut a = Allocator::new();
    a.try_set_pools(pools).unwrap();
    a
}

pub fn svc(name: &str) -> ServiceRequest {
    ServiceRequest {
        key: format!("default/{name}"),
        namespace: "default".into(),
        families: vec![Family::V4],
        ports: vec![tcp(80)],
        ..ServiceRequest::default()
    }
}

pub fn tcp(port: i32) -> Port {
    Port {
        protocol: "TCP".into(),
        port,
    }
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub fn ips(a: &Allocation) -> Vec<String> {
    a.ips.iter().map(ToString::to_string).collect()
}

/// The first address of a fresh allocation, as text.
pub fn got(a: &mut Allocator, s: &ServiceRequest) -> String {
    let allocation = a.allocate(s).unwrap_or_else(|e| panic!("{}: {e}", s.key));
    allocation
        .ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
