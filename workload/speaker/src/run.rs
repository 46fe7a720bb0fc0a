//! The speaker's loop: watch caches and membership in, one reconcile per batch of changes out
//! (announcement table, multicast groups, gratuitous bursts, ServiceL2Status, events, metrics).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use metallb_api::{
    BFDProfile, BGPAdvertisement, BGPPeer, Community, IPAddressPool, L2Advertisement,
    ServiceBGPStatus, ServiceL2Status,
};
use metallb_runtime::health::Readiness;
use metallb_runtime::reflector::{spawn_reflector, spawn_reflector_with};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::adapters::bgp::Sessions;
use crate::adapters::interfaces;
use crate::adapters::link_watch;
use crate::adapters::membership::{self, Links, Membership};
use crate::adapters::responder::Responders;
use crate::bgp_config::InForce;
use crate::effects::{self, EffectsSettings, PassOutcome, StatusCaches, sleep_until};
use crate::plan::l2::{self, Decision};
use crate::plan::{self, Context, Planned, Snapshot};
use crate::table::{InterfaceFilter, SharedTable, Table};
use metallb_core::l2::election::{LinkView, Outcome};
use metallb_runtime::metrics::Metrics;

/// How long gratuitous announcements continue after the last trigger.
const GRATUITOUS_WINDOW: Duration = Duration::from_secs(5);
/// Interval between gratuitous announcements of an address.
const GRATUITOUS_INTERVAL: Duration = Duration::from_millis(1100);
/// How long a starting speaker waits to join its peers before the first election.
const JOIN_WAIT: Duration = Duration::from_secs(2);
/// How often interfaces are scanned (besides every link or address change).
const INTERFACE_SCAN: Duration = Duration::from_secs(2);
/// How long this node keeps answering for an address it lost to another node, while the new
/// winner starts announcing it: a planned move (a cordon, a node coming back) leaves no moment
/// when nobody answers, even if the new winner sees the change a little later. Short, because a
/// client that asks meanwhile may be sent back here for a while (the node still serves).
const HANDOFF: Duration = Duration::from_millis(500);

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
    /// This speaker's pod (it owns the speaker's ConfigurationState), when it runs in one.
    pub pod_name: Option<String>,
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
    /// Periodic gratuitous announcements (`None`: only after a change), unless an
    /// L2Advertisement sets its own interval.
    pub gratuitous_interval: Option<Duration>,
    /// How often each announced IPv4 address is probed for other holders (`None`: only frames
    /// seen anyway reveal them).
    pub duplicate_probe_interval: Option<Duration>,
    /// Set once the caches are synced.
    pub readiness: Readiness,
    /// Metrics.
    pub metrics: Metrics,
}

/// The watched kinds, one line each: the cache field, the kind, whether it is watched across
/// the cluster or in the MetalLB namespace, and its name in errors. The kinds under `planned`
/// are read once per pass into a [`Snapshot`] (a field of the same name there); those under
/// `effects` are read by the effects task. Every watch triggers a pass. Adding a kind is a line
/// here (and a field of [`Snapshot`] when the planning reads it).
macro_rules! watched {
    (@api all, $client:expr, $ns:expr) => {
        Api::all($client.clone())
    };
    (@api namespaced, $client:expr, $ns:expr) => {
        Api::namespaced($client.clone(), $ns)
    };
    (
        planned { $($p:ident: $pk:ty = $pscope:ident, $pwhat:literal;)* }
        effects { $($e:ident: $ek:ty = $escope:ident, $ewhat:literal;)* }
    ) => {
        /// The watch caches (reflector stores), each feeding the pass trigger.
        struct Caches {
            $($p: Store<$pk>,)*
            $($e: Store<$ek>,)*
            /// The speaker pods, when membership is enabled (peers are discovered from them).
            pods: Option<Store<Pod>>,
        }

        impl Caches {
            fn start(client: &Client, settings: &Settings, trigger: &mpsc::Sender<()>) -> Self {
                let ns = settings.namespace.as_str();
                Caches {
                    $($p: spawn_reflector(
                        watched!(@api $pscope, client, ns),
                        trigger.clone(),
                    ),)*
                    $($e: spawn_reflector(
                        watched!(@api $escope, client, ns),
                        trigger.clone(),
                    ),)*
                    pods: settings.membership.as_ref().map(|m| {
                        let config = watcher::Config::default().labels(&m.pod_labels);
                        let api = Api::namespaced(client.clone(), ns);
                        spawn_reflector_with(api, config, trigger.clone())
                    }),
                }
            }

            async fn wait_ready(&self) -> Result<()> {
                let mut waits = vec![
                    $(($pwhat, self.$p.wait_until_ready().await.is_ok()),)*
                    $(($ewhat, self.$e.wait_until_ready().await.is_ok()),)*
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

            /// Every planned kind, read once.
            fn snapshot(&self) -> Snapshot {
                Snapshot {
                    $($p: self.$p.state(),)*
                }
            }
        }
    };
}

watched! {
    planned {
        services: Service = all, "services";
        slices: EndpointSlice = all, "endpointslices";
        nodes: Node = all, "nodes";
        pools: IPAddressPool = namespaced, "ipaddresspools";
        l2_advertisements: L2Advertisement = namespaced, "l2advertisements";
        bgp_peers: BGPPeer = namespaced, "bgppeers";
        bgp_advertisements: BGPAdvertisement = namespaced, "bgpadvertisements";
        communities: Community = namespaced, "communities";
        secrets: Secret = namespaced, "secrets";
        bfd_profiles: BFDProfile = namespaced, "bfdprofiles";
    }
    effects {
        statuses: ServiceL2Status = namespaced, "servicel2statuses";
        bgp_statuses: ServiceBGPStatus = namespaced, "servicebgpstatuses";
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
    // Counts membership changes, so a pass knows whether any happened since the previous one
    // (a member can come and go between two passes).
    let member_changes = Arc::new(AtomicU64::new(0));
    let membership = match &settings.membership {
        Some(m) => {
            let started = Membership::start(m.gossip.clone(), settings.metrics.clone()).await?;
            let mut members = started.members.clone();
            let member_trigger = trigger.clone();
            let changes = member_changes.clone();
            tokio::spawn(async move {
                while members.changed().await.is_ok() {
                    changes.fetch_add(1, Ordering::Relaxed);
                    let _ = member_trigger.try_send(());
                }
            });
            let mut links = started.links.clone();
            let links_trigger = trigger.clone();
            tokio::spawn(async move {
                while links.changed().await.is_ok() {
                    let _ = links_trigger.try_send(());
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
    let mut responders = Responders::new(table.clone(), settings.metrics.clone(), trigger.clone());
    let mut own_links = rescan(&mut responders, &exclude);
    if let Some((m, _)) = &membership {
        m.set_links(own_links.clone());
    }
    let mut link_changes = match link_watch::spawn() {
        Ok(rx) => Some(rx),
        Err(err) => {
            tracing::warn!("interfaces are only scanned every {INTERFACE_SCAN:?}: {err:#}");
            None
        }
    };
    let effects = effects::spawn(
        client.clone(),
        EffectsSettings {
            node: settings.node.clone(),
            namespace: settings.namespace.clone(),
            metrics: settings.metrics.clone(),
            owner: own_pod(&settings, &caches),
        },
        StatusCaches {
            l2: caches.statuses.clone(),
            bgp: caches.bgp_statuses.clone(),
        },
    );
    let mut bgp = Sessions::new(settings.metrics.clone());
    let mut in_force = InForce::default();
    let mut windows: BTreeMap<IpAddr, Instant> = BTreeMap::new();
    // What this pass's election gives this node (the table also holds the hand-offs).
    let mut elected = Table::default();
    let mut handoffs: BTreeMap<IpAddr, (Instant, InterfaceFilter)> = BTreeMap::new();
    let mut periodic = Schedule::default();
    let mut probes = Schedule::default();
    let mut scan = tokio::time::interval(INTERFACE_SCAN);
    let mut gratuitous = tokio::time::interval(GRATUITOUS_INTERVAL);
    let mut member_changes_seen = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            changed = next_change(&mut link_changes, scan.tick()) => {
                if !changed {
                    link_changes = None;
                }
                let before = responders.interfaces();
                let links = rescan(&mut responders, &exclude);
                if responders.interfaces() == before && links == own_links {
                    continue;
                }
                if links != own_links {
                    tracing::info!(?links, "links changed");
                    own_links = links;
                    if let Some((m, _)) = &membership {
                        m.set_links(own_links.clone());
                    }
                }
            }
            _ = gratuitous.tick() => {
                send_gratuitous(&responders, &table, &mut windows, None);
                continue;
            }
            _ = sleep_until(periodic.next_due()) => {
                for_each_entry(&table, &periodic.take_due(), |ip, f| {
                    responders.gratuitous(ip, f);
                });
                continue;
            }
            _ = sleep_until(probes.next_due()) => {
                for_each_entry(&table, &probes.take_due(), |ip, f| {
                    responders.probe(ip, f);
                });
                continue;
            }
            _ = sleep_until(handoffs.values().map(|(until, _)| *until).min()) => {}
            Some(()) = triggered.recv() => {}
        }
        let changes = member_changes.load(Ordering::Relaxed);
        let members_moved = changes != member_changes_seen;
        member_changes_seen = changes;
        let members = membership.as_ref().map(|(m, _)| m.members.borrow().clone());
        let mut links: Links = membership
            .as_ref()
            .map(|(m, _)| m.links.borrow().clone())
            .unwrap_or_default();
        links.insert(settings.node.clone(), own_links.clone());
        let snapshot = caches.snapshot();
        if let (Some((m, port)), Some(pods)) = (&membership, &caches.pods) {
            m.set_peers(peer_addresses(&pods.state(), &snapshot.nodes, *port));
        }
        let context = Context {
            local_node: &settings.node,
            lb_class: settings.lb_class.as_deref(),
            members: members.as_ref(),
            ignore_exclude_label: settings.ignore_exclude_label,
            links: Some(&links),
            gratuitous_interval: settings.gratuitous_interval,
        };
        let Planned {
            decisions,
            unreachable_pools,
            bgp: bgp_plan,
            problems,
        } = plan::plan(&snapshot, &context, &mut in_force);
        // While this node is not in the Node cache the sessions are left as they are.
        let advertised = match bgp_plan {
            Some(bgp_plan) => {
                bgp.sync(&bgp_plan);
                bgp_plan.services
            }
            None => BTreeMap::new(),
        };
        let failed = l2::unannounced(&decisions, &responders.interfaces());
        let announceable: Vec<Decision> = decisions
            .iter()
            .filter(|d| !failed.get(&d.key()).is_some_and(|f| f.all))
            .cloned()
            .collect();
        let new_elected = l2::table(&announceable);
        let newly: Vec<IpAddr> = new_elected
            .entries()
            .map(|(ip, _)| *ip)
            .filter(|ip| !elected.contains(*ip))
            .collect();
        update_handoffs(&mut handoffs, &elected, &new_elected, &decisions);
        elected = new_elected;
        *table.write().unwrap_or_else(PoisonError::into_inner) = Table::from_entries(
            elected
                .entries()
                .map(|(ip, f)| (*ip, f.clone()))
                .chain(handoffs.iter().map(|(ip, (_, f))| (*ip, f.clone()))),
        );
        responders.sync_groups();
        // An address this node stopped announcing starts a fresh burst when it comes back; one
        // it hands over is answered for but no longer announced.
        windows.retain(|ip, _| elected.contains(*ip));
        periodic.sync(periodic_wanted(&decisions, &elected));
        probes.sync(probes_wanted(&elected, settings.duplicate_probe_interval));
        responders.forget_duplicates(|ip| elected.contains(ip));
        let duplicates = responders
            .duplicates(duplicate_memory(settings.duplicate_probe_interval))
            .into_iter()
            .filter(|((ip, _), _)| elected.contains(*ip))
            .collect();
        for ip in &newly {
            tracing::info!(%ip, "announcing");
        }
        // After a membership change, every address this node announces is announced afresh:
        // the previous winner may have come and gone between two passes, leaving clients with
        // its MAC although this node never stopped announcing.
        let fresh: Vec<IpAddr> = if members_moved {
            windows.clear();
            table
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .entries()
                .map(|(ip, _)| *ip)
                .collect()
        } else {
            newly
        };
        send_gratuitous(&responders, &table, &mut windows, Some(&fresh));
        effects.send_replace(Arc::new(PassOutcome {
            decisions,
            failed,
            bgp: advertised,
            problems,
            unreachable_pools,
            duplicates,
        }));
    }
    tracing::info!("stopping: leaving the membership");
    *table.write().unwrap_or_else(PoisonError::into_inner) = Table::default();
    bgp.shutdown(Duration::from_secs(1)).await;
    if let Some((m, _)) = &membership {
        m.leave(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// How long a duplicate responder stays reported after it was last seen: three probe rounds,
/// at least a minute.
fn duplicate_memory(probe_interval: Option<Duration>) -> Duration {
    probe_interval
        .map(|every| every * 3)
        .unwrap_or_default()
        .max(Duration::from_secs(60))
}

/// Scans the interfaces, opens and closes responders to match; returns this node's links (the
/// interfaces that can announce, with their networks).
fn rescan(responders: &mut Responders, exclude: &regex::Regex) -> Vec<LinkView> {
    let found = interfaces::scan(exclude);
    let links = interfaces::links(&found);
    responders.sync_interfaces(found);
    links
}

/// Waits for a link change notification or, without them, for the periodic scan; `false` when
/// the notifications stopped.
async fn next_change(
    changes: &mut Option<mpsc::Receiver<()>>,
    tick: impl Future<Output = Instant>,
) -> bool {
    match changes {
        Some(rx) => tokio::select! {
            received = rx.recv() => received.is_some(),
            _ = tick => true,
        },
        None => {
            tick.await;
            true
        }
    }
}

/// Addresses this node stops announcing because another node won them keep being answered for
/// [`HANDOFF`] (not announced: the new winner's announcements win the clients over); they end
/// early when the address comes back, or when its Service no longer names another winner.
fn update_handoffs(
    handoffs: &mut BTreeMap<IpAddr, (Instant, InterfaceFilter)>,
    before: &Table,
    after: &Table,
    decisions: &[Decision],
) {
    let now = Instant::now();
    let lost_to_another = |ip: &IpAddr| {
        decisions
            .iter()
            .any(|d| d.ips.contains(ip) && matches!(d.outcome, Outcome::NotOwner { .. }))
    };
    for (ip, filter) in before.entries() {
        if !after.contains(*ip) && lost_to_another(ip) && !handoffs.contains_key(ip) {
            tracing::info!(%ip, "handing over: answering for {HANDOFF:?} more");
            handoffs.insert(*ip, (now + HANDOFF, filter.clone()));
        }
    }
    handoffs.retain(|ip, (until, _)| *until > now && !after.contains(*ip) && lost_to_another(ip));
}

/// When each address is next due for a periodic action (gratuitous announcement, probe).
#[derive(Default)]
struct Schedule {
    due: BTreeMap<IpAddr, (Instant, Duration)>,
}

impl Schedule {
    /// Follows `wanted` (address: first delay, then interval); an address keeps its turn while
    /// its interval stays the same.
    fn sync(&mut self, wanted: BTreeMap<IpAddr, (Duration, Duration)>) {
        let now = Instant::now();
        self.due
            .retain(|ip, (_, every)| wanted.get(ip).is_some_and(|(_, e)| e == every));
        for (ip, (first, every)) in wanted {
            self.due.entry(ip).or_insert((now + first, every));
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.values().map(|(at, _)| *at).min()
    }

    /// The addresses due now, each scheduled again one interval later.
    fn take_due(&mut self) -> Vec<IpAddr> {
        let now = Instant::now();
        let mut due = Vec::new();
        for (ip, (at, every)) in &mut self.due {
            if *at <= now {
                *at = now + *every;
                due.push(*ip);
            }
        }
        due
    }
}

/// The periodic gratuitous announcements wanted: each elected address whose decision has an
/// interval (first one interval from now: the burst after the change covers the start).
fn periodic_wanted(
    decisions: &[Decision],
    elected: &Table,
) -> BTreeMap<IpAddr, (Duration, Duration)> {
    decisions
        .iter()
        .filter_map(|d| Some((d, d.gratuitous_interval?)))
        .flat_map(|(d, every)| d.ips.iter().map(move |ip| (*ip, (every, every))))
        .filter(|(ip, _)| elected.contains(*ip))
        .collect()
}

/// The duplicate probes wanted: every elected IPv4 address, first once a hand-over by its
/// previous announcer is over.
fn probes_wanted(
    elected: &Table,
    every: Option<Duration>,
) -> BTreeMap<IpAddr, (Duration, Duration)> {
    let Some(every) = every else {
        return BTreeMap::new();
    };
    elected
        .entries()
        .filter(|(ip, _)| ip.is_ipv4())
        .map(|(ip, _)| (*ip, (HANDOFF * 4, every)))
        .collect()
}

/// Sends `what` for each address of `ips` on the interfaces the table answers it on.
fn for_each_entry(
    table: &SharedTable,
    ips: &[IpAddr],
    mut what: impl FnMut(IpAddr, &InterfaceFilter),
) {
    let table = table.read().unwrap_or_else(PoisonError::into_inner).clone();
    for ip in ips {
        if let Some(filter) = table.filter(*ip) {
            what(*ip, filter);
        }
    }
}

/// A reference to this speaker's pod, found by name among the speaker pods.
fn own_pod(settings: &Settings, caches: &Caches) -> Option<OwnerReference> {
    let name = settings.pod_name.as_deref()?;
    let pods = caches.pods.as_ref()?.state();
    let pod = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(name))?;
    Some(OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: name.to_string(),
        uid: pod.metadata.uid.clone()?,
        ..OwnerReference::default()
    })
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
    let filter_of = |ip: &IpAddr| table.filter(*ip).cloned();
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
