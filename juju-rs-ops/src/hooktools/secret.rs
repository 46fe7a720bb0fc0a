//! The secret tools (`secret-add`, `secret-get`, `secret-set`, `secret-ids`, `secret-info-get`,
//! `secret-remove`, `secret-grant`), called as ops >= 3.4 calls them. Content always goes
//! through `KEY#file=PATH` arguments naming 0600 files in a private temporary directory, so a
//! secret value never appears on a command line (where `/proc` and logs could show it).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CommandRunner, ProcessHookTools};
use crate::error::ModelError;

/// Which revision `secret-get` returns to a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretRead {
    /// The revision this unit tracks (the latest at its first read), as plain `secret-get`.
    #[default]
    Tracked,
    /// The latest revision, just this time (`--peek`).
    Peek,
    /// The latest revision, tracked from now on (`--refresh`).
    Refresh,
}

/// Who owns a secret the charm creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretOwner {
    /// The application: only the leader manages it; every unit may read it (`--owner
    /// application`, Juju's default).
    #[default]
    Application,
    /// This unit alone (`--owner unit`).
    Unit,
}

/// Metadata given to `secret-add` or changed with `secret-set`; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretOptions {
    /// The owner's label for the secret (`--label`), unique per owner.
    pub label: Option<String>,
    /// A description (`--description`).
    pub description: Option<String>,
    /// When the revision expires: an RFC 3339 time or a Go duration (`--expire`).
    pub expire: Option<String>,
    /// Rotation policy (`--rotate`): `never`, `hourly`, `daily`, `weekly`, `monthly`,
    /// `quarterly` or `yearly`.
    pub rotate: Option<String>,
}

/// What `secret-info-get` reports about a secret this unit (or, on the leader, its
/// application) owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// The secret's id as Juju prints it (the bare id; see [`canonical_secret_id`]).
    #[serde(skip)]
    pub id: String,
    /// The latest revision.
    pub revision: u64,
    /// The owner's label (empty when none).
    #[serde(default)]
    pub label: String,
    /// `application` or `unit`.
    #[serde(default)]
    pub owner: String,
    /// The description (empty when none).
    #[serde(default)]
    pub description: String,
    /// The rotation policy, when one is set.
    #[serde(default)]
    pub rotation: Option<String>,
    /// When the latest revision expires (RFC 3339), if it does.
    #[serde(default)]
    pub expiry: Option<String>,
    /// When the secret is next due for rotation (RFC 3339), if it rotates.
    #[serde(default)]
    pub rotates: Option<String>,
}

/// Typed access to the secret tools.
pub trait SecretTools {
    /// `secret-get --format=json [ID] [--label L] [--peek|--refresh]`: the content of a
    /// secret. With both an id and a label, the label is attached to the secret for this unit.
    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        read: SecretRead,
    ) -> Result<BTreeMap<String, String>, ModelError>;
    /// `secret-add [--label L] [--description D] [--expire E] [--rotate R] --owner O
    /// KEY#file=PATH...`: a new secret; returns its URI.
    fn secret_add(
        &self,
        content: &BTreeMap<String, String>,
        options: &SecretOptions,
        owner: SecretOwner,
    ) -> Result<String, ModelError>;
    /// `secret-set [--label L] [--description D] [--expire E] [--rotate R] ID
    /// [KEY#file=PATH...]`: a new revision (when `content` is given) and/or new metadata.
    fn secret_set(
        &self,
        id: &str,
        content: Option<&BTreeMap<String, String>>,
        options: &SecretOptions,
    ) -> Result<(), ModelError>;
    /// `secret-ids --format=json`: the ids of the secrets this unit (or, on the leader, its
    /// application) owns.
    fn secret_ids(&self) -> Result<Vec<String>, ModelError>;
    /// `secret-info-get --format=json [ID] [--label L]`: metadata of an owned secret.
    fn secret_info_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Result<SecretInfo, ModelError>;
    /// `secret-remove ID [--revision N]`: removes a secret (or one revision).
    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ModelError>;
    /// `secret-grant --relation ID [--unit U] SECRET_ID`: lets the remote application (or one
    /// of its units) of a relation read the secret.
    fn secret_grant(
        &self,
        id: &str,
        relation_id: u64,
        unit: Option<&str>,
    ) -> Result<(), ModelError>;
}

/// A secret id as ops shows it: `secret:ID` for a bare id; URIs are kept as they are.
pub fn canonical_secret_id(id: &str) -> String {
    if id.starts_with("secret:") {
        id.to_string()
    } else {
        format!("secret:{id}")
    }
}

/// Whether `key` is a valid secret content key (Juju: `^([a-z](?:-?[a-z0-9]){2,})$`).
pub fn valid_secret_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let Some((first, rest)) = bytes.split_first() else {
        return false;
    };
    if !first.is_ascii_lowercase() {
        return false;
    }
    let mut units = 0;
    let mut after_dash = false;
    for b in rest {
        match b {
            b'-' if !after_dash => after_dash = true,
            b'a'..=b'z' | b'0'..=b'9' => {
                units += 1;
                after_dash = false;
            }
            _ => return false,
        }
    }
    units >= 2 && !after_dash
}

fn check_content(content: &BTreeMap<String, String>) -> Result<(), ModelError> {
    if content.is_empty() {
        return Err(ModelError::Refused(
            "a secret needs at least one key and value".into(),
        ));
    }
    if let Some(bad) = content.keys().find(|k| !valid_secret_key(k)) {
        return Err(ModelError::Refused(format!(
            "invalid secret key {bad:?}: keys are at least 3 characters of lowercase letters, \
             digits and single dashes, starting with a letter"
        )));
    }
    Ok(())
}

/// Writes each value to a 0600 file in `dir` and returns the `KEY#file=PATH` arguments.
fn content_args(
    dir: &tempfile::TempDir,
    content: &BTreeMap<String, String>,
) -> Result<Vec<String>, ModelError> {
    let mut args = Vec::new();
    for (key, value) in content {
        let path = dir.path().join(key);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(value.as_bytes()));
        written.map_err(|e| {
            ModelError::Refused(format!(
                "cannot write secret content to {}: {e}",
                path.display()
            ))
        })?;
        args.push(format!("{key}#file={}", path.display()));
    }
    Ok(args)
}

fn private_dir() -> Result<tempfile::TempDir, ModelError> {
    // TempDir is created 0700 and removed (with the value files) when dropped.
    tempfile::Builder::new()
        .prefix("juju-secret-")
        .tempdir()
        .map_err(|e| {
            ModelError::Refused(format!("cannot create a private temporary directory: {e}"))
        })
}

fn option_args(options: &SecretOptions) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, value) in [
        ("--label", &options.label),
        ("--description", &options.description),
        ("--expire", &options.expire),
        ("--rotate", &options.rotate),
    ] {
        if let Some(value) = value {
            args.push(flag.to_string());
            args.push(value.clone());
        }
    }
    args
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

impl<R: CommandRunner> SecretTools for ProcessHookTools<R> {
    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        read: SecretRead,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        let mut args = vec!["--format=json"];
        args.extend(id);
        if let Some(label) = label {
            args.extend(["--label", label]);
        }
        match read {
            SecretRead::Tracked => {}
            SecretRead::Peek => args.push("--peek"),
            SecretRead::Refresh => args.push("--refresh"),
        }
        let named = id.or(label).unwrap_or_default();
        let value: Value = self
            .call_json("secret-get", &args)
            .map_err(|e| e.for_secret(named))?;
        serde_json::from_value(value.clone()).map_err(|e| ModelError::BadOutput {
            tool: "secret-get".into(),
            reason: format!("expected a map of strings ({e}), got {value}"),
        })
    }

    fn secret_add(
        &self,
        content: &BTreeMap<String, String>,
        options: &SecretOptions,
        owner: SecretOwner,
    ) -> Result<String, ModelError> {
        check_content(content)?;
        let dir = private_dir()?;
        let mut args = option_args(options);
        args.push("--owner".into());
        args.push(
            match owner {
                SecretOwner::Application => "application",
                SecretOwner::Unit => "unit",
            }
            .into(),
        );
        args.extend(content_args(&dir, content)?);
        let out = self.call("secret-add", &as_strs(&args), None)?;
        drop(dir);
        let uri = String::from_utf8_lossy(&out).trim().to_string();
        if uri.is_empty() {
            return Err(ModelError::BadOutput {
                tool: "secret-add".into(),
                reason: "no secret URI printed".into(),
            });
        }
        Ok(uri)
    }

    fn secret_set(
        &self,
        id: &str,
        content: Option<&BTreeMap<String, String>>,
        options: &SecretOptions,
    ) -> Result<(), ModelError> {
        if let Some(content) = content {
            check_content(content)?;
        }
        let dir = private_dir()?;
        let mut args = option_args(options);
        args.push(id.to_string());
        if let Some(content) = content {
            args.extend(content_args(&dir, content)?);
        }
        self.call("secret-set", &as_strs(&args), None)
            .map(drop)
            .map_err(|e| e.for_secret(id))
    }

    fn secret_ids(&self) -> Result<Vec<String>, ModelError> {
        let ids: Option<Vec<String>> = self.call_json("secret-ids", &["--format=json"])?;
        Ok(ids.unwrap_or_default())
    }

    fn secret_info_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Result<SecretInfo, ModelError> {
        let mut args = vec!["--format=json"];
        args.extend(id);
        if let Some(label) = label {
            args.extend(["--label", label]);
        }
        let named = id.or(label).unwrap_or_default();
        let all: BTreeMap<String, SecretInfo> = self
            .call_json("secret-info-get", &args)
            .map_err(|e| e.for_secret(named))?;
        let (id, mut info) = all
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::BadOutput {
                tool: "secret-info-get".into(),
                reason: "no secret in the output".into(),
            })?;
        info.id = id;
        Ok(info)
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<(), ModelError> {
        let revision = revision.map(|r| r.to_string());
        let mut args = vec![id];
        if let Some(revision) = &revision {
            args.extend(["--revision", revision]);
        }
        self.call("secret-remove", &args, None)
            .map(drop)
            .map_err(|e| e.for_secret(id))
    }

    fn secret_grant(
        &self,
        id: &str,
        relation_id: u64,
        unit: Option<&str>,
    ) -> Result<(), ModelError> {
        let relation = relation_id.to_string();
        let mut args = vec!["--relation", relation.as_str()];
        if let Some(unit) = unit {
            args.extend(["--unit", unit]);
        }
        args.push(id);
        self.call("secret-grant", &args, None)
            .map(drop)
            .map_err(|e| e.for_secret(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::scripted::{Scripted, argv};
    use super::*;
    use crate::error::FailureKind;

    const ID: &str = "secret:d1ab8mnmp25c76b2q3e0";

    #[test]
    fn secret_get_variants() {
        let s = Scripted::new(0, r#"{"password":"s3cret"}"#, "");
        let tools = ProcessHookTools::new(&s);
        let content = tools
            .secret_get(Some(ID), None, SecretRead::Tracked)
            .unwrap();
        assert_eq!(content["password"], "s3cret");
        tools
            .secret_get(None, Some("bgp"), SecretRead::Refresh)
            .unwrap();
        tools
            .secret_get(Some(ID), Some("bgp"), SecretRead::Peek)
            .unwrap();
        let calls: Vec<Vec<String>> = s.calls().into_iter().map(|c| c.1).collect();
        assert_eq!(calls[0], ["--format=json", ID]);
        assert_eq!(calls[1], ["--format=json", "--label", "bgp", "--refresh"]);
        assert_eq!(calls[2], ["--format=json", ID, "--label", "bgp", "--peek"]);
    }

    #[test]
    fn unavailable_secrets_are_secret_not_found() {
        for (stderr, kind) in [
            ("ERROR permission denied\n", FailureKind::PermissionDenied),
            (
                "ERROR secret \"secret:d1ab8mnmp25c76b2q3e0\" not found\n",
                FailureKind::NotFound,
            ),
        ] {
            let s = Scripted::new(1, "", stderr);
            let err = ProcessHookTools::new(&s)
                .secret_get(Some(ID), None, SecretRead::Tracked)
                .unwrap_err();
            match &err {
                ModelError::SecretNotFound {
                    secret, kind: k, ..
                } => {
                    assert_eq!((secret.as_str(), *k), (ID, kind));
                }
                other => panic!("{other}"),
            }
        }
        let s = Scripted::new(2, "", "ERROR secret URI \"x\" not valid\n");
        let err = ProcessHookTools::new(&s)
            .secret_get(Some("x"), None, SecretRead::Tracked)
            .unwrap_err();
        assert!(
            matches!(err, ModelError::ToolFailed { code: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn secret_add_passes_values_in_private_files_only() {
        let s = Scripted::new(0, "secret:d1ab8mnmp25c76b2q3e0\n", "");
        let content = BTreeMap::from([("password".to_string(), "hunter2".to_string())]);
        let options = SecretOptions {
            label: Some("bgp".into()),
            description: Some("BGP password".into()),
            ..SecretOptions::default()
        };
        let uri = ProcessHookTools::new(&s)
            .secret_add(&content, &options, SecretOwner::Unit)
            .unwrap();
        assert_eq!(uri, ID);
        let args = argv(&s);
        assert_eq!(
            args[..7],
            [
                "secret-add",
                "--label",
                "bgp",
                "--description",
                "BGP password",
                "--owner",
                "unit"
            ]
        );
        let file_arg = &args[7];
        let path = file_arg.strip_prefix("password#file=").unwrap();
        assert!(
            args.iter().all(|a| !a.contains("hunter2")),
            "the value is never an argument: {args:?}"
        );
        assert!(
            !std::path::Path::new(path).exists(),
            "the value file is removed after the call"
        );
    }

    #[test]
    fn secret_add_checks_content_before_calling() {
        let s = Scripted::new(0, "", "");
        let tools = ProcessHookTools::new(&s);
        let bad = BTreeMap::from([("Pass".to_string(), "x".to_string())]);
        let err = tools
            .secret_add(&bad, &SecretOptions::default(), SecretOwner::Application)
            .unwrap_err();
        assert!(
            err.to_string().contains("invalid secret key \"Pass\""),
            "{err}"
        );
        let err = tools
            .secret_add(
                &BTreeMap::new(),
                &SecretOptions::default(),
                SecretOwner::Application,
            )
            .unwrap_err();
        assert!(matches!(err, ModelError::Refused(_)));
        assert!(s.calls().is_empty());
    }

    #[test]
    fn secret_keys_follow_juju() {
        for good in ["abc", "a-b-c", "password", "a1b", "x9-z"] {
            assert!(valid_secret_key(good), "{good}");
        }
        for bad in ["ab", "1ab", "a--b", "ab-", "-ab", "aB c", "a_b", ""] {
            assert!(!valid_secret_key(bad), "{bad}");
        }
    }

    #[test]
    fn secret_set_remove_grant_ids_info() {
        let s = Scripted::sequence(&[
            (0, "", ""),
            (0, "", ""),
            (0, "", ""),
            (0, r#"["d1ab8mnmp25c76b2q3e0"]"#, ""),
            (
                0,
                r#"{"d1ab8mnmp25c76b2q3e0":{"revision":2,"label":"bgp","owner":"application","rotation":"daily"}}"#,
                "",
            ),
        ]);
        let tools = ProcessHookTools::new(&s);
        let content = BTreeMap::from([("password".to_string(), "new".to_string())]);
        tools
            .secret_set(ID, Some(&content), &SecretOptions::default())
            .unwrap();
        tools.secret_remove(ID, Some(1)).unwrap();
        tools.secret_grant(ID, 3, Some("prom/0")).unwrap();
        assert_eq!(tools.secret_ids().unwrap(), ["d1ab8mnmp25c76b2q3e0"]);
        let info = tools.secret_info_get(None, Some("bgp")).unwrap();
        assert_eq!(
            (info.id.as_str(), info.revision, info.label.as_str()),
            ("d1ab8mnmp25c76b2q3e0", 2, "bgp")
        );
        assert_eq!(info.rotation.as_deref(), Some("daily"));
        let calls: Vec<Vec<String>> = s.calls().into_iter().map(|c| c.1).collect();
        assert_eq!(calls[0][0], ID);
        assert!(calls[0][1].starts_with("password#file="));
        assert_eq!(calls[1], [ID, "--revision", "1"]);
        assert_eq!(calls[2], ["--relation", "3", "--unit", "prom/0", ID]);
        assert_eq!(calls[3], ["--format=json"]);
        assert_eq!(calls[4], ["--format=json", "--label", "bgp"]);
    }

    #[test]
    fn canonical_ids() {
        assert_eq!(canonical_secret_id("d1ab8mnmp25c76b2q3e0"), ID);
        assert_eq!(canonical_secret_id(ID), ID);
        let long = "secret://8a3b2c1d-0000-4000-8000-00000000cafe/d1ab8mnmp25c76b2q3e0";
        assert_eq!(canonical_secret_id(long), long);
    }
}
