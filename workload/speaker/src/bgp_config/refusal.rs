//! Why this speaker refuses a BGPPeer or a BGPAdvertisement, or ignores a field of it, as typed
//! values. The text of each (its `Display`) is what the speaker reports after the object's kind
//! and name, in events and in its ConfigurationState.

use metallb_core::bgp::AggregationError;

/// Why a BGPPeer cannot be opened as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// `vrf` is set: sessions run in the default VRF only.
    #[error("vrf {0:?} is not supported by this speaker (sessions run in the default VRF)")]
    Vrf(String),
    /// `interface` is set (unnumbered BGP).
    #[error("interface {0:?} (unnumbered BGP) is not supported; set peerAddress")]
    Interface(String),
    /// Neither `peerASN` nor `dynamicASN`.
    #[error("neither peerASN nor dynamicASN is set")]
    NoPeerAs,
    /// `peerAddress` is missing or not an IP address.
    #[error("peerAddress is not an IP address")]
    PeerAddress,
    /// `holdTime` is not a duration of 0 or at least 3 s (RFC 4271).
    #[error("holdTime {0:?} must be 0 or at least 3s")]
    HoldTime(String),
    /// `keepaliveTime` is not a duration of at most the hold time.
    #[error("keepaliveTime {0:?} must be a duration of at most the hold time")]
    KeepaliveTime(String),
    /// `connectTime` is not whole seconds from 1.
    #[error("connectTime {0:?} must be whole seconds from 1")]
    ConnectTime(String),
    /// The `passwordSecret` cannot be used.
    #[error(transparent)]
    PasswordSecret(#[from] SecretError),
    /// The `bfdProfile` does not exist.
    #[error("its bfdProfile {0:?} does not exist")]
    MissingBfdProfile(String),
}

/// Why the `passwordSecret` of a BGPPeer gives no password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No Secret of that name in the MetalLB namespace.
    #[error("its passwordSecret {name:?} does not exist")]
    Missing {
        /// The Secret's name.
        name: String,
    },
    /// The Secret is not of type `kubernetes.io/basic-auth`.
    #[error("its passwordSecret {name:?} is of type {kind:?}, not {expected:?}")]
    WrongType {
        /// The Secret's name.
        name: String,
        /// Its type.
        kind: String,
        /// The type required.
        expected: &'static str,
    },
    /// The Secret has no (non-empty, UTF-8) password.
    #[error("its passwordSecret {name:?} has no {key:?}")]
    NoPassword {
        /// The Secret's name.
        name: String,
        /// The key the password is read from.
        key: &'static str,
    },
}

/// Why a BGPAdvertisement is refused on this node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvertisementError {
    /// An aggregation length outside the family's width.
    #[error("{field} {value} is not between 0 and {max}")]
    Length {
        /// `aggregationLength` or `aggregationLengthV6`.
        field: &'static str,
        /// The value written.
        value: i32,
        /// The family's width (32 or 128).
        max: u8,
    },
    /// The aggregation length does not fit a pool the advertisement selects.
    #[error("{error} (IPAddressPool {pool})")]
    Aggregation {
        /// What does not fit.
        error: AggregationError,
        /// The pool.
        pool: String,
    },
    /// A community that is neither a literal nor an alias.
    #[error("community {0:?} is neither A:B, large:A:B:C nor the name of a Community alias")]
    Community(String),
}

/// A field this speaker does not honour; the rest of the object applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    /// BGPPeer `disableMP` with `dualStackAddressFamily`.
    #[error("disableMP has no effect: dualStackAddressFamily carries both families on the session")]
    DisableMp,
    /// BFDProfile `echoMode`.
    #[error("echoMode is not supported: BFD runs in asynchronous mode, without echo")]
    EchoMode,
    /// BFDProfile `echoInterval` (milliseconds).
    #[error("echoInterval ({0} ms) has no effect: echo mode is not supported")]
    EchoInterval(u32),
}

/// What a [`super::Problem`] is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Cause {
    /// A BGPPeer is refused.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// A BGPAdvertisement is refused.
    #[error(transparent)]
    Advertisement(#[from] AdvertisementError),
    /// A field is ignored.
    #[error(transparent)]
    Ignored(#[from] Ignored),
}

impl Cause {
    /// Whether the object is refused (rather than applied without a field).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Cause::Ignored(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metallb_core::bgp::{AggregationLengths, check_aggregation};
    use metallb_core::iprange::IpRange;

    /// The texts are read by people and by ConfigurationState readers: they stay as they are.
    #[test]
    fn every_reason_reads_as_before() {
        let cases: Vec<(Cause, &str)> = vec![
            (
                PeerError::Vrf("red".into()).into(),
                "vrf \"red\" is not supported by this speaker (sessions run in the default VRF)",
            ),
            (
                PeerError::Interface("eth1".into()).into(),
                "interface \"eth1\" (unnumbered BGP) is not supported; set peerAddress",
            ),
            (
                PeerError::NoPeerAs.into(),
                "neither peerASN nor dynamicASN is set",
            ),
            (
                PeerError::PeerAddress.into(),
                "peerAddress is not an IP address",
            ),
            (
                PeerError::HoldTime("2s".into()).into(),
                "holdTime \"2s\" must be 0 or at least 3s",
            ),
            (
                PeerError::KeepaliveTime("10s".into()).into(),
                "keepaliveTime \"10s\" must be a duration of at most the hold time",
            ),
            (
                PeerError::ConnectTime("0s".into()).into(),
                "connectTime \"0s\" must be whole seconds from 1",
            ),
            (
                PeerError::from(SecretError::Missing {
                    name: "bgp-auth".into(),
                })
                .into(),
                "its passwordSecret \"bgp-auth\" does not exist",
            ),
            (
                PeerError::from(SecretError::WrongType {
                    name: "bgp-auth".into(),
                    kind: "Opaque".into(),
                    expected: "kubernetes.io/basic-auth",
                })
                .into(),
                "its passwordSecret \"bgp-auth\" is of type \"Opaque\", not \
                 \"kubernetes.io/basic-auth\"",
            ),
            (
                PeerError::from(SecretError::NoPassword {
                    name: "bgp-auth".into(),
                    key: "password",
                })
                .into(),
                "its passwordSecret \"bgp-auth\" has no \"password\"",
            ),
            (
                PeerError::MissingBfdProfile("fast".into()).into(),
                "its bfdProfile \"fast\" does not exist",
            ),
            (
                AdvertisementError::Length {
                    field: "aggregationLengthV6",
                    value: 129,
                    max: 128,
                }
                .into(),
                "aggregationLengthV6 129 is not between 0 and 128",
            ),
            (
                AdvertisementError::Community("gold".into()).into(),
                "community \"gold\" is neither A:B, large:A:B:C nor the name of a Community alias",
            ),
            (
                Ignored::DisableMp.into(),
                "disableMP has no effect: dualStackAddressFamily carries both families on the \
                 session",
            ),
            (
                Ignored::EchoMode.into(),
                "echoMode is not supported: BFD runs in asynchronous mode, without echo",
            ),
            (
                Ignored::EchoInterval(50).into(),
                "echoInterval (50 ms) has no effect: echo mode is not supported",
            ),
        ];
        for (cause, text) in cases {
            assert_eq!(cause.to_string(), text);
            assert_eq!(cause.is_refusal(), !matches!(cause, Cause::Ignored(_)));
        }
    }

    #[test]
    fn an_aggregation_refusal_names_the_pool_after_the_reason() {
        let ranges = [IpRange::parse("198.18.100.0/28").unwrap()];
        let error = check_aggregation(&ranges, AggregationLengths { v4: 24, v6: 128 }).unwrap_err();
        let text = error.to_string();
        let refused = AdvertisementError::Aggregation {
            error,
            pool: "main".into(),
        };
        assert_eq!(refused.to_string(), format!("{text} (IPAddressPool main)"));
    }
}
