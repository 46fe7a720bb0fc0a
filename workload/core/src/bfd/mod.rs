//! BFD (RFC 5880, single hop as in RFC 5881): the control packet and the session state
//! machine. Time is passed in as a [`Duration`] since any fixed origin, so everything here is
//! deterministic.
//!
//! * [`Packet`]: encode and strictly decode a control packet (§4.1, reception checks of §6.8.6).
//! * [`session::Session`]: the three-way handshake, detection time, transmit interval and the
//!   Poll/Final sequence for timer changes (§6.8).

pub mod session;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use std::time::Duration;

/// UDP port of single-hop BFD control packets (RFC 5881).
pub const CONTROL_PORT: u16 = 3784;
/// UDP port of multihop BFD control packets (RFC 5883).
pub const MULTIHOP_CONTROL_PORT: u16 = 4784;

/// How far a BFD peer is: the port its control packets use and the TTLs they may arrive with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hops {
    /// Directly connected (RFC 5881): port 3784; packets must arrive with TTL 255, which no
    /// one further away can forge (GTSM).
    Single,
    /// Further away (RFC 5883): port 4784; packets must arrive with at least `minimum_ttl`
    /// (upstream's BFDProfile `minimumTtl`, 254 by default: one router in between).
    Multi {
        /// The lowest TTL accepted.
        minimum_ttl: u8,
    },
}

impl Hops {
    /// The UDP port of the control packets.
    pub fn port(self) -> u16 {
        match self {
            Hops::Single => CONTROL_PORT,
            Hops::Multi { .. } => MULTIHOP_CONTROL_PORT,
        }
    }

    /// Whether a packet that arrived with `ttl` (None: unknown) is acceptable.
    pub fn accepts_ttl(self, ttl: Option<u8>) -> bool {
        match self {
            Hops::Single => ttl == Some(255),
            Hops::Multi { minimum_ttl } => ttl.is_some_and(|t| t >= minimum_ttl),
        }
    }

    /// Whether this is a multihop session.
    pub fn is_multi(self) -> bool {
        matches!(self, Hops::Multi { .. })
    }
}
/// Size of a control packet without authentication.
pub const PACKET_LEN: usize = 24;

/// Session state (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Administratively down.
    AdminDown,
    /// Down.
    Down,
    /// Init: the peer is heard, the handshake is not complete.
    Init,
    /// Up.
    Up,
}

impl State {
    fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }

    fn from_bits(bits: u8) -> State {
        match bits & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

/// Diagnostic codes (§4.1) this implementation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    /// No diagnostic.
    None = 0,
    /// Control detection time expired.
    DetectionExpired = 1,
    /// The neighbor signaled session down.
    NeighborDown = 3,
    /// Administratively down.
    AdminDown = 7,
}

/// A BFD control packet (without authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Diagnostic code (5 bits).
    pub diagnostic: u8,
    /// The sender's state.
    pub state: State,
    /// Poll: the sender asks for a Final.
    pub poll: bool,
    /// Final: the answer to a Poll.
    pub fin: bool,
    /// Control plane independent.
    pub control_plane_independent: bool,
    /// Demand mode.
    pub demand: bool,
    /// Detection time multiplier.
    pub detect_mult: u8,
    /// The sender's discriminator.
    pub my_discriminator: u32,
    /// The receiver's discriminator, as the sender knows it (0 if not yet).
    pub your_discriminator: u32,
    /// Desired minimum transmit interval.
    pub desired_min_tx: Duration,
    /// Required minimum receive interval.
    pub required_min_rx: Duration,
    /// Required minimum echo receive interval (0: no echo).
    pub required_min_echo_rx: Duration,
}

/// Why a received packet is discarded (§6.8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than the mandatory section, or than its length field.
    #[error("truncated packet")]
    Truncated,
    /// Not version 1.
    #[error("unsupported version {0}")]
    Version(u8),
    /// The length field is below 24 or above the received size.
    #[error("bad length field {0}")]
    Length(u8),
    /// Detect multiplier 0.
    #[error("zero detect multiplier")]
    ZeroMultiplier,
    /// Multipoint bit set.
    #[error("multipoint bit set")]
    Multipoint,
    /// My Discriminator 0.
    #[error("zero discriminator")]
    ZeroDiscriminator,
    /// Your Discriminator 0 while the sender is neither Down nor AdminDown.
    #[error("no receiver discriminator in state {0:?}")]
    MissingYourDiscriminator(State),
    /// Authentication present (none is configured here).
    #[error("authenticated packet, no authentication configured")]
    Authenticated,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl Packet {
    /// The packet's bytes.
    pub fn encode(&self) -> [u8; PACKET_LEN] {
        let mut out = [0u8; PACKET_LEN];
        out[0] = (1 << 5) | (self.diagnostic & 0x1f);
        out[1] = (self.state.bits() << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.fin) << 4)
            | (u8::from(self.control_plane_independent) << 3)
            | (u8::from(self.demand) << 1);
        out[2] = self.detect_mult;
        out[3] = PACKET_LEN as u8;
        out[4..8].copy_from_slice(&self.my_discriminator.to_be_bytes());
        out[8..12].copy_from_slice(&self.your_discriminator.to_be_bytes());
        out[12..16].copy_from_slice(&micros(self.desired_min_tx).to_be_bytes());
        out[16..20].copy_from_slice(&micros(self.required_min_rx).to_be_bytes());
        out[20..24].copy_from_slice(&micros(self.required_min_echo_rx).to_be_bytes());
        out
    }

    /// Decodes and checks a received packet (the checks of §6.8.6 that need no session).
    pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < PACKET_LEN {
            return Err(PacketError::Truncated);
        }
        let version = bytes[0] >> 5;
        if version != 1 {
            return Err(PacketError::Version(version));
        }
        let length = bytes[3];
        if usize::from(length) < PACKET_LEN || usize::from(length) > bytes.len() {
            return Err(PacketError::Length(length));
        }
        let flags = bytes[1];
        if flags & 0x04 != 0 {
            return Err(PacketError::Authenticated);
        }
        if flags & 0x01 != 0 {
            return Err(PacketError::Multipoint);
        }
        let packet = Packet {
            diagnostic: bytes[0] & 0x1f,
            state: State::from_bits(flags >> 6),
            poll: flags & 0x20 != 0,
            fin: flags & 0x10 != 0,
            control_plane_independent: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult: bytes[2],
            my_discriminator: word(bytes, 4),
            your_discriminator: word(bytes, 8),
            desired_min_tx: Duration::from_micros(u64::from(word(bytes, 12))),
            required_min_rx: Duration::from_micros(u64::from(word(bytes, 16))),
            required_min_echo_rx: Duration::from_micros(u64::from(word(bytes, 20))),
        };
        if packet.detect_mult == 0 {
            return Err(PacketError::ZeroMultiplier);
        }
        if packet.my_discriminator == 0 {
            return Err(PacketError::ZeroDiscriminator);
        }
        if packet.your_discriminator == 0 && !matches!(packet.state, State::Down | State::AdminDown)
        {
            return Err(PacketError::MissingYourDiscriminator(packet.state));
        }
        Ok(packet)
    }
}
