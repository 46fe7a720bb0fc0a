//! The API side of a reconcile pass: ServiceL2Status and ServiceBGPStatus objects,
//! `nodeAssigned` and `announceFailed` events, and the announced-address metric. They run in a task of their own,
//! fed with the latest pass's decisions, so elections and the announcement table never wait on
//! the API server (a slow write must not delay a failover).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use metallb_api::{ServiceBGPStatus, ServiceL2Status};
use metallb_core::l2::election::Outcome;
use tokio::sync::watch;

use crate::adapters::status;
use crate::bgp_plan::{Advertised, ServiceKey};
use crate::metrics::{ANNOUNCED, Metrics};
use crate::reconcile::Decision;

/// How long after a failed API write the effects are tried again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// One reconcile pass's outcome, as the effects task needs it.
#[derive(Debug, Clone, Default)]
pub struct PassOutcome {
    /// Every Layer 2 decision of the pass, Services that cannot be announced included.
    pub decisions: Vec<Decision>,
    /// Services that cannot be announced here, with the interfaces they asked for.
    pub failed: BTreeMap<String, Vec<String>>,
    /// Services this node advertises with BGP.
    pub bgp: BTreeMap<ServiceKey, Advertised>,
}

/// Who the effects are written as.
#[derive(Debug, Clone)]
pub struct EffectsSettings {
    /// This node's name.
    pub node: String,
    /// The MetalLB namespace (where the status objects live).
    pub namespace: String,
    /// Metrics.
    pub metrics: Metrics,
}

/// The watch caches of the status objects.
#[derive(Clone)]
pub struct StatusCaches {
    /// ServiceL2Status objects of the MetalLB namespace.
    pub l2: Store<ServiceL2Status>,
    /// ServiceBGPStatus objects of the MetalLB namespace.
    pub bgp: Store<ServiceBGPStatus>,
}

/// Starts the effects task; send each pass's outcome to the returned sender. The task always
/// works on the newest outcome (intermediate ones are skipped) and stops when the sender goes.
pub fn spawn(
    client: Client,
    settings: EffectsSettings,
    caches: StatusCaches,
) -> watch::Sender<Arc<PassOutcome>> {
    let (tx, rx) = watch::channel(Arc::new(PassOutcome::default()));
    tokio::spawn(work(client, settings, caches, rx));
    tx
}

/// What the effects task remembers between passes.
#[derive(Default)]
struct Memory {
    announced: BTreeSet<(String, &'static str)>,
    failed: BTreeMap<String, Vec<String>>,
    created_l2: BTreeMap<String, Instant>,
    created_bgp: BTreeMap<String, Instant>,
}

async fn work(
    client: Client,
    settings: EffectsSettings,
    caches: StatusCaches,
    mut outcomes: watch::Receiver<Arc<PassOutcome>>,
) {
    let recorder = Recorder::new(client.clone(), Reporter::from("metallb-speaker"));
    let mut memory = Memory::default();
    let mut retry = false;
    loop {
        if retry {
            tokio::select! {
                changed = outcomes.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(RETRY_AFTER) => {}
            }
        } else if outcomes.changed().await.is_err() {
            break;
        }
        let outcome = outcomes.borrow_and_update().clone();
        report_failures(&outcome, &memory.failed, &recorder).await;
        memory.failed = outcome.failed.clone();
        let announced = announced(&outcome);
        publish_announced(&announced, &settings, &recorder, &memory.announced).await;
        memory.announced = announced.iter().map(|a| (a.key(), a.protocol)).collect();
        retry = !sync_statuses(&client, &settings, &outcome, &caches, &mut memory).await;
    }
}

/// A Service this node announces, with one protocol.
struct Announcement<'a> {
    namespace: &'a str,
    name: &'a str,
    ips: Vec<IpAddr>,
    protocol: &'static str,
}

impl Announcement<'_> {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Every announcement of the pass: Layer 2 winners that can announce, and BGP advertisements.
fn announced(outcome: &PassOutcome) -> Vec<Announcement<'_>> {
    let layer2 = outcome
        .decisions
        .iter()
        .filter(|d| {
            matches!(d.outcome, Outcome::Announce { .. }) && !outcome.failed.contains_key(&d.key())
        })
        .map(|d| Announcement {
            namespace: &d.namespace,
            name: &d.name,
            ips: d.ips.clone(),
            protocol: "layer2",
        });
    let bgp = outcome
        .bgp
        .iter()
        .map(|((namespace, name), a)| Announcement {
            namespace,
            name,
            ips: a.ips.iter().copied().collect(),
            protocol: "bgp",
        });
    layer2.chain(bgp).collect()
}

/// A Warning `announceFailed` event for every Service that newly cannot be announced.
async fn report_failures(
    outcome: &PassOutcome,
    before: &BTreeMap<String, Vec<String>>,
    recorder: &Recorder,
) {
    for decision in &outcome.decisions {
        let key = decision.key();
        let Some(names) = outcome.failed.get(&key) else {
            continue;
        };
        if before.contains_key(&key) {
            continue;
        }
        tracing::warn!(service = %key, interfaces = ?names, "cannot announce: none of the interfaces exists here");
        let event = Event {
            type_: EventType::Warning,
            reason: "announceFailed".into(),
            note: Some(format!(
                "none of the interfaces {names:?} of its L2Advertisements can announce on this node"
            )),
            action: "Announce".into(),
            secondary: None,
        };
        let reference = Service::object_ref_from_key(&decision.namespace, &decision.name);
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::debug!(service = %key, "cannot record the announceFailed event: {err}");
        }
    }
}

/// The announced metric, and a `nodeAssigned` event for every newly announced Service and
/// protocol.
async fn publish_announced(
    announced: &[Announcement<'_>],
    settings: &EffectsSettings,
    recorder: &Recorder,
    before: &BTreeSet<(String, &'static str)>,
) {
    settings.metrics.clear(ANNOUNCED);
    for announcement in announced {
        let key = announcement.key();
        for ip in &announcement.ips {
            let ip = ip.to_string();
            settings.metrics.set(
                ANNOUNCED,
                &[
                    ("ip", &ip),
                    ("node", &settings.node),
                    ("protocol", announcement.protocol),
                    ("service", &key),
                ],
                1.0,
            );
        }
        if before.contains(&(key.clone(), announcement.protocol)) {
            continue;
        }
        let reference = Service::object_ref_from_key(announcement.namespace, announcement.name);
        let event = Event {
            type_: EventType::Normal,
            reason: "nodeAssigned".into(),
            note: Some(format!(
                "announcing from node \"{}\" with protocol \"{}\"",
                settings.node, announcement.protocol
            )),
            action: "Announce".into(),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::debug!(service = %key, "cannot record the nodeAssigned event: {err}");
        }
    }
}

/// Writes the ServiceL2Status and ServiceBGPStatus objects; false after an API error (the
/// task tries again).
async fn sync_statuses(
    client: &Client,
    settings: &EffectsSettings,
    outcome: &PassOutcome,
    caches: &StatusCaches,
    memory: &mut Memory,
) -> bool {
    let node = settings.node.as_str();
    let l2: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| !outcome.failed.contains_key(&d.key()))
        .filter_map(|d| match &d.outcome {
            Outcome::Announce { interfaces } => {
                Some(status::l2(node, &d.namespace, &d.name, interfaces.as_ref()))
            }
            _ => None,
        })
        .collect();
    let bgp: Vec<_> = outcome
        .bgp
        .iter()
        .map(|((namespace, name), a)| status::bgp(node, namespace, name, &a.peers))
        .collect();
    let l2_result = status::sync(
        client,
        &settings.namespace,
        node,
        &l2,
        &caches.l2.state(),
        &mut memory.created_l2,
    )
    .await;
    let bgp_result = status::sync(
        client,
        &settings.namespace,
        node,
        &bgp,
        &caches.bgp.state(),
        &mut memory.created_bgp,
    )
    .await;
    let mut ok = true;
    for (what, result) in [
        ("ServiceL2Status", l2_result),
        ("ServiceBGPStatus", bgp_result),
    ] {
        if let Err(err) = result {
            tracing::warn!("{what}: {err:#}");
            ok = false;
        }
    }
    ok
}

/// A Service reference from its namespace and name.
trait ObjectRefFromKey {
    fn object_ref_from_key(
        namespace: &str,
        name: &str,
    ) -> k8s_openapi::api::core::v1::ObjectReference;
}

impl ObjectRefFromKey for Service {
    fn object_ref_from_key(
        namespace: &str,
        name: &str,
    ) -> k8s_openapi::api::core::v1::ObjectReference {
        k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some(Service::api_version(&()).into_owned()),
            kind: Some(Service::kind(&()).into_owned()),
            namespace: Some(namespace.to_string()),
            name: Some(name.to_string()),
            ..Default::default()
        }
    }
}
