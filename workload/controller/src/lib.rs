//! # metallb-controller
//!
//! Assigns addresses to Services of type LoadBalancer from the `metallb.io` IPAddressPools, as
//! upstream MetalLB's controller does. The decisions live in `metallb_core::allocator`; this crate
//! converts Kubernetes objects into allocator inputs ([`convert`]), runs allocation passes
//! ([`reconcile`]) and connects them to the API server ([`run`]); the plumbing it shares with the
//! speaker (API client, watches, metrics, probes, logs) is `metallb_runtime`.

pub mod backoff;
pub mod config_state;
pub mod convert;
pub mod events;
pub mod memory;
pub mod reconcile;
pub mod run;
pub mod secret;
