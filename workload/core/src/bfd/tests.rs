use std::time::Duration;

use proptest::prelude::*;

use super::session::{Config, SLOW_TX, Session};
use super::{Diagnostic, Hops, Packet, PacketError, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fast() -> Config {
    Config {
        desired_min_tx: ms(100),
        required_min_rx: ms(100),
        detect_mult: 3,
        passive: false,
    }
}

/// Delivers `from`'s periodic packet to `to` (through the codec) at `now`.
fn deliver(from: &Session, to: &mut Session, now: Duration) -> Option<(State, State)> {
    let bytes = from.periodic().encode();
    let packet = Packet::decode(&bytes).unwrap();
    to.receive(&packet, now)
}

#[test]
fn single_hop_wants_ttl_255_and_multihop_its_minimum() {
    assert_eq!(Hops::Single.port(), 3784);
    assert!(Hops::Single.accepts_ttl(Some(255)));
    assert!(!Hops::Single.accepts_ttl(Some(254)));
    assert!(!Hops::Single.accepts_ttl(None));
    let multi = Hops::Multi { minimum_ttl: 254 };
    assert_eq!(multi.port(), 4784);
    assert!(multi.accepts_ttl(Some(255)) && multi.accepts_ttl(Some(254)));
    assert!(!multi.accepts_ttl(Some(253)) && !multi.accepts_ttl(None));
}

#[test]
fn packets_round_trip() {
    let mut a = Session::new(fast(), 7);
    let b = Session::new(fast(), 9);
    deliver(&b, &mut a, ms(0));
    let packet = a.periodic();
    let decoded = Packet::decode(&packet.encode()).unwrap();
    assert_eq!(decoded, packet);
    assert_eq!(decoded.your_discriminator, 9);
    assert_eq!(decoded.desired_min_tx, SLOW_TX, "slow until Up");
}

#[test]
fn bad_packets_are_refused_with_the_reason() {
    let good = Session::new(fast(), 7).periodic().encode();
    assert_eq!(Packet::decode(&good[..23]), Err(PacketError::Truncated));
    let mut bad = good;
    bad[0] = (2 << 5) | (bad[0] & 0x1f);
    assert_eq!(Packet::decode(&bad), Err(PacketError::Version(2)));
    let mut bad = good;
    bad[3] = 30;
    assert_eq!(Packet::decode(&bad), Err(PacketError::Length(30)));
    let mut bad = good;
    bad[2] = 0;
    assert_eq!(Packet::decode(&bad), Err(PacketError::ZeroMultiplier));
    let mut bad = good;
    bad[1] |= 1;
    assert_eq!(Packet::decode(&bad), Err(PacketError::Multipoint));
    let mut bad = good;
    bad[1] |= 4;
    assert_eq!(Packet::decode(&bad), Err(PacketError::Authenticated));
    let mut bad = good;
    bad[4..8].copy_from_slice(&[0; 4]);
    assert_eq!(Packet::decode(&bad), Err(PacketError::ZeroDiscriminator));
    // Up without knowing our discriminator.
    let mut bad = good;
    bad[1] = (3 << 6) | (bad[1] & 0x3f);
    assert_eq!(
        Packet::decode(&bad),
        Err(PacketError::MissingYourDiscriminator(State::Up))
    );
}

#[test]
fn the_three_way_handshake_brings_both_sides_up_and_speeds_them_up() {
    let mut a = Session::new(fast(), 1);
    let mut b = Session::new(fast(), 2);
    assert_eq!(a.tx_interval(), Some(SLOW_TX));
    assert_eq!(deliver(&a, &mut b, ms(0)), Some((State::Down, State::Init)));
    assert_eq!(deliver(&b, &mut a, ms(1)), Some((State::Down, State::Up)));
    assert_eq!(deliver(&a, &mut b, ms(2)), Some((State::Init, State::Up)));
    // Up: each side polls to announce its faster rate; the other answers with a Final.
    assert!(a.periodic().poll && b.periodic().poll);
    deliver(&a, &mut b, ms(3));
    let fin = b.take_final().unwrap();
    assert!(fin.fin && !fin.poll);
    assert_eq!(b.take_final(), None, "one Final per Poll");
    a.receive(&fin, ms(4));
    assert!(!a.periodic().poll, "the Final ends the Poll sequence");
    deliver(&b, &mut a, ms(5));
    assert_eq!(a.tx_interval(), Some(ms(100)));
    assert_eq!(a.detection_time(), ms(300));
}

#[test]
fn silence_for_the_detection_time_brings_the_session_down() {
    let mut a = Session::new(fast(), 1);
    let mut b = Session::new(fast(), 2);
    deliver(&a, &mut b, ms(0));
    deliver(&b, &mut a, ms(0));
    deliver(&a, &mut b, ms(0));
    deliver(&b, &mut a, ms(1000));
    assert_eq!(a.state(), State::Up);
    assert_eq!(a.detection_deadline(), Some(ms(1000) + ms(300)));
    assert_eq!(a.expire(ms(1299)), None);
    assert_eq!(a.expire(ms(1300)), Some((State::Up, State::Down)));
    assert_eq!(a.diagnostic(), Diagnostic::DetectionExpired);
    assert_eq!(a.periodic().your_discriminator, 0);
    assert_eq!(a.tx_interval(), Some(SLOW_TX));
}

#[test]
fn a_peer_going_down_or_admin_down_brings_us_down() {
    let mut a = Session::new(fast(), 1);
    let mut b = Session::new(fast(), 2);
    deliver(&a, &mut b, ms(0));
    deliver(&b, &mut a, ms(0));
    deliver(&a, &mut b, ms(0));
    let mut down = b.periodic();
    down.state = State::AdminDown;
    assert_eq!(a.receive(&down, ms(1)), Some((State::Up, State::Down)));
    assert_eq!(a.diagnostic(), Diagnostic::NeighborDown);
    // A packet for another session is ignored.
    let mut other = b.periodic();
    other.your_discriminator = 99;
    other.state = State::Down;
    let mut c = Session::new(fast(), 3);
    assert_eq!(c.receive(&other, ms(2)), None);
}

#[test]
fn a_passive_session_waits_to_be_heard() {
    let mut passive = Session::new(
        Config {
            passive: true,
            ..fast()
        },
        1,
    );
    assert_eq!(passive.tx_interval(), None);
    let active = Session::new(fast(), 2);
    deliver(&active, &mut passive, ms(0));
    assert_eq!(passive.tx_interval(), Some(SLOW_TX));
}

#[test]
fn a_slower_peer_sets_the_pace() {
    let mut a = Session::new(fast(), 1);
    let mut b = Session::new(
        Config {
            desired_min_tx: ms(500),
            required_min_rx: ms(400),
            detect_mult: 5,
            passive: false,
        },
        2,
    );
    deliver(&a, &mut b, ms(0));
    deliver(&b, &mut a, ms(0));
    deliver(&a, &mut b, ms(0));
    deliver(&b, &mut a, ms(0));
    assert_eq!(a.state(), State::Up);
    assert_eq!(a.tx_interval(), Some(ms(400)), "not faster than b accepts");
    assert_eq!(a.detection_time(), ms(2500), "5 x b's 500 ms");
}

proptest! {
    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Packet::decode(&bytes);
    }
}
