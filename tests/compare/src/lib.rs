//! The comparison of upstream MetalLB and metallb-rs (`cargo xtask bench compare`, the
//! `metallb-compare` program) and the interoperation tests (`tests/interop.rs`): fresh control
//! planes, both implementations' controllers and speakers started the same way, the workloads
//! and the table.

pub mod controller;
pub mod implementation;
pub mod plane;
pub mod speaker;
pub mod table;
