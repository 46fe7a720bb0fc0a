//! BGP sessions over TCP: one task per peer drives `metallb_core::bgp::fsm` with the
//! connection, timers and the route set of the plan, and sends the UPDATEs
//! `metallb_core::bgp::advertise` computes for what changed. Sockets and timers only.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use metallb_core::bgp::advertise;
use metallb_core::bgp::fsm::{Action, Config, Input, Session, Stop};
use metallb_core::bgp::{DecodeError, Message, decode, encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use super::bfd::{Bfd, SessionHandle};
use crate::bgp_peer::Peer;
use crate::plan::bgp::{Plan, Route};
use metallb_core::bfd::State as BfdState;
use metallb_runtime::metrics::{Family, Metrics};

/// The metric families this module records (gathered by [`crate::metrics`]).
pub const FAMILIES: &[Family] = &[
    (
        SESSION_UP,
        "gauge",
        "BGP session state (1 established, 0 not)",
    ),
    (UPDATES, "counter", "Number of BGP UPDATE messages sent"),
    (
        ANNOUNCED,
        "gauge",
        "Number of prefixes announced on the BGP session",
    ),
];

/// Metric: 1 while the session with a peer is established (label `peer`).
pub const SESSION_UP: &str = "metallb_bgp_session_up";
/// Metric: UPDATE messages sent (label `peer`).
pub const UPDATES: &str = "metallb_bgp_updates_total";
/// Metric: prefixes announced to a peer (label `peer`).
pub const ANNOUNCED: &str = "metallb_bgp_announced_prefixes_total";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Handle {
    peer: Peer,
    routes: watch::Sender<BTreeSet<Route>>,
    /// `None` while the session runs; why it stops (the session state machine decides what
    /// that sends).
    stop: watch::Sender<Option<Stop>>,
    task: tokio::task::JoinHandle<()>,
}

/// The BGP sessions of this node.
pub struct Sessions {
    running: BTreeMap<String, Handle>,
    metrics: Metrics,
    bfd: Bfd,
}

impl Sessions {
    /// No sessions yet.
    pub fn new(metrics: Metrics) -> Self {
        Sessions {
            running: BTreeMap::new(),
            bfd: Bfd::new(metrics.clone()),
            metrics,
        }
    }

    /// Starts, stops and updates sessions to match `plan`.
    pub fn sync(&mut self, plan: &Plan) {
        let wanted: BTreeMap<&str, &Peer> =
            plan.peers.iter().map(|p| (p.name.as_str(), p)).collect();
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|(name, h)| wanted.get(name.as_str()) != Some(&&h.peer))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(handle) = self.running.remove(&name) {
                let _ = handle.stop.send(Some(Stop::Withdraw));
            }
        }
        for peer in &plan.peers {
            let routes = plan.routes.get(&peer.name).cloned().unwrap_or_default();
            match self.running.get(&peer.name) {
                Some(handle) => {
                    handle.routes.send_if_modified(|current| {
                        let changed = *current != routes;
                        *current = routes;
                        changed
                    });
                }
                None => {
                    let (routes_tx, routes_rx) = watch::channel(routes);
                    let (stop_tx, stop_rx) = watch::channel(None);
                    let bfd = peer.bfd.map(|settings| {
                        self.bfd.start(
                            &peer.name,
                            peer.address,
                            peer.source_address,
                            settings.config,
                            advertise::bfd_hops(&peer.peering(), settings.minimum_ttl),
                        )
                    });
                    let task = tokio::spawn(run(
                        peer.clone(),
                        routes_rx,
                        stop_rx,
                        bfd,
                        self.metrics.clone(),
                    ));
                    self.running.insert(
                        peer.name.clone(),
                        Handle {
                            peer: peer.clone(),
                            routes: routes_tx,
                            stop: stop_tx,
                            task,
                        },
                    );
                }
            }
        }
    }

    /// Stops every session as a restart ([`Stop::Restart`]), waiting at most `timeout`: Cease,
    /// except toward peers with graceful restart in use, which keep our routes until the
    /// speaker is back.
    pub async fn shutdown(&mut self, timeout: Duration) {
        let handles: Vec<Handle> = std::mem::take(&mut self.running).into_values().collect();
        for h in &handles {
            let _ = h.stop.send(Some(Stop::Restart));
        }
        for h in handles {
            let _ = tokio::time::timeout(timeout, h.task).await;
        }
    }
}

async fn read_some(
    reader: Option<&mut OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    match reader {
        Some(r) => r.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the BFD session goes from Up to another state.
async fn bfd_down(handle: Option<&mut SessionHandle>) {
    let Some(handle) = handle else {
        return std::future::pending().await;
    };
    let mut was_up = *handle.state.borrow_and_update() == BfdState::Up;
    loop {
        if handle.state.changed().await.is_err() {
            return std::future::pending().await;
        }
        let up = *handle.state.borrow_and_update() == BfdState::Up;
        if was_up && !up {
            return;
        }
        was_up = up;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Connects to `peer`: from its source address when set, with its TTL, signing the session
/// with its password (TCP MD5) when there is one.
async fn connect(peer: &Peer) -> std::io::Result<TcpStream> {
    let target = SocketAddr::new(peer.address, peer.port);
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    let options = socket2::SockRef::from(&socket);
    if target.is_ipv4() {
        options.set_ttl_v4(advertise::ttl(&peer.peering()))?;
    } else {
        options.set_unicast_hops_v6(advertise::ttl(&peer.peering()))?;
    }
    if let Some(source) = peer.source_address {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    if let Some(password) = &peer.password {
        super::md5::set_md5(&socket, target, password)?;
    }
    socket.connect(target).await
}

/// One session, until `stop` says why it ends.
async fn run(
    peer: Peer,
    mut routes: watch::Receiver<BTreeSet<Route>>,
    mut stop: watch::Receiver<Option<Stop>>,
    mut bfd: Option<SessionHandle>,
    metrics: Metrics,
) {
    let label = peer.name.clone();
    let config = |restarted| Config {
        local_as: peer.local_as,
        peer_as: peer.peer_as,
        router_id: peer.router_id,
        hold_time: peer.hold_time,
        keepalive: peer
            .keepalive_time
            .map(|s| Duration::from_secs(u64::from(s))),
        capabilities: advertise::capabilities(&peer.peering(), restarted),
        connect_retry: peer.connect_time.map(|s| Duration::from_secs(u64::from(s))),
    };
    let mut session = Session::new(config(true));
    let mut pending: VecDeque<Input> = VecDeque::from([Input::Start]);
    let mut conn: Option<(OwnedReadHalf, OwnedWriteHalf, SocketAddr)> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let (mut hold, mut keepalive, mut retry): (Option<Instant>, Option<Instant>, Option<Instant>) =
        (None, None, None);
    let mut sent: BTreeSet<Route> = BTreeSet::new();
    let mut established = false;
    let mut stopping = false;
    metrics.set(SESSION_UP, &[("peer", &label)], 0.0);
    loop {
        while let Some(input) = pending.pop_front() {
            for action in session.handle(input) {
                match action {
                    Action::Connect => {
                        let target = SocketAddr::new(peer.address, peer.port);
                        match tokio::time::timeout(CONNECT_TIMEOUT, connect(&peer)).await {
                            Ok(Ok(stream)) => {
                                let _ = stream.set_nodelay(true);
                                let local = stream.local_addr().unwrap_or(target);
                                let (r, w) = stream.into_split();
                                conn = Some((r, w, local));
                                pending.push_back(Input::Connected);
                            }
                            _ => pending.push_back(Input::Disconnected),
                        }
                    }
                    Action::Send(message) => {
                        if let Some((_, w, _)) = conn.as_mut()
                            && w.write_all(&encode(&message)).await.is_err()
                        {
                            pending.push_back(Input::Disconnected);
                        }
                    }
                    Action::Close => {
                        conn = None;
                        buf.clear();
                        established = false;
                        sent.clear();
                    }
                    Action::HoldTimer(d) => hold = d.map(|d| Instant::now() + d),
                    Action::KeepaliveTimer(d) => keepalive = d.map(|d| Instant::now() + d),
                    Action::RetryAfter(d) => {
                        retry = (!stopping).then(|| Instant::now() + d);
                    }
                    Action::Up(open) => {
                        tracing::info!(peer = %label, peer_as = open.asn, router_id = %open.router_id, "BGP session established");
                        established = true;
                        metrics.set(SESSION_UP, &[("peer", &label)], 1.0);
                        let wanted = routes.borrow_and_update().clone();
                        if !send_updates(&peer, &mut conn, &sent, &wanted, &metrics).await
                            || (peer.graceful_restart && !send_end_of_rib(&mut conn).await)
                        {
                            pending.push_back(Input::Disconnected);
                        }
                        sent = wanted;
                        metrics.set(ANNOUNCED, &[("peer", &label)], sent.len() as f64);
                        // Later sessions of this process are not restarts.
                        session.reconfigure(config(false));
                    }
                    Action::Down(reason) => {
                        tracing::info!(peer = %label, "BGP session down: {reason}");
                        metrics.set(SESSION_UP, &[("peer", &label)], 0.0);
                    }
                }
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            read = read_some(conn.as_mut().map(|(r, _, _)| r), &mut buf) => match read {
                Ok(0) | Err(_) => pending.push_back(Input::Disconnected),
                Ok(_) => loop {
                    match decode(&buf) {
                        Ok((message, used)) => {
                            buf.drain(..used);
                            pending.push_back(Input::Received(message));
                        }
                        Err(DecodeError::Incomplete) => break,
                        Err(DecodeError::Malformed(n)) => {
                            pending.push_back(Input::Malformed(n));
                            break;
                        }
                    }
                },
            },
            _ = sleep_until(hold) => { hold = None; pending.push_back(Input::HoldExpired); }
            _ = sleep_until(keepalive) => { keepalive = None; pending.push_back(Input::KeepaliveDue); }
            _ = sleep_until(retry) => { retry = None; pending.push_back(Input::Start); }
            changed = routes.changed() => {
                if changed.is_err() {
                    stopping = true;
                    pending.push_back(Input::Stop(Stop::Withdraw));
                } else if established {
                    let wanted = routes.borrow_and_update().clone();
                    if !send_updates(&peer, &mut conn, &sent, &wanted, &metrics).await {
                        pending.push_back(Input::Disconnected);
                    }
                    sent = wanted;
                    metrics.set(ANNOUNCED, &[("peer", &label)], sent.len() as f64);
                }
            }
            // BFD declared the peer down: the session goes at once, not after the hold time.
            _ = bfd_down(bfd.as_mut()) => {
                if established {
                    tracing::info!(peer = %label, "BFD: peer down, closing the BGP session");
                    pending.push_back(Input::Disconnected);
                }
            }
            _ = stop.changed() => {
                // A closed channel (the handle dropped) is a withdrawal too.
                let why = stop.borrow_and_update().unwrap_or(Stop::Withdraw);
                stopping = true;
                pending.push_back(Input::Stop(why));
            }
        }
    }
}

/// Sends the End-of-RIB markers; false when the connection failed.
async fn send_end_of_rib(conn: &mut Option<(OwnedReadHalf, OwnedWriteHalf, SocketAddr)>) -> bool {
    let Some((_, w, _)) = conn.as_mut() else {
        return false;
    };
    for marker in advertise::end_of_rib() {
        if w.write_all(&encode(&Message::Update(marker)))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Sends the UPDATEs from `sent` to `wanted`; false when the connection failed.
async fn send_updates(
    peer: &Peer,
    conn: &mut Option<(OwnedReadHalf, OwnedWriteHalf, SocketAddr)>,
    sent: &BTreeSet<Route>,
    wanted: &BTreeSet<Route>,
    metrics: &Metrics,
) -> bool {
    let Some((_, w, local)) = conn.as_mut() else {
        return false;
    };
    // With both families on the session, this node's address of the other family is the next
    // hop of its routes (read from the interfaces on each send: it may change).
    let other_family = if peer.dual_stack {
        super::interfaces::sibling_address(local.ip())
    } else {
        None
    };
    let hops = advertise::next_hops(local.ip(), other_family);
    for update in advertise::updates(&peer.peering(), &hops, sent, wanted) {
        if w.write_all(&encode(&Message::Update(update)))
            .await
            .is_err()
        {
            return false;
        }
        metrics.inc(UPDATES, &[("peer", &peer.name)]);
    }
    true
}
