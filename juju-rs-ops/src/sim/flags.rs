//! Argument parsing in the style of Go's `gnuflag`, as Juju's hook tools use it: flags may be
//! interspersed with positional arguments, `--` ends flags, `--name=value` and `--name value`,
//! single-letter `-x value`, boolean flags with Go's `ParseBool` values.

use std::collections::BTreeMap;

/// One flag a tool accepts.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    /// Names without dashes; one-letter names are short flags (`-a`), longer ones long (`--all`).
    pub names: &'static [&'static str],
    /// Whether the flag takes a value (else it is boolean).
    pub takes_value: bool,
}

/// Parsed arguments: flags by their first name, and positionals.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Flag values (booleans as `true`/`false`), keyed by the spec's first name.
    pub flags: BTreeMap<&'static str, String>,
    /// Positional arguments in order.
    pub positional: Vec<String>,
}

impl Parsed {
    /// Whether a boolean flag is set to true.
    pub fn is_set(&self, name: &str) -> bool {
        self.flags.get(name).is_some_and(|v| v == "true")
    }

    /// A flag's value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` against `specs`. The error is the message Juju prints after `ERROR `.
pub fn parse(specs: &[FlagSpec], args: &[String]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.positional.extend(iter.by_ref().cloned());
            break;
        }
        let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(body) if !body.is_empty() => body,
            _ => {
                out.positional.push(arg.clone());
                continue;
            }
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let dashes = if arg.starts_with("--") { "--" } else { "-" };
        let spec = specs
            .iter()
            .find(|s| s.names.contains(&name))
            .ok_or_else(|| format!("option provided but not defined: {dashes}{name}"))?;
        let key = spec.names[0];
        if spec.takes_value {
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("option needs an argument: {dashes}{name}"))?,
            };
            out.flags.insert(key, value);
        } else {
            let value = match inline {
                None => true,
                Some(v) => parse_bool(&v).ok_or_else(|| {
                    format!("invalid value {v:?} for flag {dashes}{name}: parse error")
                })?,
            };
            out.flags.insert(key, value.to_string());
        }
    }
    Ok(out)
}

/// The `unrecognized args: ["a" "b"]` message for extra positionals.
pub fn unrecognized(extra: &[String]) -> String {
    let quoted: Vec<String> = extra.iter().map(|a| format!("{a:?}")).collect();
    format!("unrecognized args: [{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FlagSpec] = &[
        FlagSpec {
            names: &["format"],
            takes_value: true,
        },
        FlagSpec {
            names: &["a", "all"],
            takes_value: false,
        },
        FlagSpec {
            names: &["application"],
            takes_value: false,
        },
        FlagSpec {
            names: &["l", "log-level"],
            takes_value: true,
        },
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn interspersed_flags_and_double_dash() {
        let p = parse(
            SPECS,
            &args(&["key", "--format=json", "-a", "--", "-x", "--all"]),
        )
        .unwrap();
        assert_eq!(p.value("format"), Some("json"));
        assert!(p.is_set("a"));
        assert_eq!(p.positional, ["key", "-x", "--all"]);
    }

    #[test]
    fn separate_values_and_booleans() {
        let p = parse(
            SPECS,
            &args(&["--format", "yaml", "--application=False", "-l", "debug"]),
        )
        .unwrap();
        assert_eq!(p.value("format"), Some("yaml"));
        assert!(!p.is_set("application"));
        assert_eq!(p.value("l"), Some("debug"));
        let p = parse(SPECS, &args(&["--application=True"])).unwrap();
        assert!(p.is_set("application"));
    }

    #[test]
    fn errors_read_like_gnuflag() {
        assert_eq!(
            parse(SPECS, &args(&["--bogus"])).unwrap_err(),
            "option provided but not defined: --bogus"
        );
        assert_eq!(
            parse(SPECS, &args(&["--format"])).unwrap_err(),
            "option needs an argument: --format"
        );
        assert!(parse(SPECS, &args(&["--application=maybe"])).is_err());
        assert_eq!(
            unrecognized(&args(&["a", "b"])),
            r#"unrecognized args: ["a" "b"]"#
        );
    }

    #[test]
    fn lone_dash_is_positional() {
        let p = parse(SPECS, &args(&["-"])).unwrap();
        assert_eq!(p.positional, ["-"]);
    }
}
