//! Fuzz target: the header inside opened membership packets and the replay guard.
//!
//! The first bytes go to the header decoder (never panics; what it accepts re-encodes to the
//! same bytes). The rest is a sequence of 6-byte steps (epoch out of 16, counter, a clock step
//! and a send-time offset) through a replay guard with a receiver clock that only moves
//! forward: the guard never accepts the same packet (epoch, counter, send time) twice, nor a
//! packet sent more than the allowed skew away from the receiver's clock.

#![no_main]

use std::collections::BTreeSet;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use metallb_core::membership::{self, Header, HEADER_LEN, ReplayGuard};

const SKEW: Duration = Duration::from_secs(30);
const SKEW_MS: u64 = 30_000;

fuzz_target!(|data: &[u8]| {
    let split = data.len().min(HEADER_LEN + 8);
    let (front, steps) = data.split_at(split);
    if let Ok((header, payload)) = membership::decode(front) {
        assert_eq!(membership::encode(&header, payload), front);
    }
    let mut guard = ReplayGuard::new(SKEW);
    let mut accepted: BTreeSet<(u64, u64, u64)> = BTreeSet::new();
    let mut now: u64 = 1_700_000_000_000;
    for step in steps.chunks_exact(6) {
        now += u64::from(step[2]) * 1000;
        // Sent up to ~33 s before or after the receiver's now.
        let offset = i64::from(i16::from_be_bytes([step[3], step[4]]));
        let sent_at_ms = now.saturating_add_signed(offset);
        let header = Header {
            epoch: u64::from(step[0] % 16),
            counter: u64::from(step[1]) + u64::from(step[5] % 4) * 256,
            sent_at_ms,
        };
        if guard.check(&header, now).is_ok() {
            assert!(
                sent_at_ms + SKEW_MS >= now && sent_at_ms <= now + SKEW_MS,
                "accepted a packet outside the skew"
            );
            assert!(
                accepted.insert((header.epoch, header.counter, header.sent_at_ms)),
                "accepted {header:?} twice"
            );
        }
    }
});
