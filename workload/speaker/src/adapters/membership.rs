//! Speaker membership: SWIM gossip (the `foca` crate) over UDP, each packet sealed with
//! AES-256-GCM under a key derived from the memberlist Secret and numbered so that replays are
//! dropped ([`wire`]). There is no membership without a key: an empty key is refused.
//!
//! The task publishes the names (node names) of the live members, itself included. Suspected
//! members still count as live: only a confirmed failure moves an address, so a slow peer does
//! not cause a flap. A graceful stop leaves the cluster, so peers drop this node at once.
//!
//! Each speaker also gossips its links (interfaces able to announce), see [`links`].

mod links;
mod wire;

use links::LinkHandler;
pub use links::{LinkError, Links, Publication};
pub use wire::{Dropped, KeyError, MAX_CLOCK_SKEW, Sealer, SpeakerId, derive_key};

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroUsize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use foca::{
    AccumulatingRuntime, Config, Foca, OwnedNotification, PeriodicParams, PostcardCodec, Timer,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

use metallb_core::l2::election::LinkView;

use crate::backoff::Backoff;
use metallb_runtime::metrics::{Family, Metrics};

/// Counter: membership packets dropped (label `reason`).
pub const MEMBERLIST_DROPPED: &str = "metallb_speaker_memberlist_packets_dropped";
/// Gauge: live speakers seen by this one.
pub const MEMBERS: &str = "metallb_speaker_members";

/// The metric families this module records (gathered by [`crate::metrics`]).
pub const FAMILIES: &[Family] = &[
    (
        MEMBERLIST_DROPPED,
        "counter",
        "Number of membership packets dropped, by reason",
    ),
    (
        MEMBERS,
        "gauge",
        "Live speakers in the membership, this one included",
    ),
];

/// Failure-detection timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How often each member probes another.
    pub probe_period: Duration,
    /// How long a probe waits for its answer before asking others to probe indirectly.
    pub probe_rtt: Duration,
    /// How long a suspected member has to refute before it is declared down.
    pub suspect_to_down_after: Duration,
    /// How often membership updates are gossiped.
    pub gossip_interval: Duration,
}

impl Default for Timings {
    /// Sub-second detection on a LAN: a killed speaker is declared down after about
    /// `probe_period + 2 * probe_rtt + suspect_to_down_after` at worst for a small cluster.
    fn default() -> Self {
        Timings {
            probe_period: Duration::from_millis(250),
            probe_rtt: Duration::from_millis(100),
            suspect_to_down_after: Duration::from_millis(300),
            gossip_interval: Duration::from_millis(100),
        }
    }
}

/// How to run the membership.
#[derive(Clone)]
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// Address to bind and to be reached at (a specific address, not 0.0.0.0).
    pub addr: SocketAddr,
    /// The shared secret (the memberlist Secret's key); it must not be empty.
    pub secret: Vec<u8>,
    /// Failure-detection timings.
    pub timings: Timings,
}

impl std::fmt::Debug for Settings {
    /// Everything but the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("addr", &self.addr)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("timings", &self.timings)
            .finish()
    }
}

/// The running membership.
pub struct Membership {
    /// Names of the live members, this node included.
    pub members: watch::Receiver<BTreeSet<String>>,
    /// The links each live node published, this one's included.
    pub links: watch::Receiver<Links>,
    own_links: watch::Sender<Option<Vec<LinkView>>>,
    address: SocketAddr,
    peers: watch::Sender<Vec<SocketAddr>>,
    leave: mpsc::Sender<oneshot::Sender<()>>,
}

fn foca_config(timings: Timings) -> Config {
    let mut config = Config::simple();
    config.probe_period = timings.probe_period;
    config.probe_rtt = timings.probe_rtt;
    config.suspect_to_down_after = timings.suspect_to_down_after;
    config.notify_down_members = true;
    config.max_transmissions = NonZeroU8::new(6).unwrap_or(NonZeroU8::MIN);
    config.remove_down_after = Some(Duration::from_secs(30));
    let three = NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN);
    config.periodic_gossip = Some(PeriodicParams {
        frequency: timings.gossip_interval,
        num_members: three,
    });
    config.periodic_announce = Some(PeriodicParams {
        frequency: Duration::from_secs(10),
        num_members: NonZeroUsize::MIN,
    });
    config
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Membership {
    /// Binds the membership socket and starts the gossip task.
    pub async fn start(settings: Settings, metrics: Metrics) -> Result<Self> {
        if settings.addr.ip().is_unspecified() {
            bail!(
                "the membership address must be a specific address (got {})",
                settings.addr
            );
        }
        let sealer = Sealer::new(&settings.secret, rand::random())
            .context("refusing to run the membership without a key")?;
        let socket = UdpSocket::bind(settings.addr)
            .await
            .with_context(|| format!("cannot bind the membership socket to {}", settings.addr))?;
        let identity = SpeakerId {
            node: settings.node.clone(),
            addr: settings.addr,
            generation: now_millis(),
        };
        let (members_tx, members) = watch::channel(BTreeSet::from([settings.node.clone()]));
        let (links_tx, links) = watch::channel(Links::new());
        let (own_links, own_links_rx) = watch::channel(None);
        let (peers, peers_rx) = watch::channel(Vec::new());
        let (leave, leave_rx) = mpsc::channel(1);
        let started_ms = identity.generation;
        let task = Task {
            foca: Foca::with_custom_broadcast(
                identity,
                foca_config(settings.timings),
                rand::make_rng(),
                PostcardCodec,
                LinkHandler::new(links_tx.clone()),
            ),
            runtime: AccumulatingRuntime::new(),
            socket,
            sealer,
            metrics,
            last_skew_warning: None,
            receive_errors: Backoff::new(Duration::from_millis(10), Duration::from_secs(5)),
            members_tx,
            links_tx,
            own: OwnLinks {
                started_ms,
                version: 0,
                links: own_links_rx,
            },
            timers: mpsc::unbounded_channel(),
        };
        tokio::spawn(task.run(peers_rx, leave_rx));
        Ok(Membership {
            members,
            links,
            own_links,
            address: settings.addr,
            peers,
            leave,
        })
    }

    /// The address this speaker is reached at.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sets the addresses of the speakers to join (discovered from pods or Nodes).
    pub fn set_peers(&self, mut addrs: Vec<SocketAddr>) {
        addrs.sort();
        addrs.dedup();
        self.peers.send_if_modified(|current| {
            let changed = *current != addrs;
            *current = addrs;
            changed
        });
    }

    /// Publishes this node's links (sent to the peers at once, and again periodically).
    pub fn set_links(&self, links: Vec<LinkView>) {
        self.own_links.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&links);
            *current = Some(links);
            changed
        });
    }

    /// Leaves the cluster (peers drop this node at once), waiting at most `timeout`.
    pub async fn leave(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        if self.leave.send(done).await.is_ok() {
            let _ = tokio::time::timeout(timeout, wait).await;
        }
    }
}

type TimerChannel = (
    mpsc::UnboundedSender<Timer<SpeakerId>>,
    mpsc::UnboundedReceiver<Timer<SpeakerId>>,
);

/// This node's links as it publishes them.
struct OwnLinks {
    started_ms: u64,
    version: u64,
    /// `None` until the speaker has scanned its interfaces (nothing is published before).
    links: watch::Receiver<Option<Vec<LinkView>>>,
}

struct Task {
    foca: Foca<SpeakerId, PostcardCodec, rand::rngs::StdRng, LinkHandler>,
    runtime: AccumulatingRuntime<SpeakerId>,
    socket: UdpSocket,
    sealer: Sealer,
    metrics: Metrics,
    members_tx: watch::Sender<BTreeSet<String>>,
    links_tx: watch::Sender<Links>,
    own: OwnLinks,
    timers: TimerChannel,
    /// When a clock-skew drop was last logged (at most one warning per minute).
    last_skew_warning: Option<tokio::time::Instant>,
    /// Delays after consecutive receive errors.
    receive_errors: Backoff,
}

/// How often dropped packets of senders with a skewed clock are logged.
const SKEW_WARNING_EVERY: Duration = Duration::from_secs(60);

/// How often addresses that are not members yet are asked to let us join.
const JOIN_RETRY: Duration = Duration::from_secs(2);
/// How often this node's links are published again without a change (for members that missed
/// the last publication).
const LINKS_REFRESH: Duration = Duration::from_secs(10);

impl Task {
    async fn run(
        mut self,
        mut peers: watch::Receiver<Vec<SocketAddr>>,
        mut leave: mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        let mut buf = vec![0u8; 65536];
        let mut join_retry = tokio::time::interval(JOIN_RETRY);
        let mut links_refresh = tokio::time::interval(LINKS_REFRESH);
        loop {
            let result = tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Err(err) => {
                        // A broken socket must not spin: back off until reads work again.
                        let delay = self.receive_errors.failed();
                        tokio::time::sleep(delay).await;
                        Err(format!("receive (next read in {delay:?}): {err}"))
                    }
                    Ok((len, from)) => {
                        self.receive_errors.succeeded();
                        match self.sealer.open(&buf[..len], now_millis()) {
                            Ok(data) => self.foca.handle_data(&data, &mut self.runtime).map_err(|e| format!("from {from}: {e}")),
                            Err(dropped) => {
                                self.dropped(dropped, from);
                                Ok(())
                            }
                        }
                    }
                },
                Some(timer) = self.timers.1.recv() => self.foca.handle_timer(timer, &mut self.runtime).map_err(|e| e.to_string()),
                _ = join_retry.tick() => { self.join(&peers.borrow()); Ok(()) }
                _ = links_refresh.tick() => { self.publish_links(); Ok(()) }
                Ok(()) = self.own.links.changed() => { self.publish_links(); Ok(()) }
                Ok(()) = peers.changed() => { self.join(&peers.borrow_and_update()); Ok(()) }
                Some(done) = leave.recv() => {
                    if let Err(err) = self.foca.leave_cluster(&mut self.runtime) {
                        tracing::warn!("cannot leave the membership cleanly: {err}");
                    }
                    self.flush().await;
                    let _ = done.send(());
                    return;
                }
            };
            if let Err(err) = result {
                self.metrics
                    .inc(MEMBERLIST_DROPPED, &[("reason", "invalid")]);
                tracing::debug!("membership: {err}");
            }
            self.flush().await;
        }
    }

    /// Counts a dropped packet; logs packets of senders whose clock is off (they cannot join).
    fn dropped(&mut self, dropped: Dropped, from: SocketAddr) {
        self.metrics
            .inc(MEMBERLIST_DROPPED, &[("reason", dropped.label())]);
        match dropped {
            Dropped::Rejected(
                rejected @ (metallb_core::membership::Rejected::Stale { .. }
                | metallb_core::membership::Rejected::Future { .. }),
            ) => {
                let now = tokio::time::Instant::now();
                if self
                    .last_skew_warning
                    .is_none_or(|at| now.duration_since(at) >= SKEW_WARNING_EVERY)
                {
                    self.last_skew_warning = Some(now);
                    tracing::warn!(
                        %from,
                        "membership packet dropped: {rejected} ({MAX_CLOCK_SKEW:?} allowed); \
                         synchronise the nodes' clocks"
                    );
                }
            }
            other => tracing::debug!(%from, "membership packet dropped: {other}"),
        }
    }

    /// Gossips this node's current links as a new publication.
    fn publish_links(&mut self) {
        let Some(links) = self.own.links.borrow_and_update().clone() else {
            return;
        };
        self.own.version += 1;
        let publication = Publication::new(
            &self.foca.identity().node,
            self.own.started_ms,
            self.own.version,
            &links,
        );
        let added = publication
            .encode()
            .map_err(|e| e.to_string())
            .and_then(|data| self.foca.add_broadcast(&data).map_err(|e| e.to_string()));
        if let Err(err) = added {
            tracing::warn!("cannot gossip this node's links: {err}");
            return;
        }
        // Sent at once to a few members (they pass it on), not only with the next gossip round.
        if let Err(err) = self.foca.broadcast(&mut self.runtime) {
            tracing::debug!("cannot send this node's links: {err}");
        }
    }

    /// Announces to every peer address that is not a member yet.
    fn join(&mut self, peers: &[SocketAddr]) {
        let own = self.foca.identity().addr;
        let known: BTreeSet<SocketAddr> = self.foca.iter_members().map(|m| m.id().addr).collect();
        for addr in peers.iter().filter(|a| **a != own && !known.contains(a)) {
            let placeholder = SpeakerId {
                node: String::new(),
                addr: *addr,
                generation: 0,
            };
            if let Err(err) = self.foca.announce(placeholder, &mut self.runtime) {
                tracing::debug!("cannot announce to {addr}: {err}");
            }
        }
    }

    async fn flush(&mut self) {
        let mut republish = false;
        let mut gone = Vec::new();
        while let Some(notification) = self.runtime.to_notify() {
            match notification {
                OwnedNotification::MemberUp(id) => {
                    tracing::info!(member = ?id, "speaker joined");
                    // The newcomer missed the last publication of this node's links.
                    republish = true;
                }
                OwnedNotification::MemberDown(id) => {
                    tracing::info!(member = ?id, "speaker left or failed");
                    gone.push(id.node);
                }
                OwnedNotification::Rejoin(id) => {
                    tracing::info!(identity = ?id, "rejoined the membership")
                }
                other => tracing::debug!(notification = ?other, "membership"),
            }
        }
        if republish {
            self.publish_links();
        }
        while let Some((to, data)) = self.runtime.to_send() {
            match self.sealer.seal(&data, now_millis(), rand::random()) {
                Some(packet) => {
                    if let Err(err) = self.socket.send_to(&packet, to.addr).await {
                        tracing::debug!("cannot send to {to:?}: {err}");
                    }
                }
                None => tracing::warn!("cannot seal a membership packet"),
            }
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            let tx = self.timers.0.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(timer);
            });
        }
        let mut names: BTreeSet<String> = self
            .foca
            .iter_members()
            .map(|m| m.id().node.clone())
            .collect();
        names.insert(self.foca.identity().node.clone());
        // A node that is gone takes its links along (unless it is back already).
        self.links_tx.send_if_modified(|links| {
            let before = links.len();
            links.retain(|node, _| !gone.contains(node) || names.contains(node));
            links.len() != before
        });
        self.metrics.set(MEMBERS, &[], names.len() as f64);
        self.members_tx.send_if_modified(|current| {
            let changed = *current != names;
            if changed {
                *current = names;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests;
