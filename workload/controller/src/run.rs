//! The controller's I/O: reflectors over Services, IPAddressPools and Namespaces; one allocation
//! pass per batch of changes; status writes only for Services whose addresses changed.

use std::collections::HashMap;
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
use crate::reconcile::{Change, ServiceEvent, pass_with_events};
use crate::secret::ensure_memberlist_secret;

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

/// Starts a reflector over `api` in the background; every change sends on `trigger`.
pub fn spawn_reflector<K>(api: Api<K>, trigger: mpsc::Sender<()>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    spawn_reflector_with(api, watcher::Config::default(), trigger)
}

/// [`spawn_reflector`] with a watch configuration (label or field selectors).
pub fn spawn_reflector_with<K>(
    api: Api<K>,
    config: watcher::Config,
    trigger: mpsc::Sender<()>,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    spawn_trimmed_reflector(api, config, trigger, |_| {})
}

/// [`spawn_reflector_with`] that also applies `trim` to every object before caching it.
pub fn spawn_trimmed_reflector<K>(
    api: Api<K>,
    config: watcher::Config,
    trigger: mpsc::Sender<()>,
    trim: fn(&mut K),
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
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
                trim(object);
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

/// Runs the controller until the process is stopped.
pub async fn run(client: Client, settings: Settings) -> Result<()> {
    let (trigger, mut triggered) = mpsc::channel::<()>(1);
    let services = spawn_trimmed_reflector(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
        trigger.clone(),
        convert::slim,
    );
    let pools = spawn_reflector(
        Api::<IPAddressPool>::namespaced(client.clone(), &settings.namespace),
        trigger.clone(),
    );
    let namespaces = spawn_reflector(Api::<Namespace>::all(client.clone()), trigger.clone());
    let advertisements = spawn_reflector(
        Api::<L2Advertisement>::namespaced(client.clone(), &settings.namespace),
        trigger.clone(),
    );
    for (what, ready) in [
        ("services", services.wait_until_ready().await.is_ok()),
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
    tracing::info!("caches synced; serving");
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
    let mut recorded: HashMap<(String, String), (&'static str, String)> = HashMap::new();
    let mut allocator = Allocator::new();
    let mut config_state = crate::config_state::Reporter::default();
    loop {
        // Let a burst of events settle into one pass.
        tokio::time::sleep(Duration::from_millis(20)).await;
        while triggered.try_recv().is_ok() {}
        let pool_objects: Vec<IPAddressPool> =
            pools.state().iter().map(|p| (**p).clone()).collect();
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
            allocator
                .try_set_pools(valid)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        if let Err(err) = &verdict {
            tracing::warn!("invalid configuration, keeping the previous one: {err}");
        }
        if let Err(err) = config_state
            .report(&client, &reporter, &settings.namespace, verdict)
            .await
        {
            tracing::warn!("cannot report the configuration state: {err:#}");
        }
        let (changes, events) = pass_with_events(
            &mut allocator,
            &services.state(),
            settings.lb_class.as_deref(),
        );
        for event in events {
            record(&client, &reporter, &mut recorded, event).await;
        }
        for change in changes {
            if let Err(err) = write(&client, &change).await {
                tracing::warn!(
                    "cannot update {}/{}: {err:#}",
                    change.namespace,
                    change.name
                );
                let _ = trigger.try_send(());
            } else {
                tracing::info!(service = %format!("{}/{}", change.namespace, change.name), ips = ?change.ips, "{}", change.reason);
            }
        }
        for object in &pool_objects {
            if let Err(err) =
                write_pool_status(&client, &settings.namespace, object, &allocator).await
            {
                tracing::warn!(
                    "cannot update the status of pool {:?}: {err:#}",
                    object.metadata.name
                );
            }
        }
        for object in &pool_objects {
            let name = object.metadata.name.as_deref().unwrap_or_default();
            if let Some(counters) = allocator.counters(name) {
                for (metric, value) in counters.metrics() {
                    settings
                        .metrics
                        .set(metric, &[("pool", name)], value as f64);
                }
            }
        }
        settings.readiness.set_ready();
        if triggered.recv().await.is_none() {
            return Ok(());
        }
    }
}

/// Records a Service event unless the same one was the last recorded for that Service.
async fn record(
    client: &Client,
    reporter: &crate::events::Reporter,
    recorded: &mut HashMap<(String, String), (&'static str, String)>,
    event: ServiceEvent,
) {
    let key = (event.namespace.clone(), event.name.clone());
    let what = (event.reason, event.note.clone());
    if recorded.get(&key) == Some(&what) {
        return;
    }
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
    let published = crate::events::publish(client, reporter, &reference, &note).await;
    match published {
        Ok(()) => {
            recorded.insert(key, what);
        }
        Err(err) => tracing::debug!("cannot record an event for {}/{}: {err}", key.0, key.1),
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
