//! Workload image references: from the charm's `oci-image` resources when attached, else the
//! configured registry with this charm's version as the tag.

use std::path::Path;

/// Image names of the two workloads.
pub const CONTROLLER: &str = "controller";
/// Image name of the speaker.
pub const SPEAKER: &str = "speaker";

/// Reads the `registrypath` of an oci-image resource file (what Juju hands the charm).
pub fn registry_path(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{} is not YAML: {e}", file.display()))?;
    doc.get("registrypath")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("{} has no registrypath", file.display()))
}

/// The fallback reference: `<registry>/<name>:<version>`.
pub fn fallback(registry: &str, name: &str) -> String {
    format!("{registry}/{name}:{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_registry_path_or_explains() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.yaml");
        std::fs::write(&file, "registrypath: reg/x:1\nusername: ''\n").unwrap();
        assert_eq!(registry_path(&file).unwrap(), "reg/x:1");
        std::fs::write(&file, "username: a\n").unwrap();
        assert!(
            registry_path(&file)
                .unwrap_err()
                .contains("no registrypath")
        );
        assert!(registry_path(&dir.path().join("missing")).is_err());
        assert_eq!(
            fallback("r", "speaker"),
            format!("r/speaker:{}", env!("CARGO_PKG_VERSION"))
        );
    }

    /// What Charmhub serves with a charm revision (`upstream-source`) is what that revision
    /// falls back to without resources: the default registry and this version.
    #[test]
    fn upstream_sources_are_the_images_this_version_runs() {
        let metadata: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../metadata.yaml")).unwrap();
        let config: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../config.yaml")).unwrap();
        let registry = config["options"]["image-registry"]["default"]
            .as_str()
            .unwrap();
        for (resource, name) in [("controller-image", CONTROLLER), ("speaker-image", SPEAKER)] {
            assert_eq!(
                metadata["resources"][resource]["upstream-source"].as_str(),
                Some(fallback(registry, name).as_str()),
                "{resource}"
            );
        }
    }
}
