//! Secrets in the model API: read a secret by URI or label, and (as owner) add, update, grant
//! and remove secrets. Content travels to the tools in private files only (see
//! [`crate::hooktools::SecretTools`]).
//!
//! A consumer keeps reading the revision it first read until it asks for the latest
//! ([`SecretRead::Refresh`]); Juju then fires `secret-changed` when a newer revision appears.
//! A label names a secret only for its owner, or for a consumer that attached it with
//! [`Context::secret_label`]: the name of a user secret (`juju add-secret NAME`) is not a
//! label the charm can read it by; use its URI.

use std::collections::BTreeMap;

use super::{Context, Relation};
use crate::error::{FailureKind, ModelError};
use crate::hooktools::{SecretInfo, SecretOptions, SecretOwner, SecretRead, canonical_secret_id};

/// How the charm names a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// By URI (`secret:ID`, `secret://MODEL-UUID/ID`) or bare id.
    Id(String),
    /// By the label this unit knows it by (owner label, or a consumer label it attached).
    Label(String),
}

impl SecretRef {
    fn parts(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Id(id) => (Some(id), None),
            Self::Label(label) => (None, Some(label)),
        }
    }
}

/// A leadership failure from a secret tool becomes [`ModelError::NotLeader`].
fn leader_only(err: ModelError, what: &str) -> ModelError {
    match err {
        ModelError::ToolFailed {
            kind: FailureKind::NotLeader,
            ..
        } => ModelError::NotLeader(what.to_string()),
        other => other,
    }
}

impl Context<'_> {
    /// The content of a secret: the revision this unit tracks (the latest at its first read).
    /// A secret that does not exist or was not granted is [`ModelError::SecretNotFound`].
    pub fn secret(&self, secret: &SecretRef) -> Result<BTreeMap<String, String>, ModelError> {
        self.secret_read(secret, SecretRead::Tracked)
    }

    /// The content of a secret, choosing which revision (`--peek`, `--refresh`).
    pub fn secret_read(
        &self,
        secret: &SecretRef,
        read: SecretRead,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        let (id, label) = secret.parts();
        self.tools.secret_get(id, label, read)
    }

    /// Reads secret `id` and attaches `label` to it for this unit (a consumer label, or the
    /// owner label when this unit or its application owns it), so that later reads and
    /// `secret-changed` events can use the label.
    pub fn secret_label(
        &self,
        id: &str,
        label: &str,
        read: SecretRead,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        self.tools.secret_get(Some(id), Some(label), read)
    }

    /// Creates a secret owned by the application (leader only) or by this unit; returns its
    /// URI. Created when the hook succeeds.
    pub fn secret_add(
        &self,
        content: &BTreeMap<String, String>,
        options: &SecretOptions,
        owner: SecretOwner,
    ) -> Result<String, ModelError> {
        self.tools
            .secret_add(content, options, owner)
            .map_err(|e| leader_only(e, "cannot add an application-owned secret"))
    }

    /// Gives an owned secret a new revision (`content`) and/or new metadata.
    pub fn secret_set(
        &self,
        id: &str,
        content: Option<&BTreeMap<String, String>>,
        options: &SecretOptions,
    ) -> Result<(), ModelError> {
        self.tools
            .secret_set(id, content, options)
            .map_err(|e| leader_only(e, &format!("cannot update secret {id}")))
    }

    /// The URIs (`secret:ID`) of the secrets this unit, or on the leader its application,
    /// owns.
    pub fn secret_ids(&self) -> Result<Vec<String>, ModelError> {
        Ok(self
            .tools
            .secret_ids()?
            .iter()
            .map(|id| canonical_secret_id(id))
            .collect())
    }

    /// Metadata of an owned secret (its `id` as a `secret:ID` URI).
    pub fn secret_info(&self, secret: &SecretRef) -> Result<SecretInfo, ModelError> {
        let (id, label) = secret.parts();
        let mut info = self.tools.secret_info_get(id, label)?;
        info.id = canonical_secret_id(&info.id);
        Ok(info)
    }

    /// Removes an owned secret, or one of its revisions.
    pub fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ModelError> {
        self.tools
            .secret_remove(id, revision)
            .map_err(|e| leader_only(e, &format!("cannot remove secret {id}")))
    }

    /// Lets the remote application of `relation` (or only its unit `unit`) read an owned
    /// secret; the grant ends with the relation.
    pub fn secret_grant(
        &self,
        id: &str,
        relation: &Relation,
        unit: Option<&str>,
    ) -> Result<(), ModelError> {
        self.tools
            .secret_grant(id, relation.id, unit)
            .map_err(|e| leader_only(e, &format!("cannot grant secret {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::JujuContext;
    use crate::hooktools::ProcessHookTools;
    use crate::hooktools::scripted::Scripted;

    fn juju() -> JujuContext {
        crate::model::tests::update_status_on("demo/0")
    }

    #[test]
    fn reads_by_id_label_and_with_a_new_label() {
        let juju = juju();
        let s = Scripted::new(0, r#"{"password":"x"}"#, "");
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let id = SecretRef::Id("secret:d1ab8mnmp25c76b2q3e0".into());
        assert_eq!(ctx.secret(&id).unwrap()["password"], "x");
        ctx.secret_read(&SecretRef::Label("bgp".into()), SecretRead::Peek)
            .unwrap();
        ctx.secret_label("secret:d1ab8mnmp25c76b2q3e0", "bgp", SecretRead::Refresh)
            .unwrap();
        let calls: Vec<Vec<String>> = s.calls().into_iter().map(|c| c.1).collect();
        assert_eq!(calls[0], ["--format=json", "secret:d1ab8mnmp25c76b2q3e0"]);
        assert_eq!(calls[1], ["--format=json", "--label", "bgp", "--peek"]);
        assert_eq!(
            calls[2],
            [
                "--format=json",
                "secret:d1ab8mnmp25c76b2q3e0",
                "--label",
                "bgp",
                "--refresh"
            ]
        );
    }

    #[test]
    fn a_not_granted_secret_is_matchable() {
        let juju = juju();
        let s = Scripted::new(1, "", "ERROR permission denied\n");
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let err = ctx
            .secret(&SecretRef::Id("secret:d1ab8mnmp25c76b2q3e0".into()))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::SecretNotFound {
                    kind: FailureKind::PermissionDenied,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn leadership_failures_become_not_leader() {
        let juju = juju();
        let s = Scripted::new(1, "", "ERROR this unit is not the leader\n");
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        let content = BTreeMap::from([("password".to_string(), "x".to_string())]);
        let err = ctx
            .secret_add(
                &content,
                &SecretOptions::default(),
                SecretOwner::Application,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot add an application-owned secret: this unit is not the leader"
        );
    }

    #[test]
    fn ids_and_info_are_canonical_uris() {
        let juju = juju();
        let s = Scripted::sequence(&[
            (0, r#"["d1ab8mnmp25c76b2q3e0"]"#, ""),
            (
                0,
                r#"{"d1ab8mnmp25c76b2q3e0":{"revision":1,"label":"","owner":"unit"}}"#,
                "",
            ),
        ]);
        let tools = ProcessHookTools::new(&s);
        let ctx = Context::new(&juju, &tools, None);
        assert_eq!(ctx.secret_ids().unwrap(), ["secret:d1ab8mnmp25c76b2q3e0"]);
        let info = ctx
            .secret_info(&SecretRef::Id("secret:d1ab8mnmp25c76b2q3e0".into()))
            .unwrap();
        assert_eq!(
            (info.id.as_str(), info.owner.as_str()),
            ("secret:d1ab8mnmp25c76b2q3e0", "unit")
        );
    }
}
