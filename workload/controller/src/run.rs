//! The controller's I/O: a watch over Services feeding the [`Reconciler`], reflectors over
//! IPAddressPools, Namespaces and L2Advertisements; one pass per settled batch of changes;
//! status writes only for Services whose addresses changed.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference, Service};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use metallb_api::annotations::{IP_ALLOCATED_FROM_POOL, PREFIX};
use metallb_api::{IPAddressPool, L2Advertisement};
use metallb_core::allocator::Allocator;
use serde_json::json;
use tokio::sync::mpsc;

use crate::convert;
use crate::metrics::Metrics;
use crate::reconcile::{Change, Reconciler, ServiceEvent};
use crate::secret::ensure_memberlist_secret;
use tokio::time::Instant;

/// Settings of a controller run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The MetalLB namespace (where pools live).
    pub namespace: String,
    /// Only Services of this loadBalancerClass (None: only Services without a class).
    pub lb_class: Option<String>,
    /// Set once the caches are synced and the first pass ran.
    pub readiness: crate::health::Readiness,
    /// Allocator gauges per pool.
    pub metrics: Metrics,
    /// The memberlist Secret to create when absent, and the Deployment that owns it.
    pub memberlist_secret: Option<(String, Option<String>)>,
    /// This instance's name in the events it writes (the pod, else the host).
    pub instance: String,
}

/// kubectl's copy of the last applied object, kept in an annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How long a burst of changes may settle before a pass.
const SETTLE: Duration = Duration::from_millis(20);

/// The shortest time between two writes of the pools' status counters: during a burst of
/// Services they change with every pass.
const POOL_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How many writes (status updates, events) a pass keeps in flight.
const IN_FLIGHT: usize = 4;

/// How long after a failed write the Service is looked at again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A kind that can be watched and cached.
pub trait Watched:
    kube::Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// Starts a reflector over `api` in the background; every change sends on `trigger`.
pub fn spawn_reflector<K: Watched>(api: Api<K>, trigger: mpsc::Sender<()>) -> Store<K> {
    spawn_reflector_with(api, watcher::Config::default(), trigger)
}

/// [`spawn_reflector`] with a watch configuration (label or field selectors).
pub fn spawn_reflector_with<K: Watched>(
    api: Api<K>,
    config: watcher::Config,
    trigger: mpsc::Sender<()>,
) -> Store<K> {
    let (reader, writer) = reflector::store();
    // managedFields and kubectl's last-applied copy are never read: dropping them roughly
    // halves the cache.
    let stream = reflector::reflector(
        writer,
        // Errors (an API server away, a CRD not installed yet) are retried with backoff.
        watcher(api, config)
            .default_backoff()
            .modify(move |object| {
                object.managed_fields_mut().clear();
                object.annotations_mut().remove(LAST_APPLIED);
            }),
    );
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => {
                    let _ = trigger.try_send(());
                }
                Err(err) => tracing::warn!("watch error (retrying): {err}"),
            }
        }
    });
    reader
}

/// Feeds one Service watch event to the reconciler; returns whether the Services are listed
/// completely (a pass may run).
fn apply(reconciler: &mut Reconciler, event: watcher::Event<Service>) -> bool {
    match event {
        watcher::Event::Apply(service) | watcher::Event::InitApply(service) => {
            reconciler.service_applied(&service)
        }
        watcher::Event::Delete(service) => reconciler.service_deleted(&service),
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
    // No pass before the Services are listed completely: Services holding addresses re-claim
    // them before any pending Service is served (restart safety).
    let mut listed = false;
    let mut settle_until: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    let mut pools_written_at: Option<Instant> = None;
    let mut pools_due: Option<Instant> = None;
    loop {
        let wake = [settle_until, retry_at, pools_due]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            event = services.next() => {
                match event {
                    Some(Ok(event)) => {
                        if apply(&mut reconciler, event) && !listed {
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
        retry_at = None;
        if !listed {
            continue;
        }
        let now = Instant::now();
        let pool_status_due = pools_written_at.is_none_or(|t| now >= t + POOL_STATUS_INTERVAL);
        if pool_status_due {
            pools_written_at = Some(now);
            pools_due = None;
        } else {
            pools_due = pools_written_at.map(|t| t + POOL_STATUS_INTERVAL);
        }
        if pass(
            &client,
            &settings,
            &reporter,
            &mut reconciler,
            &mut config_state,
            &pools,
            &namespaces,
            &advertisements,
            pool_status_due,
        )
        .await
        .is_err()
        {
            retry_at = Some(Instant::now() + RETRY_AFTER);
        }
        settings.readiness.set_ready();
    }
}

/// One pass: installs the pools (a bad set keeps the previous configuration in force), runs the
/// reconciler and writes what it decided, the pools' status counters only when
/// `pool_status_due`. Errs when a write failed (it is retried).
#[allow(clippy::too_many_arguments)]
async fn pass(
    client: &Client,
    settings: &Settings,
    reporter: &crate::events::Reporter,
    reconciler: &mut Reconciler,
    config_state: &mut crate::config_state::Reporter,
    pools: &Store<IPAddressPool>,
    namespaces: &Store<Namespace>,
    advertisements: &Store<L2Advertisement>,
    pool_status_due: bool,
) -> Result<(), ()> {
    let mut outcome = Ok(());
    let pool_objects: Vec<IPAddressPool> = pools.state().iter().map(|p| (**p).clone()).collect();
    let namespace_objects: Vec<Namespace> =
        namespaces.state().iter().map(|n| (**n).clone()).collect();
    let ad_objects: Vec<L2Advertisement> = advertisements
        .state()
        .iter()
        .map(|a| (**a).clone())
        .collect();
    // Cross-object validation: a bad set keeps the previous configuration in force.
    let verdict = convert::pools(&pool_objects, &namespace_objects).and_then(|valid| {
        convert::check_advertisements(&ad_objects, &pool_objects)?;
        reconciler.set_pools(valid).map_err(|e| e.to_string())
    });
    if let Err(err) = &verdict {
        tracing::warn!("invalid configuration, keeping the previous one: {err}");
    }
    if let Err(err) = config_state
        .report(client, reporter, &settings.namespace, verdict)
        .await
    {
        tracing::warn!("cannot report the configuration state: {err:#}");
        outcome = Err(());
    }
    let (changes, events) = reconciler.pass();
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
    let written = in_flight(changes, async |change| write(client, change).await).await;
    for (change, result) in written {
        match result {
            Ok(()) => tracing::info!(
                service = %format!("{}/{}", change.namespace, change.name),
                ips = ?change.ips,
                "{}",
                change.reason
            ),
            Err(err) => {
                tracing::warn!(
                    "cannot update {}/{}: {err:#}",
                    change.namespace,
                    change.name
                );
                reconciler.retry(&change.namespace, &change.name);
                outcome = Err(());
            }
        }
    }
    let allocator = reconciler.allocator();
    for object in &pool_objects {
        if pool_status_due
            && let Err(err) =
                write_pool_status(client, &settings.namespace, object, allocator).await
        {
            tracing::warn!(
                "cannot update the status of pool {:?}: {err:#}",
                object.metadata.name
            );
            outcome = Err(());
        }
        let name = object.metadata.name.as_deref().unwrap_or_default();
        if let Some(counters) = allocator.counters(name) {
            for (metric, value) in counters.metrics() {
                settings
                    .metrics
                    .set(metric, &[("pool", name)], value as f64);
            }
        }
    }
    outcome
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
