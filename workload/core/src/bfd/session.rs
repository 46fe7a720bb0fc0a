//! One BFD session in asynchronous mode (RFC 5880 §6.8): what to do with a received packet,
//! when the peer is declared down, and what to send and how often. No echo, no demand mode.

use std::time::Duration;

use super::{Diagnostic, Packet, State};

/// Before a session is Up, packets go at most once per second (§6.8.3).
pub const SLOW_TX: Duration = Duration::from_secs(1);

/// Session settings (a BFDProfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    /// Desired minimum transmit interval.
    pub desired_min_tx: Duration,
    /// Required minimum receive interval.
    pub required_min_rx: Duration,
    /// Detection multiplier.
    pub detect_mult: u8,
    /// Passive: send nothing until the peer has been heard.
    pub passive: bool,
}

impl Default for Config {
    /// Upstream's BFDProfile defaults: 300 ms both ways, multiplier 3, active.
    fn default() -> Self {
        Config {
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            detect_mult: 3,
            passive: false,
        }
    }
}

/// A state change: (from, to).
pub type Transition = (State, State);

/// One session; time is a [`Duration`] since any fixed origin.
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    local_discriminator: u32,
    state: State,
    diagnostic: Diagnostic,
    remote_discriminator: u32,
    remote_min_rx: Duration,
    remote_desired_tx: Duration,
    remote_detect_mult: u8,
    heard: bool,
    polling: bool,
    final_due: bool,
    detection_deadline: Option<Duration>,
}

impl Session {
    /// A Down session with our discriminator (non-zero, unique per session).
    pub fn new(config: Config, local_discriminator: u32) -> Self {
        Session {
            config,
            local_discriminator: local_discriminator.max(1),
            state: State::Down,
            diagnostic: Diagnostic::None,
            remote_discriminator: 0,
            // §6.8.1: initialised to 1 µs, so the first packets are not held back.
            remote_min_rx: Duration::from_micros(1),
            remote_desired_tx: Duration::ZERO,
            remote_detect_mult: 0,
            heard: false,
            polling: false,
            final_due: false,
            detection_deadline: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Our discriminator.
    pub fn local_discriminator(&self) -> u32 {
        self.local_discriminator
    }

    /// The last diagnostic.
    pub fn diagnostic(&self) -> Diagnostic {
        self.diagnostic
    }

    fn desired_min_tx(&self) -> Duration {
        if self.state == State::Up {
            self.config.desired_min_tx
        } else {
            self.config.desired_min_tx.max(SLOW_TX)
        }
    }

    fn set_state(&mut self, to: State, diagnostic: Diagnostic) -> Option<Transition> {
        let from = self.state;
        if from == to {
            return None;
        }
        self.state = to;
        self.diagnostic = diagnostic;
        // The transmit interval changes with the state (§6.8.3): tell the peer with a Poll.
        self.polling = to == State::Up && self.config.desired_min_tx != SLOW_TX;
        if to == State::Down {
            self.polling = false;
        }
        Some((from, to))
    }

    /// Handles a received packet (already checked by [`Packet::decode`]) at `now`; returns the
    /// state change it caused.
    pub fn receive(&mut self, packet: &Packet, now: Duration) -> Option<Transition> {
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            return None;
        }
        self.remote_discriminator = packet.my_discriminator;
        self.remote_min_rx = packet.required_min_rx;
        self.remote_desired_tx = packet.desired_min_tx;
        self.remote_detect_mult = packet.detect_mult;
        self.heard = true;
        if packet.fin {
            self.polling = false;
        }
        if packet.poll {
            self.final_due = true;
        }
        self.detection_deadline = Some(now + self.detection_time());
        if self.state == State::AdminDown {
            return None;
        }
        if packet.state == State::AdminDown {
            return if self.state == State::Down {
                None
            } else {
                self.set_state(State::Down, Diagnostic::NeighborDown)
            };
        }
        match (self.state, packet.state) {
            (State::Down, State::Down) => self.set_state(State::Init, Diagnostic::None),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.set_state(State::Up, Diagnostic::None)
            }
            (State::Up, State::Down) => self.set_state(State::Down, Diagnostic::NeighborDown),
            _ => None,
        }
    }

    /// The detection time: the peer's multiplier times the slower of what we accept and what
    /// it wants to send (§6.8.4).
    pub fn detection_time(&self) -> Duration {
        self.config
            .required_min_rx
            .max(self.remote_desired_tx)
            .saturating_mul(u32::from(self.remote_detect_mult))
    }

    /// When the peer is declared down if nothing more is heard.
    pub fn detection_deadline(&self) -> Option<Duration> {
        match self.state {
            State::Init | State::Up => self.detection_deadline,
            _ => None,
        }
    }

    /// Declares the peer down when the detection time has passed at `now`.
    pub fn expire(&mut self, now: Duration) -> Option<Transition> {
        let deadline = self.detection_deadline()?;
        if now < deadline {
            return None;
        }
        self.detection_deadline = None;
        self.remote_discriminator = 0;
        self.set_state(State::Down, Diagnostic::DetectionExpired)
    }

    /// How often to send, before jitter (the adapter sends at 75-100 % of it, §6.8.7); `None`
    /// when nothing is to be sent periodically (passive and not heard yet, or the peer asks
    /// for no packets).
    pub fn tx_interval(&self) -> Option<Duration> {
        if self.config.passive && !self.heard {
            return None;
        }
        if self.heard && self.remote_min_rx.is_zero() {
            return None;
        }
        Some(self.desired_min_tx().max(self.remote_min_rx))
    }

    fn packet(&self, poll: bool, fin: bool) -> Packet {
        Packet {
            diagnostic: self.diagnostic as u8,
            state: self.state,
            poll,
            fin,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.config.detect_mult,
            my_discriminator: self.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: self.desired_min_tx(),
            required_min_rx: self.config.required_min_rx,
            required_min_echo_rx: Duration::ZERO,
        }
    }

    /// The periodic packet (with Poll while a Poll sequence runs).
    pub fn periodic(&self) -> Packet {
        self.packet(self.polling, false)
    }

    /// The Final that answers a received Poll, once, to be sent at once.
    pub fn take_final(&mut self) -> Option<Packet> {
        if !std::mem::take(&mut self.final_due) {
            return None;
        }
        Some(self.packet(false, true))
    }
}
