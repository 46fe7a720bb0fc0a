//! Heap bytes the controller keeps per Service: what the reconciler tracks and what the
//! allocator holds, counted by a global allocator wrapper. Run: `cargo bench -p
//! metallb-controller --bench footprint` (the RSS of the whole process under load is measured by
//! `cargo xtask bench controller`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Service;
use metallb_controller::reconcile::Reconciler;
use metallb_core::allocator::Pool;
use metallb_core::iprange::IpRange;

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SERVICES: usize = 1000;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn main() -> Result<()> {
    let mut reconciler = Reconciler::new(None);
    let range = IpRange::parse("198.18.0.0/16").map_err(anyhow::Error::msg)?;
    reconciler
        .set_pools(vec![Pool::new("default", vec![range])])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = live();
    for i in 0..SERVICES {
        // Like the controller bench's Services: one label, one port, one cluster IP.
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("svc-{i:05}"), "namespace": "bench",
                "labels": {"app": "bench"}},
            "spec": {"type": "LoadBalancer", "clusterIPs": ["198.19.0.1"],
                "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "bench"}},
        }))
        .context("building a Service")?;
        reconciler.service_applied(&service);
    }
    let tracked = live() - start;
    let before_pass = live();
    let (changes, _) = reconciler.pass();
    anyhow::ensure!(changes.len() == SERVICES, "every Service gets an address");
    drop(changes);
    let held = live().saturating_sub(before_pass);
    println!(
        "per Service: {} bytes tracked by the reconciler + {} bytes held by the allocator ({} Services)",
        tracked / SERVICES,
        held / SERVICES,
        SERVICES
    );
    Ok(())
}
