//! Who this charm instance is in the cluster: the ownership labels it puts on every object, and
//! the names of the objects it creates, unique per instance.
//!
//! An instance is one Juju application in one model. Model and application names are lowercase
//! letters, digits and `-`, so `<model>.<app>` is unambiguous (`a-b`/`c` and `a`/`b-c` give
//! `a-b.c` and `a.b-c`); it names the pool, the advertisements and, prefixed, the cluster-scoped
//! RBAC objects. The instance label is the same text when it fits a label value (63
//! characters), else a readable prefix and a hash of the whole name, never a bare truncation.

use sha2::{Digest, Sha256};

/// Label: who manages the object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "metallb-charm";
/// Label: which charm instance owns the object.
pub const LABEL_INSTANCE: &str = "charm.metallb.io/instance";
/// Annotation on a Namespace the charm created (value: the instance label); only such a
/// Namespace is ever deleted by the charm.
pub const ANNOTATION_CREATED_BY: &str = "charm.metallb.io/created-by";

/// The longest label value Kubernetes accepts.
const LABEL_VALUE_MAX: usize = 63;
/// Hex digits of the hash in a long instance's label.
const HASH_DIGITS: usize = 16;

/// One charm instance: a Juju application in a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Juju model name.
    pub model: String,
    /// Juju application name.
    pub app: String,
}

impl Instance {
    /// The instance of application `app` in model `model`.
    pub fn new(model: &str, app: &str) -> Self {
        Self {
            model: model.to_string(),
            app: app.to_string(),
        }
    }

    /// `<model>.<app>`: the unambiguous name of the instance.
    pub fn name(&self) -> String {
        format!("{}.{}", self.model, self.app)
    }

    /// The value of [`LABEL_INSTANCE`]: [`Instance::name`] when it is a valid label value,
    /// else a readable prefix, `-` and 16 hex digits of its SHA-256.
    pub fn label(&self) -> String {
        let name = self.name();
        if name.len() <= LABEL_VALUE_MAX && is_label_value(&name) {
            return name;
        }
        let digest = Sha256::digest(name.as_bytes());
        let hash: String = digest
            .iter()
            .take(HASH_DIGITS / 2)
            .map(|b| format!("{b:02x}"))
            .collect();
        let keep = LABEL_VALUE_MAX - HASH_DIGITS - 1;
        let prefix: String = sanitise(&name).chars().take(keep).collect();
        let prefix = prefix.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        format!("{prefix}-{hash}")
    }

    /// The label value earlier releases of the charm wrote (a truncation): objects carrying it
    /// were created by this instance too.
    pub fn legacy_label(&self) -> String {
        let cleaned: String = sanitise(&self.name())
            .chars()
            .take(LABEL_VALUE_MAX)
            .collect();
        cleaned
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string()
    }

    /// Whether `value` of [`LABEL_INSTANCE`] names this instance.
    pub fn owns_label(&self, value: &str) -> bool {
        value == self.label() || value == self.legacy_label()
    }

    /// Name of the IPAddressPool, the L2Advertisement and the BGPAdvertisement.
    pub fn pool_name(&self) -> String {
        self.name()
    }

    /// Name of a cluster-scoped object of `component` (ClusterRole, ClusterRoleBinding).
    pub fn cluster_name(&self, component: &str) -> String {
        format!("metallb-charm:{}:{component}", self.name())
    }

    /// The label selector (`k=v,k=v`) that finds every object this instance owns.
    pub fn owner_selector(&self) -> String {
        format!(
            "{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={}",
            self.label()
        )
    }
}

/// The selector that finds every object any instance of the charm manages.
pub fn managed_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// `text` with every character a label value may not hold replaced by `-`.
fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Whether `text` is a valid label value (alphanumeric ends, `-_.` inside).
fn is_label_value(text: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(text.chars().next())
        && alnum(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Makes `text` a valid label value: allowed characters only, at most 63, alphanumeric ends.
pub fn label_value(text: &str) -> String {
    let cleaned: String = sanitise(text).chars().take(LABEL_VALUE_MAX).collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_readable() {
        let i = Instance::new("lab", "metallb");
        assert_eq!(i.label(), "lab.metallb");
        assert_eq!(i.pool_name(), "lab.metallb");
        assert_eq!(
            i.cluster_name("speaker"),
            "metallb-charm:lab.metallb:speaker"
        );
        assert!(i.owns_label("lab.metallb"));
        assert!(!i.owns_label("lab.metallb2"));
    }

    #[test]
    fn hyphens_cannot_make_two_instances_collide() {
        let a = Instance::new("a-b", "c");
        let b = Instance::new("a", "b-c");
        assert_ne!(a.pool_name(), b.pool_name());
        assert_ne!(a.label(), b.label());
        assert_ne!(a.cluster_name("controller"), b.cluster_name("controller"));
    }

    #[test]
    fn long_names_get_a_hash_not_a_truncation() {
        let model = "m".repeat(40);
        let a = Instance::new(&model, &"x".repeat(30));
        let b = Instance::new(&model, &format!("{}y", "x".repeat(29)));
        let (la, lb) = (a.label(), b.label());
        assert!(la.len() <= 63 && lb.len() <= 63, "{la} {lb}");
        assert_ne!(la, lb, "same first 63 characters, different instances");
        assert!(is_label_value(&la));
        assert!(la.starts_with("mmmm"));
        // Objects written by earlier releases (truncated label) are still recognised.
        assert!(a.owns_label(&a.legacy_label()));
        assert_eq!(a.legacy_label().len(), 63);
    }

    #[test]
    fn label_values_are_made_valid() {
        assert_eq!(label_value("a.b"), "a.b");
        assert_eq!(label_value("-x/y-"), "x-y");
        assert_eq!(label_value(&"m".repeat(80)).len(), 63);
    }
}
