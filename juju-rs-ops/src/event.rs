//! The typed event a dispatch handles, built from [`JujuContext`].

use serde_json::{Map, Value};

use crate::context::JujuContext;

/// Which relation hook fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationEventKind {
    /// `<endpoint>-relation-created`
    Created,
    /// `<endpoint>-relation-joined`
    Joined,
    /// `<endpoint>-relation-changed`
    Changed,
    /// `<endpoint>-relation-departed`
    Departed,
    /// `<endpoint>-relation-broken`
    Broken,
}

/// Which secret hook fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEventKind {
    /// `secret-changed`: a secret this unit consumes has a new revision (fired on consumers
    /// that have read it; they keep seeing the revision they read until they refresh).
    Changed,
    /// `secret-rotate`: a secret this application owns is due for rotation.
    Rotate,
    /// `secret-remove`: a revision of a secret this application owns is no longer tracked by
    /// any consumer and can be removed.
    Remove,
    /// `secret-expired`: a revision of a secret this application owns has expired.
    Expired,
}

impl SecretEventKind {
    /// The hook name (`secret-changed`).
    pub fn hook_name(self) -> &'static str {
        match self {
            Self::Changed => "secret-changed",
            Self::Rotate => "secret-rotate",
            Self::Remove => "secret-remove",
            Self::Expired => "secret-expired",
        }
    }
}

impl RelationEventKind {
    /// The hook name suffix (`relation-joined`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Created => "relation-created",
            Self::Joined => "relation-joined",
            Self::Changed => "relation-changed",
            Self::Departed => "relation-departed",
            Self::Broken => "relation-broken",
        }
    }
}

/// One Juju event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `install`
    Install,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `config-changed`
    ConfigChanged,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `update-status`
    UpdateStatus,
    /// `upgrade-charm`
    UpgradeCharm,
    /// A relation hook.
    Relation {
        /// Which one.
        kind: RelationEventKind,
        /// Endpoint name.
        endpoint: String,
        /// Relation id.
        id: u64,
        /// Remote application.
        remote_app: String,
        /// Remote unit, when the hook has one (`None` for `-created`, `-broken`, and for a
        /// `-changed` about the remote application's databag).
        remote_unit: Option<String>,
        /// Departing unit (`-departed`).
        departing_unit: Option<String>,
    },
    /// A secret hook.
    Secret {
        /// Which one.
        kind: SecretEventKind,
        /// The secret's URI (`JUJU_SECRET_ID`).
        id: String,
        /// The label this unit knows the secret by (`JUJU_SECRET_LABEL`), if any.
        label: Option<String>,
        /// The revision concerned (`secret-remove`, `secret-expired`).
        revision: Option<u64>,
    },
    /// An action, with its parameters (defaults already filled in by Juju).
    Action {
        /// Action name.
        name: String,
        /// Action id.
        id: String,
        /// Parameters from `action-get`.
        params: Map<String, Value>,
    },
    /// Any other event (pebble, storage, or one newer than this framework): the
    /// dispatch path. Logged and ignored by the dispatcher.
    Other(String),
}

impl Event {
    /// Builds the event for a hook dispatch. Actions need their parameters: use
    /// [`Event::action`] for those (the dispatcher does).
    pub fn from_context(ctx: &JujuContext) -> Self {
        if let Some(rel) = &ctx.relation {
            let name = ctx.event_name();
            let kind = match name.rsplit('-').next() {
                Some("created") => RelationEventKind::Created,
                Some("joined") => RelationEventKind::Joined,
                Some("changed") => RelationEventKind::Changed,
                Some("departed") => RelationEventKind::Departed,
                _ => RelationEventKind::Broken,
            };
            return Self::Relation {
                kind,
                endpoint: rel.endpoint.clone(),
                id: rel.id,
                remote_app: rel.remote_app.clone(),
                remote_unit: rel.remote_unit.clone(),
                departing_unit: rel.departing_unit.clone(),
            };
        }
        if let Some(secret) = &ctx.secret {
            let kind = match ctx.event_name() {
                "secret-rotate" => SecretEventKind::Rotate,
                "secret-remove" => SecretEventKind::Remove,
                "secret-expired" => SecretEventKind::Expired,
                _ => SecretEventKind::Changed,
            };
            return Self::Secret {
                kind,
                id: secret.id.clone(),
                label: secret.label.clone(),
                revision: secret.revision,
            };
        }
        let Some(hook) = ctx.dispatch_path.strip_prefix("hooks/") else {
            return Self::Other(ctx.dispatch_path.clone());
        };
        match hook {
            "install" => Self::Install,
            "leader-elected" => Self::LeaderElected,
            "leader-settings-changed" => Self::LeaderSettingsChanged,
            "config-changed" => Self::ConfigChanged,
            "start" => Self::Start,
            "stop" => Self::Stop,
            "remove" => Self::Remove,
            "update-status" => Self::UpdateStatus,
            "upgrade-charm" => Self::UpgradeCharm,
            _ => Self::Other(ctx.dispatch_path.clone()),
        }
    }

    /// Builds an action event.
    pub fn action(name: &str, id: &str, params: Map<String, Value>) -> Self {
        Self::Action {
            name: name.to_string(),
            id: id.to_string(),
            params,
        }
    }

    /// A short name for logs (`config-changed`, `list-resources action`).
    pub fn describe(&self) -> String {
        match self {
            Self::Install => "install".into(),
            Self::LeaderElected => "leader-elected".into(),
            Self::LeaderSettingsChanged => "leader-settings-changed".into(),
            Self::ConfigChanged => "config-changed".into(),
            Self::Start => "start".into(),
            Self::Stop => "stop".into(),
            Self::Remove => "remove".into(),
            Self::UpdateStatus => "update-status".into(),
            Self::UpgradeCharm => "upgrade-charm".into(),
            Self::Relation { kind, endpoint, .. } => format!("{endpoint}-{}", kind.suffix()),
            Self::Secret { kind, .. } => kind.hook_name().into(),
            Self::Action { name, .. } => format!("{name} action"),
            Self::Other(path) => path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ctx(path: &str, extra: &[(&str, &str)]) -> JujuContext {
        let hook = path.strip_prefix("hooks/").unwrap_or("");
        let mut vars: BTreeMap<String, String> = [
            ("JUJU_DISPATCH_PATH", path),
            ("JUJU_HOOK_NAME", hook),
            ("JUJU_MODEL_NAME", "m"),
            ("JUJU_MODEL_UUID", "u"),
            ("JUJU_UNIT_NAME", "a/0"),
            ("JUJU_VERSION", "3.6.8"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        JujuContext::from_map(&vars).unwrap()
    }

    #[test]
    fn every_lifecycle_hook_maps_to_its_event() {
        for (hook, event) in [
            ("install", Event::Install),
            ("leader-elected", Event::LeaderElected),
            ("leader-settings-changed", Event::LeaderSettingsChanged),
            ("config-changed", Event::ConfigChanged),
            ("start", Event::Start),
            ("stop", Event::Stop),
            ("remove", Event::Remove),
            ("update-status", Event::UpdateStatus),
            ("upgrade-charm", Event::UpgradeCharm),
        ] {
            let path = format!("hooks/{hook}");
            assert_eq!(Event::from_context(&ctx(&path, &[])), event);
            assert_eq!(event.describe(), hook);
        }
    }

    #[test]
    fn unknown_hooks_are_other() {
        let event = Event::from_context(&ctx("hooks/web-pebble-ready", &[]));
        assert_eq!(event, Event::Other("hooks/web-pebble-ready".into()));
    }

    #[test]
    fn relation_hooks_carry_their_relation() {
        let event = Event::from_context(&ctx(
            "hooks/db-relation-departed",
            &[
                ("JUJU_RELATION", "db"),
                ("JUJU_RELATION_ID", "db:4"),
                ("JUJU_REMOTE_APP", "pg"),
                ("JUJU_REMOTE_UNIT", "pg/0"),
                ("JUJU_DEPARTING_UNIT", "pg/0"),
            ],
        ));
        assert_eq!(
            event,
            Event::Relation {
                kind: RelationEventKind::Departed,
                endpoint: "db".into(),
                id: 4,
                remote_app: "pg".into(),
                remote_unit: Some("pg/0".into()),
                departing_unit: Some("pg/0".into()),
            }
        );
        assert_eq!(event.describe(), "db-relation-departed");
    }

    #[test]
    fn an_application_databag_change_is_a_changed_without_unit() {
        let event = Event::from_context(&ctx(
            "hooks/db-relation-changed",
            &[
                ("JUJU_RELATION", "db"),
                ("JUJU_RELATION_ID", "db:4"),
                ("JUJU_REMOTE_APP", "pg"),
                ("JUJU_REMOTE_UNIT", ""),
            ],
        ));
        assert!(matches!(
            event,
            Event::Relation {
                kind: RelationEventKind::Changed,
                remote_unit: None,
                ..
            }
        ));
    }

    #[test]
    fn secret_hooks_carry_their_secret() {
        let id = "secret:d1ab8mnmp25c76b2q3e0";
        for (hook, kind) in [
            ("secret-changed", SecretEventKind::Changed),
            ("secret-rotate", SecretEventKind::Rotate),
            ("secret-remove", SecretEventKind::Remove),
            ("secret-expired", SecretEventKind::Expired),
        ] {
            let event = Event::from_context(&ctx(
                &format!("hooks/{hook}"),
                &[
                    ("JUJU_SECRET_ID", id),
                    ("JUJU_SECRET_LABEL", "pw"),
                    ("JUJU_SECRET_REVISION", "2"),
                ],
            ));
            assert_eq!(
                event,
                Event::Secret {
                    kind,
                    id: id.into(),
                    label: Some("pw".into()),
                    revision: Some(2)
                }
            );
            assert_eq!(event.describe(), hook);
        }
    }
}
