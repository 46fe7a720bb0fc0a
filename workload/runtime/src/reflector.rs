//! Cached watches: a reflector per kind, run in the background, that retries a failing watch
//! with kube's default backoff (an API server away, a CRD not installed yet), drops the parts
//! of each object nothing reads, and signals every change on a channel.

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

/// kubectl's copy of the last applied object, kept in an annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

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
