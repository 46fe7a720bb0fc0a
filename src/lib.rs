//! The metallb charm as a library: the binary in `main.rs` only calls [`juju_ops::main`].
//!
//! * [`charm`]: the `Charm` implementation (one reconcile path, status in `collect_status`).
//! * [`actions`]: the actions (list, sync, adopt, scrub, allocations, explain).
//! * [`config`]: the options, validated; a bad value names the option and the item.
//! * [`cos`]: what the charm publishes to the Canonical Observability Stack (scrape jobs, alert
//!   rules, a dashboard).
//! * [`identity`]: this instance's ownership labels and object names.
//! * [`render`]: pure rendering of every Kubernetes object the charm wants.
//! * [`ownership`]: pure decisions about what the charm may apply, prune and delete.
//! * [`migration`]: pure decisions about taking over another MetalLB installation.
//! * [`preflight`]: pure checks of the cluster that decide whether announcements can work.
//! * [`explain`]: the `explain` action: why a Service has (or lacks) an address.
//! * [`k8s`]: the only module that talks to the Kubernetes API.

pub mod actions;
pub mod charm;
pub mod config;
pub mod cos;
pub mod explain;
pub mod identity;
pub mod images;
pub mod k8s;
pub mod migration;
pub mod ownership;
pub mod preflight;
pub mod render;
