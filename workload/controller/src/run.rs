//! The controller's I/O: a watch over Services feeding the [`Reconciler`], reflectors over
//! IPAddressPools, Namespaces and L2Advertisements; one pass per settled batch of changes;
//! status writes only for Services whose addresses changed. A failed write is retried with
//! exponential backoff per Service (per pool for pool status, once for the
//! ConfigurationState): 1 s doubling to 5 min, reset by a success or a change of the Service.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference, Service};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, watcher};
use metallb_api::annotations::{IP_ALLOCATED_FROM_POOL, PREFIX};
use metallb_api::{IPAddressPool, L2Advertisement};
use metallb_core::allocator::Allocator;
use metallb_runtime::health::Readiness;
use metallb_runtime::metrics::{Family, Metrics};
use metallb_runtime::reflector::spawn_reflector;
use serde_json::json;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::config_state::Verdict;
use crate::convert;
use crate::reconcile::{Change, Reconciler, ServiceEvent};
use crate::secret::ensure_memberlist_secret;
use metallb_core::config::ConfigError;
use tokio::time::Instant;

/// Settings of a controller run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The MetalLB namespace (where pools live).
    pub namespace: String,
    /// Only Services of this loadBalancerClass (None: only Services without a class).
    pub lb_class: Option<String>,
    /// Set once the caches are synced and the first pass ran.
    pub readiness: Readiness,
    /// Allocator gauges per pool.
    pub metrics: Metrics,
    /// The memberlist Secret to create when absent, and the Deployment that owns it.
    pub memberlist_secret: Option<(String, Option<String>)>,
    /// This instance's name in the events it writes (the pod, else the host).
    pub instance: String,
}

/// How long a burst of changes may settle before a pass.
const SETTLE: Duration = Duration::from_millis(20);

/// The shortest time between two writes of the pools' status counters: during a burst of
/// Services they change with every pass.
const POOL_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How many writes (status updates, events) a pass keeps in flight.
const IN_FLIGHT: usize = 4;

/// The first retry after a failed write.
const RETRY_FIRST: Duration = Duration::from_secs(1);

/// The longest time between retries of a write that keeps failing.
const RETRY_CAP: Duration = Duration::from_secs(300);

/// Upstream's gauge: 1 once a configuration was loaded.
pub const CONFIG_LOADED: Family = (
    "metallb_k8s_client_config_loaded_bool",
    "gauge",
    "1 if the MetalLB configuration was successfully loaded at least once.",
);

/// Upstream's gauge: 1 while the latest configuration read is refused.
pub const CONFIG_STALE: Family = (
    "metallb_k8s_client_config_stale_bool",
    "gauge",
    "1 if running on a stale configuration, because the latest config failed to load.",
);

/// Upstream's counter of object updates processed (Service watch events).
pub const UPDATES: Family = (
    "metallb_k8s_client_updates_total",
    "counter",
    "Number of k8s object updates that have been processed.",
);

/// Upstream's counter of failed updates (writes that failed).
pub const UPDATE_ERRORS: Family = (
    "metallb_k8s_client_update_errors_total",
    "counter",
    "Number of k8s object updates that failed for some reason.",
);

/// Services of this controller's class that asked for an address and hold none because the
/// allocation failed (pool exhausted, an address that cannot be had, no pool selects them).
pub const WITHOUT_ADDRESS: Family = (
    "metallb_allocator_services_without_address",
    "gauge",
    "Number of LoadBalancer Services of this controller's class left without an address by a failed allocation.",
);

/// Allocation passes run.
pub const PASSES: Family = (
    "metallb_controller_passes_total",
    "counter",
    "Number of allocation passes run (each looks at the Services that changed).",
);

/// Retry times of failed writes.
struct Retries {
    /// Service status writes, by `namespace/name`.
    services: Backoff<String>,
    /// Pool status writes, by pool name.
    pools: Backoff<String>,
}

impl Retries {
    fn new() -> Self {
        Self {
            services: Backoff::new(RETRY_FIRST, RETRY_CAP),
            pools: Backoff::new(RETRY_FIRST, RETRY_CAP),
        }
    }
}

/// Feeds one Service watch event to the reconciler; returns whether the Services are listed
/// completely (a pass may run). A Service that changed starts its write backoff over.
fn apply(
    reconciler: &mut Reconciler,
    retries: &mut Retries,
    event: watcher::Event<Service>,
) -> bool {
    match event {
        watcher::Event::Apply(service) | watcher::Event::InitApply(service) => {
            if reconciler.service_applied(&service) {
                retries.services.reset(&convert::key(&service));
            }
        }
        watcher::Event::Delete(service) => {
            reconciler.service_deleted(&service);
            retries.services.reset(&convert::key(&service));
        }
        watcher::Event::Init => reconciler.relist_started(),
        watcher::Event::InitDone => {
            reconciler.relist_done();
            return true;
        }
    }
    false
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Runs the controller until the process is stopped.
pub async fn run(client: Client, settings: Settings) -> Result<()> {
    let (trigger, mut triggered) = mpsc::channel::<()>(1);
    let pools = spawn_reflector(
        Api::<IPAddressPool>::namespaced(client.clone(), &settings.namespace),
        trigger.clone(),
    );
    let namespaces = spawn_reflector(Api::<Namespace>::all(client.clone()), trigger.clone());
    let advertisements = spawn_reflector(
        Api::<L2Advertisement>::namespaced(client.clone(), &settings.namespace),
        trigger.clone(),
    );
    // Services are not cached as objects: each is reduced to what allocation reads as it
    // arrives (see `Reconciler`).
    let services = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let mut services = std::pin::pin!(services);
    for (what, ready) in [
        ("pools", pools.wait_until_ready().await.is_ok()),
        ("namespaces", namespaces.wait_until_ready().await.is_ok()),
        (
            "l2advertisements",
            advertisements.wait_until_ready().await.is_ok(),
        ),
    ] {
        if !ready {
            anyhow::bail!("the {what} watch ended before it was ready");
        }
    }
    if let Some((name, deployment)) = &settings.memberlist_secret
        && let Err(err) =
            ensure_memberlist_secret(&client, &settings.namespace, name, deployment.as_deref())
                .await
    {
        tracing::warn!("cannot create the memberlist Secret (speakers run unencrypted): {err:#}");
    }
    let reporter = crate::events::Reporter {
        controller: "metallb-controller".into(),
        instance: settings.instance.clone(),
    };
    let mut reconciler = Reconciler::new(settings.lb_class.clone());
    let mut config_state = crate::config_state::Reporter::default();
    let mut retries = Retries::new();
    settings.metrics.set(CONFIG_LOADED.0, &[], 0.0);
    settings.metrics.set(CONFIG_STALE.0, &[], 0.0);
    // No pass before the Services are listed completely: Services holding addresses re-claim
    // them before any pending Service is served (restart safety).
    let mut listed = false;
    let mut settle_until: Option<Instant> = None;
    let mut pools_written_at: Option<Instant> = None;
    let mut pools_due: Option<Instant> = None;
    loop {
        let wake = [
            settle_until,
            retries.services.next_due(),
            retries.pools.next_due(),
            config_state.next_retry(),
            pools_due,
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            event = services.next() => {
                match event {
                    Some(Ok(event)) => {
                        settings.metrics.inc(UPDATES.0, &[]);
                        if apply(&mut reconciler, &mut retries, event) && !listed {
                            listed = true;
                            tracing::info!("caches synced; serving");
                        }
                    }
                    Some(Err(err)) => tracing::warn!("Service watch error (retrying): {err}"),
                    None => anyhow::bail!("the Service watch ended"),
                }
                settle_until.get_or_insert_with(|| Instant::now() + SETTLE);
                continue;
            }
            got = triggered.recv() => {
                if got.is_none() {
                    return Ok(());
                }
                settle_until.get_or_insert_with(|| Instant::now() + SETTLE);
                continue;
            }
            () = sleep_until(wake) => {}
        }
        settle_until = None;
        let now = Instant::now();
        // Writes whose backoff is over: the Services are looked at again in this pass; the
        // pools and the ConfigurationState are written again by it.
        for key in retries.services.due(now) {
            if let Some((namespace, name)) = key.split_once('/') {
                reconciler.retry(namespace, name);
            }
        }
        retries.pools.due(now);
        config_state.take_due(now);
        if !listed {
            continue;
        }
        let pool_status_due = pools_written_at.is_none_or(|t| now >= t + POOL_STATUS_INTERVAL);
        if pool_status_due {
            pools_written_at = Some(now);
            pools_due = None;
        } else {
            pools_due = pools_written_at.map(|t| t + POOL_STATUS_INTERVAL);
        }
        pass(
            &client,
            &settings,
            &reporter,
            &mut reconciler,
            &mut config_state,
            &mut retries,
            &Stores {
                pools: &pools,
                namespaces: &namespaces,
                advertisements: &advertisements,
            },
            pool_status_due,
        )
        .await;
        settings.readiness.set_ready();
    }
}

/// The caches a pass reads the configuration from.
struct Stores<'a> {
    pools: &'a Store<IPAddressPool>,
    namespaces: &'a Store<Namespace>,
    advertisements: &'a Store<L2Advertisement>,
}

/// Installs the configuration read from the caches when it is valid; returns the verdict (a
/// bad set keeps the configuration in force, or none before the first valid one).
fn configure(reconciler: &mut Reconciler, stores: &Stores<'_>) -> (Verdict, Vec<IPAddressPool>) {
    let pool_objects: Vec<IPAddressPool> =
        stores.pools.state().iter().map(|p| (**p).clone()).collect();
    let namespace_objects: Vec<Namespace> = stores
        .namespaces
        .state()
        .iter()
        .map(|n| (**n).clone())
        .collect();
    let ad_objects: Vec<L2Advertisement> = stores
        .advertisements
        .state()
        .iter()
        .map(|a| (**a).clone())
        .collect();
    let result =
        convert::configuration(&pool_objects, &namespace_objects, &ad_objects).and_then(|valid| {
            let empty = valid.is_empty();
            reconciler.set_pools(valid).map_err(ConfigError::from)?;
            if empty && !reconciler.is_configured() {
                tracing::info!(
                    "no IPAddressPool yet: no Service is changed until a configuration is loaded"
                );
            }
            Ok(())
        });
    let verdict = Verdict {
        error: result.err(),
        in_force: reconciler.is_configured(),
    };
    if let Some(summary) = verdict.summary() {
        tracing::warn!("invalid configuration: {summary}");
    }
    (verdict, pool_objects)
}

/// One pass: installs the pools (a bad set keeps the previous configuration in force, and
/// before the first valid one nothing is changed), runs the reconciler and writes what it
/// decided, the pools' status counters only when `pool_status_due`. Failed writes are retried
/// after their backoff; writes still backing off are left for then.
#[allow(clippy::too_many_arguments)]
async fn pass(
    client: &Client,
    settings: &Settings,
    reporter: &crate::events::Reporter,
    reconciler: &mut Reconciler,
    config_state: &mut crate::config_state::Reporter,
    retries: &mut Retries,
    stores: &Stores<'_>,
    pool_status_due: bool,
) {
    settings.metrics.inc(PASSES.0, &[]);
    let (verdict, pool_objects) = configure(reconciler, stores);
    let metric = |b: bool| if b { 1.0 } else { 0.0 };
    settings
        .metrics
        .set(CONFIG_LOADED.0, &[], metric(verdict.in_force));
    settings
        .metrics
        .set(CONFIG_STALE.0, &[], metric(verdict.error.is_some()));
    let now = Instant::now();
    if let Err(err) = config_state
        .report(client, reporter, &settings.namespace, verdict, now)
        .await
    {
        settings.metrics.inc(UPDATE_ERRORS.0, &[]);
        tracing::warn!("cannot report the configuration state: {err:#}");
    }
    let (changes, events) = reconciler.pass();
    settings
        .metrics
        .set(WITHOUT_ADDRESS.0, &[], reconciler.without_address() as f64);
    // Writes go out concurrently: one at a time, a burst of Services would wait on the round
    // trips rather than on the API server.
    let news: Vec<ServiceEvent> = events
        .into_iter()
        .filter(|e| reconciler.is_news(e))
        .collect();
    let recorded = in_flight(news, async |event| record(client, reporter, event).await).await;
    for (event, ok) in recorded {
        if ok {
            reconciler.recorded(&event);
        }
    }
    // A Service whose last write failed waits for its backoff (it is looked at again then).
    let (changes, held_back): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|c| {
        !retries
            .services
            .is_waiting(&format!("{}/{}", c.namespace, c.name), now)
    });
    if !held_back.is_empty() {
        tracing::debug!(
            "{} status writes wait for their retry time",
            held_back.len()
        );
    }
    let written = in_flight(changes, async |change| write(client, change).await).await;
    let now = Instant::now();
    for (change, result) in written {
        let key = format!("{}/{}", change.namespace, change.name);
        match result {
            Ok(()) => {
                retries.services.reset(&key);
                tracing::info!(
                    service = %key,
                    ips = ?change.ips,
                    "{}",
                    change.reason
                );
            }
            Err(err) => {
                settings.metrics.inc(UPDATE_ERRORS.0, &[]);
                let at = retries.services.failed(key.clone(), now);
                tracing::warn!(
                    "cannot update {key} (attempt {}, retrying in {:?}): {err:#}",
                    retries.services.failures(&key),
                    at.saturating_duration_since(now)
                );
            }
        }
    }
    let allocator = reconciler.allocator();
    for object in &pool_objects {
        let name = object.metadata.name.as_deref().unwrap_or_default();
        if pool_status_due && !retries.pools.is_waiting(&name.to_string(), now) {
            match write_pool_status(client, &settings.namespace, object, allocator).await {
                Ok(()) => retries.pools.reset(&name.to_string()),
                Err(err) => {
                    settings.metrics.inc(UPDATE_ERRORS.0, &[]);
                    let at = retries.pools.failed(name.to_string(), now);
                    tracing::warn!(
                        "cannot update the status of pool {name} (retrying in {:?}): {err:#}",
                        at.saturating_duration_since(now)
                    );
                }
            }
        }
        if let Some(counters) = allocator.counters(name) {
            for (metric, value) in counters.metrics() {
                settings
                    .metrics
                    .set(metric, &[("pool", name)], value as f64);
            }
        }
    }
}

/// Runs `op` on every item, [`IN_FLIGHT`] at a time; returns each item with its result, in
/// completion order.
async fn in_flight<T, R>(items: Vec<T>, op: impl AsyncFn(&T) -> R) -> Vec<(T, R)> {
    let op = &op;
    futures::stream::iter(items)
        .map(|item| async move {
            let result = op(&item).await;
            (item, result)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

/// Records a Service event; returns whether it was written.
async fn record(client: &Client, reporter: &crate::events::Reporter, event: &ServiceEvent) -> bool {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Service".into()),
        namespace: Some(event.namespace.clone()),
        name: Some(event.name.clone()),
        ..Default::default()
    };
    let note = crate::events::Note {
        warning: event.warning,
        reason: event.reason,
        note: &event.note,
        action: "Allocate",
    };
    match crate::events::publish(client, reporter, &reference, &note).await {
        Ok(()) => true,
        Err(err) => {
            tracing::debug!(
                "cannot record an event for {}/{}: {err}",
                event.namespace,
                event.name
            );
            false
        }
    }
}

/// Writes a pool's counters to its status when they changed. Capacities beyond i64 (large IPv6
/// ranges) are reported as `i64::MAX`, as upstream does.
async fn write_pool_status(
    client: &Client,
    namespace: &str,
    object: &IPAddressPool,
    allocator: &Allocator,
) -> Result<()> {
    let Some(name) = object.metadata.name.as_deref() else {
        return Ok(());
    };
    let Some(c) = allocator.counters(name) else {
        return Ok(());
    };
    let clamp = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    let status = metallb_api::IPAddressPoolStatus {
        assigned_ipv4: clamp(c.v4_in_use),
        assigned_ipv6: clamp(c.v6_in_use),
        available_ipv4: clamp(c.v4_total.saturating_sub(c.v4_in_use)),
        available_ipv6: clamp(c.v6_total.saturating_sub(c.v6_in_use)),
    };
    if object.status.as_ref() == Some(&status) {
        return Ok(());
    }
    Api::<IPAddressPool>::namespaced(client.clone(), namespace)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .context("writing pool status")?;
    Ok(())
}

/// Writes the addresses and the pool annotation of one Service in a single status update (the
/// Service status strategy keeps metadata changes made through the status subresource).
async fn write(client: &Client, change: &Change) -> Result<()> {
    let api: Api<Service> = Api::namespaced(client.clone(), &change.namespace);
    let ingress: Vec<serde_json::Value> = change
        .ips
        .iter()
        .map(|ip| json!({"ip": ip.to_string()}))
        .collect();
    let annotation = format!("{PREFIX}{IP_ALLOCATED_FROM_POOL}");
    api.patch_status(
        &change.name,
        &PatchParams::default(),
        &Patch::Merge(json!({
            "metadata": {"annotations": {annotation: change.pool}},
            "status": {"loadBalancer": {"ingress": ingress}},
        })),
    )
    .await
    .context("writing status")?;
    Ok(())
}
