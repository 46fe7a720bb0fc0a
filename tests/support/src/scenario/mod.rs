//! MetalLB scenarios on a [`netlab::Network`], built by one [`ScenarioBuilder`] in four steps:
//! the network, the control plane in its api namespace ([`NetCluster`]), the nodes (real ones,
//! [`RealNodes`], or Node objects), the workloads (HTTP servers and speaker processes,
//! [`Speakers`]). Then the objects of a scenario ([`objects`]), the election's expected winner
//! ([`election`]) and a BGP scenario runner with diagnostics ([`run_with_router`]).

pub mod builder;
pub mod cluster;
pub mod election;
pub mod nodes;
pub mod objects;
pub mod router;
pub mod running;
pub mod speakers;

pub use builder::{NAMESPACE, ScenarioBuilder, Step};
pub use cluster::NetCluster;
pub use election::{expected_winner, ranked_nodes};
pub use nodes::{CLUSTER_CIDR, IMAGE_TAG, NodeImage, PAUSE_REPOSITORY, RealNodes, clean_node};
pub use objects::{apply, apply_metallb, endpoints, lb_service};
pub use router::{LabSpec, run_with_router};
pub use running::Scenario;
pub use speakers::Speakers;
