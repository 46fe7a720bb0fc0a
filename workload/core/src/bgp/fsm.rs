//! The BGP session state machine (RFC 4271 section 8) as pure logic: inputs (TCP events,
//! received messages, timer expiries, a stop request) in, actions (connect, send, close, arm
//! timers) out. The speaker's session adapter performs the actions; the clock lives there.
//!
//! How a session ends is decided here too ([`Stop`]): a Cease NOTIFICATION, or, when the speaker
//! restarts with graceful restart (RFC 4724) in use, a close without NOTIFICATION so the peer
//! keeps our routes until we are back.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{Capability, Message, Notification, Open};

/// Session states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not running, or waiting to reconnect.
    Idle,
    /// Connecting.
    Connect,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for the first KEEPALIVE.
    OpenConfirm,
    /// Routes can be exchanged.
    Established,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start the session (or restart it after the reconnect delay).
    Start,
    /// The TCP connection is up.
    Connected,
    /// Connecting failed or the connection closed.
    Disconnected,
    /// A message arrived.
    Received(Message),
    /// A received message could not be decoded: this NOTIFICATION must go out.
    Malformed(Notification),
    /// The hold timer expired.
    HoldExpired,
    /// Time to send a KEEPALIVE.
    KeepaliveDue,
    /// Stop the session, for this reason.
    Stop(Stop),
}

/// Why a session stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The peer is gone from the configuration: Cease (administrative shutdown), and the peer
    /// withdraws our routes.
    Withdraw,
    /// The speaker stops and will be back: with graceful restart in use, the connection closes
    /// without a NOTIFICATION, which the peer treats as a restart, keeping our routes for the
    /// restart time (RFC 4724 section 4.2); without it, as [`Stop::Withdraw`].
    Restart,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the TCP connection.
    Connect,
    /// Send a message.
    Send(Message),
    /// Close the TCP connection.
    Close,
    /// (Re)arm the hold timer (`None`: disarm; a negotiated hold time of 0 means none).
    HoldTimer(Option<Duration>),
    /// (Re)arm the keepalive timer.
    KeepaliveTimer(Option<Duration>),
    /// Try again after this delay (feed [`Input::Start`] then).
    RetryAfter(Duration),
    /// The session is established with this peer OPEN; announce the routes now.
    Up(Open),
    /// The session went down for this reason; the peer's routes are gone.
    Down(String),
}

/// The AS a peer must open with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerAs {
    /// Exactly this AS (BGPPeer `peerASN`).
    Exact(u32),
    /// Any AS equal to ours (`dynamicASN: internal`): iBGP.
    Internal,
    /// Any AS other than ours (`dynamicASN: external`): eBGP.
    External,
}

impl PeerAs {
    /// Whether a peer opening with `asn` is acceptable when our AS is `local_as`.
    pub fn accepts(self, local_as: u32, asn: u32) -> bool {
        match self {
            PeerAs::Exact(expected) => asn == expected,
            PeerAs::Internal => asn == local_as,
            PeerAs::External => asn != local_as,
        }
    }

    /// Whether the session is iBGP (the peer is in our AS).
    pub fn is_internal(self, local_as: u32) -> bool {
        match self {
            PeerAs::Exact(expected) => expected == local_as,
            PeerAs::Internal => true,
            PeerAs::External => false,
        }
    }
}

/// The local side of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our AS.
    pub local_as: u32,
    /// The AS the peer must open with.
    pub peer_as: PeerAs,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Proposed hold time (0, or at least 3 seconds).
    pub hold_time: u16,
    /// Keepalive interval; at most a third of the negotiated hold time (the default).
    pub keepalive: Option<Duration>,
    /// Capabilities to offer (4-octet AS is always added).
    pub capabilities: Vec<Capability>,
    /// A fixed ConnectRetry time (BGPPeer `connectTime`, FRR's `timers connect`) instead of
    /// the default backoff (1 s doubling to 60 s).
    pub connect_retry: Option<Duration>,
}

/// Reconnect delays: 1 s doubling to 60 s, reset once established.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);
/// Hold time while waiting for the peer's OPEN (RFC 4271: "large", 4 minutes suggested).
const OPEN_HOLD: Duration = Duration::from_secs(240);

/// One BGP session.
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    state: State,
    retry: Duration,
    hold: Option<Duration>,
    peer: Option<Open>,
}

fn notification(code: u8, subcode: u8, data: Vec<u8>) -> Message {
    Message::Notification(Notification {
        code,
        subcode,
        data,
    })
}

impl Session {
    /// A session in Idle.
    pub fn new(config: Config) -> Self {
        Session {
            config,
            state: State::Idle,
            retry: FIRST_RETRY,
            hold: None,
            peer: None,
        }
    }

    /// Replaces the configuration; it applies from the next OPEN on (for example, the graceful
    /// restart state bit is set only in the first session after a restart).
    pub fn reconfigure(&mut self, config: Config) {
        self.config = config;
    }

    /// The keepalive interval for the negotiated hold time (none when it is 0).
    fn keepalive_interval(&self) -> Option<Duration> {
        self.hold.map(|hold| {
            let third = hold / 3;
            self.config.keepalive.map_or(third, |k| k.min(third))
        })
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The OPEN we send.
    pub fn open(&self) -> Open {
        let mut capabilities = self.config.capabilities.clone();
        capabilities.retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        capabilities.push(Capability::FourOctetAs(self.config.local_as));
        Open {
            asn: self.config.local_as,
            hold_time: self.config.hold_time,
            router_id: self.config.router_id,
            capabilities,
        }
    }

    /// Tears the session down: close, forget timers, schedule a reconnect.
    fn reset(&mut self, reason: String, mut actions: Vec<Action>) -> Vec<Action> {
        let was_up = self.state == State::Established;
        self.state = State::Idle;
        actions.extend([
            Action::Close,
            Action::HoldTimer(None),
            Action::KeepaliveTimer(None),
        ]);
        if was_up || !reason.is_empty() {
            actions.push(Action::Down(reason));
        }
        match self.config.connect_retry {
            Some(fixed) => actions.push(Action::RetryAfter(fixed)),
            None => {
                actions.push(Action::RetryAfter(self.retry));
                self.retry = (self.retry * 2).min(MAX_RETRY);
            }
        }
        actions
    }

    /// Whether graceful restart is in use with the peer: we offer it, and the peer offered it
    /// in its last OPEN. Before any OPEN from the peer it is assumed to be (a peer that kept
    /// our routes from before our restart would drop them on a NOTIFICATION).
    fn graceful_restart(&self) -> bool {
        let offers = |capabilities: &[Capability]| {
            capabilities
                .iter()
                .any(|c| matches!(c, Capability::GracefulRestart { .. }))
        };
        offers(&self.config.capabilities)
            && self
                .peer
                .as_ref()
                .is_none_or(|open| offers(&open.capabilities))
    }

    /// Checks the peer's OPEN; the NOTIFICATION to send when it is unacceptable.
    fn check_open(&self, open: &Open) -> Result<Duration, Message> {
        if !self.config.peer_as.accepts(self.config.local_as, open.asn) {
            return Err(notification(2, 2, Vec::new()));
        }
        if open.router_id == self.config.router_id
            && self.config.peer_as.is_internal(self.config.local_as)
        {
            return Err(notification(2, 3, Vec::new()));
        }
        let hold = self.config.hold_time.min(open.hold_time);
        Ok(Duration::from_secs(u64::from(hold)))
    }

    /// Feeds one input; returns the actions to perform, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        match (self.state, input) {
            (_, Input::Stop(stop)) => {
                let mut actions = Vec::new();
                let keep_routes = stop == Stop::Restart && self.graceful_restart();
                if !keep_routes
                    && matches!(
                        self.state,
                        State::OpenSent | State::OpenConfirm | State::Established
                    )
                {
                    // Cease / administrative shutdown.
                    actions.push(Action::Send(notification(6, 2, Vec::new())));
                }
                let was_up = self.state == State::Established;
                self.state = State::Idle;
                actions.extend([
                    Action::Close,
                    Action::HoldTimer(None),
                    Action::KeepaliveTimer(None),
                ]);
                if was_up {
                    actions.push(Action::Down("stopped".into()));
                }
                actions
            }
            (State::Idle, Input::Start) => {
                self.state = State::Connect;
                vec![Action::Connect]
            }
            (State::Idle, _) => Vec::new(),
            (State::Connect, Input::Connected) => {
                self.state = State::OpenSent;
                vec![
                    Action::Send(Message::Open(self.open())),
                    Action::HoldTimer(Some(OPEN_HOLD)),
                ]
            }
            (_, Input::Disconnected) => self.reset("connection closed".into(), Vec::new()),
            (_, Input::Malformed(n)) => {
                let reason = format!(
                    "malformed message from the peer (error {}/{})",
                    n.code, n.subcode
                );
                self.reset(reason, vec![Action::Send(Message::Notification(n))])
            }
            (_, Input::HoldExpired) => self.reset(
                "hold timer expired".into(),
                vec![Action::Send(notification(4, 0, Vec::new()))],
            ),
            (_, Input::Received(Message::Notification(n))) => self.reset(
                format!("the peer sent NOTIFICATION {}/{}", n.code, n.subcode),
                Vec::new(),
            ),
            (State::OpenSent, Input::Received(Message::Open(open))) => match self.check_open(&open)
            {
                Ok(hold) => {
                    self.state = State::OpenConfirm;
                    self.peer = Some(open);
                    self.hold = (!hold.is_zero()).then_some(hold);
                    let keepalive = self.keepalive_interval();
                    vec![
                        Action::Send(Message::Keepalive),
                        Action::HoldTimer(self.hold),
                        Action::KeepaliveTimer(keepalive),
                    ]
                }
                Err(n) => self.reset("unacceptable OPEN".into(), vec![Action::Send(n)]),
            },
            (State::OpenConfirm, Input::Received(Message::Keepalive)) => {
                self.state = State::Established;
                self.retry = FIRST_RETRY;
                let mut actions = vec![Action::HoldTimer(self.hold)];
                actions.extend(self.peer.clone().map(Action::Up));
                actions
            }
            (State::OpenConfirm | State::Established, Input::KeepaliveDue) => {
                vec![
                    Action::Send(Message::Keepalive),
                    Action::KeepaliveTimer(self.keepalive_interval()),
                ]
            }
            (State::Established, Input::Received(Message::Keepalive | Message::Update(_))) => {
                vec![Action::HoldTimer(self.hold)]
            }
            (state, Input::Received(_)) => {
                // Finite State Machine Error, with the RFC 6608 subcode of the state.
                let subcode = match state {
                    State::OpenSent => 1,
                    State::OpenConfirm => 2,
                    State::Established => 3,
                    _ => 0,
                };
                self.reset(
                    format!("unexpected message in {state:?}"),
                    vec![Action::Send(notification(5, subcode, Vec::new()))],
                )
            }
            (_, Input::Start | Input::Connected | Input::KeepaliveDue) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            local_as: 64512,
            peer_as: PeerAs::Exact(64513),
            router_id: Ipv4Addr::new(198, 18, 0, 11),
            hold_time: 9,
            keepalive: None,
            capabilities: Vec::new(),
            connect_retry: None,
        }
    }

    #[test]
    fn a_configured_keepalive_applies_up_to_a_third_of_the_hold_time() {
        let mut s = Session::new(Config {
            keepalive: Some(Duration::from_secs(1)),
            ..config()
        });
        s.hold = Some(Duration::from_secs(9));
        assert_eq!(s.keepalive_interval(), Some(Duration::from_secs(1)));
        s.config.keepalive = Some(Duration::from_secs(30));
        assert_eq!(s.keepalive_interval(), Some(Duration::from_secs(3)));
        s.hold = None;
        assert_eq!(s.keepalive_interval(), None);
    }

    fn peer_open(asn: u32, hold: u16) -> Message {
        Message::Open(Open {
            asn,
            hold_time: hold,
            router_id: Ipv4Addr::new(198, 18, 0, 1),
            capabilities: vec![Capability::FourOctetAs(asn)],
        })
    }

    fn establish(s: &mut Session, peer_hold: u16) -> Vec<Action> {
        assert_eq!(s.handle(Input::Start), vec![Action::Connect]);
        let sent = s.handle(Input::Connected);
        assert!(matches!(&sent[0], Action::Send(Message::Open(o)) if o.asn == 64512));
        s.handle(Input::Received(peer_open(64513, peer_hold)));
        s.handle(Input::Received(Message::Keepalive))
    }

    #[test]
    fn a_session_establishes_with_the_smaller_hold_time() {
        let mut s = Session::new(config());
        let actions = establish(&mut s, 30);
        assert_eq!(s.state(), State::Established);
        assert_eq!(actions[0], Action::HoldTimer(Some(Duration::from_secs(9))));
        assert!(matches!(actions[1], Action::Up(_)));
        assert_eq!(
            s.handle(Input::KeepaliveDue),
            vec![
                Action::Send(Message::Keepalive),
                Action::KeepaliveTimer(Some(Duration::from_secs(3)))
            ]
        );
    }

    #[test]
    fn a_wrong_peer_as_is_refused_with_bad_peer_as() {
        let mut s = Session::new(config());
        s.handle(Input::Start);
        s.handle(Input::Connected);
        let actions = s.handle(Input::Received(peer_open(65000, 90)));
        assert_eq!(actions[0], Action::Send(notification(2, 2, Vec::new())));
        assert!(actions.contains(&Action::Close));
        assert_eq!(s.state(), State::Idle);
    }

    #[test]
    fn a_dynamic_peer_as_accepts_any_as_of_its_kind() {
        let opened_with = |peer_as: PeerAs, asn: u32| {
            let mut s = Session::new(Config {
                peer_as,
                ..config()
            });
            s.handle(Input::Start);
            s.handle(Input::Connected);
            s.handle(Input::Received(peer_open(asn, 90)));
            s.state()
        };
        assert_eq!(opened_with(PeerAs::External, 65000), State::OpenConfirm);
        assert_eq!(opened_with(PeerAs::External, 64512), State::Idle);
        assert_eq!(opened_with(PeerAs::Internal, 64512), State::OpenConfirm);
        assert_eq!(opened_with(PeerAs::Internal, 65000), State::Idle);
        assert!(PeerAs::Internal.is_internal(64512) && !PeerAs::External.is_internal(64512));
        assert!(PeerAs::Exact(64512).is_internal(64512));
    }

    #[test]
    fn the_hold_timer_is_enforced_and_reconnects_back_off() {
        let mut s = Session::new(config());
        establish(&mut s, 90);
        let actions = s.handle(Input::HoldExpired);
        assert_eq!(actions[0], Action::Send(notification(4, 0, Vec::new())));
        assert!(actions.contains(&Action::Down("hold timer expired".into())));
        assert!(actions.contains(&Action::RetryAfter(Duration::from_secs(1))));
        s.handle(Input::Start);
        let again = s.handle(Input::Disconnected);
        assert!(again.contains(&Action::RetryAfter(Duration::from_secs(2))));
        // Establishing resets the backoff.
        establish(&mut s, 90);
        let down = s.handle(Input::Disconnected);
        assert!(down.contains(&Action::RetryAfter(Duration::from_secs(1))));
    }

    #[test]
    fn a_connect_time_replaces_the_backoff() {
        let mut s = Session::new(Config {
            connect_retry: Some(Duration::from_secs(5)),
            ..config()
        });
        for _ in 0..3 {
            s.handle(Input::Start);
            let failed = s.handle(Input::Disconnected);
            assert!(failed.contains(&Action::RetryAfter(Duration::from_secs(5))));
        }
    }

    #[test]
    fn unexpected_messages_are_fsm_errors_and_malformed_ones_get_their_notification() {
        let mut s = Session::new(config());
        s.handle(Input::Start);
        s.handle(Input::Connected);
        let actions = s.handle(Input::Received(Message::Keepalive));
        assert_eq!(actions[0], Action::Send(notification(5, 1, Vec::new())));
        let mut s = Session::new(config());
        establish(&mut s, 90);
        let bad = Notification {
            code: 3,
            subcode: 1,
            data: Vec::new(),
        };
        let actions = s.handle(Input::Malformed(bad.clone()));
        assert_eq!(actions[0], Action::Send(Message::Notification(bad)));
        assert_eq!(s.state(), State::Idle);
    }

    #[test]
    fn stopping_sends_cease_and_a_zero_hold_time_means_no_timers() {
        let mut s = Session::new(config());
        let actions = establish(&mut s, 0);
        assert_eq!(actions[0], Action::HoldTimer(None));
        let stop = s.handle(Input::Stop(Stop::Withdraw));
        assert_eq!(stop[0], Action::Send(notification(6, 2, Vec::new())));
        assert!(stop.contains(&Action::Down("stopped".into())));
        assert!(!stop.iter().any(|a| matches!(a, Action::RetryAfter(_))));
    }

    /// The stop of a session in `state` with graceful restart offered by us (`ours`) and by the
    /// peer (`theirs`, in its OPEN).
    fn stop_in(state: State, ours: bool, theirs: bool, stop: Stop) -> Vec<Action> {
        let graceful = Capability::GracefulRestart {
            restarting: false,
            restart_time: 120,
            families: vec![(1, 1, false)],
        };
        let mut s = Session::new(Config {
            capabilities: if ours { vec![graceful.clone()] } else { vec![] },
            ..config()
        });
        let mut open = peer_open(64513, 90);
        if let (true, Message::Open(o)) = (theirs, &mut open) {
            o.capabilities.push(graceful);
        }
        let steps = [
            (State::Connect, Input::Start),
            (State::OpenSent, Input::Connected),
            (State::OpenConfirm, Input::Received(open)),
            (State::Established, Input::Received(Message::Keepalive)),
        ];
        for (reached, input) in steps {
            if s.state() == state {
                break;
            }
            s.handle(input);
            assert_eq!(s.state(), reached);
        }
        assert_eq!(s.state(), state);
        let actions = s.handle(Input::Stop(stop));
        assert_eq!(s.state(), State::Idle);
        assert!(actions.contains(&Action::Close), "{actions:?}");
        assert!(
            !actions.iter().any(|a| matches!(a, Action::RetryAfter(_))),
            "a stopped session does not reconnect: {actions:?}"
        );
        assert_eq!(
            actions.contains(&Action::Down("stopped".into())),
            state == State::Established,
            "{actions:?}"
        );
        actions
    }

    fn sends_cease(actions: &[Action]) -> bool {
        let cease = Action::Send(notification(6, 2, Vec::new()));
        assert!(
            actions
                .iter()
                .all(|a| !matches!(a, Action::Send(_)) || *a == cease),
            "{actions:?}"
        );
        actions.first() == Some(&cease)
    }

    #[test]
    fn a_restart_with_graceful_restart_negotiated_closes_without_cease() {
        for state in [State::OpenConfirm, State::Established] {
            assert!(!sends_cease(&stop_in(state, true, true, Stop::Restart)));
        }
        // Before the peer's first OPEN, it is assumed to keep our routes.
        assert!(!sends_cease(&stop_in(
            State::OpenSent,
            true,
            true,
            Stop::Restart
        )));
    }

    #[test]
    fn a_restart_without_graceful_restart_on_both_sides_sends_cease() {
        for state in [State::OpenConfirm, State::Established] {
            for (ours, theirs) in [(true, false), (false, true), (false, false)] {
                assert!(
                    sends_cease(&stop_in(state, ours, theirs, Stop::Restart)),
                    "{state:?} ours {ours} theirs {theirs}"
                );
            }
        }
        assert!(sends_cease(&stop_in(
            State::OpenSent,
            false,
            true,
            Stop::Restart
        )));
    }

    #[test]
    fn a_withdraw_always_sends_cease_once_an_open_went_out() {
        for state in [State::OpenSent, State::OpenConfirm, State::Established] {
            for (ours, theirs) in [(true, true), (true, false), (false, false)] {
                assert!(sends_cease(&stop_in(state, ours, theirs, Stop::Withdraw)));
            }
        }
    }

    #[test]
    fn a_session_not_yet_connected_just_closes() {
        for stop in [Stop::Withdraw, Stop::Restart] {
            for state in [State::Idle, State::Connect] {
                let actions = stop_in(state, true, true, stop);
                assert!(!sends_cease(&actions));
                assert!(
                    !actions.iter().any(|a| matches!(a, Action::Send(_))),
                    "{actions:?}"
                );
            }
        }
    }

    #[test]
    fn graceful_restart_follows_the_peer_of_the_last_session_after_a_reset() {
        let graceful = Capability::GracefulRestart {
            restarting: false,
            restart_time: 120,
            families: vec![],
        };
        let mut s = Session::new(Config {
            capabilities: vec![graceful],
            ..config()
        });
        // The peer opened without graceful restart, then the session dropped.
        establish(&mut s, 90);
        s.handle(Input::Disconnected);
        s.handle(Input::Start);
        s.handle(Input::Connected);
        assert_eq!(s.state(), State::OpenSent);
        assert!(sends_cease(&s.handle(Input::Stop(Stop::Restart))));
    }
}
