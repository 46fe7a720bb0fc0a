//! ARP and NDP responders: one raw packet socket and one thread per eligible interface. Each
//! thread answers requests for the addresses the shared table announces on its interface; the
//! same sockets send the gratuitous announcements. Frames that cannot be parsed are counted and
//! dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use metallb_core::l2::interface::answers_on;
use metallb_core::l2::{DropReason, arp, ndp};
use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};

use super::interfaces::Interface;
use crate::backoff::Backoff;
use crate::metrics::{FRAMES_DROPPED, GRATUITOUS_SENT, Metrics, REQUESTS_RECEIVED, RESPONSES_SENT};
use crate::table::{InterfaceFilter, SharedTable};

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

/// Everything a receiving thread needs.
struct Receiver {
    interface: Interface,
    sender: Sender,
    table: SharedTable,
    metrics: Metrics,
    stop: Arc<AtomicBool>,
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

    fn handle(&self, frame: &[u8]) {
        let mac = self.interface.mac;
        // Our own transmissions come back on a packet socket.
        if frame.get(6..12) == Some(&mac[..]) {
            return;
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

/// The responders of this node, one per eligible interface.
pub struct Responders {
    open: BTreeMap<String, Responder>,
    table: SharedTable,
    metrics: Metrics,
    /// Interfaces whose responder could not be opened: when to try again.
    failing: BTreeMap<String, (Backoff, Instant)>,
}

/// Delays before opening a failed responder again: 2 s doubling to 5 minutes.
const REOPEN_FIRST: Duration = Duration::from_secs(2);
const REOPEN_MAX: Duration = Duration::from_secs(300);

impl Responders {
    /// No responders yet; they read `table`.
    pub fn new(table: SharedTable, metrics: Metrics) -> Self {
        Responders {
            open: BTreeMap::new(),
            table,
            metrics,
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
