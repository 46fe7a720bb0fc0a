//! Service events (`events.k8s.io/v1`), written directly: the controller already records an
//! event only when it differs from the last one for that Service, so it keeps no copy of the
//! events it wrote (kube-runtime's recorder caches every event for minutes, which costs memory
//! per Service at scale).

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

/// Who writes the events.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// `reportingController` (for example `metallb-controller`).
    pub controller: String,
    /// `reportingInstance` (the pod or host).
    pub instance: String,
}

/// One event about an object.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// Upstream reason (`IPAllocated`, ...).
    pub reason: &'a str,
    /// Human-readable text.
    pub note: &'a str,
    /// What was done (`Allocate`).
    pub action: &'a str,
}

/// The event object for `note` about `regarding`, at `now`.
pub fn event(
    reporter: &Reporter,
    regarding: &ObjectReference,
    note: &Note<'_>,
    now: Timestamp,
) -> Event {
    let name = regarding.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            // `<object>.<time in hex>`, as client-go names events (a generateName may not end
            // with a dot).
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: regarding.namespace.clone(),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        action: Some(note.action.to_string()),
        reason: Some(note.reason.to_string()),
        note: Some(note.note.to_string()),
        type_: Some(if note.warning { "Warning" } else { "Normal" }.to_string()),
        regarding: Some(regarding.clone()),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(reporter.instance.clone()),
        ..Event::default()
    }
}

/// Writes `note` about `regarding` (in its namespace).
pub async fn publish(
    client: &Client,
    reporter: &Reporter,
    regarding: &ObjectReference,
    note: &Note<'_>,
) -> kube::Result<()> {
    let namespace = regarding.namespace.as_deref().unwrap_or("default");
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.create(
        &PostParams::default(),
        &event(reporter, regarding, note, Timestamp::now()),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_what_the_api_server_requires() {
        let reporter = Reporter {
            controller: "metallb-controller".into(),
            instance: "controller-0".into(),
        };
        let regarding = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            namespace: Some("apps".into()),
            name: Some("web".into()),
            ..Default::default()
        };
        let note = Note {
            warning: true,
            reason: "AllocationFailed",
            note: "no available IPs",
            action: "Allocate",
        };
        let e = event(&reporter, &regarding, &note, Timestamp::UNIX_EPOCH);
        assert_eq!(e.metadata.name.as_deref(), Some("web.0"));
        assert_eq!(e.metadata.namespace.as_deref(), Some("apps"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reporting_instance.as_deref(), Some("controller-0"));
        assert_eq!(e.regarding, Some(regarding));
    }
}
