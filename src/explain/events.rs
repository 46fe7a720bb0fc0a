//! The Service's last events (core/v1 Events whose involvedObject is the Service).

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;

use super::{EventLine, MAX_EVENTS};

/// When the event last happened: the series' last observation, else the last timestamp, the
/// event time, the first timestamp, or the object's creation.
fn when(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The last [`MAX_EVENTS`] events, oldest first (newest last, as `kubectl events` prints).
pub(super) fn last(events: &[Event]) -> Vec<EventLine> {
    let mut sorted: Vec<(Option<Timestamp>, &Event)> =
        events.iter().map(|e| (when(e), e)).collect();
    sorted.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.metadata.name.cmp(&b.1.metadata.name))
    });
    let skip = sorted.len().saturating_sub(MAX_EVENTS);
    sorted
        .into_iter()
        .skip(skip)
        .map(|(time, e)| EventLine {
            time: time.map(|t| t.to_string()).unwrap_or_default(),
            kind: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            source: e
                .reporting_component
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
                .unwrap_or_default(),
            count: e
                .count
                .or_else(|| e.series.as_ref().and_then(|s| s.count))
                .unwrap_or(1),
        })
        .collect()
}
