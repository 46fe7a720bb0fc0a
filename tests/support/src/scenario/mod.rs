//! MetalLB scenarios on a [`netlab::Network`]: the control plane in the network's api
//! namespace ([`NetCluster`]), real nodes ([`RealNodes`]) or Node objects, speaker processes
//! ([`Speakers`]), the metallb.io objects and Services of a scenario ([`objects`]), the
//! election's expected winner ([`election`]) and a BGP scenario runner ([`run_with_router`]).

pub mod cluster;
pub mod election;
pub mod lab;
pub mod nodes;
pub mod objects;
pub mod router;
pub mod speakers;

pub use cluster::NetCluster;
pub use election::{expected_winner, ranked_nodes};
pub use lab::SpeakerLab;
pub use nodes::{CLUSTER_CIDR, IMAGE_TAG, NodeImage, PAUSE_REPOSITORY, RealNodes, clean_node};
pub use objects::{apply_metallb, endpoints, lb_service};
pub use router::{LabSpec, run_with_router};
pub use speakers::Speakers;
