//! Exponential backoff per key for failed writes: the first retry after [`Backoff::first`],
//! doubling up to a cap, forgotten on success. Pure: the time is passed in.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// One key's failures.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Consecutive failures.
    failures: u32,
    /// When the next attempt may be made.
    due: Instant,
    /// Whether [`Backoff::due`] has not yet returned the key for this failure.
    waiting: bool,
}

/// Retry times for a set of keys (Services, pools, the ConfigurationState).
#[derive(Debug, Clone)]
pub struct Backoff<K> {
    first: Duration,
    cap: Duration,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Backoff<K> {
    /// Retries after `first`, doubling with every consecutive failure up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            entries: HashMap::new(),
        }
    }

    /// The delay after `failures` consecutive failures (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// Notes a failure of `key` at `now`; returns when to try again.
    pub fn failed(&mut self, key: K, now: Instant) -> Instant {
        let failures = self.entries.get(&key).map_or(0, |e| e.failures) + 1;
        let due = now + self.delay(failures);
        self.entries.insert(
            key,
            Entry {
                failures,
                due,
                waiting: true,
            },
        );
        due
    }

    /// Forgets `key` (it succeeded, changed, or is gone): its next failure starts over.
    pub fn reset(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Whether `key` failed and must not be tried again before its time.
    pub fn is_waiting(&self, key: &K, now: Instant) -> bool {
        self.entries.get(key).is_some_and(|e| now < e.due)
    }

    /// Consecutive failures of `key`.
    pub fn failures(&self, key: &K) -> u32 {
        self.entries.get(key).map_or(0, |e| e.failures)
    }

    /// The keys whose time to try again has come (each returned once per failure).
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        for (key, entry) in &mut self.entries {
            if entry.waiting && entry.due <= now {
                entry.waiting = false;
                due.push(key.clone());
            }
        }
        due
    }

    /// The earliest time a key is due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| e.waiting)
            .map(|e| e.due)
            .min()
    }

    /// How many keys have failed and not succeeded since.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is failing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn delays_double_up_to_the_cap_and_reset_on_success() {
        let mut b: Backoff<&str> = Backoff::new(SECOND, Duration::from_secs(300));
        let t0 = Instant::now();
        let delays: Vec<u64> = (0..12)
            .map(|_| (b.failed("svc", t0) - t0).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.failures(&"svc"), 12);
        b.reset(&"svc");
        assert_eq!(b.failed("svc", t0) - t0, SECOND, "a success starts over");
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(300), "no overflow");
    }

    #[test]
    fn a_permanent_failure_is_retried_a_handful_of_times_per_hour_not_every_second() {
        let mut b: Backoff<&str> = Backoff::new(SECOND, Duration::from_secs(300));
        let t0 = Instant::now();
        let mut now = t0;
        let mut attempts = 0;
        // A write that always fails (a permanent 403/422): attempt when due, fail again.
        while now < t0 + Duration::from_secs(3600) {
            attempts += 1;
            now = b.failed("svc", now);
        }
        assert!(attempts <= 21, "{attempts} attempts in an hour");
        assert!(attempts >= 10);
    }

    #[test]
    fn due_keys_come_out_once_and_waiting_keys_are_held_back() {
        let mut b: Backoff<String> = Backoff::new(SECOND, Duration::from_secs(300));
        let t0 = Instant::now();
        b.failed("a".into(), t0);
        b.failed("b".into(), t0);
        b.failed("b".into(), t0);
        assert_eq!(b.next_due(), Some(t0 + SECOND));
        assert!(b.is_waiting(&"a".to_string(), t0));
        assert!(b.due(t0).is_empty());
        assert_eq!(b.due(t0 + SECOND), ["a".to_string()]);
        assert!(b.due(t0 + SECOND).is_empty(), "returned once per failure");
        assert!(!b.is_waiting(&"a".to_string(), t0 + SECOND));
        assert_eq!(b.next_due(), Some(t0 + 2 * SECOND));
        assert_eq!(b.due(t0 + 3 * SECOND), ["b".to_string()]);
        assert_eq!(b.next_due(), None);
        assert_eq!(b.len(), 2, "failing until they succeed");
        b.reset(&"a".to_string());
        b.reset(&"b".to_string());
        assert!(b.is_empty());
    }
}
