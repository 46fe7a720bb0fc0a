//! Pure rendering: the charm's validated settings in, every Kubernetes object it wants out.
//!
//! No client and no I/O here. Every object carries the charm's ownership labels
//! ([`crate::identity`]) so that pruning can find what the charm created and no longer wants.
//! RBAC follows upstream MetalLB's rules minus what this implementation does not need (no
//! webhooks, no PodSecurityPolicies).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::identity::{Instance, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY};

/// The port of the health probes (`/healthz`, `/readyz`).
pub const HEALTH_PORT: u16 = 17472;
/// The metrics port.
pub const METRICS_PORT: u16 = 7472;
/// The memberlist port of the speakers.
pub const MEMBERLIST_PORT: u16 = 7946;
/// Name of the memberlist Secret (created once, never rendered: its key must not change).
pub const MEMBERLIST_SECRET: &str = "memberlist";
/// The ConfigMap with the interfaces speakers never announce on (upstream's name and format),
/// created once with upstream's default list and then the operator's to edit.
pub const EXCLUDE_CONFIG_MAP: &str = "metallb-excludel2";
/// Where the speakers read it (upstream's path).
const EXCLUDE_MOUNT: &str = "/etc/metallb";

/// Everything rendering needs, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderInput {
    /// Juju model name.
    pub model: String,
    /// Juju application name.
    pub app: String,
    /// Namespace of the MetalLB workload.
    pub namespace: String,
    /// Pool addresses in canonical form.
    pub addresses: Vec<String>,
    /// Node selector of the controller and speakers.
    pub node_selector: BTreeMap<String, String>,
    /// Interfaces of the L2Advertisement (empty: all).
    pub l2_interfaces: Vec<String>,
    /// BGP mode (None: off).
    pub bgp: Option<crate::config::BgpConfig>,
    /// Controller image reference.
    pub controller_image: String,
    /// Speaker image reference.
    pub speaker_image: String,
    /// Workload log level.
    pub log_level: String,
}

/// One desired object.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (None for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The whole object.
    pub body: Value,
}

impl Desired {
    /// The object `kind` `namespace/name`, named only: something to delete.
    pub fn target(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            body: Value::Null,
        }
    }

    /// The Namespace `name`, as something to delete.
    pub fn namespace_target(name: &str) -> Self {
        Self::target("v1", "Namespace", None, name)
    }

    /// `Kind/namespace/name` for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

impl RenderInput {
    /// This charm instance.
    pub fn instance(&self) -> Instance {
        Instance::new(&self.model, &self.app)
    }

    /// Name of the IPAddressPool and the advertisements.
    pub fn pool_name(&self) -> String {
        self.instance().pool_name()
    }

    /// The ownership labels every object of this instance carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = shared_labels();
        labels.insert(LABEL_INSTANCE.to_string(), self.instance().label());
        labels
    }
}

/// The labels of objects every instance shares (the CRDs): managed by the charm, no instance.
fn shared_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (
            "app.kubernetes.io/part-of".to_string(),
            "metallb".to_string(),
        ),
    ])
}

fn object(
    input: &RenderInput,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    extra_labels: &[(&str, &str)],
    rest: Value,
) -> Desired {
    let mut labels = input.labels();
    for (k, v) in extra_labels {
        labels.insert(k.to_string(), v.to_string());
    }
    let mut metadata = json!({"name": name, "labels": labels});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    let mut body = json!({"apiVersion": api_version, "kind": kind, "metadata": metadata});
    if let (Value::Object(target), Value::Object(fields)) = (&mut body, rest) {
        target.extend(fields);
    }
    Desired {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        body,
    }
}

/// Every object the charm wants, in apply order (namespace and CRDs first).
pub fn render(input: &RenderInput) -> Vec<Desired> {
    let mut out = vec![namespace(input)];
    out.extend(crds());
    out.extend(rbac(input));
    out.push(controller(input));
    out.push(speaker(input));
    out.push(pool(input));
    out.push(l2_advertisement(input));
    out.extend(bgp(input));
    out
}

/// Every kind the charm may create (`apiVersion`, kind): what it looks for when pruning and
/// removing, even kinds it renders none of now (BGP switched off).
pub const MANAGED_KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("metallb.io/v1beta1", "IPAddressPool"),
    ("metallb.io/v1beta1", "L2Advertisement"),
    ("metallb.io/v1beta2", "BGPPeer"),
    ("metallb.io/v1beta1", "BGPAdvertisement"),
];

/// The exclude-list ConfigMap as the charm first creates it (it is created when absent, never
/// applied over: the operator edits it): upstream's default list, in upstream's format.
pub fn exclude_list(input: &RenderInput) -> Desired {
    let patterns: Vec<String> = metallb_core::l2::DEFAULT_EXCLUDED_INTERFACES
        .iter()
        .map(|p| format!("{p:?}"))
        .collect();
    let list = format!("announcedInterfacesToExclude: [{}]\n", patterns.join(", "));
    object(
        input,
        "v1",
        "ConfigMap",
        Some(&input.namespace),
        EXCLUDE_CONFIG_MAP,
        &[],
        json!({"data": {"excludel2.yaml": list}}),
    )
}

/// A BGPPeer per router and one BGPAdvertisement for the pool, when BGP is on.
fn bgp(input: &RenderInput) -> Vec<Desired> {
    let Some(bgp) = &input.bgp else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, peer) in bgp.peers.iter().enumerate() {
        let mut spec = json!({
            "myASN": bgp.asn,
            "peerASN": peer.asn,
            "peerAddress": peer.address.to_string(),
        });
        if let Some(port) = peer.port {
            spec["peerPort"] = json!(port);
        }
        out.push(object(
            input,
            "metallb.io/v1beta2",
            "BGPPeer",
            Some(&input.namespace),
            &format!("{}-peer-{i}", input.pool_name()),
            &[],
            json!({"spec": spec}),
        ));
    }
    let mut spec = json!({
        "ipAddressPools": [input.pool_name()],
        "aggregationLength": bgp.aggregation_length,
    });
    if !bgp.communities.is_empty() {
        spec["communities"] = json!(bgp.communities);
    }
    if let Some(pref) = bgp.local_pref {
        spec["localPref"] = json!(pref);
    }
    out.push(object(
        input,
        "metallb.io/v1beta1",
        "BGPAdvertisement",
        Some(&input.namespace),
        &input.pool_name(),
        &[],
        json!({"spec": spec}),
    ));
    out
}

fn namespace(input: &RenderInput) -> Desired {
    let privileged = [
        ("pod-security.kubernetes.io/enforce", "privileged"),
        ("pod-security.kubernetes.io/audit", "privileged"),
        ("pod-security.kubernetes.io/warn", "privileged"),
    ];
    object(
        input,
        "v1",
        "Namespace",
        None,
        &input.namespace,
        &privileged,
        json!({}),
    )
}

fn crds() -> Vec<Desired> {
    metallb_api::crds()
        .into_iter()
        .filter_map(|crd| {
            let name = crd.metadata.name.clone()?;
            let mut value = serde_json::to_value(&crd).ok()?;
            let labels = serde_json::to_value(shared_labels()).ok()?;
            value["metadata"]["labels"] = labels;
            // Stated, so that applying over upstream's CRDs (whose BGPPeer conversion calls
            // upstream's webhook Service) takes the conversion over: versions convert by
            // renaming, as ours are the same schema.
            value["spec"]["conversion"] = json!({"strategy": "None"});
            Some(Desired {
                api_version: "apiextensions.k8s.io/v1".to_string(),
                kind: "CustomResourceDefinition".to_string(),
                namespace: None,
                name,
                body: value,
            })
        })
        .collect()
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn named_rule(group: &str, resource: &str, names: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": [group], "resources": [resource], "resourceNames": names, "verbs": verbs})
}

/// What a reflector needs (kube's watcher lists, then watches).
const WATCH: &[&str] = &["list", "watch"];
/// What server-side apply needs for an object that may not exist yet.
const APPLY: &[&str] = &["create", "patch"];

/// ClusterRole rules of the controller: exactly what it calls. It watches Services and
/// Namespaces (namespace selectors of pools), writes Service status, and records events.
pub fn controller_cluster_rules() -> Vec<Value> {
    vec![
        rule(&[""], &["services", "namespaces"], WATCH),
        rule(&[""], &["services/status"], &["patch"]),
        rule(&["events.k8s.io"], &["events"], &["create"]),
    ]
}

/// ClusterRole rules of the speaker: it watches Services, their EndpointSlices and the Nodes,
/// and records events.
pub fn speaker_cluster_rules() -> Vec<Value> {
    vec![
        rule(&[""], &["services", "nodes"], WATCH),
        rule(&["discovery.k8s.io"], &["endpointslices"], WATCH),
        // kube's event recorder patches a repeated event (its series count).
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

/// Role rules of the controller in the MetalLB namespace: its configuration, the pools'
/// status counters, its ConfigurationState, and the memberlist Secret it creates when absent
/// (owned by its Deployment).
pub fn controller_namespace_rules() -> Vec<Value> {
    vec![
        rule(
            &["metallb.io"],
            &["ipaddresspools", "l2advertisements"],
            WATCH,
        ),
        rule(&["metallb.io"], &["ipaddresspools/status"], &["patch"]),
        rule(&["metallb.io"], &["configurationstates"], APPLY),
        rule(&["metallb.io"], &["configurationstates/status"], &["patch"]),
        named_rule("", "secrets", &[MEMBERLIST_SECRET], &["get"]),
        rule(&[""], &["secrets"], &["create"]),
        named_rule("apps", "deployments", &["controller"], &["get"]),
    ]
}

/// Role rules of the speaker in the MetalLB namespace: its configuration (BGP passwords are
/// Secrets), its memberlist peers (the speaker Pods), the status objects it keeps, and its
/// own ConfigurationState.
pub fn speaker_namespace_rules() -> Vec<Value> {
    vec![
        rule(
            &["metallb.io"],
            &[
                "ipaddresspools",
                "l2advertisements",
                "bgpadvertisements",
                "bgppeers",
                "communities",
                "bfdprofiles",
            ],
            WATCH,
        ),
        rule(&[""], &["pods", "secrets"], WATCH),
        rule(
            &["metallb.io"],
            &["servicel2statuses", "servicebgpstatuses"],
            &["list", "watch", "create", "delete"],
        ),
        rule(
            &["metallb.io"],
            &["servicel2statuses/status", "servicebgpstatuses/status"],
            &["patch"],
        ),
        rule(&["metallb.io"], &["configurationstates"], APPLY),
        rule(&["metallb.io"], &["configurationstates/status"], &["patch"]),
    ]
}

fn rbac(input: &RenderInput) -> Vec<Desired> {
    let ns = input.namespace.as_str();
    let rbac = "rbac.authorization.k8s.io/v1";
    let mut out = Vec::new();
    let subject = |sa: &str| json!({"kind": "ServiceAccount", "name": sa, "namespace": ns});
    for (component, cluster_rules, namespace_rules) in [
        (
            "controller",
            controller_cluster_rules(),
            controller_namespace_rules(),
        ),
        (
            "speaker",
            speaker_cluster_rules(),
            speaker_namespace_rules(),
        ),
    ] {
        out.push(object(
            input,
            "v1",
            "ServiceAccount",
            Some(ns),
            component,
            &[],
            json!({}),
        ));
        let name = input.instance().cluster_name(component);
        out.push(object(
            input,
            rbac,
            "ClusterRole",
            None,
            &name,
            &[],
            json!({"rules": cluster_rules}),
        ));
        out.push(object(
            input,
            rbac,
            "ClusterRoleBinding",
            None,
            &name,
            &[],
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                   "subjects": [subject(component)]}),
        ));
        out.push(object(
            input,
            rbac,
            "Role",
            Some(ns),
            component,
            &[],
            json!({"rules": namespace_rules}),
        ));
        out.push(object(
            input,
            rbac,
            "RoleBinding",
            Some(ns),
            component,
            &[],
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": component},
                   "subjects": [subject(component)]}),
        ));
    }
    out
}

fn probe(host: Option<&str>, path: &str) -> Value {
    let mut get = json!({"path": path, "port": HEALTH_PORT});
    if let Some(host) = host {
        get["host"] = json!(host);
    }
    json!({"httpGet": get, "initialDelaySeconds": 2, "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3})
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}})
}

fn controller(input: &RenderInput) -> Desired {
    let labels = json!({"app": "metallb", "component": "controller"});
    let spec = json!({
        "revisionHistoryLimit": 3,
        // Never two allocators at once, even during an upgrade.
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": "controller",
                "terminationGracePeriodSeconds": 0,
                "nodeSelector": input.node_selector,
                "securityContext": {"runAsNonRoot": true, "runAsUser": 65534, "fsGroup": 65534},
                "containers": [{
                    "name": "controller",
                    "image": input.controller_image,
                    "args": [format!("--port={METRICS_PORT}"), format!("--log-level={}", input.log_level)],
                    "env": [
                        field_env("METALLB_NAMESPACE", "metadata.namespace"),
                        field_env("METALLB_POD_NAME", "metadata.name"),
                        {"name": "METALLB_ML_SECRET_NAME", "value": MEMBERLIST_SECRET},
                        {"name": "METALLB_DEPLOYMENT", "value": "controller"},
                    ],
                    "ports": [{"name": "monitoring", "containerPort": METRICS_PORT}],
                    "livenessProbe": probe(None, "/healthz"),
                    "readinessProbe": probe(None, "/readyz"),
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }],
            },
        },
    });
    object(
        input,
        "apps/v1",
        "Deployment",
        Some(&input.namespace),
        "controller",
        &[("app", "metallb"), ("component", "controller")],
        json!({"spec": spec}),
    )
}

fn speaker(input: &RenderInput) -> Desired {
    let labels = json!({"app": "metallb", "component": "speaker"});
    let spec = json!({
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": "speaker",
                "hostNetwork": true,
                "terminationGracePeriodSeconds": 2,
                "nodeSelector": input.node_selector,
                "tolerations": [
                    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                ],
                "containers": [{
                    "name": "speaker",
                    "image": input.speaker_image,
                    "args": [format!("--port={METRICS_PORT}"), format!("--log-level={}", input.log_level)],
                    "env": [
                        field_env("METALLB_NODE_NAME", "spec.nodeName"),
                        field_env("METALLB_POD_NAME", "metadata.name"),
                        field_env("METALLB_NAMESPACE", "metadata.namespace"),
                        field_env("METALLB_ML_BIND_ADDR", "status.podIP"),
                        // Metrics listen on the node's address, as upstream's speaker does.
                        field_env("METALLB_HOST", "status.hostIP"),
                        {"name": "METALLB_ML_LABELS", "value": "app=metallb,component=speaker"},
                        {"name": "METALLB_ML_SECRET_KEY_PATH", "value": "/etc/ml_secret_key"},
                    ],
                    "ports": [
                        {"name": "monitoring", "containerPort": METRICS_PORT},
                        {"name": "memberlist-tcp", "containerPort": MEMBERLIST_PORT, "protocol": "TCP"},
                        {"name": "memberlist-udp", "containerPort": MEMBERLIST_PORT, "protocol": "UDP"},
                    ],
                    "livenessProbe": probe(Some("127.0.0.1"), "/healthz"),
                    "readinessProbe": probe(Some("127.0.0.1"), "/readyz"),
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"add": ["NET_RAW"], "drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "memberlist", "mountPath": "/etc/ml_secret_key", "readOnly": true},
                        {"name": "excludel2", "mountPath": EXCLUDE_MOUNT, "readOnly": true},
                    ],
                }],
                "volumes": [
                    {"name": "memberlist", "secret": {"secretName": MEMBERLIST_SECRET, "defaultMode": 0o420}},
                    {"name": "excludel2", "configMap": {"name": EXCLUDE_CONFIG_MAP, "optional": true, "defaultMode": 0o444}},
                ],
            },
        },
    });
    object(
        input,
        "apps/v1",
        "DaemonSet",
        Some(&input.namespace),
        "speaker",
        &[("app", "metallb"), ("component", "speaker")],
        json!({"spec": spec}),
    )
}

fn pool(input: &RenderInput) -> Desired {
    object(
        input,
        "metallb.io/v1beta1",
        "IPAddressPool",
        Some(&input.namespace),
        &input.pool_name(),
        &[],
        json!({"spec": {"addresses": input.addresses, "autoAssign": true}}),
    )
}

fn l2_advertisement(input: &RenderInput) -> Desired {
    let mut spec = json!({"ipAddressPools": [input.pool_name()]});
    if !input.l2_interfaces.is_empty() {
        spec["interfaces"] = json!(input.l2_interfaces);
    }
    object(
        input,
        "metallb.io/v1beta1",
        "L2Advertisement",
        Some(&input.namespace),
        &input.pool_name(),
        &[],
        json!({"spec": spec}),
    )
}

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RenderInput {
        RenderInput {
            model: "lab".into(),
            app: "metallb".into(),
            namespace: "metallb-system".into(),
            addresses: vec!["198.18.0.240/28".into(), "2001:db8::/120".into()],
            node_selector: BTreeMap::from([("kubernetes.io/os".into(), "linux".into())]),
            l2_interfaces: vec![],
            bgp: None,
            controller_image: "reg/controller:1".into(),
            speaker_image: "reg/speaker:1".into(),
            log_level: "info".into(),
        }
    }

    fn find<'a>(objects: &'a [Desired], kind: &str, name: &str) -> &'a Desired {
        objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn bgp_renders_peers_and_an_advertisement_for_the_pool() {
        let mut i = input();
        assert!(!render(&i).iter().any(|o| o.kind.starts_with("BGP")));
        i.bgp = Some(crate::config::BgpConfig {
            asn: 64512,
            peers: vec![crate::config::BgpPeerEntry {
                address: "192.168.1.1".parse().unwrap(),
                asn: 64513,
                port: Some(1179),
            }],
            communities: vec!["65000:100".into()],
            local_pref: Some(150),
            aggregation_length: 32,
        });
        let objects = render(&i);
        let peer = find(&objects, "BGPPeer", "lab.metallb-peer-0");
        assert_eq!(peer.api_version, "metallb.io/v1beta2");
        assert_eq!(peer.body["spec"]["myASN"], 64512);
        assert_eq!(peer.body["spec"]["peerASN"], 64513);
        assert_eq!(peer.body["spec"]["peerPort"], 1179);
        let ad = find(&objects, "BGPAdvertisement", "lab.metallb");
        assert_eq!(ad.body["spec"]["ipAddressPools"][0], "lab.metallb");
        assert_eq!(ad.body["spec"]["communities"][0], "65000:100");
        assert_eq!(ad.body["spec"]["localPref"], 150);
    }

    #[test]
    fn every_object_carries_the_ownership_labels() {
        let objects = render(&input());
        assert!(objects.len() > 20);
        for o in &objects {
            let labels = &o.body["metadata"]["labels"];
            assert_eq!(labels[LABEL_MANAGED_BY], MANAGED_BY, "{}", o.describe());
            if o.kind == "CustomResourceDefinition" {
                // Shared by every instance: no instance label to fight over.
                assert!(labels.get(LABEL_INSTANCE).is_none(), "{}", o.describe());
            } else {
                assert_eq!(labels[LABEL_INSTANCE], "lab.metallb", "{}", o.describe());
            }
            assert_eq!(o.body["kind"], o.kind);
            assert_eq!(o.body["metadata"]["name"], o.name);
            assert!(
                MANAGED_KINDS
                    .iter()
                    .any(|(v, k)| *v == o.api_version && *k == o.kind),
                "{} is not in MANAGED_KINDS",
                o.describe()
            );
        }
    }

    #[test]
    fn namespace_allows_the_privileged_speaker() {
        let objects = render(&input());
        let ns = find(&objects, "Namespace", "metallb-system");
        assert_eq!(
            ns.body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );
        assert_eq!(objects[0].kind, "Namespace", "namespace first");
    }

    #[test]
    fn pool_and_advertisement_are_named_after_model_and_app() {
        let mut i = input();
        i.l2_interfaces = vec!["eth0".into()];
        let objects = render(&i);
        let pool = find(&objects, "IPAddressPool", "lab.metallb");
        assert_eq!(
            pool.body["spec"]["addresses"],
            json!(["198.18.0.240/28", "2001:db8::/120"])
        );
        let l2 = find(&objects, "L2Advertisement", "lab.metallb");
        assert_eq!(l2.body["spec"]["ipAddressPools"], json!(["lab.metallb"]));
        assert_eq!(l2.body["spec"]["interfaces"], json!(["eth0"]));
        let no_ifaces = render(&input());
        assert!(
            find(&no_ifaces, "L2Advertisement", "lab.metallb").body["spec"]
                .get("interfaces")
                .is_none()
        );
    }

    #[test]
    fn the_exclude_list_is_upstreams_default_in_upstreams_format_and_mounted_where_read() {
        let map = exclude_list(&input());
        assert_eq!(
            (map.kind.as_str(), map.name.as_str()),
            ("ConfigMap", EXCLUDE_CONFIG_MAP)
        );
        let text = map.body["data"]["excludel2.yaml"]
            .as_str()
            .unwrap_or_default();
        let parsed: serde_json::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(
            parsed["announcedInterfacesToExclude"],
            json!(metallb_core::l2::DEFAULT_EXCLUDED_INTERFACES)
        );
        assert!(
            !render(&input()).iter().any(|o| o.kind == "ConfigMap"),
            "created once, never applied over the operator's edits"
        );
        let objects = render(&input());
        let pod = &find(&objects, "DaemonSet", "speaker").body["spec"]["template"]["spec"];
        assert_eq!(pod["volumes"][1]["configMap"]["name"], EXCLUDE_CONFIG_MAP);
        assert_eq!(pod["volumes"][1]["configMap"]["optional"], true);
        assert_eq!(
            pod["containers"][0]["volumeMounts"][1]["mountPath"], "/etc/metallb",
            "the speaker reads /etc/metallb/excludel2.yaml"
        );
    }

    #[test]
    fn workloads_use_images_selector_and_speaker_privileges() {
        let objects = render(&input());
        let controller = find(&objects, "Deployment", "controller");
        assert_eq!(
            controller.body["spec"]["strategy"]["type"], "Recreate",
            "two allocators never run at once"
        );
        let pod = &controller.body["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["image"], "reg/controller:1");
        assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
        assert_eq!(
            pod["containers"][0]["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
        let speaker = find(&objects, "DaemonSet", "speaker");
        let pod = &speaker.body["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(pod["containers"][0]["image"], "reg/speaker:1");
        assert_eq!(
            pod["containers"][0]["securityContext"]["capabilities"]["add"],
            json!(["NET_RAW"])
        );
        assert_eq!(
            pod["containers"][0]["readinessProbe"]["httpGet"]["host"],
            "127.0.0.1"
        );
        assert_eq!(pod["volumes"][0]["secret"]["secretName"], MEMBERLIST_SECRET);
        assert!(
            pod["containers"][0]["args"]
                .as_array()
                .unwrap()
                .contains(&json!("--log-level=info"))
        );
    }

    #[test]
    fn rbac_is_least_privilege() {
        let objects = render(&input());
        let all_rules: Vec<&Value> = objects
            .iter()
            .filter(|o| o.kind == "Role" || o.kind == "ClusterRole")
            .flat_map(|o| o.body["rules"].as_array().unwrap())
            .collect();
        for r in &all_rules {
            assert_ne!(r["apiGroups"], json!(["*"]), "no wildcard groups: {r}");
            assert_ne!(r["resources"], json!(["*"]), "no wildcard resources: {r}");
        }
        let speaker = find(&objects, "ClusterRole", "metallb-charm:lab.metallb:speaker");
        let text = speaker.body["rules"].to_string();
        assert!(text.contains("endpointslices") && !text.contains("secrets"));
        let ctrl = find(
            &objects,
            "ClusterRole",
            "metallb-charm:lab.metallb:controller",
        );
        assert!(ctrl.body["rules"].to_string().contains("services/status"));
        let secrets_ns = find(&objects, "Role", "controller");
        assert_eq!(secrets_ns.namespace.as_deref(), Some("metallb-system"));
        let binding = find(&objects, "RoleBinding", "speaker");
        assert_eq!(binding.body["subjects"].as_array().unwrap().len(), 1);
        for r in &all_rules {
            for verb in r["verbs"].as_array().unwrap() {
                assert!(
                    !["*", "update", "deletecollection"].contains(&verb.as_str().unwrap()),
                    "no {verb} anywhere: {r}"
                );
            }
        }
    }

    #[test]
    fn crds_are_rendered_cluster_scoped_with_labels() {
        let objects = render(&input());
        let crds: Vec<&Desired> = objects
            .iter()
            .filter(|o| o.kind == "CustomResourceDefinition")
            .collect();
        assert_eq!(crds.len(), 9);
        assert!(crds.iter().all(|c| c.namespace.is_none()));
        assert!(crds.iter().any(|c| c.name == "ipaddresspools.metallb.io"));
    }
}
