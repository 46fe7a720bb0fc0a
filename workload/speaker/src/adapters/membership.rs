//! Speaker membership: SWIM gossip (the `foca` crate) over UDP, each packet sealed with
//! AES-256-GCM under a key derived from the memberlist Secret.
//!
//! The task publishes the names (node names) of the live members, itself included. Suspected
//! members still count as live: only a confirmed failure moves an address, so a slow peer does
//! not cause a flap. A graceful stop leaves the cluster, so peers drop this node at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroUsize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use anyhow::{Context, Result, bail};
use foca::{
    AccumulatingRuntime, Config, Foca, OwnedNotification, PeriodicParams, PostcardCodec, Timer,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::{MEMBERLIST_DROPPED, MEMBERS, Metrics};

/// A speaker's identity in the membership: its node name, its address, and a generation that
/// makes a restarted speaker a new member.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpeakerId {
    /// Node name.
    pub node: String,
    /// Address peers reach this speaker at.
    pub addr: SocketAddr,
    /// Generation: start time in milliseconds, bumped on renewal.
    pub generation: u64,
}

impl std::fmt::Debug for SpeakerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}#{}", self.node, self.addr, self.generation)
    }
}

impl foca::Identity for SpeakerId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(SpeakerId {
            generation: self.generation.wrapping_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

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
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// Address to bind and to be reached at (a specific address, not 0.0.0.0).
    pub addr: SocketAddr,
    /// The shared secret; `None` sends packets unsealed (with a warning).
    pub secret: Option<Vec<u8>>,
    /// Failure-detection timings.
    pub timings: Timings,
}

/// The running membership.
pub struct Membership {
    /// Names of the live members, this node included.
    pub members: watch::Receiver<BTreeSet<String>>,
    address: SocketAddr,
    peers: watch::Sender<Vec<SocketAddr>>,
    leave: mpsc::Sender<oneshot::Sender<()>>,
}

/// Derives the AES-256 key from the Secret's bytes.
pub fn derive_key(secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"metallb-rs memberlist v1\0");
    hasher.update(secret);
    hasher.finalize().into()
}

const NONCE_LEN: usize = 12;

/// Seals and opens membership packets.
struct Sealer(Option<Aes256Gcm>);

impl Sealer {
    fn seal(&self, data: &[u8]) -> Option<Vec<u8>> {
        let Some(cipher) = &self.0 else {
            return Some(data.to_vec());
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let sealed = cipher.encrypt(Nonce::from_slice(&nonce), data).ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn open(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let Some(cipher) = &self.0 else {
            return Some(packet.to_vec());
        };
        if packet.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = packet.split_at(NONCE_LEN);
        cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()
    }
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
        let socket = UdpSocket::bind(settings.addr)
            .await
            .with_context(|| format!("cannot bind the membership socket to {}", settings.addr))?;
        let sealer = match &settings.secret {
            Some(secret) => Sealer(Some(
                Aes256Gcm::new_from_slice(&derive_key(secret))
                    .context("cannot build the membership cipher")?,
            )),
            None => {
                tracing::warn!("no memberlist secret: membership packets are not encrypted");
                Sealer(None)
            }
        };
        let identity = SpeakerId {
            node: settings.node.clone(),
            addr: settings.addr,
            generation: now_millis(),
        };
        let (members_tx, members) = watch::channel(BTreeSet::from([settings.node.clone()]));
        let (peers, peers_rx) = watch::channel(Vec::new());
        let (leave, leave_rx) = mpsc::channel(1);
        let task = Task {
            foca: Foca::new(
                identity,
                foca_config(settings.timings),
                rand::make_rng(),
                PostcardCodec,
            ),
            runtime: AccumulatingRuntime::new(),
            socket,
            sealer,
            metrics,
            members_tx,
            timers: mpsc::unbounded_channel(),
        };
        tokio::spawn(task.run(peers_rx, leave_rx));
        Ok(Membership {
            members,
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

struct Task {
    foca: Foca<SpeakerId, PostcardCodec, rand::rngs::StdRng, foca::NoCustomBroadcast>,
    runtime: AccumulatingRuntime<SpeakerId>,
    socket: UdpSocket,
    sealer: Sealer,
    metrics: Metrics,
    members_tx: watch::Sender<BTreeSet<String>>,
    timers: TimerChannel,
}

/// How often addresses that are not members yet are asked to let us join.
const JOIN_RETRY: Duration = Duration::from_secs(2);

impl Task {
    async fn run(
        mut self,
        mut peers: watch::Receiver<Vec<SocketAddr>>,
        mut leave: mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        let mut buf = vec![0u8; 65536];
        let mut join_retry = tokio::time::interval(JOIN_RETRY);
        loop {
            let result = tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => match self.sealer.open(&buf[..len]) {
                        Some(data) => self.foca.handle_data(&data, &mut self.runtime).map_err(|e| format!("from {from}: {e}")),
                        None => {
                            self.metrics.inc(MEMBERLIST_DROPPED, &[("reason", "unauthenticated")]);
                            Ok(())
                        }
                    },
                    Err(err) => Err(format!("receive: {err}")),
                },
                Some(timer) = self.timers.1.recv() => self.foca.handle_timer(timer, &mut self.runtime).map_err(|e| e.to_string()),
                _ = join_retry.tick() => { self.join(&peers.borrow()); Ok(()) }
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
        while let Some((to, data)) = self.runtime.to_send() {
            match self.sealer.seal(&data) {
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
        while let Some(notification) = self.runtime.to_notify() {
            match notification {
                OwnedNotification::MemberUp(id) => tracing::info!(member = ?id, "speaker joined"),
                OwnedNotification::MemberDown(id) => {
                    tracing::info!(member = ?id, "speaker left or failed")
                }
                OwnedNotification::Rejoin(id) => {
                    tracing::info!(identity = ?id, "rejoined the membership")
                }
                other => tracing::debug!(notification = ?other, "membership"),
            }
        }
        let mut names: BTreeSet<String> = self
            .foca
            .iter_members()
            .map(|m| m.id().node.clone())
            .collect();
        names.insert(self.foca.identity().node.clone());
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
mod tests {
    use super::*;

    #[test]
    fn sealed_packets_open_only_with_the_same_key() {
        let a = Sealer(Some(
            Aes256Gcm::new_from_slice(&derive_key(b"secret-one")).unwrap(),
        ));
        let b = Sealer(Some(
            Aes256Gcm::new_from_slice(&derive_key(b"secret-two")).unwrap(),
        ));
        let packet = a.seal(b"hello").unwrap();
        assert_eq!(a.open(&packet).as_deref(), Some(&b"hello"[..]));
        assert_eq!(b.open(&packet), None);
        let mut tampered = packet.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(a.open(&tampered), None);
        for len in 0..packet.len() {
            assert_eq!(a.open(&packet[..len]), None);
        }
    }
}
