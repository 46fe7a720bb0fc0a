//! The speaker's loop: watch caches and membership in, one reconcile per batch of changes out
//! (announcement table, multicast groups, gratuitous bursts, ServiceL2Status, events, metrics).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, Resource};
use metallb_api::{BGPAdvertisement, BGPPeer, IPAddressPool, L2Advertisement, ServiceL2Status};
use metallb_controller::health::Readiness;
use metallb_controller::run::{spawn_reflector, spawn_reflector_with};
use metallb_core::l2::election::Outcome;
use std::time::Instant as StdInstant;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::adapters::bgp::Sessions;
use crate::adapters::interfaces;
use crate::adapters::membership::{self, Membership};
use crate::adapters::responder::Responders;
use crate::adapters::status::{self, Announced};
use crate::bgp_plan::{self, BgpInputs};
use crate::metrics::{ANNOUNCED, Metrics};
use crate::reconcile::{self, Decision, Inputs};
use crate::table::{SharedTable, Table};

/// How long gratuitous announcements continue after the last trigger.
const GRATUITOUS_WINDOW: Duration = Duration::from_secs(5);
/// Interval between gratuitous announcements of an address.
const GRATUITOUS_INTERVAL: Duration = Duration::from_millis(1100);
/// How long a starting speaker waits to join its peers before the first election.
const JOIN_WAIT: Duration = Duration::from_secs(2);
/// How often interfaces are scanned.
const INTERFACE_SCAN: Duration = Duration::from_secs(2);

/// Membership settings of a run.
#[derive(Debug, Clone)]
pub struct MembershipSettings {
    /// Gossip settings (address, secret, timings).
    pub gossip: membership::Settings,
    /// Label selector of the speaker pods (peers are discovered from them).
    pub pod_labels: String,
}

/// Settings of a speaker run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// The MetalLB namespace.
    pub namespace: String,
    /// Only Services of this loadBalancerClass.
    pub lb_class: Option<String>,
    /// Ignore the exclude-from-external-load-balancers label.
    pub ignore_exclude_label: bool,
    /// Membership; `None` falls back to every Node being a candidate.
    pub membership: Option<MembershipSettings>,
    /// The interface exclude list file.
    pub exclude_file: PathBuf,
    /// Set once the caches are synced.
    pub readiness: Readiness,
    /// Metrics.
    pub metrics: Metrics,
}

struct Caches {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
    pools: Store<IPAddressPool>,
    advertisements: Store<L2Advertisement>,
    statuses: Store<ServiceL2Status>,
    pods: Option<Store<Pod>>,
    bgp_peers: Store<BGPPeer>,
    bgp_advertisements: Store<BGPAdvertisement>,
}

impl Caches {
    fn start(client: &Client, settings: &Settings, trigger: &mpsc::Sender<()>) -> Self {
        let ns = settings.namespace.as_str();
        Caches {
            services: spawn_reflector(Api::all(client.clone()), trigger.clone()),
            slices: spawn_reflector(Api::all(client.clone()), trigger.clone()),
            nodes: spawn_reflector(Api::all(client.clone()), trigger.clone()),
            pools: spawn_reflector(Api::namespaced(client.clone(), ns), trigger.clone()),
            advertisements: spawn_reflector(Api::namespaced(client.clone(), ns), trigger.clone()),
            statuses: spawn_reflector(Api::namespaced(client.clone(), ns), trigger.clone()),
            bgp_peers: spawn_reflector(Api::namespaced(client.clone(), ns), trigger.clone()),
            bgp_advertisements: spawn_reflector(
                Api::namespaced(client.clone(), ns),
                trigger.clone(),
            ),
            pods: settings.membership.as_ref().map(|m| {
                let config = watcher::Config::default().labels(&m.pod_labels);
                spawn_reflector_with(Api::namespaced(client.clone(), ns), config, trigger.clone())
            }),
        }
    }

    async fn wait_ready(&self) -> Result<()> {
        let mut waits = vec![
            ("services", self.services.wait_until_ready().await.is_ok()),
            (
                "endpointslices",
                self.slices.wait_until_ready().await.is_ok(),
            ),
            ("nodes", self.nodes.wait_until_ready().await.is_ok()),
            (
                "ipaddresspools",
                self.pools.wait_until_ready().await.is_ok(),
            ),
            (
                "l2advertisements",
                self.advertisements.wait_until_ready().await.is_ok(),
            ),
            (
                "servicel2statuses",
                self.statuses.wait_until_ready().await.is_ok(),
            ),
            ("bgppeers", self.bgp_peers.wait_until_ready().await.is_ok()),
            (
                "bgpadvertisements",
                self.bgp_advertisements.wait_until_ready().await.is_ok(),
            ),
        ];
        if let Some(pods) = &self.pods {
            waits.push(("pods", pods.wait_until_ready().await.is_ok()));
        }
        for (what, ok) in waits {
            if !ok {
                bail!("the {what} watch ended before it was ready");
            }
        }
        Ok(())
    }
}

/// The InternalIP (else first address) of a Node.
fn node_address(node: &Node) -> Option<IpAddr> {
    let addresses = node.status.as_ref()?.addresses.as_ref()?;
    let internal = addresses
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .or(addresses.first())?;
    internal.address.parse().ok()
}

/// Where the other speakers are: the speaker pods' addresses (for host-network pods, their
/// Node's address), or every Node's InternalIP when no pod has a usable one.
pub fn peer_addresses(pods: &[Arc<Pod>], nodes: &[Arc<Node>], port: u16) -> Vec<SocketAddr> {
    let node_ip = |name: &str| {
        nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .and_then(|n| node_address(n))
    };
    let from_pods: Vec<IpAddr> = pods
        .iter()
        .filter_map(|pod| {
            let spec = pod.spec.as_ref()?;
            let pod_ip = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok();
            if spec.host_network == Some(true) {
                spec.node_name.as_deref().and_then(node_ip).or(pod_ip)
            } else {
                pod_ip
            }
        })
        .collect();
    let ips = if from_pods.is_empty() {
        nodes.iter().filter_map(|n| node_address(n)).collect()
    } else {
        from_pods
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

/// Runs the speaker until `shutdown` resolves; then leaves the membership and stops answering.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let exclude = interfaces::exclude_regex(&settings.exclude_file)?;
    let (trigger, mut triggered) = mpsc::channel::<()>(1);
    let caches = Caches::start(&client, &settings, &trigger);
    let membership = match &settings.membership {
        Some(m) => {
            let started = Membership::start(m.gossip.clone(), settings.metrics.clone()).await?;
            let mut members = started.members.clone();
            let trigger = trigger.clone();
            tokio::spawn(async move {
                while members.changed().await.is_ok() {
                    let _ = trigger.try_send(());
                }
            });
            Some((started, m.gossip.addr.port()))
        }
        None => {
            tracing::warn!("membership is disabled: every Node is assumed to run a speaker");
            None
        }
    };
    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        ready = caches.wait_ready() => ready?,
        _ = &mut shutdown => return Ok(()),
    }
    if let (Some((m, port)), Some(pods)) = (&membership, &caches.pods) {
        // Join before the first election, so a (re)starting speaker does not briefly announce
        // everything as if it were alone.
        let peers = peer_addresses(&pods.state(), &caches.nodes.state(), *port);
        let others = peers.iter().filter(|a| a.ip() != m.address().ip()).count();
        m.set_peers(peers);
        let mut members = m.members.clone();
        let joined = members.wait_for(|names| others == 0 || names.len() > 1);
        tokio::select! {
            _ = tokio::time::timeout(JOIN_WAIT, joined) => {}
            _ = &mut shutdown => return Ok(()),
        }
    }
    settings.readiness.set_ready();
    tracing::info!(node = %settings.node, "caches synced; announcing");

    let table: SharedTable = Arc::new(RwLock::new(Table::default()));
    let mut responders = Responders::new(table.clone(), settings.metrics.clone());
    responders.sync_interfaces(interfaces::scan(&exclude));
    let recorder = Recorder::new(client.clone(), Reporter::from("metallb-speaker"));
    let mut bgp = Sessions::new(settings.metrics.clone());
    let mut windows: BTreeMap<IpAddr, Instant> = BTreeMap::new();
    let mut announced_before: BTreeSet<String> = BTreeSet::new();
    let mut scan = tokio::time::interval(INTERFACE_SCAN);
    let mut gratuitous = tokio::time::interval(GRATUITOUS_INTERVAL);
    let mut recently_created = BTreeMap::new();
    let mut failed_before: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut retry = false;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = scan.tick() => {
                let before = responders.interfaces();
                responders.sync_interfaces(interfaces::scan(&exclude));
                if responders.interfaces() == before && !retry {
                    continue;
                }
            }
            _ = gratuitous.tick() => {
                send_gratuitous(&responders, &table, &mut windows, None);
                continue;
            }
            Some(()) = triggered.recv() => {}
        }
        let members = membership.as_ref().map(|(m, _)| m.members.borrow().clone());
        if let (Some((m, port)), Some(pods)) = (&membership, &caches.pods) {
            m.set_peers(peer_addresses(&pods.state(), &caches.nodes.state(), *port));
        }
        let decisions = reconcile::decide(Inputs {
            local_node: &settings.node,
            lb_class: settings.lb_class.as_deref(),
            services: &caches.services.state(),
            slices: &caches.slices.state(),
            nodes: &caches.nodes.state(),
            pools: &caches.pools.state(),
            advertisements: &caches.advertisements.state(),
            members: members.as_ref(),
            ignore_exclude_label: settings.ignore_exclude_label,
        });
        sync_bgp(&mut bgp, &settings, &caches);
        let failed = reconcile::missing_interfaces(&decisions, &responders.interfaces());
        report_failures(&failed, &failed_before, &decisions, &recorder).await;
        let decisions: Vec<Decision> = decisions
            .into_iter()
            .filter(|d| !failed.contains_key(&d.key()))
            .collect();
        failed_before = failed;
        let new_table = reconcile::table(&decisions);
        let newly: Vec<IpAddr> = {
            let mut current = table.write().unwrap_or_else(PoisonError::into_inner);
            let newly = new_table
                .entries()
                .map(|(ip, _)| *ip)
                .filter(|ip| !current.contains(*ip))
                .collect();
            *current = new_table;
            newly
        };
        responders.sync_groups();
        // An address this node stopped announcing starts a fresh burst when it comes back.
        {
            let current = table.read().unwrap_or_else(PoisonError::into_inner);
            windows.retain(|ip, _| current.contains(*ip));
        }
        for ip in &newly {
            tracing::info!(%ip, "announcing");
        }
        send_gratuitous(&responders, &table, &mut windows, Some(&newly));
        announced_before =
            announce_effects(&decisions, &settings, &recorder, &announced_before).await;
        // After an API error, the next interface scan runs a pass again.
        retry = sync_statuses(
            &client,
            &settings,
            &decisions,
            &caches,
            &mut recently_created,
        )
        .await;
    }
    tracing::info!("stopping: leaving the membership");
    *table.write().unwrap_or_else(PoisonError::into_inner) = Table::default();
    bgp.shutdown(Duration::from_secs(1)).await;
    if let Some((m, _)) = &membership {
        m.leave(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Brings the BGP sessions in line with the configuration and the Services.
fn sync_bgp(bgp: &mut Sessions, settings: &Settings, caches: &Caches) {
    let nodes = caches.nodes.state();
    let Some(local) = nodes
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(settings.node.as_str()))
    else {
        return;
    };
    let plan = bgp_plan::plan(&BgpInputs {
        local_node: local,
        lb_class: settings.lb_class.as_deref(),
        services: &caches.services.state(),
        slices: &caches.slices.state(),
        pools: &caches.pools.state(),
        peers: &caches.bgp_peers.state(),
        advertisements: &caches.bgp_advertisements.state(),
    });
    bgp.sync(&plan);
}

/// Sends the gratuitous bursts due now; `triggered` addresses start (or extend) their window.
fn send_gratuitous(
    responders: &Responders,
    table: &SharedTable,
    windows: &mut BTreeMap<IpAddr, Instant>,
    triggered: Option<&[IpAddr]>,
) {
    let now = Instant::now();
    let table = table.read().unwrap_or_else(PoisonError::into_inner).clone();
    let filter_of = |ip: &IpAddr| {
        table
            .entries()
            .find(|(i, _)| *i == ip)
            .map(|(_, f)| f.clone())
    };
    match triggered {
        Some(ips) => {
            for ip in ips {
                let fresh = !windows.contains_key(ip);
                windows.insert(*ip, now + GRATUITOUS_WINDOW);
                if fresh && let Some(filter) = filter_of(ip) {
                    responders.gratuitous(*ip, &filter);
                }
            }
        }
        None => {
            windows.retain(|ip, until| *until > now && table.contains(*ip));
            for ip in windows.keys() {
                if let Some(filter) = filter_of(ip) {
                    responders.gratuitous(*ip, &filter);
                }
            }
        }
    }
}

/// A Warning `announceFailed` event for every Service that newly cannot be announced.
async fn report_failures(
    failed: &BTreeMap<String, Vec<String>>,
    before: &BTreeMap<String, Vec<String>>,
    decisions: &[Decision],
    recorder: &Recorder,
) {
    for decision in decisions {
        let key = decision.key();
        let Some(names) = failed.get(&key) else {
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

/// Metrics and `nodeAssigned` events; returns the keys of the Services announced now.
async fn announce_effects(
    decisions: &[Decision],
    settings: &Settings,
    recorder: &Recorder,
    before: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut now = BTreeSet::new();
    settings.metrics.clear(ANNOUNCED);
    for decision in decisions {
        if !matches!(decision.outcome, Outcome::Announce { .. }) {
            continue;
        }
        let key = decision.key();
        for ip in &decision.ips {
            let ip = ip.to_string();
            settings.metrics.set(
                ANNOUNCED,
                &[
                    ("ip", &ip),
                    ("node", &settings.node),
                    ("protocol", "layer2"),
                    ("service", &key),
                ],
                1.0,
            );
        }
        if !before.contains(&key) {
            let reference = Service::object_ref_from_key(&decision.namespace, &decision.name);
            let event = Event {
                type_: EventType::Normal,
                reason: "nodeAssigned".into(),
                note: Some(format!(
                    "announcing from node \"{}\" with protocol \"layer2\"",
                    settings.node
                )),
                action: "Announce".into(),
                secondary: None,
            };
            if let Err(err) = recorder.publish(&event, &reference).await {
                tracing::debug!(service = %key, "cannot record the nodeAssigned event: {err}");
            }
        }
        now.insert(key);
    }
    now
}

/// Writes the ServiceL2Status objects; returns whether they still need work (after an error).
async fn sync_statuses(
    client: &Client,
    settings: &Settings,
    decisions: &[Decision],
    caches: &Caches,
    recently_created: &mut BTreeMap<String, StdInstant>,
) -> bool {
    let announced: Vec<Announced<'_>> = decisions
        .iter()
        .filter_map(|d| match &d.outcome {
            Outcome::Announce { interfaces } => Some(Announced {
                namespace: &d.namespace,
                name: &d.name,
                interfaces: interfaces.as_ref(),
            }),
            _ => None,
        })
        .collect();
    match status::sync(
        client,
        &settings.namespace,
        &settings.node,
        &announced,
        &caches.statuses.state(),
        recently_created,
    )
    .await
    {
        Ok(_) => false,
        Err(err) => {
            tracing::warn!("ServiceL2Status: {err:#}");
            true
        }
    }
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
