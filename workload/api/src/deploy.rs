//! The contract between the charm and the workloads: the environment variables the controller
//! and the speaker read, their ports, the labels they select on and where files are mounted.
//!
//! Defined once: the workloads' flags take their `env =` names and defaults from here, and the
//! charm renders its Deployment and DaemonSet from the same constants, so the two cannot drift
//! apart. The names are upstream MetalLB's, so upstream's manifests configure these workloads too.

/// Label key naming the application of the workload pods.
pub const LABEL_APP: &str = "app";
/// Value of [`LABEL_APP`] on every MetalLB pod.
pub const APP: &str = "metallb";
/// Label key naming the component of a pod ([`CONTROLLER`] or [`SPEAKER`]).
pub const LABEL_COMPONENT: &str = "component";
/// The controller: its component label, its Deployment, ServiceAccount and container name.
pub const CONTROLLER: &str = "controller";
/// The speaker: its component label, its DaemonSet, ServiceAccount and container name.
pub const SPEAKER: &str = "speaker";

/// The label selector of a component's pods (`app=metallb,component=speaker`), as the speakers
/// find their memberlist peers with it.
pub fn pod_selector(component: &str) -> String {
    format!("{LABEL_APP}={APP},{LABEL_COMPONENT}={component}")
}

/// The namespace of the MetalLB configuration when none is given.
pub const DEFAULT_NAMESPACE: &str = "metallb-system";

/// The port of the health probes (`/healthz`, `/readyz`) of both workloads.
pub const HEALTH_PORT: u16 = 17472;
/// The metrics port of both workloads.
pub const METRICS_PORT: u16 = 7472;
/// The memberlist port of the speakers (TCP and UDP).
pub const MEMBERLIST_PORT: u16 = 7946;

/// Env: the namespace of the MetalLB configuration (both workloads).
pub const NAMESPACE_ENV: &str = "METALLB_NAMESPACE";
/// Env: this pod's name (both workloads).
pub const POD_NAME_ENV: &str = "METALLB_POD_NAME";
/// Env: the metrics port (both workloads).
pub const METRICS_PORT_ENV: &str = "METALLB_METRICS_PORT";
/// Env: the name of the memberlist Secret the controller creates when absent.
pub const ML_SECRET_NAME_ENV: &str = "METALLB_ML_SECRET_NAME";
/// Env: the controller's Deployment, owner of the memberlist Secret.
pub const DEPLOYMENT_ENV: &str = "METALLB_DEPLOYMENT";
/// Env: the node a speaker runs on.
pub const NODE_NAME_ENV: &str = "METALLB_NODE_NAME";
/// Env: the address of a speaker's memberlist socket.
pub const ML_BIND_ADDR_ENV: &str = "METALLB_ML_BIND_ADDR";
/// Env: the port of a speaker's memberlist socket.
pub const ML_BIND_PORT_ENV: &str = "METALLB_ML_BIND_PORT";
/// Env: the label selector of the speaker pods (see [`pod_selector`]).
pub const ML_LABELS_ENV: &str = "METALLB_ML_LABELS";
/// Env: the directory holding the memberlist key (file `secretkey`).
pub const ML_SECRET_KEY_PATH_ENV: &str = "METALLB_ML_SECRET_KEY_PATH";
/// Env: the address a speaker's metrics listen on (the node's address).
pub const HOST_ENV: &str = "METALLB_HOST";

/// The memberlist Secret (created once by the charm or the controller; its key must not change).
pub const MEMBERLIST_SECRET: &str = "memberlist";
/// Where the speakers mount the memberlist Secret (the directory of [`ML_SECRET_KEY_PATH_ENV`]).
pub const MEMBERLIST_KEY_DIR: &str = "/etc/ml_secret_key";

/// The ConfigMap with the interfaces speakers never announce on (upstream's name and format).
pub const EXCLUDE_CONFIG_MAP: &str = "metallb-excludel2";
/// The key of the exclude list in [`EXCLUDE_CONFIG_MAP`], the file name in [`EXCLUDE_MOUNT`].
pub const EXCLUDE_KEY: &str = "excludel2.yaml";
/// Where the speakers mount [`EXCLUDE_CONFIG_MAP`] (upstream's path).
pub const EXCLUDE_MOUNT: &str = "/etc/metallb";
/// The exclude list a speaker reads: [`EXCLUDE_KEY`] in [`EXCLUDE_MOUNT`].
pub const EXCLUDE_FILE: &str = "/etc/metallb/excludel2.yaml";

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_exclude_file_is_the_key_in_the_mount() {
        assert_eq!(
            Path::new(EXCLUDE_FILE),
            Path::new(EXCLUDE_MOUNT).join(EXCLUDE_KEY)
        );
    }

    #[test]
    fn the_speaker_selector_is_upstreams() {
        assert_eq!(pod_selector(SPEAKER), "app=metallb,component=speaker");
    }
}
