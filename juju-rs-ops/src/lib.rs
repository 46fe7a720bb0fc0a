//! juju-rs-ops
