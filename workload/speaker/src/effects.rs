//! The API side of a reconcile pass: ServiceL2Status and ServiceBGPStatus objects, this
//! speaker's ConfigurationState, `nodeAssigned`, `announceFailed` and `ConfigurationError`
//! events, and the announced-address metric. They run in a task of their own, fed with the
//! latest pass's decisions, so elections and the announcement table never wait on the API
//! server (a slow write must not delay a failover). Failed writes are retried with an
//! exponential backoff (1 s doubling to 2 min), whatever happens meanwhile: a permanent
//! refusal (403, 422) costs one request every two minutes, not one per pass.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use metallb_api::{DUPLICATE_RESPONDER, ServiceBGPStatus, ServiceL2Status};
use metallb_core::l2::election::Outcome;
use tokio::sync::watch;

use crate::adapters::responder::{Duplicate, format_mac};
use crate::adapters::{config_state, status};
use crate::backoff::Backoff;
use crate::bgp_config::Problem;
use crate::plan::ServiceKey;
use crate::plan::bgp::Advertised;
use crate::plan::l2::{Decision, Unannounced};
use metallb_core::l2::Mac;
use metallb_runtime::metrics::{Family, Metrics};

/// Gauge: 1 per announced (service, ip) (labels `ip`, `node`, `protocol`, `service`).
pub const ANNOUNCED: &str = "metallb_speaker_announced";
/// Gauge: 1 per other hardware address seen answering for an announced address (labels `ip`,
/// `mac`).
pub const DUPLICATE_RESPONDERS: &str = "metallb_layer2_duplicate_responders";

/// The metric families this module records (gathered by [`crate::metrics`]).
pub const FAMILIES: &[Family] = &[
    (
        ANNOUNCED,
        "gauge",
        "Services being announced from this node",
    ),
    (
        DUPLICATE_RESPONDERS,
        "gauge",
        "Other hardware addresses seen answering for an announced IP",
    ),
];

/// The first delay before failed API writes are tried again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest delay between two tries.
const RETRY_MAX: Duration = Duration::from_secs(120);

/// One reconcile pass's outcome, as the effects task needs it.
#[derive(Debug, Clone, Default)]
pub struct PassOutcome {
    /// Every Layer 2 decision of the pass, Services that cannot be announced included.
    pub decisions: Vec<Decision>,
    /// Services whose addresses (all or some) cannot be announced here, and why.
    pub failed: BTreeMap<String, Unannounced>,
    /// Services this node advertises with BGP.
    pub bgp: BTreeMap<ServiceKey, Advertised>,
    /// Configuration problems: what this node refuses or ignores.
    pub problems: Vec<Problem>,
    /// Pools with ranges no node can announce in Layer 2, one line each.
    pub unreachable_pools: Vec<String>,
    /// Other hardware addresses answering for addresses this node announces.
    pub duplicates: BTreeMap<(IpAddr, Mac), Duplicate>,
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
    /// The speaker's pod, owner of its ConfigurationState (when it runs in a pod).
    pub owner: Option<OwnerReference>,
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
    failed: BTreeMap<String, Unannounced>,
    created_l2: BTreeMap<String, Instant>,
    created_bgp: BTreeMap<String, Instant>,
    /// Problems reported with an event (object uid and message).
    reported: BTreeSet<(String, String)>,
    /// The ConfigurationState written last.
    config_state: Option<config_state::Report>,
    /// Duplicate responders reported with an event.
    duplicates: BTreeSet<(IpAddr, Mac)>,
}

/// One kind of API write retried on failure: when its next try is due, and the backoff.
struct Retried {
    what: &'static str,
    backoff: Backoff,
    retry_at: Option<tokio::time::Instant>,
}

impl Retried {
    fn new(what: &'static str) -> Self {
        Retried {
            what,
            backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
            retry_at: None,
        }
    }

    /// Whether a write may go now (it is not waiting out a backoff).
    fn idle(&self) -> bool {
        self.retry_at.is_none()
    }

    fn done(&mut self, ok: bool) {
        if ok {
            self.backoff.succeeded();
            self.retry_at = None;
        } else {
            let delay = self.backoff.failed();
            tracing::info!("{} failed: trying again in {delay:?}", self.what);
            self.retry_at = Some(tokio::time::Instant::now() + delay);
        }
    }
}

async fn work(
    client: Client,
    settings: EffectsSettings,
    caches: StatusCaches,
    mut outcomes: watch::Receiver<Arc<PassOutcome>>,
) {
    let reporter = Reporter {
        controller: "metallb-speaker".into(),
        instance: Some(settings.node.clone()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let mut memory = Memory::default();
    // Each kind of write waits out its own backoff, so one refused write (a missing RBAC
    // rule) does not hold the others back.
    let mut statuses = Retried::new("service status writes");
    let mut state = Retried::new("the ConfigurationState write");
    loop {
        let (write_statuses, write_state) = tokio::select! {
            changed = outcomes.changed() => {
                if changed.is_err() {
                    break;
                }
                let outcome = outcomes.borrow_and_update().clone();
                // Events and metrics follow every pass; writes wait out their backoff.
                report_failures(&outcome, &memory.failed, &recorder).await;
                memory.failed = outcome.failed.clone();
                let announced = announced(&outcome);
                publish_announced(&announced, &settings, &recorder, &memory.announced).await;
                memory.announced = announced.iter().map(|a| (a.key(), a.protocol)).collect();
                report_problems(&outcome.problems, &settings.node, &recorder, &mut memory.reported)
                    .await;
                report_duplicates(&outcome, &settings, &recorder, &mut memory.duplicates).await;
                (statuses.idle(), state.idle())
            }
            _ = sleep_until(statuses.retry_at) => (true, false),
            _ = sleep_until(state.retry_at) => (false, true),
        };
        let outcome = outcomes.borrow().clone();
        if write_statuses {
            let ok = sync_statuses(&client, &settings, &outcome, &caches, &mut memory).await;
            statuses.done(ok);
        }
        if write_state {
            let ok = write_config_state(&client, &settings, &outcome, &mut memory).await;
            state.done(ok);
        }
    }
}

/// Waits until `deadline`, or forever without one.
pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A Warning `ConfigurationError` event on the object of every new problem.
async fn report_problems(
    problems: &[Problem],
    node: &str,
    recorder: &Recorder,
    reported: &mut BTreeSet<(String, String)>,
) {
    let mut now = BTreeSet::new();
    for problem in problems {
        let key = (
            problem.object.uid.clone().unwrap_or_default(),
            problem.message.clone(),
        );
        if !reported.contains(&key) {
            tracing::warn!(node, "configuration: {}", problem.message);
            let event = Event {
                type_: EventType::Warning,
                reason: "ConfigurationError".into(),
                note: Some(format!("{} (speaker on node {node})", problem.message)),
                action: "Validate".into(),
                secondary: None,
            };
            if let Err(err) = recorder.publish(&event, &problem.object).await {
                tracing::debug!("cannot record the ConfigurationError event: {err}");
            }
        }
        now.insert(key);
    }
    *reported = now;
}

/// What a duplicate responder means, for the event and the status condition.
fn duplicate_message(ip: IpAddr, mac: Mac, duplicate: &Duplicate) -> String {
    format!(
        "{ip} also answered by {} on {}: another host holds the address, a second speaker \
         announces it, or kube-proxy runs in IPVS mode without strictARP; clients may reach either",
        format_mac(mac),
        duplicate.interface
    )
}

/// The Service announcing `ip` here, among the pass's decisions.
fn holder(outcome: &PassOutcome, ip: IpAddr) -> Option<&Decision> {
    outcome
        .decisions
        .iter()
        .find(|d| matches!(d.outcome, Outcome::Announce { .. }) && d.ips.contains(&ip))
}

/// The duplicate-responder metric, and a Warning `DuplicateResponder` event on the Service for
/// every newly seen one.
async fn report_duplicates(
    outcome: &PassOutcome,
    settings: &EffectsSettings,
    recorder: &Recorder,
    reported: &mut BTreeSet<(IpAddr, Mac)>,
) {
    settings.metrics.clear(DUPLICATE_RESPONDERS);
    for ((ip, mac), duplicate) in &outcome.duplicates {
        let labels = [("ip", ip.to_string()), ("mac", format_mac(*mac))];
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        settings.metrics.set(DUPLICATE_RESPONDERS, &pairs, 1.0);
        if reported.contains(&(*ip, *mac)) {
            continue;
        }
        let Some(decision) = holder(outcome, *ip) else {
            continue;
        };
        let event = Event {
            type_: EventType::Warning,
            reason: "DuplicateResponder".into(),
            note: Some(format!(
                "{} (seen by the speaker on node {})",
                duplicate_message(*ip, *mac, duplicate),
                settings.node
            )),
            action: "Announce".into(),
            secondary: None,
        };
        let reference = Service::object_ref_from_key(&decision.namespace, &decision.name);
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::debug!("cannot record the DuplicateResponder event: {err}");
        }
    }
    *reported = outcome.duplicates.keys().copied().collect();
}

/// The `DuplicateResponder` conditions of a Service announced here: one per other hardware
/// address answering for one of its addresses.
fn duplicate_conditions(outcome: &PassOutcome, decision: &Decision) -> Vec<Condition> {
    outcome
        .duplicates
        .iter()
        .filter(|((ip, _), _)| decision.ips.contains(ip))
        .map(|((ip, mac), duplicate)| Condition {
            type_: DUPLICATE_RESPONDER.into(),
            status: "True".into(),
            reason: "AlsoAnswered".into(),
            message: duplicate_message(*ip, *mac, duplicate),
            last_transition_time: Time(
                k8s_openapi::jiff::Timestamp::try_from(duplicate.first_seen).unwrap_or_default(),
            ),
            observed_generation: None,
        })
        .collect()
}

/// This speaker's ConfigurationState, when its report changed; false after an API error.
async fn write_config_state(
    client: &Client,
    settings: &EffectsSettings,
    outcome: &PassOutcome,
    memory: &mut Memory,
) -> bool {
    let report = config_state::Report {
        problems: outcome.problems.iter().map(|p| p.message.clone()).collect(),
        unreachable_pools: outcome.unreachable_pools.clone(),
    };
    if memory.config_state.as_ref() == Some(&report) {
        return true;
    }
    match config_state::write(
        client,
        &settings.namespace,
        &settings.node,
        settings.owner.as_ref(),
        &report,
    )
    .await
    {
        Ok(()) => {
            memory.config_state = Some(report);
            true
        }
        Err(err) => {
            tracing::warn!("{err:#}");
            false
        }
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

/// Whether the Service `key` is not announced at all here.
fn not_announced(outcome: &PassOutcome, key: &str) -> bool {
    outcome.failed.get(key).is_some_and(|f| f.all)
}

/// Every announcement of the pass: Layer 2 winners that can announce, and BGP advertisements.
fn announced(outcome: &PassOutcome) -> Vec<Announcement<'_>> {
    let layer2 = outcome
        .decisions
        .iter()
        .filter(|d| {
            matches!(d.outcome, Outcome::Announce { .. }) && !not_announced(outcome, &d.key())
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

/// A Warning `announceFailed` event for every Service that newly cannot be announced (all or
/// some of its addresses).
async fn report_failures(
    outcome: &PassOutcome,
    before: &BTreeMap<String, Unannounced>,
    recorder: &Recorder,
) {
    for decision in &outcome.decisions {
        let key = decision.key();
        let Some(failure) = outcome.failed.get(&key) else {
            continue;
        };
        if before.get(&key) == Some(failure) {
            continue;
        }
        let reason = failure.reason();
        tracing::warn!(service = %key, "cannot announce: {reason}");
        let event = Event {
            type_: EventType::Warning,
            reason: "announceFailed".into(),
            note: Some(reason),
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
        .filter(|d| !not_announced(outcome, &d.key()))
        .filter_map(|d| match &d.outcome {
            Outcome::Announce { interfaces } => Some(status::l2(
                node,
                &d.namespace,
                &d.name,
                interfaces.as_ref(),
                duplicate_conditions(outcome, d),
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_refused_for_good_is_tried_less_and_less_often() {
        let mut writes = Retried::new("test writes");
        assert!(writes.idle());
        let waits: Vec<u64> = (0..10)
            .map(|_| {
                writes.done(false);
                let at = writes.retry_at.expect("a retry is scheduled");
                (at - tokio::time::Instant::now()).as_secs_f64().round() as u64
            })
            .collect();
        // 1 s doubling, then once every two minutes: not once per pass.
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
        assert!(!writes.idle());
        writes.done(true);
        assert!(writes.idle());
        writes.done(false);
        let at = writes.retry_at.expect("a retry is scheduled");
        assert!(at - tokio::time::Instant::now() <= RETRY_FIRST);
    }
}
