//! Fuzz target: the BFD session state machine, fed any sequence of received packets, expiries
//! and time steps, never panics, has a detection deadline only in Init and Up, and every packet
//! it would send (periodic, or a Final) passes a peer's reception checks.
//!
//! Input: a 4-byte session configuration, then steps: one op byte, then for op 0 a 24-byte
//! control packet, for op 1 an expiry, for op 2 a 2-byte time step (milliseconds).

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use metallb_core::bfd::session::{Config, Session};
use metallb_core::bfd::{PACKET_LEN, Packet, State};

fuzz_target!(|data: &[u8]| {
    let Some((head, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let config = Config {
        desired_min_tx: Duration::from_millis(10 + u64::from(head[0]) * 10),
        required_min_rx: Duration::from_millis(10 + u64::from(head[1]) * 10),
        detect_mult: head[2].max(1),
        passive: head[3] & 1 == 1,
    };
    let mut session = Session::new(config, 0x1234_5678);
    let mut now = Duration::ZERO;
    while let Some((op, tail)) = rest.split_first() {
        rest = tail;
        match op % 3 {
            0 => {
                let Some((bytes, tail)) = rest.split_first_chunk::<PACKET_LEN>() else {
                    return;
                };
                rest = tail;
                if let Ok(packet) = Packet::decode(bytes) {
                    session.receive(&packet, now);
                    if let Some(answer) = session.take_final() {
                        assert!(
                            Packet::decode(&answer.encode()).is_ok(),
                            "our Final would be dropped: {answer:?}"
                        );
                    }
                }
            }
            1 => {
                session.expire(now);
            }
            _ => {
                let Some((step, tail)) = rest.split_first_chunk::<2>() else {
                    return;
                };
                rest = tail;
                now += Duration::from_millis(u64::from(u16::from_be_bytes(*step)));
            }
        }
        let periodic = session.periodic();
        assert!(
            Packet::decode(&periodic.encode()).is_ok(),
            "our packet would be dropped: {periodic:?}"
        );
        let _ = session.tx_interval();
        let _ = session.detection_time();
        if session.detection_deadline().is_some() {
            assert!(matches!(session.state(), State::Init | State::Up));
        }
    }
});
