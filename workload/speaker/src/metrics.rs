//! The speaker's Prometheus metrics, with upstream MetalLB's names (`metallb_layer2_*`,
//! `metallb_speaker_announced`); the registry and its exposition are `metallb_runtime::metrics`.

use metallb_runtime::kube_client::REST_CLIENT_REQUESTS;
use metallb_runtime::metrics::{Family, Metrics};

/// Counter: ARP/NDP requests received for an announced address (label `ip`).
pub const REQUESTS_RECEIVED: &str = "metallb_layer2_requests_received";
/// Counter: ARP/NDP answers sent (label `ip`).
pub const RESPONSES_SENT: &str = "metallb_layer2_responses_sent";
/// Counter: gratuitous ARP / unsolicited NA packets sent (label `ip`).
pub const GRATUITOUS_SENT: &str = "metallb_layer2_gratuitous_sent";
/// Counter: frames dropped by the responders (label `reason`).
pub const FRAMES_DROPPED: &str = "metallb_layer2_frames_dropped";
/// Counter: membership packets dropped (label `reason`).
pub const MEMBERLIST_DROPPED: &str = "metallb_speaker_memberlist_packets_dropped";
/// Gauge: 1 per announced (service, ip) (labels `ip`, `node`, `protocol`, `service`).
pub const ANNOUNCED: &str = "metallb_speaker_announced";
/// Gauge: live speakers seen by this one.
pub const MEMBERS: &str = "metallb_speaker_members";
/// Gauge: 1 per other hardware address seen answering for an announced address (labels `ip`,
/// `mac`).
pub const DUPLICATE_RESPONDERS: &str = "metallb_layer2_duplicate_responders";
/// Counter: ARP probes sent to find duplicate responders (label `ip`).
pub const DUPLICATE_PROBES_SENT: &str = "metallb_layer2_duplicate_probes_sent";

/// The speaker's metric families.
pub const FAMILIES: &[Family] = &[
    REST_CLIENT_REQUESTS,
    (
        REQUESTS_RECEIVED,
        "counter",
        "Number of layer2 requests received for owned IPs",
    ),
    (
        RESPONSES_SENT,
        "counter",
        "Number of layer2 responses sent for owned IPs",
    ),
    (
        GRATUITOUS_SENT,
        "counter",
        "Number of gratuitous layer2 packets sent for owned IPs",
    ),
    (
        FRAMES_DROPPED,
        "counter",
        "Number of ARP/NDP frames not answered, by reason",
    ),
    (
        MEMBERLIST_DROPPED,
        "counter",
        "Number of membership packets dropped, by reason",
    ),
    (
        ANNOUNCED,
        "gauge",
        "Services being announced from this node",
    ),
    (
        MEMBERS,
        "gauge",
        "Live speakers in the membership, this one included",
    ),
    (
        DUPLICATE_RESPONDERS,
        "gauge",
        "Other hardware addresses seen answering for an announced IP",
    ),
    (
        DUPLICATE_PROBES_SENT,
        "counter",
        "Number of ARP probes sent to find duplicate responders",
    ),
    (
        crate::adapters::bgp::SESSION_UP,
        "gauge",
        "BGP session state (1 established, 0 not)",
    ),
    (
        crate::adapters::bgp::UPDATES,
        "counter",
        "Number of BGP UPDATE messages sent",
    ),
    (
        crate::adapters::bgp::ANNOUNCED,
        "gauge",
        "Number of prefixes announced on the BGP session",
    ),
    (
        crate::adapters::bfd::SESSION_UP,
        "gauge",
        "BFD session state (1 up, 0 not)",
    ),
    (
        crate::adapters::bfd::PACKETS_IN,
        "counter",
        "Number of received BFD control packets",
    ),
    (
        crate::adapters::bfd::PACKETS_OUT,
        "counter",
        "Number of sent BFD control packets",
    ),
    (
        crate::adapters::bfd::DOWN_EVENTS,
        "counter",
        "Number of times a BFD session went down",
    ),
    (
        crate::adapters::bfd::DROPPED,
        "counter",
        "Number of received BFD packets dropped (malformed, or for no session)",
    ),
];

/// The speaker's metrics, empty.
pub fn speaker_metrics() -> Metrics {
    Metrics::new(FAMILIES)
}
