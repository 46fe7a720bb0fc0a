//! A set of `u128` values kept as maximal runs, so "the lowest free value at or after `x`" is
//! one ordered-map lookup however many values are taken (the allocator's next-free search).

use std::collections::BTreeMap;

/// Occupied values as disjoint, non-adjacent inclusive runs `start -> end`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Occupied {
    runs: BTreeMap<u128, u128>,
}

impl Occupied {
    /// The run containing `x`.
    fn run_at(&self, x: u128) -> Option<(u128, u128)> {
        self.runs
            .range(..=x)
            .next_back()
            .filter(|(_, end)| **end >= x)
            .map(|(s, e)| (*s, *e))
    }

    /// Whether `x` is taken.
    #[cfg(test)]
    pub(super) fn contains(&self, x: u128) -> bool {
        self.run_at(x).is_some()
    }

    /// Marks `x` taken, merging with neighbouring runs.
    pub(super) fn insert(&mut self, x: u128) {
        if self.run_at(x).is_some() {
            return;
        }
        let mut start = x;
        let mut end = x;
        if let Some((s, _)) = x.checked_sub(1).and_then(|p| self.run_at(p)) {
            self.runs.remove(&s);
            start = s;
        }
        if let Some(e) = x.checked_add(1).and_then(|n| self.runs.remove(&n)) {
            end = e;
        }
        self.runs.insert(start, end);
    }

    /// Marks `x` free, splitting its run.
    pub(super) fn remove(&mut self, x: u128) {
        let Some((start, end)) = self.run_at(x) else {
            return;
        };
        self.runs.remove(&start);
        if start < x {
            self.runs.insert(start, x - 1);
        }
        if x < end {
            self.runs.insert(x + 1, end);
        }
    }

    /// The lowest free value at or after `x` (`None` past `u128::MAX`).
    pub(super) fn next_free(&self, x: u128) -> Option<u128> {
        match self.run_at(x) {
            Some((_, end)) => end.checked_add(1),
            None => Some(x),
        }
    }

    /// How many values in `lo..=hi` are taken (saturating).
    pub(super) fn count_in(&self, lo: u128, hi: u128) -> u128 {
        let begin = self.run_at(lo).map_or(lo, |(s, _)| s);
        self.runs
            .range(begin..=hi)
            .map(|(s, e)| (*e).min(hi) - (*s).max(lo))
            .fold(0u128, |acc, n| acc.saturating_add(n).saturating_add(1))
    }

    /// Number of runs (for tests and diagnostics).
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn runs_merge_and_split() {
        let mut o = Occupied::default();
        for x in [5, 7, 6, 9] {
            o.insert(x);
        }
        assert_eq!(o.runs(), 2);
        assert_eq!(o.next_free(5), Some(8));
        assert_eq!(o.next_free(8), Some(8));
        assert_eq!(o.count_in(0, 100), 4);
        assert_eq!(o.count_in(6, 9), 3);
        o.remove(6);
        assert_eq!(o.runs(), 3);
        assert_eq!(o.next_free(5), Some(6));
        o.insert(u128::MAX);
        assert_eq!(o.next_free(u128::MAX), None);
        o.insert(0);
        assert!(o.contains(0) && !o.contains(1));
    }

    proptest! {
        #[test]
        fn matches_a_plain_set(ops in proptest::collection::vec((any::<bool>(), 0u128..64), 0..200), probe in 0u128..70) {
            let mut o = Occupied::default();
            let mut model = BTreeSet::new();
            for (add, x) in ops {
                if add { o.insert(x); model.insert(x); } else { o.remove(x); model.remove(&x); }
            }
            let expected = (probe..).find(|x| !model.contains(x));
            prop_assert_eq!(o.next_free(probe), expected);
            prop_assert_eq!(o.count_in(probe / 2, probe), model.range(probe / 2..=probe).count() as u128);
            for x in 0..70 {
                prop_assert_eq!(o.contains(x), model.contains(&x));
            }
        }
    }
}
