//! The model's secret operations: creation, revisions, grants, consumer tracking, removal.

use std::collections::BTreeMap;

use super::secrets::*;
use super::state::{ModelState, now};

impl ModelState {
    /// Applies what a successful hook staged: creates, updates (a new revision when the content
    /// changed), grants, removals.
    pub fn commit_secrets(&mut self, pending: PendingSecrets) {
        for create in pending.creates {
            self.secret_content.insert(&create.id, 1, create.content);
            self.secrets.push(SecretState {
                id: create.id,
                owner: create.owner,
                label: create.label,
                description: create.description,
                revision: 1,
                revisions: vec![1],
                rotate: create.rotate,
                expire: create.expire,
                grants: Vec::new(),
                consumers: BTreeMap::new(),
                created: now(),
            });
        }
        for (id, update) in pending.updates {
            if let Some(content) = update.content {
                self.add_secret_revision(&id, content);
            }
            if let Some(secret) = self.secret_mut(&id) {
                if let Some(label) = update.label {
                    secret.label = label;
                }
                if let Some(description) = update.description {
                    secret.description = description;
                }
                if update.rotate.is_some() {
                    secret.rotate = update.rotate;
                }
                if update.expire.is_some() {
                    secret.expire = update.expire;
                }
            }
        }
        for (id, grant) in pending.grants {
            if let Some(secret) = self.secret_mut(&id)
                && !secret.grants.contains(&grant)
            {
                secret.grants.push(grant);
            }
        }
        for (id, revision) in pending.removes {
            self.remove_secret(&id, revision);
        }
    }

    /// The secret with bare id `id`.
    pub fn secret(&self, id: &str) -> Option<&SecretState> {
        self.secrets.iter().find(|s| s.id == id)
    }

    /// The secret with bare id `id`, mutably.
    pub fn secret_mut(&mut self, id: &str) -> Option<&mut SecretState> {
        self.secrets.iter_mut().find(|s| s.id == id)
    }

    /// A fresh secret id.
    pub fn next_secret_id(&mut self) -> String {
        self.secret_counter += 1;
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        new_secret_id(self.secret_counter, seconds)
    }

    /// Creates a secret with its first revision and returns its id.
    pub fn add_secret(
        &mut self,
        owner: SecretOwnerState,
        label: &str,
        content: BTreeMap<String, String>,
    ) -> String {
        let id = self.next_secret_id();
        self.secret_content.insert(&id, 1, content);
        self.secrets.push(SecretState {
            id: id.clone(),
            owner,
            label: label.to_string(),
            description: String::new(),
            revision: 1,
            revisions: vec![1],
            rotate: None,
            expire: None,
            grants: Vec::new(),
            consumers: BTreeMap::new(),
            created: now(),
        });
        id
    }

    /// Adds a revision when `content` differs from the latest; returns the new revision.
    pub fn add_secret_revision(
        &mut self,
        id: &str,
        content: BTreeMap<String, String>,
    ) -> Option<u32> {
        let secret = self.secrets.iter_mut().find(|s| s.id == id)?;
        if self.secret_content.get(id, secret.revision) == Some(&content) {
            return None;
        }
        secret.revision += 1;
        secret.revisions.push(secret.revision);
        let revision = secret.revision;
        self.secret_content.insert(id, revision, content);
        Some(revision)
    }

    /// Removes a secret (or one revision; the last revision takes the secret with it).
    pub fn remove_secret(&mut self, id: &str, revision: Option<u32>) {
        if let (Some(rev), Some(secret)) = (revision, self.secret_mut(id)) {
            secret.revisions.retain(|r| *r != rev);
            if !secret.revisions.is_empty() {
                self.secret_content.remove(id, Some(rev));
                return;
            }
        }
        self.secrets.retain(|s| s.id != id);
        self.secret_content.remove(id, None);
    }

    /// Finds a user secret by name or URI (for `juju-sim` commands).
    pub fn find_user_secret(&self, name_or_uri: &str) -> Result<String, String> {
        let by_name = self
            .secrets
            .iter()
            .find(|s| s.owner == SecretOwnerState::Model && s.label == name_or_uri);
        if let Some(secret) = by_name {
            return Ok(secret.id.clone());
        }
        match parse_secret_uri(name_or_uri) {
            Ok(id) if self.secret(&id).is_some() => Ok(id),
            _ => Err(format!("secret {name_or_uri:?} not found")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use std::path::PathBuf;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn content_arguments_follow_juju() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "from file").unwrap();
        let content = parse_content(
            &args(&["user=admin", "token#base64=aGk=", "password#file=pw"]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(content["token"], "aGk=", "base64 values are kept as given");
        let decoded = decode_content(&content);
        assert_eq!(decoded["user"], "admin");
        assert_eq!(decoded["token"], "hi");
        assert_eq!(decoded["password"], "from file");
        assert_eq!(
            parse_content(&args(&["novalue"]), dir.path()).unwrap_err(),
            "key value \"novalue\" not valid"
        );
        assert_eq!(
            parse_content(&args(&["=x"]), dir.path()).unwrap_err(),
            "key value \"=x\" not valid"
        );
        assert_eq!(
            parse_content(&args(&["Bad=x"]), dir.path()).unwrap_err(),
            "key \"Bad\" not valid"
        );
        let err = parse_content(&args(&["pw#file=missing"]), dir.path()).unwrap_err();
        assert!(
            err.starts_with("reading content for secret key \"pw\""),
            "{err}"
        );
        let big = format!("big={}", "x".repeat(MAX_CONTENT + 1));
        assert!(
            parse_content(&[big], dir.path())
                .unwrap_err()
                .contains("too large")
        );
        std::fs::write(dir.path().join("c.yaml"), "user: a\npass: b\n").unwrap();
        let content = read_content_file(&dir.path().join("c.yaml")).unwrap();
        assert_eq!(decode_content(&content)["pass"], "b");
    }

    #[test]
    fn uris_parse_and_ids_are_xids() {
        let id = new_secret_id(7, 1_700_000_000);
        assert_eq!(id.len(), 20);
        assert_eq!(parse_secret_uri(&format!("secret:{id}")), Ok(id.clone()));
        assert_eq!(parse_secret_uri(&id), Ok(id.clone()));
        assert_eq!(
            parse_secret_uri(&format!(
                "secret://8a3b2c1d-0000-4000-8000-00000000cafe/{id}"
            )),
            Ok(id.clone())
        );
        assert_ne!(new_secret_id(8, 1_700_000_000), id);
        assert_eq!(
            parse_secret_uri("secret:nope").unwrap_err(),
            "secret URI \"secret:nope\" not valid"
        );
        assert_eq!(
            parse_secret_uri("http:x").unwrap_err(),
            "secret URI scheme \"http\" not valid"
        );
    }

    #[test]
    fn revisions_access_and_removal() {
        let mut m = ModelState::new("m", "demo", PathBuf::from("/c"));
        let content = BTreeMap::from([("pass".to_string(), STANDARD.encode("a"))]);
        let id = m.add_secret(SecretOwnerState::Model, "bgp", content.clone());
        assert_eq!(m.add_secret_revision(&id, content), None, "same content");
        let new = BTreeMap::from([("pass".to_string(), STANDARD.encode("b"))]);
        assert_eq!(m.add_secret_revision(&id, new), Some(2));
        assert_eq!(
            decode_content(m.secret_content.get(&id, 1).unwrap())["pass"],
            "a"
        );
        assert_eq!(m.find_user_secret("bgp"), Ok(id.clone()));
        assert_eq!(m.find_user_secret(&format!("secret:{id}")), Ok(id.clone()));
        assert!(m.find_user_secret("nope").is_err());
        let secret = m.secret_mut(&id).unwrap();
        assert!(!secret.readable_by("demo", "demo/0"));
        secret.grants.push(SecretGrant {
            target: "demo".into(),
            relation: None,
        });
        assert!(secret.readable_by("demo", "demo/0"));
        assert!(!secret.owned_by("demo", "demo/0"));
        m.remove_secret(&id, Some(1));
        assert_eq!(m.secret(&id).unwrap().revisions, [2]);
        assert!(m.secret_content.get(&id, 1).is_none());
        m.remove_secret(&id, Some(2));
        assert!(m.secret(&id).is_none() && m.secret_content.is_empty());
    }

    #[test]
    fn debug_output_hides_values() {
        let mut contents = SecretContents::default();
        contents.insert("x", 1, BTreeMap::from([("k".into(), "c2VjcmV0".into())]));
        let shown = format!("{contents:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}
