//! Label selectors (`matchLabels` AND `matchExpressions`) evaluated against a label map.

use std::collections::BTreeMap;

use litemap::LiteMap;

/// Labels a selector can be evaluated against.
pub trait Labels {
    /// The value of the label `key`.
    fn value(&self, key: &str) -> Option<&String>;
}

impl Labels for BTreeMap<String, String> {
    fn value(&self, key: &str) -> Option<&String> {
        self.get(key)
    }
}

/// A sorted vector: a Service's few labels cost a fraction of a `BTreeMap` node.
impl Labels for LiteMap<String, String> {
    fn value(&self, key: &str) -> Option<&String> {
        self.get(key)
    }
}

/// A selector requirement operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One `matchExpressions` requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: Operator,
    /// Values (for In and NotIn).
    pub values: Vec<String>,
}

/// A label selector; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// Labels that must be present with these values.
    pub match_labels: BTreeMap<String, String>,
    /// Further requirements.
    pub match_expressions: Vec<Requirement>,
}

impl Selector {
    /// Whether `labels` satisfy every part of the selector.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.value(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.value(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

/// Whether any selector in `selectors` matches (a list of selectors is OR-ed).
pub fn any_matches<L: Labels + ?Sized>(selectors: &[Selector], labels: &L) -> bool {
    selectors.iter().any(|s| s.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let req = |key: &str, operator, values: &[&str]| Selector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![Requirement {
                key: key.into(),
                operator,
                values: values.iter().map(|s| s.to_string()).collect(),
            }],
        };
        assert!(Selector::default().matches(&l));
        assert!(req("app", Operator::In, &["web", "api"]).matches(&l));
        assert!(!req("app", Operator::NotIn, &["web"]).matches(&l));
        assert!(req("zone", Operator::NotIn, &["a"]).matches(&l));
        assert!(req("tier", Operator::Exists, &[]).matches(&l));
        assert!(!req("tier", Operator::DoesNotExist, &[]).matches(&l));
        let s = Selector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![],
        };
        assert!(s.matches(&l) && !s.matches(&labels(&[("app", "db")])));
        assert!(any_matches(&[s.clone(), Selector::default()], &labels(&[])));
        assert!(!any_matches(&[], &l));
    }
}
