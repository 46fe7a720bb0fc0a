//! Juju's automatic retry of a failed hook (model config `automatically-retry-hooks`, on by
//! default): the unit stays in error and the hook is run again after 5 s, 10 s, 20 s, 40 s …,
//! doubling up to 5 minutes, then every 5 minutes.

use std::time::Duration;

/// The model-config key that turns automatic retries on or off.
pub const AUTOMATICALLY_RETRY_HOOKS: &str = "automatically-retry-hooks";

const FIRST_DELAY: Duration = Duration::from_secs(5);
const MAX_DELAY: Duration = Duration::from_secs(300);

/// The wait before retry number `attempt` (0 for the first retry).
pub fn delay(attempt: u32) -> Duration {
    FIRST_DELAY
        .checked_mul(2u32.saturating_pow(attempt))
        .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

/// The next wait, if retrying after it stays within `window` of the first failure (Juju retries
/// forever; a simulator command must return, so it gives up after a window and leaves the unit in
/// error for the next command to retry first). `waited` is the time spent in earlier waits.
pub fn next_delay(attempt: u32, waited: Duration, window: Duration) -> Option<Duration> {
    let next = delay(attempt);
    (waited + next <= window).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_five_seconds_up_to_five_minutes() {
        let secs: Vec<u64> = (0..9).map(|n| delay(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn retries_stop_at_the_window() {
        let window = Duration::from_secs(60);
        assert_eq!(next_delay(0, Duration::ZERO, window), Some(delay(0)));
        assert_eq!(
            next_delay(2, Duration::from_secs(15), window),
            Some(Duration::from_secs(20))
        );
        assert_eq!(next_delay(3, Duration::from_secs(35), window), None);
        assert_eq!(next_delay(0, Duration::ZERO, Duration::ZERO), None);
    }
}
