use super::*;
use serde_json::json;

fn label_selector(value: serde_json::Value) -> LabelSelector {
    serde_json::from_value(value).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    BTreeMap::from_iter(pairs.iter().map(|&(k, v)| (k.into(), v.into())))
}

#[test]
fn every_operator_is_read_and_an_unknown_one_is_refused() {
    let s = selector(&label_selector(json!({
        "matchLabels": {"tier": "web"},
        "matchExpressions": [
            {"key": "a", "operator": "In", "values": ["1"]},
            {"key": "b", "operator": "NotIn", "values": ["2"]},
            {"key": "c", "operator": "Exists"},
            {"key": "d", "operator": "DoesNotExist"},
        ],
    })))
    .expect("understood");
    let operators: Vec<Operator> = s.match_expressions.iter().map(|r| r.operator).collect();
    assert_eq!(
        operators,
        [
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist
        ]
    );
    assert!(s.matches(&labels(&[("tier", "web"), ("a", "1"), ("c", "")])));
    assert!(!s.matches(&labels(&[
        ("tier", "web"),
        ("a", "1"),
        ("c", ""),
        ("d", "")
    ])));
    let odd = label_selector(json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}));
    assert!(selector(&odd).is_none());
}

#[test]
fn an_empty_list_matches_everything_and_a_bad_selector_nothing() {
    let web = labels(&[("tier", "web")]);
    assert!(matches_any(&[], &web));
    let db = label_selector(json!({"matchLabels": {"tier": "db"}}));
    let bad = label_selector(json!({"matchExpressions": [{"key": "tier", "operator": "Gt"}]}));
    let any = label_selector(json!({}));
    assert!(!matches_any(std::slice::from_ref(&db), &web));
    assert!(!matches_any(&[bad], &web));
    assert!(matches_any(&[db, any], &web));
}
