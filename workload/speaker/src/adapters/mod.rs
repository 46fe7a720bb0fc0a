//! The speaker's edges: each adapter converts between the outside world and plain values.

pub mod bfd;
pub mod bgp;
pub mod config_state;
pub mod interfaces;
pub mod link_watch;
pub mod md5;
pub mod membership;
pub mod responder;
pub mod status;
