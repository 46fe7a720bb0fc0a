//! The charm's only door to the Kubernetes API: server-side apply with one field manager,
//! pruning by ownership labels, the memberlist Secret, and workload readiness.
//!
//! Every call has a timeout so that a hook never hangs for minutes; errors are classified so the
//! charm can say "run juju trust" for a 403 and "will retry" for anything transient.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GetParams, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, Config};

use crate::ownership::Existing;
use crate::render::{Desired, MEMBERLIST_SECRET};

mod client;
mod compare;
mod count;
mod explain;
mod first_alone;
mod report;
mod scheduling;
mod snapshot;
mod targets;

pub use count::ApiRequests;
pub use report::Report;
pub use snapshot::{Live, Snapshot};

/// How fresh a list must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Read through to etcd: what adopting, removing and explaining decide on.
    Latest,
    /// The API server's watch cache (`resourceVersion=0`), as informers read: milliseconds old
    /// at most, for half the API server's work. Whatever is deleted on such a read is read
    /// again by name first.
    Cached,
}

/// The field manager of every server-side apply the charm makes.
pub const FIELD_MANAGER: &str = "metallb-charm";
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a Kubernetes call failed, in the terms the charm's status needs.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// No usable credentials or API address.
    #[error("cannot reach the Kubernetes API: {0}")]
    NoAccess(String),
    /// RBAC refused the charm's identity (HTTP 403 naming its user): it needs trust.
    #[error("the Kubernetes API refused access: {0}")]
    Forbidden(String),
    /// The API refused the request itself (HTTP 422 invalid, or a 403 that is not about the
    /// charm's rights, such as a namespace being deleted): retrying the same request fails
    /// the same way.
    #[error("the Kubernetes API refused {0}")]
    Refused(String),
    /// Anything else (network, timeout, conflict, server error); worth retrying.
    #[error("Kubernetes API error: {0}")]
    Transient(String),
}

/// Sorts an API error into what the charm should say about it.
fn classify(context: &str, err: kube::Error) -> K8sError {
    match err {
        kube::Error::Api(status) if status.code == 403 && is_rbac_denial(&status.message) => {
            K8sError::Forbidden(format!("{context}: {}", status.message))
        }
        kube::Error::Api(status) if status.code == 403 || status.code == 422 => {
            K8sError::Refused(format!("{context}: {}", status.message))
        }
        other => K8sError::Transient(format!("{context}: {other}")),
    }
}

/// Whether a 403's message is RBAC refusing a user (`... is forbidden: User "x" cannot list
/// resource ...`) rather than an admission rule (`... unable to create new content in namespace
/// x because it is being terminated`).
fn is_rbac_denial(message: &str) -> bool {
    message.contains("User \"") && message.contains(" cannot ")
}

/// Ready counts of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Controller pods available / wanted.
    pub controller: (i32, i32),
    /// Speaker pods ready / wanted.
    pub speaker: (i32, i32),
    /// Why pods are not running, when Kubernetes says (`speaker-x2v9q: ErrImageNeverPull`).
    pub problems: Vec<String>,
}

impl Readiness {
    /// Whether everything wanted is ready (and something is wanted).
    pub fn ready(&self) -> bool {
        self.controller.1 > 0
            && self.controller.0 >= self.controller.1
            && self.speaker.1 > 0
            && self.speaker.0 >= self.speaker.1
    }
}

/// A connection to the cluster, with a runtime to drive it from synchronous hook code.
pub struct Cluster {
    client: Client,
    runtime: tokio::runtime::Runtime,
    requests: ApiRequests,
}

/// The API of `object`'s kind, in its namespace.
fn api_of(client: &Client, object: &Desired) -> Api<DynamicObject> {
    api_for(
        client,
        &object.api_version,
        &object.kind,
        object.namespace.as_deref(),
    )
}

fn api_for(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Where the charm's Kubernetes credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeSource {
    /// `KUBECONFIG` when set (juju-sim), else the in-cluster service account (a real unit).
    /// Never `~/.kube/config`: a Juju unit has no home directory.
    Environment,
    /// A kubeconfig file (tests).
    Kubeconfig(std::path::PathBuf),
    /// No cluster at all (unit tests): every call fails with [`K8sError::NoAccess`].
    Disabled,
    /// The in-memory fake API server of the unit tests (see [`fake`]).
    #[cfg(test)]
    Fake(fake::FakeApi),
}

impl KubeSource {
    async fn config(&self) -> Result<Config, K8sError> {
        let from_file = |path: &std::path::Path| -> Result<Kubeconfig, K8sError> {
            Kubeconfig::read_from(path).map_err(|e| {
                K8sError::NoAccess(format!("cannot read kubeconfig {}: {e}", path.display()))
            })
        };
        match self {
            Self::Disabled => Err(K8sError::NoAccess("no cluster configured".into())),
            #[cfg(test)]
            Self::Fake(_) => Err(K8sError::NoAccess("a fake API has no kubeconfig".into())),
            Self::Kubeconfig(path) => {
                Config::from_custom_kubeconfig(from_file(path)?, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| K8sError::NoAccess(e.to_string()))
            }
            Self::Environment => match std::env::var_os("KUBECONFIG") {
                Some(path) => {
                    let kubeconfig = from_file(std::path::Path::new(&path))?;
                    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await
                        .map_err(|e| K8sError::NoAccess(e.to_string()))
                }
                None => Config::incluster().map_err(|e| K8sError::NoAccess(e.to_string())),
            },
        }
    }
}

impl Cluster {
    /// Connects with credentials from `source`.
    pub fn connect(source: &KubeSource) -> Result<Self, K8sError> {
        Self::connect_counting(source, ApiRequests::default())
    }

    /// Connects with credentials from `source`, counting every request in `requests`.
    pub fn connect_counting(source: &KubeSource, requests: ApiRequests) -> Result<Self, K8sError> {
        #[cfg(test)]
        if let KubeSource::Fake(api) = source {
            use tower::{Layer, ServiceExt};
            let counted = requests
                .layer()
                .layer(api.clone().map_err(tower::BoxError::from));
            let retrying = client::retry_layer()?.layer(counted);
            return Self::over(requests, || Client::new(retrying, "default"));
        }
        let started = std::time::Instant::now();
        let runtime = new_runtime()?;
        let layer = requests.layer();
        let client = runtime
            .block_on(async { client::build(source.config().await?, &layer, CALL_TIMEOUT) })?;
        requests.add_time(started.elapsed());
        Ok(Self {
            client,
            runtime,
            requests,
        })
    }

    /// A cluster reached through the client `make_client` builds, inside the cluster's own
    /// runtime (a client spawns its request buffer there): the seam the unit tests put their
    /// fake API server in. `requests` is what the client counts into.
    pub fn over(
        requests: ApiRequests,
        make_client: impl FnOnce() -> Client,
    ) -> Result<Self, K8sError> {
        let runtime = new_runtime()?;
        let client = {
            let _inside = runtime.enter();
            make_client()
        };
        Ok(Self {
            client,
            runtime,
            requests,
        })
    }

    /// The requests this cluster's client has sent (and those of every cluster sharing the
    /// counter).
    pub fn requests(&self) -> &ApiRequests {
        &self.requests
    }

    /// Runs `work` on the cluster's runtime; its time counts as time spent on the API.
    fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = self.runtime.block_on(work);
        self.requests.add_time(started.elapsed());
        out
    }

    /// Server-side applies every object, in order; returns the objects as the API server
    /// answered.
    pub fn apply(&self, objects: &[Desired]) -> Result<Vec<Live>, K8sError> {
        self.block_on(async {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let mut applied = Vec::new();
            for object in objects {
                let api = api_of(&self.client, object);
                let answer = api
                    .patch(&object.name, &params, &Patch::Apply(&object.body))
                    .await
                    .map_err(|e| classify(&format!("applying {}", object.describe()), e))?;
                applied.extend(live(&object.api_version, &object.kind, &answer));
            }
            Ok(applied)
        })
    }

    /// JSON-merge-patches `object` with its `body` (a `null` removes a field, whoever set it).
    pub fn merge_patch(&self, object: &Desired) -> Result<(), K8sError> {
        self.block_on(async {
            let api = api_of(&self.client, object);
            api.patch(
                &object.name,
                &PatchParams::default(),
                &Patch::Merge(&object.body),
            )
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("patching {}", object.describe()), e))
        })
    }

    /// Gives `object` back: applies it with nothing, so every field the charm set (its labels
    /// and annotations) goes and the object no longer counts as the charm's.
    pub fn release(&self, object: &Desired) -> Result<(), K8sError> {
        let mut metadata = serde_json::json!({"name": object.name});
        if let Some(ns) = &object.namespace {
            metadata["namespace"] = serde_json::json!(ns);
        }
        let empty = Desired {
            body: serde_json::json!({
                "apiVersion": object.api_version,
                "kind": object.kind,
                "metadata": metadata,
            }),
            ..object.clone()
        };
        self.apply(std::slice::from_ref(&empty)).map(|_| ())
    }

    /// Every object of the `kinds` (`apiVersion`, kind) that carries the charm's managed-by
    /// label, of any instance, in every namespace.
    pub fn inventory(&self, kinds: &[(&str, &str)]) -> Result<Vec<Existing>, K8sError> {
        Ok(self.snapshot(kinds, Freshness::Latest)?.existing())
    }

    /// [`Self::inventory`], whole: one label-selected list per kind, all at once on one
    /// connection (a refusal fails the whole read).
    pub fn snapshot(
        &self,
        kinds: &[(&str, &str)],
        freshness: Freshness,
    ) -> Result<Snapshot, K8sError> {
        self.block_on(self.read_snapshot(kinds, freshness))
    }

    /// [`Self::snapshot`] and [`Self::report`] in one round trip; the report failing does not
    /// fail the snapshot.
    pub fn snapshot_and_report(
        &self,
        kinds: &[(&str, &str)],
        freshness: Freshness,
        namespace: &str,
        bgp: bool,
    ) -> Result<(Snapshot, Result<Report, K8sError>), K8sError> {
        self.block_on(async {
            let (snapshot, report) = futures::join!(
                self.read_snapshot(kinds, freshness),
                report::report(&self.client, namespace, bgp)
            );
            Ok((snapshot?, report))
        })
    }

    async fn read_snapshot(
        &self,
        kinds: &[(&str, &str)],
        freshness: Freshness,
    ) -> Result<Snapshot, K8sError> {
        let selector = crate::identity::managed_selector();
        let params = match freshness {
            Freshness::Latest => ListParams::default().labels(&selector),
            Freshness::Cached => ListParams::default().labels(&selector).match_any(),
        };
        let lists = kinds.iter().map(|(api_version, kind)| {
            let api = api_for(&self.client, api_version, kind, None);
            let params = &params;
            async move {
                match api.list(params).await {
                    Ok(list) => Ok(list
                        .items
                        .iter()
                        .filter_map(|item| live(api_version, kind, item))
                        .collect::<Vec<_>>()),
                    // A CRD-backed kind that is not installed has nothing of ours.
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
                    Err(e) => Err(classify(&format!("listing {kind}"), e)),
                }
            }
        });
        let mut snapshot = Snapshot::default();
        for list in futures::future::try_join_all(lists).await? {
            snapshot.record(list);
        }
        Ok(snapshot)
    }

    /// Reads each of `objects` that exists (to learn whether someone else has it).
    pub fn lookup(&self, objects: &[&Desired]) -> Result<Vec<Live>, K8sError> {
        self.block_on(self.fetch(objects, Freshness::Latest))
    }

    /// Reads `objects` at once (those that exist), as fresh as `freshness` asks.
    async fn fetch(
        &self,
        objects: &[&Desired],
        freshness: Freshness,
    ) -> Result<Vec<Live>, K8sError> {
        let params = match freshness {
            Freshness::Latest => GetParams::default(),
            Freshness::Cached => GetParams::any(),
        };
        let reads = objects.iter().map(|object| async {
            let api = api_of(&self.client, object);
            match api.get_with(&object.name, &params).await {
                Ok(item) => Ok(live(&object.api_version, &object.kind, &item)),
                // Not there, or the kind itself is not served yet (its CRD is about to be
                // applied).
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                Err(e) => Err(classify(&format!("reading {}", object.describe()), e)),
            }
        });
        let found = futures::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// What the status reports besides readiness (see [`Report`]).
    pub fn report(&self, namespace: &str, bgp: bool) -> Result<Report, K8sError> {
        self.block_on(report::report(&self.client, namespace, bgp))
    }

    /// Reads `objects` (those that exist) and the [`Report`] on `namespace` from the API
    /// server's cache: what update-status needs (it only reports; what it finds missing or
    /// changed makes it reconcile).
    pub fn lookup_and_report(
        &self,
        objects: &[&Desired],
        namespace: &str,
        bgp: bool,
    ) -> Result<(Vec<Live>, Report), K8sError> {
        self.block_on(async {
            futures::try_join!(
                self.fetch(objects, Freshness::Cached),
                report::report(&self.client, namespace, bgp)
            )
        })
    }

    /// The controller Deployment and speaker DaemonSet of `namespace`, named only (to read).
    pub fn workload_targets(namespace: &str) -> [Desired; 2] {
        [
            Desired::target("apps/v1", "Deployment", Some(namespace), "controller"),
            Desired::target("apps/v1", "DaemonSet", Some(namespace), "speaker"),
        ]
    }

    /// Ready counts of the controller Deployment and speaker DaemonSet in `namespace`, and
    /// why pods are not running when some are not.
    pub fn readiness(&self, namespace: &str) -> Result<Readiness, K8sError> {
        let [controller, speaker] = Self::workload_targets(namespace);
        let mut found = Snapshot::default();
        found.record(self.lookup(&[&controller, &speaker])?);
        self.explain_readiness(
            namespace,
            Readiness::of(
                found.live_of(&controller).map(|l| &l.body),
                found.live_of(&speaker).map(|l| &l.body),
            ),
        )
    }

    /// `readiness` with the pods' problems when some wanted pod is not ready (one list of
    /// the MetalLB pods; none when all are ready).
    pub fn explain_readiness(
        &self,
        namespace: &str,
        mut readiness: Readiness,
    ) -> Result<Readiness, K8sError> {
        if readiness.short() {
            readiness.problems = self.block_on(report::pod_problems(&self.client, namespace))?;
        }
        Ok(readiness)
    }

    /// Every object in `namespace` of every listable namespaced kind the API serves (for
    /// deciding whether a Namespace holds anything but the charm's own objects).
    pub fn namespace_contents(&self, namespace: &str) -> Result<Vec<Existing>, K8sError> {
        use kube::discovery::{Discovery, Scope, verbs};
        self.block_on(async {
            let discovery = Discovery::new(self.client.clone())
                .run()
                .await
                .map_err(|e| classify("discovering the API", e))?;
            let mut found = Vec::new();
            for group in discovery.groups() {
                // Every kind of the group, in its most stable version: a kind served only in a
                // version other than the preferred one (IPAddressPool is v1beta1 while
                // metallb.io prefers v1beta2) must not be missed.
                for (resource, caps) in group.resources_by_stability() {
                    if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                        continue;
                    }
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(self.client.clone(), namespace, &resource);
                    let list = match api.list(&ListParams::default()).await {
                        Ok(list) => list,
                        Err(kube::Error::Api(status)) if status.code == 404 => continue,
                        Err(e) => {
                            return Err(classify(
                                &format!("listing {} in {namespace}", resource.plural),
                                e,
                            ));
                        }
                    };
                    found.extend(
                        list.items.iter().filter_map(|item| {
                            existing(&resource.api_version, &resource.kind, item)
                        }),
                    );
                }
            }
            Ok(found)
        })
    }

    /// Deletes the given objects (missing ones are fine); returns what was deleted.
    pub fn delete(&self, objects: &[Desired]) -> Result<Vec<String>, K8sError> {
        self.block_on(async {
            let mut deleted = Vec::new();
            for object in objects {
                let api = api_of(&self.client, object);
                match api.delete(&object.name, &DeleteParams::background()).await {
                    Ok(_) => deleted.push(object.describe()),
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => return Err(classify(&format!("deleting {}", object.describe()), e)),
                }
            }
            Ok(deleted)
        })
    }

    /// Every object of `kind`, in `namespace` or (None) cluster-wide.
    pub fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<DynamicObject>, K8sError> {
        self.block_on(async {
            api_for(&self.client, api_version, kind, namespace)
                .list(&ListParams::default())
                .await
                .map(|list| list.items)
                .map_err(|e| classify(&format!("listing {kind}s"), e))
        })
    }

    /// Creates the memberlist Secret with a random key if it is absent; an existing key is kept.
    pub fn ensure_memberlist_secret(
        &self,
        namespace: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<bool, K8sError> {
        self.block_on(async {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
            match api.get_opt(MEMBERLIST_SECRET).await {
                Ok(Some(_)) => return Ok(false),
                Ok(None) => {}
                Err(e) => return Err(classify("reading the memberlist secret", e)),
            }
            let key = random_key()
                .map_err(|e| K8sError::Transient(format!("cannot generate a key: {e}")))?;
            let secret: Secret = serde_json::from_value(serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": MEMBERLIST_SECRET, "namespace": namespace, "labels": labels},
                "stringData": {"secretkey": key},
            }))
            .map_err(|e| K8sError::Transient(e.to_string()))?;
            match api.create(&PostParams::default(), &secret).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(classify("creating the memberlist secret", e)),
            }
        })
    }

    /// Waits until the named CRDs are established (served), up to `timeout`.
    pub fn wait_crds_established(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<(), K8sError> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        self.block_on(async {
            let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
            let deadline = tokio::time::Instant::now() + timeout;
            for name in names {
                loop {
                    let crd = api
                        .get_opt(name)
                        .await
                        .map_err(|e| classify(&format!("reading CRD {name}"), e))?;
                    let established = crd
                        .and_then(|c| c.status)
                        .and_then(|s| s.conditions)
                        .is_some_and(|c| {
                            c.iter()
                                .any(|c| c.type_ == "Established" && c.status == "True")
                        });
                    if established {
                        break;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(K8sError::Transient(format!(
                            "CRD {name} is not established yet"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(())
        })
    }

    /// Creates `object` unless an object of its kind and name exists (which is left as it is);
    /// returns whether it was created.
    pub fn create_if_absent(&self, object: &Desired) -> Result<bool, K8sError> {
        self.block_on(async {
            let api = api_of(&self.client, object);
            let body: DynamicObject = serde_json::from_value(object.body.clone())
                .map_err(|e| K8sError::Transient(format!("{}: {e}", object.describe())))?;
            match api.create(&PostParams::default(), &body).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(classify(&format!("creating {}", object.describe()), e)),
            }
        })
    }

    /// Every LoadBalancer Service, in `namespace` or (None) everywhere, with its ingress IPs,
    /// the pool it was given from and the node announcing it in Layer 2 (from the
    /// ServiceL2Status objects in `metallb_namespace`; none when they cannot be read).
    pub fn allocations(
        &self,
        namespace: Option<&str>,
        metallb_namespace: &str,
    ) -> Result<Vec<Allocation>, K8sError> {
        use k8s_openapi::api::core::v1::Service;
        use metallb_api::ServiceL2Status;
        use metallb_api::annotations::{self, IP_ALLOCATED_FROM_POOL};
        self.block_on(async {
            let services: Api<Service> = match namespace {
                Some(ns) => Api::namespaced(self.client.clone(), ns),
                None => Api::all(self.client.clone()),
            };
            let list = services
                .list(&ListParams::default())
                .await
                .map_err(|e| K8sError::Transient(format!("listing services: {e}")))?;
            let statuses: Api<ServiceL2Status> =
                Api::namespaced(self.client.clone(), metallb_namespace);
            let l2 = statuses
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            let mut found = Vec::new();
            for service in list.items {
                let load_balancer = service.spec.as_ref().and_then(|s| s.type_.as_deref());
                if load_balancer != Some("LoadBalancer") {
                    continue;
                }
                let name = service.metadata.name.clone().unwrap_or_default();
                let namespace = service.metadata.namespace.clone().unwrap_or_default();
                let pool = annotations::get(
                    service.metadata.annotations.as_ref(),
                    IP_ALLOCATED_FROM_POOL,
                )
                .unwrap_or("")
                .to_string();
                let node = l2
                    .iter()
                    .filter_map(|s| s.status.as_ref())
                    .find(|s| {
                        s.service_name.as_deref() == Some(&name)
                            && s.service_namespace.as_deref() == Some(&namespace)
                    })
                    .and_then(|s| s.node.clone())
                    .unwrap_or_default();
                let ips = service
                    .status
                    .and_then(|s| s.load_balancer)
                    .and_then(|lb| lb.ingress)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|i| i.ip)
                    .collect();
                found.push(Allocation {
                    namespace,
                    name,
                    ips,
                    pool,
                    node,
                });
            }
            Ok(found)
        })
    }
}

/// The single-threaded runtime that drives a [`Cluster`]'s calls from synchronous hook code.
fn new_runtime() -> Result<tokio::runtime::Runtime, K8sError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| K8sError::NoAccess(format!("cannot start the async runtime: {e}")))
}

/// Why a pod is not running, from its containers' waiting or terminated state
/// (`speaker-x2v9q: ErrImageNeverPull: ...`), or None when Kubernetes gives no reason.
fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("pod");
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        let state = container.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && reason != "ContainerCreating"
            && reason != "PodInitializing"
        {
            let detail = waiting.message.as_deref().map(|m| format!(": {m}"));
            return Some(format!("{name}: {reason}{}", detail.unwrap_or_default()));
        }
        if let Some(done) = state.and_then(|s| s.terminated.as_ref()) {
            let reason = done.reason.as_deref().unwrap_or("terminated");
            return Some(format!("{name}: {reason} (exit code {})", done.exit_code));
        }
    }
    // Not scheduled: the scheduler says why.
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .map(|c| {
            format!(
                "{name}: {}",
                c.message
                    .as_deref()
                    .or(c.reason.as_deref())
                    .unwrap_or("not scheduled")
            )
        })
}

/// A LoadBalancer Service and what MetalLB gave it (see [`Cluster::allocations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// Its ingress IPs.
    pub ips: Vec<String>,
    /// The pool its IPs came from (empty when not annotated).
    pub pool: String,
    /// The node announcing it in Layer 2 (empty when none).
    pub node: String,
}

/// What the speakers advertise over BGP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BgpAdvertising {
    /// Services advertised by at least one node.
    pub services: usize,
    /// Nodes advertising at least one Service.
    pub nodes: usize,
}

/// 32 random bytes from the kernel, hex-encoded.
fn random_key() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What ownership needs of a listed or read object (None without a name).
fn existing(api_version: &str, kind: &str, item: &DynamicObject) -> Option<Existing> {
    Some(Existing {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: item.metadata.namespace.clone(),
        name: item.metadata.name.clone()?,
        labels: item.metadata.labels.clone().unwrap_or_default(),
        annotations: item.metadata.annotations.clone().unwrap_or_default(),
    })
}

/// A listed or read object, whole (None without a name).
fn live(api_version: &str, kind: &str, item: &DynamicObject) -> Option<Live> {
    Live::new(api_version, kind, serde_json::to_value(item).ok()?)
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rbac_denials_ask_for_trust() {
        let denied = r#"namespaces is forbidden: User "system:serviceaccount:lab:metallb" cannot list resource "namespaces" in API group "" at the cluster scope"#;
        assert!(is_rbac_denial(denied));
        let terminating = "ipaddresspools.metallb.io \"x\" is forbidden: unable to create new content in namespace ns because it is being terminated";
        assert!(!is_rbac_denial(terminating));
        let status = |code: u16, message: &str| {
            kube::Error::Api(
                kube::core::Status::failure(message, "Forbidden")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(matches!(
            classify("x", status(403, denied)),
            K8sError::Forbidden(_)
        ));
        assert!(matches!(
            classify("x", status(403, terminating)),
            K8sError::Refused(_)
        ));
        assert!(matches!(
            classify("x", status(422, "spec.addresses: Invalid value")),
            K8sError::Refused(_)
        ));
        assert!(matches!(
            classify("x", status(500, "etcdserver: request timed out")),
            K8sError::Transient(_)
        ));
    }

    #[test]
    fn a_pod_says_why_it_does_not_run() {
        let pod = |status: serde_json::Value| -> Pod {
            serde_json::from_value(
                serde_json::json!({"metadata": {"name": "speaker-x"}, "status": status}),
            )
            .unwrap()
        };
        let never_pull = pod(serde_json::json!({"containerStatuses": [{
            "name": "speaker", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "image \"x:1\" is not present"}},
        }]}));
        assert_eq!(
            pod_problem(&never_pull).as_deref(),
            Some("speaker-x: ErrImageNeverPull: image \"x:1\" is not present")
        );
        let creating = pod(serde_json::json!({"containerStatuses": [{
            "name": "speaker", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }]}));
        assert_eq!(pod_problem(&creating), None);
        let unscheduled = pod(serde_json::json!({"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available",
        }]}));
        assert_eq!(
            pod_problem(&unscheduled).as_deref(),
            Some("speaker-x: 0/3 nodes are available")
        );
    }
}
