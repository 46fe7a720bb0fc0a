//! BFD over UDP, single hop (RFC 5881, port 3784) and multihop (RFC 5883, port 4784): one
//! listener per address family and port hands each received packet to its session (by
//! discriminator, else by the sender's address), which accepts it only with the TTL its kind
//! requires ([`Hops`]); each session is a task driving `metallb_core::bfd::session` with its own
//! sending socket (source port 49152-65535, TTL 255) and publishing its state.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metallb_core::bfd::session::{Config, Session};
use metallb_core::bfd::{Diagnostic, Hops, Packet, State};
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::backoff::Backoff;
use metallb_runtime::metrics::{Family, Metrics};

/// The metric families this module records (gathered by [`crate::metrics`]).
pub const FAMILIES: &[Family] = &[
    (SESSION_UP, "gauge", "BFD session state (1 up, 0 not)"),
    (
        PACKETS_IN,
        "counter",
        "Number of received BFD control packets",
    ),
    (PACKETS_OUT, "counter", "Number of sent BFD control packets"),
    (
        DOWN_EVENTS,
        "counter",
        "Number of times a BFD session went down",
    ),
    (
        DROPPED,
        "counter",
        "Number of received BFD packets dropped (malformed, or for no session)",
    ),
];

/// Gauge: 1 while the BFD session with a peer is up (label `peer`).
pub const SESSION_UP: &str = "metallb_bfd_session_up";
/// Counter: control packets received on a session (label `peer`).
pub const PACKETS_IN: &str = "metallb_bfd_control_packet_input";
/// Counter: control packets sent on a session (label `peer`).
pub const PACKETS_OUT: &str = "metallb_bfd_control_packet_output";
/// Counter: times a session went down after being up (label `peer`).
pub const DOWN_EVENTS: &str = "metallb_bfd_session_down_events";
/// Counter: received packets dropped (label `reason`).
pub const DROPPED: &str = "metallb_bfd_packets_dropped";

/// TTL of every packet sent (RFC 5881 §5).
const TTL: u32 = 255;
/// Source ports of sessions (RFC 5881 §4, RFC 5883 §5).
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// Where a session's packets go.
struct Route {
    packets: mpsc::Sender<Packet>,
    hops: Hops,
}

#[derive(Default)]
struct Routes {
    by_discriminator: HashMap<u32, Route>,
    /// (peer address, multihop) -> discriminator.
    by_peer: HashMap<(IpAddr, bool), u32>,
}

/// The BFD sessions of this node and the listeners that feed them.
#[derive(Clone)]
pub struct Bfd {
    routes: Arc<Mutex<Routes>>,
    metrics: Metrics,
    /// The ports listened on.
    listening: Arc<Mutex<Vec<u16>>>,
}

/// A running session; it stops (sending AdminDown) when dropped.
pub struct SessionHandle {
    /// The session state.
    pub state: watch::Receiver<State>,
    _stop: watch::Sender<bool>,
}

impl Bfd {
    /// No sessions; listeners start with the first session.
    pub fn new(metrics: Metrics) -> Self {
        Bfd {
            routes: Arc::default(),
            metrics,
            listening: Arc::default(),
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Listens on the port of `hops` (once).
    fn listen(&self, hops: Hops) {
        let port = hops.port();
        let mut listening = self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if listening.contains(&port) {
            return;
        }
        listening.push(port);
        for any in [
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ] {
            match bind_listener(any, port) {
                Ok(socket) => {
                    tokio::spawn(receive(socket, self.clone(), hops.is_multi()));
                }
                Err(err) => {
                    tracing::warn!("BFD: cannot listen on {any} port {port}: {err}")
                }
            }
        }
    }

    /// Starts a session with `peer` (named `label` in metrics) from `source`, `hops` away.
    pub fn start(
        &self,
        label: &str,
        peer: IpAddr,
        source: Option<IpAddr>,
        config: Config,
        hops: Hops,
    ) -> SessionHandle {
        self.listen(hops);
        let key = (peer, hops.is_multi());
        let (packets_tx, packets_rx) = mpsc::channel(64);
        let discriminator = {
            let mut routes = self.routes();
            let mut discriminator = rand::random::<u32>().max(1);
            while routes.by_discriminator.contains_key(&discriminator) {
                discriminator = rand::random::<u32>().max(1);
            }
            routes.by_discriminator.insert(
                discriminator,
                Route {
                    packets: packets_tx,
                    hops,
                },
            );
            routes.by_peer.insert(key, discriminator);
            discriminator
        };
        let (state_tx, state) = watch::channel(State::Down);
        let (stop, stopped) = watch::channel(false);
        let task = SessionTask {
            label: label.to_string(),
            peer,
            source,
            hops,
            session: Session::new(config, discriminator),
            metrics: self.metrics.clone(),
        };
        let bfd = self.clone();
        tokio::spawn(async move {
            task.run(packets_rx, state_tx, stopped).await;
            let mut routes = bfd.routes();
            routes.by_discriminator.remove(&discriminator);
            if routes.by_peer.get(&key) == Some(&discriminator) {
                routes.by_peer.remove(&key);
            }
        });
        SessionHandle { state, _stop: stop }
    }

    /// Hands a packet that arrived on the single-hop or the multihop port (`multi`) with `ttl`
    /// to its session, if it is one of that kind and the TTL is acceptable for it.
    fn dispatch(&self, packet: Packet, from: IpAddr, ttl: Option<u8>, multi: bool) {
        let routes = self.routes();
        let discriminator = match packet.your_discriminator {
            0 => routes.by_peer.get(&(from, multi)).copied(),
            d => Some(d),
        };
        let route = discriminator
            .and_then(|d| routes.by_discriminator.get(&d))
            .filter(|route| route.hops.is_multi() == multi);
        match route {
            Some(route) if route.hops.accepts_ttl(ttl) => {
                let _ = route.packets.try_send(packet);
            }
            Some(_) => {
                tracing::debug!(%from, ?ttl, "BFD packet dropped: TTL not accepted");
                self.metrics.inc(DROPPED, &[("reason", "ttl")]);
            }
            None => self.metrics.inc(DROPPED, &[("reason", "no session")]),
        }
    }
}

fn bind_listener(any: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(SocketAddr::new(any, 0));
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, None)?;
    if any.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    report_ttl(&socket, any.is_ipv6())?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(any, port).into())?;
    UdpSocket::from_std(socket.into())
}

/// Receives control packets on the single-hop or the multihop port (`multi`) and hands them to
/// their sessions with the TTL they arrived with; malformed ones are dropped and counted.
async fn receive(socket: UdpSocket, bfd: Bfd, multi: bool) {
    let mut buf = [0u8; 512];
    let fd = socket.as_raw_fd();
    // Consecutive receive errors (the socket broken for good) slow the loop down instead of
    // spinning: 10 ms doubling to 5 s.
    let mut errors = Backoff::new(Duration::from_millis(10), Duration::from_secs(5));
    loop {
        let received = socket
            .async_io(Interest::READABLE, || receive_with_ttl(fd, &mut buf))
            .await;
        let (len, from, ttl) = match received {
            Ok(received) => {
                errors.succeeded();
                received
            }
            Err(err) => {
                let delay = errors.failed();
                tracing::debug!("BFD receive error (next read in {delay:?}): {err}");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        match Packet::decode(&buf[..len]) {
            Ok(packet) => bfd.dispatch(packet, from.ip().to_canonical(), ttl, multi),
            Err(err) => {
                tracing::debug!(%from, "BFD packet dropped: {err}");
                bfd.metrics.inc(DROPPED, &[("reason", "malformed")]);
            }
        }
    }
}

/// Asks the kernel to report the TTL (IPv4) or hop limit (IPv6) of received packets.
fn report_ttl(socket: &socket2::Socket, ipv6: bool) -> std::io::Result<()> {
    let (level, option) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVTTL)
    };
    let on: libc::c_int = 1;
    // SAFETY: the option value is a c_int that lives for the call.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Receives one datagram on `fd`: its length, sender and the TTL (hop limit) it arrived with.
fn receive_with_ttl(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Option<u8>)> {
    // SAFETY: zeroed sockaddr_storage and msghdr are valid; every pointer in `msg` points to
    // a buffer that outlives the call, with its true length; the control messages are read
    // only through the CMSG macros within msg_controllen.
    unsafe {
        let mut address: libc::sockaddr_storage = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 8];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut address as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let len = libc::recvmsg(fd, &mut msg, 0);
        if len < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ttl = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let is_ttl = (header.cmsg_level == libc::IPPROTO_IP
                && header.cmsg_type == libc::IP_TTL)
                || (header.cmsg_level == libc::IPPROTO_IPV6
                    && header.cmsg_type == libc::IPV6_HOPLIMIT);
            if is_ttl {
                let value: libc::c_int =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                ttl = u8::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        let mut storage = socket2::SockAddrStorage::zeroed();
        *storage.view_as::<libc::sockaddr_storage>() = address;
        let from = socket2::SockAddr::new(storage, msg.msg_namelen)
            .as_socket()
            .ok_or_else(|| std::io::Error::other("a datagram from a non-IP address"))?;
        Ok((len as usize, from, ttl))
    }
}

/// A socket to send a session's packets from: `source` (or any address), a port in
/// 49152-65535, TTL 255, to the peer's port for `hops`.
fn bind_sender(peer: IpAddr, source: Option<IpAddr>, hops: Hops) -> std::io::Result<UdpSocket> {
    let local = source.unwrap_or(match peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let domain = socket2::Domain::for_address(SocketAddr::new(local, 0));
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, None)?;
    if peer.is_ipv4() {
        socket.set_ttl_v4(TTL)?;
    } else {
        socket.set_unicast_hops_v6(TTL)?;
    }
    socket.set_nonblocking(true)?;
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let first = rand::random::<u32>() % span;
    let mut last_error = None;
    for offset in 0..64 {
        let port = *SOURCE_PORTS.start() + ((first + offset * 977) % span) as u16;
        match socket.bind(&SocketAddr::new(local, port).into()) {
            Ok(()) => {
                socket.connect(&SocketAddr::new(peer, hops.port()).into())?;
                return UdpSocket::from_std(socket.into());
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no free BFD source port")))
}

/// `interval` reduced by a random 0-25 % (RFC 5880 §6.8.7), so peers do not synchronise.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::random_range(0.75..=1.0))
}

struct SessionTask {
    label: String,
    peer: IpAddr,
    source: Option<IpAddr>,
    hops: Hops,
    session: Session,
    metrics: Metrics,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl SessionTask {
    async fn send(&self, socket: Option<&UdpSocket>, packet: &Packet) {
        if let Some(socket) = socket
            && socket.send(&packet.encode()).await.is_ok()
        {
            self.metrics.inc(PACKETS_OUT, &[("peer", &self.label)]);
        }
    }

    fn transition(&self, from: State, to: State) {
        tracing::info!(peer = %self.label, "BFD session {from:?} -> {to:?} ({:?})", self.session.diagnostic());
        self.metrics.set(
            SESSION_UP,
            &[("peer", &self.label)],
            if to == State::Up { 1.0 } else { 0.0 },
        );
        if from == State::Up {
            self.metrics.inc(DOWN_EVENTS, &[("peer", &self.label)]);
        }
    }

    async fn run(
        mut self,
        mut packets: mpsc::Receiver<Packet>,
        state: watch::Sender<State>,
        mut stop: watch::Receiver<bool>,
    ) {
        let origin = Instant::now();
        let mut socket = None;
        let mut next_send = Some(Instant::now());
        // A socket that cannot be opened (the source address is gone, no free port) is tried
        // again with a backoff, not on every wake-up.
        let mut bind_backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut next_bind = Instant::now();
        self.metrics.set(SESSION_UP, &[("peer", &self.label)], 0.0);
        loop {
            if socket.is_none() && Instant::now() >= next_bind {
                match bind_sender(self.peer, self.source, self.hops) {
                    Ok(s) => {
                        socket = Some(s);
                        bind_backoff.succeeded();
                    }
                    Err(err) => {
                        let delay = bind_backoff.failed();
                        next_bind = Instant::now() + delay;
                        tracing::warn!(peer = %self.label, "BFD: cannot open a socket (trying again in {delay:?}): {err}");
                    }
                }
            }
            let detection = self.session.detection_deadline().map(|d| origin + d);
            let sending = next_send.filter(|_| self.session.tx_interval().is_some());
            let changed = tokio::select! {
                packet = packets.recv() => {
                    let Some(packet) = packet else { break };
                    self.metrics.inc(PACKETS_IN, &[("peer", &self.label)]);
                    let change = self.session.receive(&packet, origin.elapsed());
                    if let Some(answer) = self.session.take_final() {
                        self.send(socket.as_ref(), &answer).await;
                    }
                    // The peer may now accept packets more often than when the next one was
                    // scheduled (its slow pre-Up interval): bring it forward, or the peer's
                    // detection time runs out first.
                    if let (Some(at), Some(interval)) = (next_send, self.session.tx_interval()) {
                        let sooner = Instant::now() + jittered(interval);
                        if sooner < at {
                            next_send = Some(sooner);
                        }
                    }
                    change
                }
                _ = sleep_until(sending) => {
                    self.send(socket.as_ref(), &self.session.periodic()).await;
                    next_send = self
                        .session
                        .tx_interval()
                        .map(|i| Instant::now() + jittered(i));
                    None
                }
                _ = sleep_until(detection) => self.session.expire(origin.elapsed()),
                _ = stop.changed() => break,
            };
            if next_send.is_none() {
                next_send = Some(Instant::now());
            }
            if let Some((from, to)) = changed {
                self.transition(from, to);
                let _ = state.send(to);
                // The pace changes with the state: send now (with a Poll when going Up).
                next_send = Some(Instant::now());
            }
        }
        // Stopping: tell the peer this is administrative, not a failure.
        let mut goodbye = self.session.periodic();
        goodbye.state = State::AdminDown;
        goodbye.diagnostic = Diagnostic::AdminDown as u8;
        goodbye.poll = false;
        self.send(socket.as_ref(), &goodbye).await;
        self.metrics.set(SESSION_UP, &[("peer", &self.label)], 0.0);
    }
}
