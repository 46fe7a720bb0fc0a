//! Cross-pool rules a set of pools must satisfy (§1.11 rules 1–3).

use std::collections::BTreeSet;

use super::PoolsError;
use super::pool::Pool;
use crate::iprange::to_u128;

/// Checks names (non-empty, unique), that every pool has addresses, and that no two ranges (of
/// one pool or of two) share an address. Sorting makes the overlap check `O(n log n)`.
pub(super) fn validate(pools: &[Pool]) -> Result<(), PoolsError> {
    let mut names = BTreeSet::new();
    for pool in pools {
        if pool.name.is_empty() {
            return Err(PoolsError::EmptyName);
        }
        if !names.insert(pool.name.as_str()) {
            return Err(PoolsError::DuplicateName(pool.name.clone()));
        }
        if pool.ranges.is_empty() {
            return Err(PoolsError::NoAddresses(pool.name.clone()));
        }
    }
    let mut all: Vec<(bool, u128, u128, &str, String)> = pools
        .iter()
        .flat_map(|p| {
            p.ranges.iter().map(move |r| {
                (
                    !r.is_ipv4(),
                    to_u128(r.first()),
                    to_u128(r.last()),
                    p.name.as_str(),
                    r.to_string(),
                )
            })
        })
        .collect();
    all.sort();
    // Sorted by start: if any two ranges overlap, two neighbours do.
    for pair in all.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0 == b.0 && b.1 <= a.2 {
            return Err(PoolsError::Overlap {
                pool: b.3.to_string(),
                range: b.4.clone(),
                other_pool: a.3.to_string(),
                other_range: a.4.clone(),
            });
        }
    }
    Ok(())
}
