//! Fixed BFD control packets written by hand from RFC 5880 §4.1, checked both ways (the encoder
//! writes exactly these bytes, the decoder reads them into the value), and malformed ones the
//! decoder must refuse with the reception check of §6.8.6 that fails.
//!
//! Layout (24 octets, no authentication):
//!
//! ```text
//!  0: Vers (3 bits) | Diag (5 bits)
//!  1: Sta (2 bits) | P | F | C | A | D | M      (0x20 P, 0x10 F, 0x08 C, 0x04 A, 0x02 D, 0x01 M)
//!  2: Detect Mult
//!  3: Length
//!  4: My Discriminator
//!  8: Your Discriminator
//! 12: Desired Min TX Interval (microseconds)
//! 16: Required Min RX Interval (microseconds)
//! 20: Required Min Echo RX Interval (microseconds)
//! ```
//!
//! Intervals: 1 s = 1,000,000 µs = 0x000f4240; 300 ms = 300,000 µs = 0x000493e0; 50 ms =
//! 50,000 µs = 0x0000c350.

use std::time::Duration;

use super::{Packet, PacketError, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A packet with no flags and no echo; the tests set what they vary.
fn packet(state: State, my: u32, your: u32, tx: Duration, rx: Duration) -> Packet {
    Packet {
        diagnostic: 0,
        state,
        poll: false,
        fin: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: my,
        your_discriminator: your,
        desired_min_tx: tx,
        required_min_rx: rx,
        required_min_echo_rx: Duration::ZERO,
    }
}

fn both_ways(value: Packet, bytes: [u8; 24]) {
    assert_eq!(value.encode(), bytes, "encoding {value:?}");
    assert_eq!(Packet::decode(&bytes), Ok(value), "decoding {bytes:02x?}");
}

/// The first packet of a session: Down, the peer's discriminator not yet known, and at least
/// one second between packets until Up (§6.8.3).
#[test]
fn down_before_the_peer_is_heard() {
    both_ways(
        packet(State::Down, 7, 0, ms(1000), ms(300)),
        [
            0x20, // 0: version 1, diagnostic 0 (none)
            0x40, // 1: state 1 (Down), no flags
            0x03, // 2: detect mult 3
            0x18, // 3: length 24
            0x00, 0x00, 0x00, 0x07, // 4: my discriminator 7
            0x00, 0x00, 0x00, 0x00, // 8: your discriminator 0 (unknown)
            0x00, 0x0f, 0x42, 0x40, // 12: desired min TX 1 s
            0x00, 0x04, 0x93, 0xe0, // 16: required min RX 300 ms
            0x00, 0x00, 0x00, 0x00, // 20: required min echo RX 0 (no echo)
        ],
    );
}

#[test]
fn init_with_the_peer_discriminator() {
    both_ways(
        packet(State::Init, 7, 9, ms(1000), ms(300)),
        [
            0x20, // 0: version 1, diagnostic 0
            0x80, // 1: state 2 (Init)
            0x03, 0x18, // 2: mult 3, length 24
            0x00, 0x00, 0x00, 0x07, // 4: my discriminator 7
            0x00, 0x00, 0x00, 0x09, // 8: your discriminator 9
            0x00, 0x0f, 0x42, 0x40, // 12: 1 s
            0x00, 0x04, 0x93, 0xe0, // 16: 300 ms
            0x00, 0x00, 0x00, 0x00, // 20: no echo
        ],
    );
}

/// A timer change once Up goes with Poll (§6.8.3), answered with Final.
#[test]
fn up_with_poll_and_final() {
    let mut poll = packet(State::Up, 7, 9, ms(300), ms(300));
    poll.poll = true;
    both_ways(
        poll,
        [
            0x20, // 0: version 1, diagnostic 0
            0xe0, // 1: state 3 (Up) = 0xc0, Poll 0x20
            0x03, 0x18, // 2: mult 3, length 24
            0x00, 0x00, 0x00, 0x07, // 4: my discriminator 7
            0x00, 0x00, 0x00, 0x09, // 8: your discriminator 9
            0x00, 0x04, 0x93, 0xe0, // 12: desired min TX 300 ms
            0x00, 0x04, 0x93, 0xe0, // 16: required min RX 300 ms
            0x00, 0x00, 0x00, 0x00, // 20: no echo
        ],
    );
    let mut fin = packet(State::Up, 9, 7, ms(300), ms(300));
    fin.fin = true;
    both_ways(
        fin,
        [
            0x20, // 0: version 1, diagnostic 0
            0xd0, // 1: Up 0xc0, Final 0x10
            0x03, 0x18, // 2: mult 3, length 24
            0x00, 0x00, 0x00, 0x09, // 4: my discriminator 9
            0x00, 0x00, 0x00, 0x07, // 8: your discriminator 7
            0x00, 0x04, 0x93, 0xe0, // 12: 300 ms
            0x00, 0x04, 0x93, 0xe0, // 16: 300 ms
            0x00, 0x00, 0x00, 0x00, // 20: no echo
        ],
    );
}

/// The remaining fields and bits: a diagnostic, C and D, a detect mult above 3, echo.
#[test]
fn diagnostics_flags_and_echo() {
    let mut admin_down = packet(State::AdminDown, 7, 9, ms(1000), ms(0));
    admin_down.diagnostic = 7;
    both_ways(
        admin_down,
        [
            0x27, // 0: version 1 (0x20), diagnostic 7 (administratively down)
            0x00, // 1: state 0 (AdminDown)
            0x03, 0x18, // 2: mult 3, length 24
            0x00, 0x00, 0x00, 0x07, // 4: my discriminator 7
            0x00, 0x00, 0x00, 0x09, // 8: your discriminator 9
            0x00, 0x0f, 0x42, 0x40, // 12: 1 s
            0x00, 0x00, 0x00, 0x00, // 16: required min RX 0 (send me nothing)
            0x00, 0x00, 0x00, 0x00, // 20: no echo
        ],
    );
    let mut expired = packet(State::Down, 0x1234_5678, 0, ms(1000), ms(300));
    expired.diagnostic = 1;
    expired.control_plane_independent = true;
    expired.demand = true;
    expired.detect_mult = 5;
    expired.required_min_echo_rx = ms(50);
    both_ways(
        expired,
        [
            0x21, // 0: version 1, diagnostic 1 (control detection time expired)
            0x4a, // 1: Down 0x40, C 0x08, D 0x02
            0x05, 0x18, // 2: mult 5, length 24
            0x12, 0x34, 0x56, 0x78, // 4: my discriminator 0x12345678
            0x00, 0x00, 0x00, 0x00, // 8: your discriminator 0
            0x00, 0x0f, 0x42, 0x40, // 12: 1 s
            0x00, 0x04, 0x93, 0xe0, // 16: 300 ms
            0x00, 0x00, 0xc3, 0x50, // 20: required min echo RX 50 ms
        ],
    );
}

/// Packets the reception checks of §6.8.6 discard, each one change away from a valid Up
/// packet (mult 3, my 7, your 9, 300 ms).
#[test]
fn malformed_packets_are_refused_with_the_failed_check() {
    let up: [u8; 24] = [
        0x20, 0xc0, 0x03, 0x18, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09, 0x00, 0x04, 0x93,
        0xe0, 0x00, 0x04, 0x93, 0xe0, 0x00, 0x00, 0x00, 0x00,
    ];
    assert!(Packet::decode(&up).is_ok());
    let with = |at: usize, byte: u8| {
        let mut bytes = up;
        bytes[at] = byte;
        bytes
    };
    let cases: [(&str, &[u8], PacketError); 10] = [
        ("23 octets", &up[..23], PacketError::Truncated),
        ("version 0", &with(0, 0x00), PacketError::Version(0)),
        ("version 2", &with(0, 0x40), PacketError::Version(2)),
        ("length 23", &with(3, 0x17), PacketError::Length(23)),
        (
            "length 25, one more than received",
            &with(3, 0x19),
            PacketError::Length(25),
        ),
        ("A bit", &with(1, 0xc4), PacketError::Authenticated),
        ("M bit", &with(1, 0xc1), PacketError::Multipoint),
        ("detect mult 0", &with(2, 0x00), PacketError::ZeroMultiplier),
        (
            "my discriminator 0",
            &with(7, 0x00),
            PacketError::ZeroDiscriminator,
        ),
        (
            "your discriminator 0 while Up",
            &with(11, 0x00),
            PacketError::MissingYourDiscriminator(State::Up),
        ),
    ];
    for (name, bytes, error) in cases {
        assert_eq!(Packet::decode(bytes), Err(error), "{name}: {bytes:02x?}");
    }
}
