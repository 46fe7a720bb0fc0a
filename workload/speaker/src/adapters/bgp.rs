//! BGP sessions over TCP: one task per peer drives `metallb_core::bgp::fsm` with the
//! connection, timers and the route set of the plan, and sends UPDATEs for what changed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use metallb_core::bgp::fsm::{Action, Config, Input, Session};
use metallb_core::bgp::{
    AFI_IPV4, AFI_IPV6, Attribute, Capability, DecodeError, Message, Prefix, SAFI_UNICAST, Update,
    decode, encode, pack_announcements,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use super::bfd::{Bfd, SessionHandle};
use crate::bgp_plan::{Peer, Plan, Route};
use metallb_core::bfd::{Hops, State as BfdState};
use metallb_runtime::metrics::Metrics;

/// Metric: 1 while the session with a peer is established (label `peer`).
pub const SESSION_UP: &str = "metallb_bgp_session_up";
/// Metric: UPDATE messages sent (label `peer`).
pub const UPDATES: &str = "metallb_bgp_updates_total";
/// Metric: prefixes announced to a peer (label `peer`).
pub const ANNOUNCED: &str = "metallb_bgp_announced_prefixes_total";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a peer keeps our routes while we restart (graceful restart), in seconds.
const RESTART_TIME: u16 = 120;
/// TTL of eBGP sessions to directly connected peers, and of every other session.
const TTL_SINGLE_HOP: u32 = 1;
const TTL_MULTI_HOP: u32 = 255;

/// Why a session stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// It runs.
    No,
    /// The peer goes from the plan: Cease, the peer withdraws our routes.
    Withdraw,
    /// The speaker stops: with graceful restart, close without Cease so the peer keeps our
    /// routes until we are back; else as `Withdraw`.
    Restart,
}
/// Withdrawals per UPDATE, well within 4,096 bytes (5 bytes per IPv4 /32, 17 per IPv6 /128).
const WITHDRAW_V4: usize = 700;
const WITHDRAW_V6: usize = 200;

struct Handle {
    peer: Peer,
    routes: watch::Sender<BTreeSet<Route>>,
    stop: watch::Sender<Stop>,
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
                let _ = handle.stop.send(Stop::Withdraw);
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
                    let (stop_tx, stop_rx) = watch::channel(Stop::No);
                    let bfd = peer.bfd.map(|settings| {
                        self.bfd.start(
                            &peer.name,
                            peer.address,
                            peer.source_address,
                            settings.config,
                            bfd_hops(peer, settings.minimum_ttl),
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

    /// Stops every session, waiting at most `timeout`: Cease, except toward peers with
    /// graceful restart, which keep our routes until the speaker is back.
    pub async fn shutdown(&mut self, timeout: Duration) {
        let handles: Vec<Handle> = std::mem::take(&mut self.running).into_values().collect();
        for h in &handles {
            let _ = h.stop.send(Stop::Restart);
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

/// The attributes of `route` toward `peer` (next hops are added by the packer).
fn attributes(peer: &Peer, route: &Route) -> Vec<Attribute> {
    let ibgp = peer.peer_as.is_internal(peer.local_as);
    let mut attrs = vec![
        Attribute::Origin(0),
        Attribute::AsPath(if ibgp { vec![] } else { vec![peer.local_as] }),
    ];
    if ibgp {
        attrs.push(Attribute::LocalPref(route.local_pref.unwrap_or(100)));
    }
    if !route.communities.is_empty() {
        attrs.push(Attribute::Communities(route.communities.clone()));
    }
    if !route.large_communities.is_empty() {
        attrs.push(Attribute::LargeCommunities(route.large_communities.clone()));
    }
    attrs
}

/// The UPDATEs that take the peer from `sent` to `wanted`.
fn updates(
    peer: &Peer,
    local: SocketAddr,
    sent: &BTreeSet<Route>,
    wanted: &BTreeSet<Route>,
) -> Vec<Update> {
    let wanted_prefixes: BTreeSet<Prefix> = wanted.iter().map(|r| r.prefix).collect();
    let (mut withdraw_v4, mut withdraw_v6) = (Vec::new(), Vec::new());
    for route in sent.iter().filter(|r| !wanted_prefixes.contains(&r.prefix)) {
        if route.prefix.addr.is_ipv4() {
            withdraw_v4.push(route.prefix);
        } else {
            withdraw_v6.push(route.prefix);
        }
    }
    let mut out: Vec<Update> = withdraw_v4
        .chunks(WITHDRAW_V4)
        .map(|c| Update {
            withdrawn: c.to_vec(),
            ..Update::default()
        })
        .collect();
    out.extend(withdraw_v6.chunks(WITHDRAW_V6).map(|c| Update {
        attributes: vec![Attribute::MpUnreach {
            afi: AFI_IPV6,
            safi: SAFI_UNICAST,
            withdrawn: c.to_vec(),
        }],
        ..Update::default()
    }));
    // New or changed routes, grouped by attributes.
    let mut groups: BTreeMap<Vec<u8>, (Vec<Attribute>, Vec<Prefix>)> = BTreeMap::new();
    for route in wanted.iter().filter(|r| !sent.contains(r)) {
        let attrs = attributes(peer, route);
        let key = encode(&Message::Update(Update {
            attributes: attrs.clone(),
            ..Update::default()
        }));
        groups
            .entry(key)
            .or_insert_with(|| (attrs, Vec::new()))
            .1
            .push(route.prefix);
    }
    let (hop_v4, hops_v6) = next_hops(peer, local.ip(), super::interfaces::sibling_address);
    for (_, (attrs, prefixes)) in groups {
        out.extend(pack_announcements(&attrs, &prefixes, hop_v4, &hops_v6));
    }
    out
}

/// How far the BFD peer of `peer` is: multihop (RFC 5883) for an eBGP peer configured as
/// further away (`ebgpMultiHop`), as routers decide it; single hop otherwise.
fn bfd_hops(peer: &Peer, minimum_ttl: u8) -> Hops {
    if peer.ebgp_multi_hop && !peer.peer_as.is_internal(peer.local_as) {
        Hops::Multi { minimum_ttl }
    } else {
        Hops::Single
    }
}

/// The next hops of the routes sent over a session from `local`: the session's own address for
/// its family (routes of the other family are not sent); with `dual_stack`, also this node's
/// address of the other family (`sibling` finds it).
fn next_hops(
    peer: &Peer,
    local: IpAddr,
    sibling: fn(IpAddr) -> Option<IpAddr>,
) -> (Option<std::net::Ipv4Addr>, Vec<IpAddr>) {
    let other = if peer.dual_stack {
        sibling(local)
    } else {
        None
    };
    match local {
        IpAddr::V4(v4) => (
            Some(v4),
            other.filter(IpAddr::is_ipv6).into_iter().collect(),
        ),
        IpAddr::V6(v6) => {
            let v4 = v6.to_ipv4_mapped().or(match other {
                Some(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            });
            (v4, vec![IpAddr::V6(v6)])
        }
    }
}

/// The TTL (hop limit) of a session's packets: 1 toward a directly connected eBGP peer (as
/// routers do by default), 255 for iBGP and multi-hop eBGP.
fn ttl(peer: &Peer) -> u32 {
    if !peer.peer_as.is_internal(peer.local_as) && !peer.ebgp_multi_hop {
        TTL_SINGLE_HOP
    } else {
        TTL_MULTI_HOP
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
        options.set_ttl_v4(ttl(peer))?;
    } else {
        options.set_unicast_hops_v6(ttl(peer))?;
    }
    if let Some(source) = peer.source_address {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    if let Some(password) = &peer.password {
        super::md5::set_md5(&socket, target, password)?;
    }
    socket.connect(target).await
}

/// The capabilities we offer `peer`: IPv4 and IPv6 unicast, and graceful restart when enabled
/// (`restarted`: this process has not had a session with the peer yet, so the peer may still
/// hold routes from a previous run; forwarding survives a speaker restart, as the data plane is
/// the kernel's).
fn capabilities(peer: &Peer, restarted: bool) -> Vec<Capability> {
    let mut capabilities = vec![
        Capability::Multiprotocol {
            afi: AFI_IPV4,
            safi: SAFI_UNICAST,
        },
        Capability::Multiprotocol {
            afi: AFI_IPV6,
            safi: SAFI_UNICAST,
        },
    ];
    if peer.graceful_restart {
        capabilities.push(Capability::GracefulRestart {
            restarting: restarted,
            restart_time: RESTART_TIME,
            families: vec![
                (AFI_IPV4, SAFI_UNICAST, true),
                (AFI_IPV6, SAFI_UNICAST, true),
            ],
        });
    }
    capabilities
}

/// The End-of-RIB markers (RFC 4724): an empty UPDATE for IPv4, an empty MP_UNREACH for IPv6.
fn end_of_rib() -> [Update; 2] {
    [
        Update::default(),
        Update {
            attributes: vec![Attribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: vec![],
            }],
            ..Update::default()
        },
    ]
}

/// One session, until `stop` turns true.
async fn run(
    peer: Peer,
    mut routes: watch::Receiver<BTreeSet<Route>>,
    mut stop: watch::Receiver<Stop>,
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
        capabilities: capabilities(&peer, restarted),
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
    let mut stopping = Stop::No;
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
                    // Keep-routes stop: no Cease, the peer treats the closed connection as
                    // a restart.
                    Action::Send(Message::Notification(_))
                        if stopping == Stop::Restart && peer.graceful_restart => {}
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
                        retry = (stopping == Stop::No).then(|| Instant::now() + d);
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
        if stopping != Stop::No {
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
                    stopping = Stop::Withdraw;
                    pending.push_back(Input::Stop);
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
                stopping = *stop.borrow_and_update();
                if stopping == Stop::No {
                    stopping = Stop::Withdraw;
                }
                pending.push_back(Input::Stop);
            }
        }
    }
}

/// Sends the End-of-RIB markers; false when the connection failed.
async fn send_end_of_rib(conn: &mut Option<(OwnedReadHalf, OwnedWriteHalf, SocketAddr)>) -> bool {
    let Some((_, w, _)) = conn.as_mut() else {
        return false;
    };
    for marker in end_of_rib() {
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
    for update in updates(peer, *local, sent, wanted) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn peer(local_as: u32, peer_as: u32) -> Peer {
        Peer {
            name: "router".into(),
            address: "198.18.0.3".parse().unwrap(),
            port: 179,
            local_as,
            peer_as: metallb_core::bgp::fsm::PeerAs::Exact(peer_as),
            hold_time: 9,
            keepalive_time: None,
            connect_time: None,
            router_id: Ipv4Addr::new(198, 18, 0, 11),
            password: None,
            source_address: None,
            ebgp_multi_hop: false,
            graceful_restart: false,
            bfd: None,
            dual_stack: false,
        }
    }

    #[test]
    fn a_dual_stack_session_carries_the_other_family_with_the_sibling_address() {
        let sibling = |local: IpAddr| -> Option<IpAddr> {
            Some(match local {
                IpAddr::V4(_) => "2001:db8::b".parse().unwrap(),
                IpAddr::V6(_) => "198.18.0.11".parse().unwrap(),
            })
        };
        let v4: IpAddr = "198.18.0.11".parse().unwrap();
        let v6: IpAddr = "2001:db8::b".parse().unwrap();
        let mut p = peer(64512, 64513);
        assert_eq!(
            next_hops(&p, v4, sibling),
            (Some(Ipv4Addr::new(198, 18, 0, 11)), vec![]),
            "single family: no IPv6 next hop, so no IPv6 route"
        );
        assert_eq!(next_hops(&p, v6, sibling), (None, vec![v6]));
        p.dual_stack = true;
        assert_eq!(
            next_hops(&p, v4, sibling),
            (Some(Ipv4Addr::new(198, 18, 0, 11)), vec![v6])
        );
        assert_eq!(
            next_hops(&p, v6, sibling),
            (Some(Ipv4Addr::new(198, 18, 0, 11)), vec![v6])
        );
        assert_eq!(
            next_hops(&p, v4, |_| None),
            (Some(Ipv4Addr::new(198, 18, 0, 11)), vec![]),
            "no address of the other family: nothing of it is sent"
        );
    }

    fn route(ip: &str, len: u8, local_pref: Option<u32>) -> Route {
        Route {
            prefix: Prefix::new(ip.parse().unwrap(), len).unwrap(),
            local_pref,
            communities: vec![(65000 << 16) | 100],
            large_communities: vec![],
        }
    }

    #[test]
    fn single_hop_ebgp_uses_ttl_one_and_the_rest_ttl_255() {
        let mut p = peer(64512, 64513);
        assert_eq!(ttl(&p), 1);
        p.ebgp_multi_hop = true;
        assert_eq!(ttl(&p), 255);
        assert_eq!(ttl(&peer(64512, 64512)), 255);
    }

    #[test]
    fn graceful_restart_is_offered_only_when_enabled_with_the_restart_bit_first() {
        let mut p = peer(64512, 64513);
        let gr = |caps: &[Capability]| {
            caps.iter().find_map(|c| match c {
                Capability::GracefulRestart {
                    restarting,
                    restart_time,
                    families,
                } => Some((*restarting, *restart_time, families.len())),
                _ => None,
            })
        };
        assert_eq!(gr(&capabilities(&p, true)), None);
        p.graceful_restart = true;
        assert_eq!(gr(&capabilities(&p, true)), Some((true, RESTART_TIME, 2)));
        assert_eq!(gr(&capabilities(&p, false)), Some((false, RESTART_TIME, 2)));
        // The markers are valid UPDATEs: nothing withdrawn or announced.
        for marker in end_of_rib() {
            let bytes = encode(&Message::Update(marker.clone()));
            assert_eq!(decode(&bytes).map(|(m, _)| m), Ok(Message::Update(marker)));
        }
    }

    #[test]
    fn ebgp_routes_carry_our_as_and_no_local_pref_ibgp_the_reverse() {
        let r = route("198.18.100.10", 32, Some(150));
        let e = attributes(&peer(64512, 64513), &r);
        assert!(e.contains(&Attribute::AsPath(vec![64512])));
        assert!(!e.iter().any(|a| matches!(a, Attribute::LocalPref(_))));
        let i = attributes(&peer(64512, 64512), &r);
        assert!(i.contains(&Attribute::AsPath(vec![])));
        assert!(i.contains(&Attribute::LocalPref(150)));
    }

    #[test]
    fn changes_become_withdrawals_and_announcements() {
        let p = peer(64512, 64513);
        let local: SocketAddr = "198.18.0.11:40000".parse().unwrap();
        let a = route("198.18.100.10", 32, None);
        let b = route("198.18.100.11", 32, None);
        let v6 = route("2001:db8::64:a", 128, None);
        let sent = BTreeSet::from([a.clone(), v6.clone()]);
        let wanted = BTreeSet::from([a.clone(), b.clone()]);
        let out = updates(&p, local, &sent, &wanted);
        // Withdraw the IPv6 route (MP_UNREACH), announce b with our address as next hop.
        assert!(out.iter().any(|u| u.attributes.iter().any(
            |a| matches!(a, Attribute::MpUnreach { withdrawn, .. } if withdrawn == &vec![v6.prefix])
        )));
        let announce = out.iter().find(|u| !u.nlri.is_empty()).unwrap();
        assert_eq!(announce.nlri, vec![b.prefix]);
        assert!(
            announce
                .attributes
                .contains(&Attribute::NextHop(Ipv4Addr::new(198, 18, 0, 11)))
        );
        assert!(updates(&p, local, &wanted, &wanted).is_empty());
    }
}
