//! Why a MetalLB configuration cannot be used, as one typed error naming the object at fault,
//! and the checks of a configuration as a whole (pools against each other, advertisements
//! against the pools). The controller reports the error in its ConfigurationState and as an
//! event on the object; `explain` shows it.

use crate::allocator::{Pool, PoolsError};
use crate::iprange::{IpRange, RangeError};

/// The event and condition reason of an invalid configuration (upstream's).
pub const REASON: &str = "ConfigurationError";

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An address of a pool is not a range.
    #[error("pool {pool}: {error}")]
    Range {
        /// The pool.
        pool: String,
        /// What is wrong with the address.
        error: RangeError,
    },
    /// Two ranges share addresses.
    #[error("CIDR {range} of pool {pool} overlaps with {other_range} of pool {other_pool}")]
    Overlap {
        /// The pool reported (the later one by name).
        pool: String,
        /// Its range.
        range: IpRange,
        /// The pool it overlaps with.
        other_pool: String,
        /// That pool's range.
        other_range: IpRange,
    },
    /// An advertisement names a pool that does not exist.
    #[error("{kind} {advertisement} references unknown IPAddressPool {pool}")]
    UnknownPool {
        /// `L2Advertisement` or `BGPAdvertisement`.
        kind: &'static str,
        /// The advertisement.
        advertisement: String,
        /// The pool it names.
        pool: String,
    },
    /// A label selector with an operator that is not In, NotIn, Exists or DoesNotExist.
    #[error("pool {pool}: bad selector operator")]
    BadSelectorOperator {
        /// The pool.
        pool: String,
    },
    /// A field this implementation does not support.
    #[error("{kind} {name}: {field} is not supported")]
    Unsupported {
        /// The object's kind.
        kind: &'static str,
        /// The object.
        name: String,
        /// The field, as written in the object.
        field: String,
    },
    /// The pools as a set were refused by the allocator.
    #[error(transparent)]
    Pools(#[from] PoolsError),
}

impl ConfigError {
    /// The kind of the object at fault.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::UnknownPool { kind, .. } | ConfigError::Unsupported { kind, .. } => kind,
            _ => "IPAddressPool",
        }
    }

    /// The name of the object at fault (empty when it has none).
    pub fn name(&self) -> &str {
        match self {
            ConfigError::Range { pool, .. }
            | ConfigError::Overlap { pool, .. }
            | ConfigError::BadSelectorOperator { pool } => pool,
            ConfigError::UnknownPool { advertisement, .. } => advertisement,
            ConfigError::Unsupported { name, .. } => name,
            ConfigError::Pools(err) => match err {
                PoolsError::EmptyName => "",
                PoolsError::DuplicateName(name) | PoolsError::NoAddresses(name) => name,
                PoolsError::Overlap { pool, .. } => pool,
            },
        }
    }

    /// The event and condition reason.
    pub fn reason(&self) -> &'static str {
        REASON
    }
}

/// Checks that no two ranges of `pools` (in this order) share addresses; the later pool is the
/// one reported.
pub fn check_overlaps(pools: &[Pool]) -> Result<(), ConfigError> {
    let all: Vec<(&str, &IpRange)> = pools
        .iter()
        .flat_map(|p| p.ranges.iter().map(move |r| (p.name.as_str(), r)))
        .collect();
    for (i, (pa, a)) in all.iter().enumerate() {
        for (pb, b) in &all[i + 1..] {
            if a.overlaps(b) {
                return Err(ConfigError::Overlap {
                    pool: pb.to_string(),
                    range: **b,
                    other_pool: pa.to_string(),
                    other_range: **a,
                });
            }
        }
    }
    Ok(())
}

/// Checks that every pool an advertisement names exists: `advertisements` are (name, the pool
/// names it lists), `pools` the names of the pools.
pub fn check_references<'a>(
    kind: &'static str,
    advertisements: impl IntoIterator<Item = (&'a str, &'a [String])>,
    pools: &[&str],
) -> Result<(), ConfigError> {
    for (advertisement, names) in advertisements {
        if let Some(missing) = names.iter().find(|n| !pools.contains(&n.as_str())) {
            return Err(ConfigError::UnknownPool {
                kind,
                advertisement: advertisement.to_string(),
                pool: missing.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, ranges: &[&str]) -> Pool {
        Pool {
            name: name.into(),
            ranges: ranges.iter().map(|r| IpRange::parse(r).unwrap()).collect(),
            auto_assign: true,
            avoid_buggy_ips: false,
            allocation: None,
        }
    }

    #[test]
    fn an_overlap_names_the_later_pool_and_both_ranges() {
        let pools = [
            pool("a", &["198.18.100.0/28"]),
            pool("b", &["198.18.100.8-198.18.100.20"]),
        ];
        let err = check_overlaps(&pools).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CIDR 198.18.100.8-198.18.100.20 of pool b overlaps with 198.18.100.0/28 of pool a"
        );
        assert_eq!((err.kind(), err.name()), ("IPAddressPool", "b"));
        assert_eq!(err.reason(), "ConfigurationError");
        assert!(check_overlaps(&pools[..1]).is_ok());
    }

    #[test]
    fn an_advertisement_naming_a_missing_pool_is_at_fault() {
        let listed = ["a".to_string(), "gone".to_string()];
        let err = check_references("L2Advertisement", [("ad", &listed[..])], &["a"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "L2Advertisement ad references unknown IPAddressPool gone"
        );
        assert_eq!((err.kind(), err.name()), ("L2Advertisement", "ad"));
        assert!(check_references("L2Advertisement", [("ad", &listed[..1])], &["a"]).is_ok());
    }

    #[test]
    fn every_error_names_its_object() {
        let range = IpRange::parse("198.18.100.300/32").unwrap_err();
        let err = ConfigError::Range {
            pool: "p".into(),
            error: range,
        };
        assert_eq!(err.name(), "p");
        assert!(err.to_string().starts_with("pool p: "), "{err}");
        let unsupported = ConfigError::Unsupported {
            kind: "BGPPeer",
            name: "r".into(),
            field: "vrf".into(),
        };
        assert_eq!(unsupported.to_string(), "BGPPeer r: vrf is not supported");
        let pools = ConfigError::from(PoolsError::NoAddresses("empty".into()));
        assert_eq!((pools.kind(), pools.name()), ("IPAddressPool", "empty"));
    }
}
