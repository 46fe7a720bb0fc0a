//! Layer 2 mode: which node announces a Service ([`election`]) and the ARP/NDP frames the speaker
//! reads and writes ([`arp`], [`ndp`]), and on which interfaces an address is answered for
//! ([`interface`], [`DEFAULT_EXCLUDED_INTERFACES`]), and which pool ranges no node can announce
//! ([`reach`]). Pure functions: the speaker feeds them Kubernetes state
//! and raw frames, and does the I/O.

pub mod arp;
pub mod election;
pub mod interface;
pub mod ndp;
pub mod reach;

/// An Ethernet MAC address.
pub type Mac = [u8; 6];

/// Upstream's default list of interfaces never announced on (regular expressions on the name):
/// the speaker's list when no exclude file is mounted, and the charm's `metallb-excludel2`
/// ConfigMap as first created.
pub const DEFAULT_EXCLUDED_INTERFACES: &[&str] = &[
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^nodelocaldns.*",
    "^lxc.*",
];

/// Why an incoming frame was not answered; the speaker counts drops by [`DropReason::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame could not be parsed (truncated or malformed).
    Malformed,
    /// A well-formed frame that is not a request we answer (a reply, another protocol, ...).
    NotARequest,
    /// The request is for an address this node does not announce on that interface.
    NotAnnounced,
    /// An NDP solicitation without a source link-layer address option (e.g. a DAD probe).
    NoSourceLinkLayer,
    /// The frame was addressed to another host's MAC.
    NotForUs,
}

impl DropReason {
    /// A short metric label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NotARequest => "not_a_request",
            DropReason::NotAnnounced => "not_announced",
            DropReason::NoSourceLinkLayer => "no_source_link_layer",
            DropReason::NotForUs => "not_for_us",
        }
    }
}
