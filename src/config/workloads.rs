//! How the workloads run: the loadBalancerClass they serve, extra speaker tolerations, resource
//! requests and limits, and a PriorityClass. Each is checked the way the API server checks it,
//! so a value it would refuse blocks the charm with the item named instead of a pod template the
//! cluster never accepts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{ConfigProblem, RawConfig, is_dns_subdomain, is_label_key, is_label_part, problem};

/// What the workloads' pods get beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkloadOptions {
    /// The `loadBalancerClass` both workloads serve (None: Services without a class).
    pub lb_class: Option<String>,
    /// Tolerations of the speaker pods, besides the control-plane ones.
    pub speaker_tolerations: Vec<TolerationItem>,
    /// The controller container's resources.
    pub controller_resources: Resources,
    /// The speaker container's resources.
    pub speaker_resources: Resources,
    /// The pods' `priorityClassName`.
    pub priority_class: Option<String>,
}

/// One toleration as typed in `speaker-tolerations`: `key[=value][:Effect]`, or `*` for every
/// taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TolerationItem {
    /// The taint key (None with `*`: every key).
    pub key: Option<String>,
    /// The value to match (None: operator `Exists`).
    pub value: Option<String>,
    /// The effect (None: every effect).
    pub effect: Option<String>,
}

/// Resource requests and limits of one container, by resource name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    /// `requests`.
    pub requests: BTreeMap<String, String>,
    /// `limits`.
    pub limits: BTreeMap<String, String>,
}

/// The taint effects a toleration may name.
const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// The resources a request or limit may name (hugepages and extended resources are left out:
/// neither workload uses them).
const RESOURCE_NAMES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// Validates the workload options.
pub fn parse_workloads(raw: &RawConfig) -> Result<WorkloadOptions, ConfigProblem> {
    let controller_resources = resources(
        "controller-requests",
        &raw.controller_requests,
        "controller-limits",
        &raw.controller_limits,
    )?;
    let speaker_resources = resources(
        "speaker-requests",
        &raw.speaker_requests,
        "speaker-limits",
        &raw.speaker_limits,
    )?;
    Ok(WorkloadOptions {
        lb_class: parse_lb_class(&raw.lb_class)?,
        speaker_tolerations: parse_tolerations(&raw.speaker_tolerations)?,
        controller_resources,
        speaker_resources,
        priority_class: parse_priority_class(&raw.priority_class)?,
    })
}

/// `lb-class`: a qualified name, as `spec.loadBalancerClass` must be.
fn parse_lb_class(text: &str) -> Result<Option<String>, ConfigProblem> {
    let class = text.trim();
    if class.is_empty() {
        return Ok(None);
    }
    if !is_label_key(class) {
        return Err(problem(
            "lb-class",
            class,
            "not a qualified name (an optional DNS prefix and '/', then at most 63 of letters, digits, '-', '_', '.'), for example example.com/metallb",
        ));
    }
    Ok(Some(class.to_string()))
}

/// `priority-class`: the name of a PriorityClass (a DNS subdomain).
fn parse_priority_class(text: &str) -> Result<Option<String>, ConfigProblem> {
    let name = text.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if !is_dns_subdomain(name) {
        return Err(problem(
            "priority-class",
            name,
            "not a PriorityClass name (lowercase letters, digits, '-' and '.'), for example system-node-critical",
        ));
    }
    Ok(Some(name.to_string()))
}

/// `speaker-tolerations`: comma-separated `key[=value][:Effect]`, or `*`.
pub fn parse_tolerations(text: &str) -> Result<Vec<TolerationItem>, ConfigProblem> {
    let mut out: Vec<TolerationItem> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let toleration = parse_toleration(item)?;
        if out.contains(&toleration) {
            return Err(problem("speaker-tolerations", item, "given twice"));
        }
        out.push(toleration);
    }
    Ok(out)
}

fn parse_toleration(item: &str) -> Result<TolerationItem, ConfigProblem> {
    let bad = |reason: String| problem("speaker-tolerations", item, reason);
    if item == "*" {
        return Ok(TolerationItem {
            key: None,
            value: None,
            effect: None,
        });
    }
    let (rest, effect) = match item.rsplit_once(':') {
        Some((rest, effect)) => {
            if !EFFECTS.contains(&effect) {
                return Err(bad(format!(
                    "unknown effect {effect:?}: expected one of {}",
                    EFFECTS.join(", ")
                )));
            }
            (rest, Some(effect.to_string()))
        }
        None => (item, None),
    };
    let (key, value) = match rest.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (rest, None),
    };
    if !is_label_key(key) {
        return Err(bad(format!(
            "{key:?} is not a valid taint key (expected key[=value][:Effect], for example dedicated=lb:NoSchedule)"
        )));
    }
    if let Some(value) = value
        && !value.is_empty()
        && !is_label_part(value)
    {
        return Err(bad(format!(
            "{value:?} is not a valid taint value (at most 63 of letters, digits, '-', '_', '.')"
        )));
    }
    Ok(TolerationItem {
        key: Some(key.to_string()),
        value: value.map(str::to_string),
        effect,
    })
}

/// Parses one container's requests and limits, and checks that no request exceeds its limit
/// (the API server refuses such a pod template).
fn resources(
    requests_option: &'static str,
    requests: &str,
    limits_option: &'static str,
    limits: &str,
) -> Result<Resources, ConfigProblem> {
    let parsed_requests = parse_resource_list(requests_option, requests)?;
    let parsed_limits = parse_resource_list(limits_option, limits)?;
    for (name, (request_text, request)) in &parsed_requests {
        if let Some((limit_text, limit)) = parsed_limits.get(name)
            && request.cmp(limit) == Ordering::Greater
        {
            return Err(problem(
                requests_option,
                &format!("{name}={request_text}"),
                format!("more than the limit {name}={limit_text} in {limits_option}"),
            ));
        }
    }
    let texts = |list: BTreeMap<String, (String, Quantity)>| {
        list.into_iter()
            .map(|(name, (text, _))| (name, text))
            .collect()
    };
    Ok(Resources {
        requests: texts(parsed_requests),
        limits: texts(parsed_limits),
    })
}

/// `cpu=100m,memory=64Mi`: resource name to (quantity as typed, its value).
fn parse_resource_list(
    option: &'static str,
    text: &str,
) -> Result<BTreeMap<String, (String, Quantity)>, ConfigProblem> {
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, quantity)) = item.split_once('=') else {
            return Err(problem(
                option,
                item,
                "expected resource=quantity, for example cpu=100m,memory=64Mi",
            ));
        };
        let (name, quantity) = (name.trim(), quantity.trim());
        if !RESOURCE_NAMES.contains(&name) {
            return Err(problem(
                option,
                item,
                format!(
                    "unknown resource {name:?}: expected one of {}",
                    RESOURCE_NAMES.join(", ")
                ),
            ));
        }
        let value = Quantity::parse(quantity).ok_or_else(|| {
            problem(
                option,
                item,
                "not a Kubernetes quantity (a number with an optional suffix: m, k, M, G, Ki, Mi, Gi, ...)",
            )
        })?;
        if out
            .insert(name.to_string(), (quantity.to_string(), value))
            .is_some()
        {
            return Err(problem(option, item, format!("{name} is given twice")));
        }
    }
    Ok(out)
}

/// A non-negative Kubernetes quantity as an exact rational `numerator / 10^scale`, enough to
/// compare a request with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    /// Digits times the suffix's factor.
    numerator: u128,
    /// Decimal places (fraction digits plus the negative power of ten of the suffix).
    scale: u32,
}

impl Quantity {
    /// Parses the quantity grammar (`<number><suffix>`, suffix a binary SI `Ki`..`Ei`, a
    /// decimal SI `n`, `u`, `m`, `k`, `M`..`E`, or an exponent `e<n>`/`E<n>`). Negative
    /// values are refused: a request or limit cannot be negative.
    fn parse(text: &str) -> Option<Self> {
        let number_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(number_end);
        let number = number.strip_prefix('+').unwrap_or(number);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !(whole.chars().all(|c| c.is_ascii_digit())
            && fraction.chars().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
        let mut scale = u32::try_from(fraction.len()).ok()?;
        let (factor, negative_power): (u128, u32) = match suffix {
            "" => (1, 0),
            "Ki" => (1 << 10, 0),
            "Mi" => (1 << 20, 0),
            "Gi" => (1 << 30, 0),
            "Ti" => (1 << 40, 0),
            "Pi" => (1 << 50, 0),
            "Ei" => (1 << 60, 0),
            "n" => (1, 9),
            "u" => (1, 6),
            "m" => (1, 3),
            "k" => (10u128.pow(3), 0),
            "M" => (10u128.pow(6), 0),
            "G" => (10u128.pow(9), 0),
            "T" => (10u128.pow(12), 0),
            "P" => (10u128.pow(15), 0),
            "E" => (10u128.pow(18), 0),
            exponent => {
                let power: i32 = exponent
                    .strip_prefix(['e', 'E'])
                    .filter(|p| !p.is_empty())?
                    .parse()
                    .ok()?;
                if power >= 0 {
                    (10u128.checked_pow(power.unsigned_abs())?, 0)
                } else {
                    (1, power.unsigned_abs())
                }
            }
        };
        scale = scale.checked_add(negative_power)?;
        Some(Self {
            numerator: digits.checked_mul(factor)?,
            scale,
        })
    }

    /// Compares two quantities exactly.
    fn cmp(&self, other: &Self) -> Ordering {
        let common = self.scale.max(other.scale);
        let widen = |q: &Self| {
            10u128
                .checked_pow(common - q.scale)
                .and_then(|f| q.numerator.checked_mul(f))
        };
        match (widen(self), widen(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Only absurd scales overflow; compare by magnitude then.
            _ => (self.numerator as f64 / 10f64.powi(self.scale as i32))
                .total_cmp(&(other.numerator as f64 / 10f64.powi(other.scale as i32))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn quantities_compare_exactly_across_suffixes() {
        assert_eq!(q("100m").cmp(&q("0.1")), Ordering::Equal);
        assert_eq!(q("1Gi").cmp(&q("1G")), Ordering::Greater);
        assert_eq!(q("1e3").cmp(&q("1k")), Ordering::Equal);
        assert_eq!(q("1500m").cmp(&q("2")), Ordering::Less);
        assert_eq!(q("64Mi").cmp(&q("67108864")), Ordering::Equal);
        assert_eq!(q("5e-1").cmp(&q("500m")), Ordering::Equal);
        for bad in ["", "-1", "1x", "m", "1.2.3", "e3", "1Ki1", "1 Mi"] {
            assert!(Quantity::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn a_request_above_its_limit_is_refused_by_name() {
        let err =
            resources("speaker-requests", "cpu=2", "speaker-limits", "cpu=1500m").unwrap_err();
        assert_eq!(
            (err.option, err.item.as_str()),
            ("speaker-requests", "cpu=2")
        );
        assert!(err.reason.contains("cpu=1500m"), "{err}");
        let ok = resources(
            "speaker-requests",
            "cpu=100m, memory=64Mi",
            "speaker-limits",
            "memory=64Mi",
        )
        .unwrap();
        assert_eq!(ok.requests["cpu"], "100m");
        assert_eq!(ok.limits["memory"], "64Mi");
    }

    #[test]
    fn resource_items_name_what_is_wrong() {
        for (text, item) in [
            ("gpu=1", "gpu=1"),
            ("cpu", "cpu"),
            ("cpu=lots", "cpu=lots"),
            ("cpu=1,cpu=2", "cpu=2"),
        ] {
            let err = parse_resource_list("controller-limits", text).unwrap_err();
            assert_eq!((err.option, err.item.as_str()), ("controller-limits", item));
        }
    }

    #[test]
    fn tolerations_follow_the_taint_syntax() {
        let parsed =
            parse_tolerations("dedicated=lb:NoSchedule, node.example.com/edge, *, gpu:NoExecute")
                .unwrap();
        assert_eq!(parsed[0].key.as_deref(), Some("dedicated"));
        assert_eq!(parsed[0].value.as_deref(), Some("lb"));
        assert_eq!(parsed[0].effect.as_deref(), Some("NoSchedule"));
        assert_eq!(parsed[1].value, None);
        assert_eq!(parsed[1].effect, None);
        assert_eq!(parsed[2].key, None);
        assert_eq!(parsed[3].effect.as_deref(), Some("NoExecute"));
        for (text, item) in [
            ("a:Sometimes", "a:Sometimes"),
            ("-a", "-a"),
            ("a=b c", "a=b c"),
            ("a, a", "a"),
        ] {
            let err = parse_tolerations(text).unwrap_err();
            assert_eq!(
                (err.option, err.item.as_str()),
                ("speaker-tolerations", item)
            );
        }
    }

    #[test]
    fn class_and_priority_names_are_checked() {
        assert_eq!(
            parse_lb_class(" example.com/metallb ").unwrap().as_deref(),
            Some("example.com/metallb")
        );
        assert_eq!(parse_lb_class("").unwrap(), None);
        assert_eq!(parse_lb_class("a b").unwrap_err().option, "lb-class");
        assert_eq!(
            parse_priority_class("system-node-critical")
                .unwrap()
                .as_deref(),
            Some("system-node-critical")
        );
        assert_eq!(
            parse_priority_class("High").unwrap_err().option,
            "priority-class"
        );
    }
}
