//! # metallb-runtime
//!
//! The plumbing both metallb-rs workloads (the controller and the speaker) share, and nothing
//! else: no MetalLB policy, no metric family of one workload, no decision. What belongs here is
//! what either binary needs to run as a well-behaved Kubernetes process:
//!
//! * [`kube_client`]: the API client (kubeconfig or in-cluster), every request counted;
//! * [`reflector`]: cached watches with backoff, trimmed of what is never read;
//! * [`metrics`]: the metric registry and its Prometheus text exposition;
//! * [`health`]: the `/healthz` and `/readyz` probes;
//! * [`http`]: the small hardened HTTP server behind the probes and the metrics;
//! * [`telemetry`]: the log set-up.
//!
//! Decisions live in `metallb_core`; what one workload alone needs stays in its crate.

pub mod health;
pub mod http;
pub mod kube_client;
pub mod metrics;
pub mod reflector;
pub mod telemetry;
