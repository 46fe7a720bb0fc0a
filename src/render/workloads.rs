//! The workloads: the controller Deployment, the speaker DaemonSet, and the interface exclude
//! list the speakers mount. Env names, ports, labels and paths come from
//! [`metallb_api::deploy`], which the workloads' flags read too.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, DeploymentStrategy,
};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SecretVolumeSource, SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use metallb_api::deploy::{
    self, APP, CONTROLLER, EXCLUDE_CONFIG_MAP, EXCLUDE_KEY, EXCLUDE_MOUNT, HEALTH_PORT, LABEL_APP,
    LABEL_COMPONENT, MEMBERLIST_KEY_DIR, MEMBERLIST_PORT, MEMBERLIST_SECRET, METRICS_PORT, SPEAKER,
};

use super::{Desired, RenderInput};
use crate::config::{Resources, TolerationItem};

/// The user `nobody`, which the controller runs as.
const NOBODY: i64 = 65534;
/// The volume of the memberlist Secret in the speaker pods.
const MEMBERLIST_VOLUME: &str = "memberlist";
/// The volume of the exclude list in the speaker pods.
const EXCLUDE_VOLUME: &str = "excludel2";

/// The exclude-list ConfigMap as the charm first creates it (it is created when absent, never
/// applied over: the operator edits it): upstream's default list, in upstream's format.
pub fn exclude_list(input: &RenderInput) -> Desired {
    let patterns: Vec<String> = metallb_core::l2::DEFAULT_EXCLUDED_INTERFACES
        .iter()
        .map(|p| format!("{p:?}"))
        .collect();
    let list = format!("announcedInterfacesToExclude: [{}]\n", patterns.join(", "));
    Desired::from_object(&ConfigMap {
        metadata: input.namespaced(EXCLUDE_CONFIG_MAP, &[]),
        data: Some(BTreeMap::from([(EXCLUDE_KEY.to_string(), list)])),
        ..ConfigMap::default()
    })
}

/// The labels of a component's pods, which its workload selects on.
fn pod_labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_APP.to_string(), APP.to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

/// The pod template of a component: its labels and `spec`.
fn template(component: &str, spec: PodSpec) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels(component)),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    }
}

fn selector(component: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(pod_labels(component)),
        ..LabelSelector::default()
    }
}

/// The flags both workloads get: the metrics port, the log level and the class they serve.
fn args(input: &RenderInput) -> Vec<String> {
    let mut args = vec![
        format!("--port={METRICS_PORT}"),
        format!("--log-level={}", input.log_level),
    ];
    if let Some(class) = &input.workloads.lb_class {
        args.push(format!("--lb-class={class}"));
    }
    args
}

/// A container's requests and limits (None when neither is set, so the template stays as it
/// was before the options existed).
fn resources(options: &Resources) -> Option<ResourceRequirements> {
    let quantities = |list: &BTreeMap<String, String>| {
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|(name, value)| (name.clone(), Quantity(value.clone())))
                .collect()
        })
    };
    let requirements = ResourceRequirements {
        requests: quantities(&options.requests),
        limits: quantities(&options.limits),
        ..ResourceRequirements::default()
    };
    (requirements != ResourceRequirements::default()).then_some(requirements)
}

/// The toleration a `speaker-tolerations` item stands for.
fn toleration(item: &TolerationItem) -> Toleration {
    Toleration {
        key: item.key.clone(),
        operator: Some(
            if item.value.is_some() {
                "Equal"
            } else {
                "Exists"
            }
            .to_string(),
        ),
        value: item.value.clone(),
        effect: item.effect.clone(),
        ..Toleration::default()
    }
}

/// A health probe on `path`; the speaker's (host network) asks on `host` 127.0.0.1.
fn probe(host: Option<&str>, path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            host: host.map(str::to_string),
            path: Some(path.to_string()),
            port: IntOrString::Int(i32::from(HEALTH_PORT)),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(2),
        period_seconds: Some(5),
        timeout_seconds: Some(1),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// The env variable `name` set to the pod's field `path` (downward API).
fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_string(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The env variable `name` set to `value`.
fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

fn port(name: &str, number: u16, protocol: Option<&str>) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(number),
        protocol: protocol.map(str::to_string),
        ..ContainerPort::default()
    }
}

/// No privilege escalation, a read-only root, every capability dropped but `add`.
fn restricted(add: Option<&[&str]>) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            add: add.map(|caps| caps.iter().map(|c| (*c).to_string()).collect()),
            drop: Some(vec!["ALL".to_string()]),
        }),
        ..SecurityContext::default()
    }
}

fn read_only_mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_string(),
        mount_path: path.to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

/// A toleration of the `NoSchedule` taint `key` of control-plane nodes.
fn tolerate(key: &str) -> Toleration {
    Toleration {
        key: Some(key.to_string()),
        operator: Some("Exists".to_string()),
        effect: Some("NoSchedule".to_string()),
        ..Toleration::default()
    }
}

/// The controller Deployment: one allocator, as `nobody`, on the pod network.
pub fn controller(input: &RenderInput) -> Desired {
    let container = Container {
        name: CONTROLLER.to_string(),
        image: Some(input.controller_image.clone()),
        args: Some(args(input)),
        env: Some(vec![
            field_env(deploy::NAMESPACE_ENV, "metadata.namespace"),
            field_env(deploy::POD_NAME_ENV, "metadata.name"),
            value_env(deploy::ML_SECRET_NAME_ENV, MEMBERLIST_SECRET),
            value_env(deploy::DEPLOYMENT_ENV, CONTROLLER),
        ]),
        ports: Some(vec![port("monitoring", METRICS_PORT, None)]),
        liveness_probe: Some(probe(None, "/healthz")),
        readiness_probe: Some(probe(None, "/readyz")),
        security_context: Some(restricted(None)),
        resources: resources(&input.workloads.controller_resources),
        ..Container::default()
    };
    let pod = PodSpec {
        service_account_name: Some(CONTROLLER.to_string()),
        priority_class_name: input.workloads.priority_class.clone(),
        termination_grace_period_seconds: Some(0),
        node_selector: Some(input.node_selector.clone()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NOBODY),
            fs_group: Some(NOBODY),
            ..PodSecurityContext::default()
        }),
        containers: vec![container],
        ..PodSpec::default()
    };
    Desired::from_object(&Deployment {
        metadata: input.namespaced(
            CONTROLLER,
            &[(LABEL_APP, APP), (LABEL_COMPONENT, CONTROLLER)],
        ),
        spec: Some(DeploymentSpec {
            revision_history_limit: Some(3),
            // Never two allocators at once, even during an upgrade.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_string()),
                ..DeploymentStrategy::default()
            }),
            selector: selector(CONTROLLER),
            template: template(CONTROLLER, pod),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// The speaker DaemonSet: host network, `NET_RAW` for ARP and NDP, the memberlist key and the
/// exclude list mounted.
pub fn speaker(input: &RenderInput) -> Desired {
    let container = Container {
        name: SPEAKER.to_string(),
        image: Some(input.speaker_image.clone()),
        args: Some(args(input)),
        env: Some(vec![
            field_env(deploy::NODE_NAME_ENV, "spec.nodeName"),
            field_env(deploy::POD_NAME_ENV, "metadata.name"),
            field_env(deploy::NAMESPACE_ENV, "metadata.namespace"),
            field_env(deploy::ML_BIND_ADDR_ENV, "status.podIP"),
            // Metrics listen on the node's address, as upstream's speaker does.
            field_env(deploy::HOST_ENV, "status.hostIP"),
            value_env(deploy::ML_LABELS_ENV, &deploy::pod_selector(SPEAKER)),
            value_env(deploy::ML_SECRET_KEY_PATH_ENV, MEMBERLIST_KEY_DIR),
        ]),
        ports: Some(vec![
            port("monitoring", METRICS_PORT, None),
            port("memberlist-tcp", MEMBERLIST_PORT, Some("TCP")),
            port("memberlist-udp", MEMBERLIST_PORT, Some("UDP")),
        ]),
        liveness_probe: Some(probe(Some("127.0.0.1"), "/healthz")),
        readiness_probe: Some(probe(Some("127.0.0.1"), "/readyz")),
        security_context: Some(restricted(Some(&["NET_RAW"]))),
        volume_mounts: Some(vec![
            read_only_mount(MEMBERLIST_VOLUME, MEMBERLIST_KEY_DIR),
            read_only_mount(EXCLUDE_VOLUME, EXCLUDE_MOUNT),
        ]),
        resources: resources(&input.workloads.speaker_resources),
        ..Container::default()
    };
    let mut tolerations = vec![
        tolerate("node-role.kubernetes.io/master"),
        tolerate("node-role.kubernetes.io/control-plane"),
    ];
    tolerations.extend(input.workloads.speaker_tolerations.iter().map(toleration));
    let pod = PodSpec {
        service_account_name: Some(SPEAKER.to_string()),
        priority_class_name: input.workloads.priority_class.clone(),
        host_network: Some(true),
        termination_grace_period_seconds: Some(2),
        node_selector: Some(input.node_selector.clone()),
        tolerations: Some(tolerations),
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: MEMBERLIST_VOLUME.to_string(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(MEMBERLIST_SECRET.to_string()),
                    default_mode: Some(0o420),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: EXCLUDE_VOLUME.to_string(),
                config_map: Some(ConfigMapVolumeSource {
                    name: EXCLUDE_CONFIG_MAP.to_string(),
                    optional: Some(true),
                    default_mode: Some(0o444),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };
    Desired::from_object(&DaemonSet {
        metadata: input.namespaced(SPEAKER, &[(LABEL_APP, APP), (LABEL_COMPONENT, SPEAKER)]),
        spec: Some(DaemonSetSpec {
            selector: selector(SPEAKER),
            template: template(SPEAKER, pod),
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    })
}
