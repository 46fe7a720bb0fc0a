//! Real BGP routers in a namespace: FRR ([`Frr`]); what a test prints about a router when it
//! fails ([`Router`]).

mod frr;
mod router;

pub use frr::{FRR_BFD_FAST, Frr, FrrBgp, frr_config};
pub use router::Router;
