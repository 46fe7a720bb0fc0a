//! The speakers' membership packets, inside their encryption: a header that makes every packet
//! unique and fresh, and the receiver's replay guard.
//!
//! The speaker seals `header ++ gossip` with AES-256-GCM; only after a packet authenticates does
//! it decode the header ([`decode`]) and ask the [`ReplayGuard`] whether it is new:
//!
//! * `epoch`: random, chosen when the sending process starts, so a restarted speaker, whose
//!   counter starts again at 0, is a new sender and is not mistaken for a replay;
//! * `counter`: counts the packets of this epoch (to any destination);
//! * `sent_at_ms`: the sender's clock (milliseconds since the Unix epoch).
//!
//! A packet is accepted when it was sent within `max_skew` of the receiver's clock and its
//! (`epoch`, `counter`) has not been seen: each epoch keeps a sliding window of the last
//! [`WINDOW`] counters (as IPsec and DTLS do), so packets reordered on the way still pass.
//! An epoch silent for twice `max_skew` is forgotten: any packet of it is stale by then. The
//! clock bound is what rejects packets captured long ago, including those of a sender's earlier
//! runs; the window rejects repeats within it.

use std::collections::BTreeMap;
use std::time::Duration;

/// Version byte of the header.
pub const VERSION: u8 = 1;
/// Header size: version, epoch, counter, send time.
pub const HEADER_LEN: usize = 1 + 8 + 8 + 8;
/// How many counters below the highest seen an epoch still accepts (reordering tolerance).
pub const WINDOW: u64 = 128;
/// How many senders' epochs are remembered at most (the least recently heard go first).
pub const MAX_EPOCHS: usize = 4096;

/// What makes a packet unique and fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The sending process's random epoch.
    pub epoch: u64,
    /// The packet's number within the epoch.
    pub counter: u64,
    /// When it was sent, by the sender's clock (milliseconds since the Unix epoch).
    pub sent_at_ms: u64,
}

/// Why an opened packet's plaintext is not a membership packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Shorter than the header.
    #[error("truncated header ({0} bytes)")]
    Truncated(usize),
    /// Another version of the header.
    #[error("unsupported header version {0}")]
    Version(u8),
}

/// Why the replay guard refuses a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Sent more than the allowed skew before the receiver's now: an old capture, or a
    /// sender's clock far behind.
    #[error("sent {behind_ms} ms ago, more than the allowed clock skew")]
    Stale {
        /// How far behind the receiver's clock.
        behind_ms: u64,
    },
    /// Sent more than the allowed skew after the receiver's now: a sender's clock far ahead.
    #[error("sent {ahead_ms} ms in the future, more than the allowed clock skew")]
    Future {
        /// How far ahead of the receiver's clock.
        ahead_ms: u64,
    },
    /// This epoch and counter were seen before.
    #[error("replayed (epoch {epoch:#x}, counter {counter})")]
    Replayed {
        /// The epoch.
        epoch: u64,
        /// The counter.
        counter: u64,
    },
    /// The counter is below the epoch's window: too late to tell whether it is a repeat.
    #[error("counter {counter} is more than the window below {highest}")]
    BelowWindow {
        /// The counter.
        counter: u64,
        /// The highest counter seen in the epoch.
        highest: u64,
    },
}

impl Rejected {
    /// A short metric label.
    pub fn label(self) -> &'static str {
        match self {
            Rejected::Stale { .. } | Rejected::Future { .. } => "clock_skew",
            Rejected::Replayed { .. } | Rejected::BelowWindow { .. } => "replayed",
        }
    }
}

/// `header ++ payload`, the plaintext the speaker seals.
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(VERSION);
    out.extend_from_slice(&header.epoch.to_be_bytes());
    out.extend_from_slice(&header.counter.to_be_bytes());
    out.extend_from_slice(&header.sent_at_ms.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(slice) = bytes.get(at..at + 8) {
        word.copy_from_slice(slice);
    }
    u64::from_be_bytes(word)
}

/// Splits an opened plaintext into its header and the gossip payload.
pub fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), HeaderError> {
    if bytes.len() < HEADER_LEN {
        return Err(HeaderError::Truncated(bytes.len()));
    }
    if bytes[0] != VERSION {
        return Err(HeaderError::Version(bytes[0]));
    }
    let header = Header {
        epoch: u64_at(bytes, 1),
        counter: u64_at(bytes, 9),
        sent_at_ms: u64_at(bytes, 17),
    };
    Ok((header, &bytes[HEADER_LEN..]))
}

/// Numbers the packets of one sending process.
#[derive(Debug, Clone)]
pub struct Sequencer {
    epoch: u64,
    next: u64,
}

impl Sequencer {
    /// A sender with a random `epoch` (pass a fresh random number per process).
    pub fn new(epoch: u64) -> Self {
        Sequencer { epoch, next: 0 }
    }

    /// The header of the next packet, sent at `now_ms`.
    pub fn next(&mut self, now_ms: u64) -> Header {
        let counter = self.next;
        self.next = self.next.wrapping_add(1);
        Header {
            epoch: self.epoch,
            counter,
            sent_at_ms: now_ms,
        }
    }
}

/// The counters seen of one epoch.
#[derive(Debug, Clone, Copy)]
struct Window {
    highest: u64,
    /// Bit `i` set: counter `highest - i` was seen.
    seen: u128,
    /// When the epoch was last heard, by the receiver's clock.
    heard_ms: u64,
}

/// Remembers what was received, to refuse replays and stale packets.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    max_skew_ms: u64,
    epochs: BTreeMap<u64, Window>,
}

impl ReplayGuard {
    /// A guard accepting packets sent within `max_skew` of the receiver's clock.
    pub fn new(max_skew: Duration) -> Self {
        ReplayGuard {
            max_skew_ms: u64::try_from(max_skew.as_millis()).unwrap_or(u64::MAX),
            epochs: BTreeMap::new(),
        }
    }

    /// How many epochs are remembered.
    pub fn epochs(&self) -> usize {
        self.epochs.len()
    }

    /// Accepts `header` (and remembers it) when it is fresh and new at `now_ms`; call it only
    /// for packets that authenticated.
    pub fn check(&mut self, header: &Header, now_ms: u64) -> Result<(), Rejected> {
        if now_ms > header.sent_at_ms.saturating_add(self.max_skew_ms) {
            return Err(Rejected::Stale {
                behind_ms: now_ms - header.sent_at_ms,
            });
        }
        if header.sent_at_ms > now_ms.saturating_add(self.max_skew_ms) {
            return Err(Rejected::Future {
                ahead_ms: header.sent_at_ms - now_ms,
            });
        }
        self.forget_silent(now_ms);
        let counter = header.counter;
        let Some(window) = self.epochs.get_mut(&header.epoch) else {
            if self.epochs.len() >= MAX_EPOCHS
                && let Some(oldest) = self
                    .epochs
                    .iter()
                    .min_by_key(|(_, w)| w.heard_ms)
                    .map(|(epoch, _)| *epoch)
            {
                self.epochs.remove(&oldest);
            }
            self.epochs.insert(
                header.epoch,
                Window {
                    highest: counter,
                    seen: 1,
                    heard_ms: now_ms,
                },
            );
            return Ok(());
        };
        if counter > window.highest {
            let shift = counter - window.highest;
            window.seen = if shift >= 128 {
                0
            } else {
                window.seen << shift
            };
            window.seen |= 1;
            window.highest = counter;
        } else {
            let below = window.highest - counter;
            if below >= WINDOW {
                return Err(Rejected::BelowWindow {
                    counter,
                    highest: window.highest,
                });
            }
            let bit = 1u128 << below;
            if window.seen & bit != 0 {
                return Err(Rejected::Replayed {
                    epoch: header.epoch,
                    counter,
                });
            }
            window.seen |= bit;
        }
        window.heard_ms = window.heard_ms.max(now_ms);
        Ok(())
    }

    /// Forgets epochs silent for twice the skew: any packet of theirs is stale by now.
    fn forget_silent(&mut self, now_ms: u64) {
        let horizon = self.max_skew_ms.saturating_mul(2);
        self.epochs
            .retain(|_, w| now_ms.saturating_sub(w.heard_ms) <= horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEW: Duration = Duration::from_secs(30);
    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn headers_round_trip_and_truncations_are_refused() {
        let header = Header {
            epoch: 0x0102_0304_0506_0708,
            counter: 42,
            sent_at_ms: NOW,
        };
        let bytes = encode(&header, b"gossip");
        assert_eq!(decode(&bytes), Ok((header, &b"gossip"[..])));
        for len in 0..HEADER_LEN {
            assert_eq!(decode(&bytes[..len]), Err(HeaderError::Truncated(len)));
        }
        let mut other = bytes.clone();
        other[0] = 2;
        assert_eq!(decode(&other), Err(HeaderError::Version(2)));
    }

    #[test]
    fn a_packet_is_accepted_once() {
        let mut sender = Sequencer::new(7);
        let mut guard = ReplayGuard::new(SKEW);
        let first = sender.next(NOW);
        assert_eq!(guard.check(&first, NOW), Ok(()));
        assert_eq!(
            guard.check(&first, NOW + 5),
            Err(Rejected::Replayed {
                epoch: 7,
                counter: 0
            })
        );
    }

    #[test]
    fn reordered_packets_pass_within_the_window() {
        let mut sender = Sequencer::new(7);
        let headers: Vec<Header> = (0..200).map(|_| sender.next(NOW)).collect();
        let mut guard = ReplayGuard::new(SKEW);
        // 100 arrives first, then 0..100 late but within the window of 128, then 101..200.
        assert_eq!(guard.check(&headers[100], NOW), Ok(()));
        for h in &headers[..100] {
            assert_eq!(guard.check(h, NOW), Ok(()), "counter {}", h.counter);
        }
        for h in &headers[101..] {
            assert_eq!(guard.check(h, NOW), Ok(()), "counter {}", h.counter);
        }
        // Every one of them again: refused.
        for h in &headers {
            assert!(guard.check(h, NOW).is_err(), "counter {}", h.counter);
        }
        // Far below the highest (199): refused as too old to tell.
        assert_eq!(
            guard.check(&headers[10], NOW),
            Err(Rejected::BelowWindow {
                counter: 10,
                highest: 199
            })
        );
    }

    #[test]
    fn a_restarted_sender_starts_a_new_epoch() {
        let mut guard = ReplayGuard::new(SKEW);
        let mut before = Sequencer::new(1);
        for _ in 0..10 {
            assert_eq!(guard.check(&before.next(NOW), NOW), Ok(()));
        }
        // Restarted: counter 0 again, under a new epoch.
        let mut after = Sequencer::new(2);
        assert_eq!(guard.check(&after.next(NOW + 1000), NOW + 1000), Ok(()));
        assert_eq!(guard.epochs(), 2);
    }

    #[test]
    fn packets_outside_the_skew_are_refused_and_silent_epochs_forgotten() {
        let mut guard = ReplayGuard::new(SKEW);
        let mut sender = Sequencer::new(3);
        let old = sender.next(NOW);
        assert_eq!(guard.check(&old, NOW), Ok(()));
        let later = NOW + 30_001;
        assert_eq!(
            guard.check(&old, later),
            Err(Rejected::Stale { behind_ms: 30_001 })
        );
        let ahead = sender.next(NOW + 60_000);
        assert_eq!(
            guard.check(&ahead, NOW + 29_000),
            Err(Rejected::Future { ahead_ms: 31_000 })
        );
        assert_eq!(Rejected::Future { ahead_ms: 1 }.label(), "clock_skew");
        // After twice the skew of silence the epoch is forgotten, and its packets are stale.
        let mut other = Sequencer::new(4);
        let much_later = NOW + 60_001;
        assert_eq!(guard.check(&other.next(much_later), much_later), Ok(()));
        assert_eq!(guard.epochs(), 1);
        assert!(matches!(
            guard.check(&old, much_later),
            Err(Rejected::Stale { .. })
        ));
    }

    #[test]
    fn the_number_of_epochs_is_bounded() {
        let mut guard = ReplayGuard::new(SKEW);
        for epoch in 0..(MAX_EPOCHS as u64 + 10) {
            let header = Header {
                epoch,
                counter: 0,
                sent_at_ms: NOW,
            };
            assert_eq!(guard.check(&header, NOW + epoch), Ok(()));
        }
        assert_eq!(guard.epochs(), MAX_EPOCHS);
    }
}
