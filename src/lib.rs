//! The metallb charm as a library: the binary in `main.rs` only calls [`juju_ops::main`].
//!
//! * [`charm`]: the `Charm` implementation (one reconcile path, status in `collect_status`).
//! * [`render`]: pure rendering of every Kubernetes object the charm wants.

pub mod charm;
pub mod config;
pub mod images;
pub mod k8s;
pub mod render;
