//! The `prometheus_scrape` provider side: scrape jobs, scrape metadata and alert rules in the
//! application databag, the unit's address in its unit databag.
//!
//! The workloads are not Juju units: the controller is a pod and the speakers run on the
//! nodes' host network. So the jobs carry full targets (the controller pod's address, and the
//! address of every node selected for a speaker, whether or not a speaker runs there: a node
//! whose target does not answer raises `MetalLBSpeakerMissing`). The COS libraries keep such
//! targets as they are and add the topology labels.

use serde_json::{Value, json};

use super::{Databag, Topology};

/// The alert rules shipped with the charm (Prometheus rule-file format).
pub const ALERT_RULES: &str = include_str!("../../monitoring/alert_rules.yaml");

/// The label naming which workload a target is.
pub const COMPONENT_LABEL: &str = "metallb_component";

/// What to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// The controller's `address:port`, when a controller pod has an address.
    pub controller: Option<String>,
    /// `(node, address:port)` of the speaker on every node selected for one.
    pub speakers: Vec<(String, String)>,
}

/// The application databag: `scrape_jobs`, `scrape_metadata`, `alert_rules` (each a JSON
/// document in a string, as the interface carries them).
pub fn app_data(topology: &Topology, targets: &Targets) -> Databag {
    Databag::from([
        ("scrape_jobs".to_string(), scrape_jobs(targets).to_string()),
        (
            "scrape_metadata".to_string(),
            json!({
                "model": topology.model,
                "model_uuid": topology.model_uuid,
                "application": topology.application,
                "unit": topology.unit,
                "charm_name": topology.charm_name,
            })
            .to_string(),
        ),
        ("alert_rules".to_string(), alert_rules(topology).to_string()),
    ])
}

/// The unit databag: this unit's name and address (its pod's DNS name in the model, as the
/// library derives it in a Kubernetes charm).
pub fn unit_data(topology: &Topology) -> Databag {
    let pod = topology.unit.replace('/', "-");
    Databag::from([
        (
            "prometheus_scrape_unit_address".to_string(),
            format!(
                "{pod}.{}-endpoints.{}.svc.cluster.local",
                topology.application, topology.model
            ),
        ),
        (
            "prometheus_scrape_unit_name".to_string(),
            topology.unit.clone(),
        ),
    ])
}

/// One job per workload, each target labelled with its component (and node for speakers).
pub fn scrape_jobs(targets: &Targets) -> Value {
    let mut jobs = Vec::new();
    if let Some(controller) = &targets.controller {
        jobs.push(json!({
            "job_name": "metallb-controller",
            "metrics_path": "/metrics",
            "static_configs": [{
                "targets": [controller],
                "labels": {COMPONENT_LABEL: "controller"},
            }],
        }));
    }
    if !targets.speakers.is_empty() {
        let configs: Vec<Value> = targets
            .speakers
            .iter()
            .map(|(node, address)| {
                json!({
                    "targets": [address],
                    "labels": {COMPONENT_LABEL: "speaker", "node": node},
                })
            })
            .collect();
        jobs.push(json!({
            "job_name": "metallb-speaker",
            "metrics_path": "/metrics",
            "static_configs": configs,
        }));
    }
    Value::Array(jobs)
}

/// The shipped rules as the interface carries them: `{"groups": [...]}`, each group named
/// after the topology, each rule labelled with it.
pub fn alert_rules(topology: &Topology) -> Value {
    // The file is part of the charm and checked by the tests (and by promtool); a file that
    // does not parse sends no rules rather than failing every hook.
    let Ok(mut rules) = serde_yaml::from_str::<Value>(ALERT_RULES) else {
        return json!({"groups": []});
    };
    let labels = topology.alert_labels();
    if let Some(groups) = rules.get_mut("groups").and_then(Value::as_array_mut) {
        for group in groups {
            if let Some(name) = group.get("name").and_then(Value::as_str) {
                group["name"] = json!(format!("{}_{name}_alerts", topology.identifier()));
            }
            let Some(rules) = group.get_mut("rules").and_then(Value::as_array_mut) else {
                continue;
            };
            for rule in rules {
                if rule.get("labels").is_none() {
                    rule["labels"] = json!({});
                }
                if let Some(rule_labels) = rule.get_mut("labels").and_then(Value::as_object_mut) {
                    for (key, value) in &labels {
                        rule_labels.insert(key.clone(), json!(value));
                    }
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn topology() -> Topology {
        Topology {
            model: "lab".into(),
            model_uuid: "c2e9f4d5-dcb3-4870-8509-330eb9745ee8".into(),
            application: "metallb".into(),
            unit: "metallb/0".into(),
            charm_name: "metallb".into(),
        }
    }

    #[test]
    fn jobs_name_every_target_with_its_component() {
        let targets = Targets {
            controller: Some("10.1.0.5:7472".into()),
            speakers: vec![
                ("node-a".into(), "198.18.0.11:7472".into()),
                ("node-b".into(), "198.18.0.12:7472".into()),
            ],
        };
        let jobs = scrape_jobs(&targets);
        assert_eq!(jobs[0]["static_configs"][0]["targets"][0], "10.1.0.5:7472");
        assert_eq!(
            jobs[0]["static_configs"][0]["labels"][COMPONENT_LABEL],
            "controller"
        );
        assert_eq!(jobs[1]["static_configs"][1]["labels"]["node"], "node-b");
        assert_eq!(jobs[1]["metrics_path"], "/metrics");
        assert_eq!(scrape_jobs(&Targets::default()), json!([]));
    }

    /// The interface's schema: every rule has alert, expr, for, labels and annotations; the
    /// topology is in the labels and not in the expressions.
    #[test]
    fn alert_rules_follow_the_interface_schema() {
        let rules = alert_rules(&topology());
        let groups = rules["groups"].as_array().unwrap();
        assert_eq!(
            groups[0]["name"],
            "lab_c2e9f4d5-dcb3-4870-8509-330eb9745ee8_metallb_metallb_alerts"
        );
        let rules = groups[0]["rules"].as_array().unwrap();
        assert!(rules.len() >= 8, "{} rules", rules.len());
        for rule in rules {
            for key in ["alert", "expr", "for"] {
                assert!(rule[key].is_string(), "{key} in {rule}");
            }
            assert!(rule["annotations"].is_object(), "{rule}");
            assert_eq!(rule["labels"]["juju_application"], "metallb");
            assert_eq!(rule["labels"]["juju_charm"], "metallb");
            assert!(!rule["expr"].as_str().unwrap().contains("juju_"));
        }
        let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
        for wanted in [
            "MetalLBAddressPoolExhausted",
            "MetalLBServiceWithoutAddress",
            "MetalLBBGPSessionDown",
            "MetalLBBFDSessionDown",
            "MetalLBDuplicateResponder",
            "MetalLBConfigurationInvalid",
            "MetalLBSpeakerMissing",
        ] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
    }

    #[test]
    fn databags_carry_json_documents_and_the_unit_address() {
        let app = app_data(&topology(), &Targets::default());
        for key in ["scrape_jobs", "scrape_metadata", "alert_rules"] {
            assert!(
                serde_json::from_str::<Value>(&app[key]).is_ok(),
                "{key} is JSON"
            );
        }
        let metadata: Value = serde_json::from_str(&app["scrape_metadata"]).unwrap();
        assert_eq!(metadata["unit"], "metallb/0");
        let unit = unit_data(&topology());
        assert_eq!(
            unit["prometheus_scrape_unit_address"],
            "metallb-0.metallb-endpoints.lab.svc.cluster.local"
        );
        assert_eq!(unit["prometheus_scrape_unit_name"], "metallb/0");
    }
}
