//! Kubernetes label selectors as `metallb_core` selectors.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use metallb_core::selector::{Operator, Requirement, Selector};

/// A Kubernetes label selector as a core selector; `None` when an operator is unknown.
pub fn selector(s: &LabelSelector) -> Option<Selector> {
    let match_expressions = s
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            let operator = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return None,
            };
            Some(Requirement {
                key: e.key.clone(),
                operator,
                values: e.values.clone().unwrap_or_default(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Selector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions,
    })
}

/// Whether `labels` match one of `list`; an empty list matches everything, a selector that
/// cannot be understood matches nothing.
pub fn matches_any(list: &[LabelSelector], labels: &BTreeMap<String, String>) -> bool {
    list.is_empty() || list.iter().filter_map(selector).any(|s| s.matches(labels))
}

#[cfg(test)]
mod tests;
