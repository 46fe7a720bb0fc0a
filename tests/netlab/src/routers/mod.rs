//! Real BGP routers in a namespace: FRR ([`Frr`]), BIRD ([`Bird`]) and GoBGP ([`Gobgp`]), each
//! with its configuration for the test network's plan ([`plan`]: the client's router peering
//! with every node), and what a test prints about a router when it fails ([`Router`]).

mod bird;
mod frr;
mod gobgp;
pub mod plan;
mod router;

pub use bird::{Bird, bird_config, bird_config_for};
pub use frr::{FRR_BFD_FAST, Frr, FrrBgp, frr_config, frr_config_for};
pub use gobgp::{Gobgp, gobgp_config, gobgp_config_for};
pub use router::Router;
