//! ARP and NDP responders: one raw packet socket and one thread per eligible interface. Each
//! thread answers requests for the addresses the shared table announces on its interface; the
//! same sockets send the gratuitous announcements and the probes for duplicates. Frames that
//! cannot be parsed are counted and dropped.
//!
//! Every ARP packet or Neighbor Advertisement seen that claims an announced address for another
//! hardware address is recorded as a duplicate responder ([`Duplicates`]): another host holding
//! the address, a second speaker in a split brain, kube-proxy in IPVS mode without strictARP.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use metallb_core::l2::interface::answers_on;
use metallb_core::l2::{DropReason, Mac, arp, ndp};
use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};

use super::interfaces::Interface;
use crate::backoff::Backoff;
use crate::table::{InterfaceFilter, SharedTable};
use metallb_runtime::metrics::{Family, Metrics};

/// Counter: ARP/NDP requests received for an announced address (label `ip`).
pub const REQUESTS_RECEIVED: &str = "metallb_layer2_requests_received";
/// Counter: ARP/NDP answers sent (label `ip`).
pub const RESPONSES_SENT: &str = "metallb_layer2_responses_sent";
/// Counter: gratuitous ARP / unsolicited NA packets sent (label `ip`).
pub const GRATUITOUS_SENT: &str = "metallb_layer2_gratuitous_sent";
/// Counter: frames dropped by the responders (label `reason`).
pub const FRAMES_DROPPED: &str = "metallb_layer2_frames_dropped";
/// Counter: ARP probes sent to find duplicate responders (label `ip`).
pub const DUPLICATE_PROBES_SENT: &str = "metallb_layer2_duplicate_probes_sent";

/// The metric families this module records (gathered by [`crate::metrics`]).
pub const FAMILIES: &[Family] = &[
    (
        REQUESTS_RECEIVED,
        "counter",
        "Number of layer2 requests received for owned IPs",
    ),
    (
        RESPONSES_SENT,
        "counter",
        "Number of layer2 responses sent for owned IPs",
    ),
    (
        GRATUITOUS_SENT,
        "counter",
        "Number of gratuitous layer2 packets sent for owned IPs",
    ),
    (
        FRAMES_DROPPED,
        "counter",
        "Number of ARP/NDP frames not answered, by reason",
    ),
    (
        DUPLICATE_PROBES_SENT,
        "counter",
        "Number of ARP probes sent to find duplicate responders",
    ),
];

/// How often a receiving thread wakes up to see whether it should stop.
const READ_TIMEOUT: Duration = Duration::from_millis(200);

type Sender = Arc<Mutex<Box<dyn DataLinkSender>>>;

fn send(sender: &Sender, frame: &[u8]) -> bool {
    let mut tx = sender.lock().unwrap_or_else(PoisonError::into_inner);
    matches!(tx.send_to(frame, None), Some(Ok(())))
}

struct Responder {
    interface: Interface,
    sender: Sender,
    stop: Arc<AtomicBool>,
    /// Joined solicited-node groups (NDP interfaces only).
    groups: Option<(UdpSocket, BTreeSet<Ipv6Addr>)>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Another hardware address seen claiming an announced address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The interface it was seen on.
    pub interface: String,
    /// When it was first seen (wall clock, for the status condition).
    pub first_seen: SystemTime,
    /// When it was last seen.
    pub last_seen: Instant,
}

/// Duplicate responders seen, by address and hardware address.
pub type Duplicates = Arc<Mutex<BTreeMap<(IpAddr, Mac), Duplicate>>>;

/// Everything a receiving thread needs.
struct Receiver {
    interface: Interface,
    sender: Sender,
    table: SharedTable,
    metrics: Metrics,
    stop: Arc<AtomicBool>,
    duplicates: Duplicates,
    /// Asks the speaker's loop for a pass (a new duplicate was seen).
    wake: tokio::sync::mpsc::Sender<()>,
}

impl Receiver {
    fn run(self, mut rx: Box<dyn DataLinkReceiver>) {
        while !self.stop.load(Ordering::Relaxed) {
            match rx.next() {
                Ok(frame) => self.handle(frame),
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) => {}
                Err(err) => {
                    tracing::warn!(interface = %self.interface.name, "responder stopped: {err}");
                    return;
                }
            }
        }
    }

    fn announces(&self, ip: IpAddr) -> bool {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table.announces(ip, &self.interface.name, &self.interface.networks)
    }

    fn dropped(&self, reason: DropReason) {
        if reason != DropReason::NotARequest {
            self.metrics
                .inc(FRAMES_DROPPED, &[("reason", reason.label())]);
        }
    }

    /// Records `claim` when it is another hardware address's claim on an address announced here.
    fn check_claim(&self, claim: Option<(IpAddr, Mac)>) {
        let Some((ip, mac)) = claim else {
            return;
        };
        if mac == self.interface.mac || !self.announces(ip) {
            return;
        }
        let now = Instant::now();
        let mut seen = self
            .duplicates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match seen.get_mut(&(ip, mac)) {
            Some(known) => known.last_seen = now,
            None => {
                tracing::warn!(%ip, mac = %format_mac(mac), interface = %self.interface.name, "another host answers for an announced address");
                seen.insert(
                    (ip, mac),
                    Duplicate {
                        interface: self.interface.name.clone(),
                        first_seen: SystemTime::now(),
                        last_seen: now,
                    },
                );
                let _ = self.wake.try_send(());
            }
        }
    }

    fn handle(&self, frame: &[u8]) {
        let mac = self.interface.mac;
        // Our own transmissions come back on a packet socket.
        if frame.get(6..12) == Some(&mac[..]) {
            return;
        }
        match frame.get(12..14) {
            Some([0x08, 0x06]) if self.interface.arp => {
                self.check_claim(arp::claim(frame).map(|c| (IpAddr::V4(c.ip), c.mac)));
            }
            Some([0x86, 0xdd]) if self.interface.link_local.is_some() => {
                self.check_claim(ndp::claim(frame).map(|(ip, mac)| (IpAddr::V6(ip), mac)));
            }
            _ => {}
        }
        match frame.get(12..14) {
            Some([0x08, 0x06]) if self.interface.arp => match arp::parse_request(frame, mac) {
                Ok(request) => {
                    let ip = IpAddr::V4(request.target_ip);
                    if !self.announces(ip) {
                        return self.dropped(DropReason::NotAnnounced);
                    }
                    let label = ip.to_string();
                    self.metrics.inc(REQUESTS_RECEIVED, &[("ip", &label)]);
                    if send(&self.sender, &arp::reply(mac, &request)) {
                        self.metrics.inc(RESPONSES_SENT, &[("ip", &label)]);
                    }
                }
                Err(reason) => self.dropped(reason),
            },
            Some([0x86, 0xdd]) => {
                if self.interface.link_local.is_none() {
                    return;
                }
                match ndp::parse_solicitation(frame) {
                    Ok(ns) => {
                        let ip = IpAddr::V6(ns.target);
                        if !self.announces(ip) {
                            return self.dropped(DropReason::NotAnnounced);
                        }
                        let label = ip.to_string();
                        self.metrics.inc(REQUESTS_RECEIVED, &[("ip", &label)]);
                        if send(&self.sender, &ndp::solicited_advertisement(mac, &ns)) {
                            self.metrics.inc(RESPONSES_SENT, &[("ip", &label)]);
                        }
                    }
                    Err(reason) => self.dropped(reason),
                }
            }
            _ => {}
        }
    }
}

/// `02:00:00:00:00:0c`.
pub fn format_mac(mac: Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The responders of this node, one per eligible interface.
pub struct Responders {
    open: BTreeMap<String, Responder>,
    table: SharedTable,
    metrics: Metrics,
    duplicates: Duplicates,
    wake: tokio::sync::mpsc::Sender<()>,
    /// Interfaces whose responder could not be opened: when to try again.
    failing: BTreeMap<String, (Backoff, Instant)>,
}

/// Delays before opening a failed responder again: 2 s doubling to 5 minutes.
const REOPEN_FIRST: Duration = Duration::from_secs(2);
const REOPEN_MAX: Duration = Duration::from_secs(300);

impl Responders {
    /// No responders yet; they read `table`, and send `()` on `wake` when they see a new
    /// duplicate responder.
    pub fn new(table: SharedTable, metrics: Metrics, wake: tokio::sync::mpsc::Sender<()>) -> Self {
        Responders {
            open: BTreeMap::new(),
            table,
            metrics,
            duplicates: Arc::default(),
            wake,
            failing: BTreeMap::new(),
        }
    }

    /// The interfaces with a responder.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.open.values().map(|r| r.interface.clone()).collect()
    }

    /// Opens responders for new interfaces and closes those of interfaces that went away or
    /// changed.
    pub fn sync_interfaces(&mut self, found: Vec<Interface>) {
        let wanted: BTreeMap<String, Interface> =
            found.into_iter().map(|i| (i.name.clone(), i)).collect();
        self.open.retain(|name, r| {
            let keep = wanted.get(name) == Some(&r.interface);
            if !keep {
                tracing::info!(interface = %name, "closing the responder");
            }
            keep
        });
        self.failing.retain(|name, _| wanted.contains_key(name));
        let now = Instant::now();
        for (name, interface) in wanted {
            if self.open.contains_key(&name)
                || self.failing.get(&name).is_some_and(|(_, at)| *at > now)
            {
                continue;
            }
            match self.open_one(interface) {
                Ok(responder) => {
                    tracing::info!(interface = %name, arp = responder.interface.arp, ndp = responder.interface.link_local.is_some(), "responder started");
                    self.failing.remove(&name);
                    self.open.insert(name, responder);
                }
                Err(err) => {
                    let (backoff, at) = self
                        .failing
                        .entry(name.clone())
                        .or_insert_with(|| (Backoff::new(REOPEN_FIRST, REOPEN_MAX), now));
                    let delay = backoff.failed();
                    *at = now + delay;
                    tracing::warn!(interface = %name, "cannot open a responder (trying again in {delay:?}): {err}");
                }
            }
        }
        self.sync_groups();
    }

    fn open_one(&self, interface: Interface) -> std::io::Result<Responder> {
        let raw = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.index == interface.index)
            .ok_or_else(|| std::io::Error::new(ErrorKind::NotFound, "interface vanished"))?;
        let config = pnet_datalink::Config {
            read_timeout: Some(READ_TIMEOUT),
            promiscuous: false,
            ..Default::default()
        };
        let (tx, rx) = match pnet_datalink::channel(&raw, config)? {
            Channel::Ethernet(tx, rx) => (tx, rx),
            _ => {
                return Err(std::io::Error::new(
                    ErrorKind::Unsupported,
                    "not an Ethernet interface",
                ));
            }
        };
        let sender: Sender = Arc::new(Mutex::new(tx));
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = Receiver {
            interface: interface.clone(),
            sender: sender.clone(),
            table: self.table.clone(),
            metrics: self.metrics.clone(),
            stop: stop.clone(),
            duplicates: self.duplicates.clone(),
            wake: self.wake.clone(),
        };
        std::thread::Builder::new()
            .name(format!("l2-{}", interface.name))
            .spawn(move || receiver.run(rx))?;
        let groups = match interface.link_local {
            Some(_) => Some((UdpSocket::bind("[::]:0")?, BTreeSet::new())),
            None => None,
        };
        Ok(Responder {
            interface,
            sender,
            stop,
            groups,
        })
    }

    /// Joins the solicited-node group of every announced IPv6 address on every NDP interface,
    /// and leaves the groups no longer needed.
    pub fn sync_groups(&mut self) {
        let wanted: BTreeSet<Ipv6Addr> = {
            let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
            table
                .entries()
                .filter_map(|(ip, _)| match ip {
                    IpAddr::V6(v6) => Some(ndp::solicited_node_group(*v6)),
                    IpAddr::V4(_) => None,
                })
                .collect()
        };
        for responder in self.open.values_mut() {
            let index = responder.interface.index;
            let Some((socket, joined)) = &mut responder.groups else {
                continue;
            };
            for group in joined.difference(&wanted).copied().collect::<Vec<_>>() {
                let _ = socket.leave_multicast_v6(&group, index);
                joined.remove(&group);
            }
            for group in wanted.difference(joined).copied().collect::<Vec<_>>() {
                match socket.join_multicast_v6(&group, index) {
                    Ok(()) => {
                        joined.insert(group);
                    }
                    Err(err) => {
                        tracing::warn!(interface = %responder.interface.name, %group, "cannot join: {err}")
                    }
                }
            }
        }
    }

    /// Forgets the duplicate responders of addresses `keep` rejects (no longer announced here:
    /// when one comes back, only what is seen from then on counts).
    pub fn forget_duplicates(&self, keep: impl Fn(IpAddr) -> bool) {
        let mut seen = self
            .duplicates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        seen.retain(|(ip, _), _| keep(*ip));
    }

    /// The duplicate responders seen within `within` (older ones are forgotten).
    pub fn duplicates(&self, within: Duration) -> BTreeMap<(IpAddr, Mac), Duplicate> {
        let mut seen = self
            .duplicates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, d| d.last_seen.elapsed() <= within);
        seen.clone()
    }

    /// Asks who else holds `ip` (an ARP probe, IPv4 only) on every interface it is answered for
    /// on; the answers come back as duplicate responders. Returns how many probes went out.
    pub fn probe(&self, ip: IpAddr, filter: &InterfaceFilter) -> usize {
        let IpAddr::V4(v4) = ip else {
            return 0;
        };
        let mut sent = 0;
        for responder in self.open.values() {
            let interface = &responder.interface;
            if interface.arp
                && answers_on(ip, filter.as_ref(), &interface.name, &interface.networks)
                && send(&responder.sender, &arp::probe(interface.mac, v4))
            {
                sent += 1;
                self.metrics
                    .inc(DUPLICATE_PROBES_SENT, &[("ip", &ip.to_string())]);
            }
        }
        sent
    }

    /// Sends one gratuitous announcement of `ip` on every interface it is answered for on
    /// (the named ones, else those on its network); returns how many packets went out.
    pub fn gratuitous(&self, ip: IpAddr, filter: &InterfaceFilter) -> usize {
        let mut sent = 0;
        let label = ip.to_string();
        for responder in self.open.values() {
            let interface = &responder.interface;
            if !answers_on(ip, filter.as_ref(), &interface.name, &interface.networks) {
                continue;
            }
            let frames: Vec<Vec<u8>> = match ip {
                IpAddr::V4(v4) if interface.arp => arp::gratuitous(interface.mac, v4).to_vec(),
                IpAddr::V6(v6) if interface.link_local.is_some() => {
                    vec![ndp::unsolicited_advertisement(interface.mac, v6)]
                }
                IpAddr::V6(_) => Vec::new(),
                IpAddr::V4(_) => Vec::new(),
            };
            for frame in frames {
                if send(&responder.sender, &frame) {
                    sent += 1;
                    self.metrics.inc(GRATUITOUS_SENT, &[("ip", &label)]);
                }
            }
        }
        sent
    }
}
