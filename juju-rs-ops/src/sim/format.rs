//! Hook-tool output formats: `smart`, `yaml` and `json`, as juju/cmd writes them.

use serde_json::Value;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Strings raw, booleans `True`/`False`, lists of strings one per line, the rest as YAML.
    Smart,
    /// YAML (nothing for nil).
    Yaml,
    /// Compact JSON and a newline (`null` for nil).
    Json,
}

impl Format {
    /// Parses a `--format` value; `allowed` lists what the tool accepts.
    pub fn parse(
        text: Option<&str>,
        default: Format,
        allowed: &[Format],
    ) -> Result<Format, String> {
        let format = match text {
            None => default,
            Some("smart") => Format::Smart,
            Some("yaml") => Format::Yaml,
            Some("json") => Format::Json,
            Some(other) => return Err(unknown(other, allowed)),
        };
        if allowed.contains(&format) {
            Ok(format)
        } else {
            Err(unknown(text.unwrap_or_default(), allowed))
        }
    }
}

fn unknown(text: &str, allowed: &[Format]) -> String {
    let names: Vec<&str> = allowed
        .iter()
        .map(|f| match f {
            Format::Smart => "smart",
            Format::Yaml => "yaml",
            Format::Json => "json",
        })
        .collect();
    format!(
        "invalid value {text:?} for option --format: unknown format {text:?}, expected one of {}",
        names.join(", ")
    )
}

/// Renders `value` (`None` = nil) in `format`.
pub fn render(value: Option<&Value>, format: Format) -> String {
    match (format, value) {
        (Format::Json, None) => "null\n".to_string(),
        (Format::Json, Some(v)) => format!("{v}\n"),
        (_, None) | (_, Some(Value::Null)) => String::new(),
        (Format::Yaml, Some(v)) => yaml(v),
        (Format::Smart, Some(v)) => match v {
            Value::String(s) if s.is_empty() => String::new(),
            Value::String(s) => format!("{s}\n"),
            Value::Bool(true) => "True\n".to_string(),
            Value::Bool(false) => "False\n".to_string(),
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("{s}\n"))
                .collect(),
            other => yaml(other),
        },
    }
}

fn yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("{e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn smart_rules() {
        assert_eq!(render(Some(&json!("x")), Format::Smart), "x\n");
        assert_eq!(render(Some(&json!("")), Format::Smart), "");
        assert_eq!(render(Some(&json!(true)), Format::Smart), "True\n");
        assert_eq!(render(Some(&json!(["a", "b"])), Format::Smart), "a\nb\n");
        assert_eq!(render(Some(&json!({"k": 1})), Format::Smart), "k: 1\n");
        assert_eq!(render(Some(&json!(3)), Format::Smart), "3\n");
        assert_eq!(render(None, Format::Smart), "");
    }

    #[test]
    fn json_and_yaml_rules() {
        assert_eq!(render(None, Format::Json), "null\n");
        assert_eq!(
            render(Some(&json!({"a": [1]})), Format::Json),
            "{\"a\":[1]}\n"
        );
        assert_eq!(render(None, Format::Yaml), "");
        assert_eq!(render(Some(&json!({"a": "b"})), Format::Yaml), "a: b\n");
    }

    #[test]
    fn format_values_are_checked() {
        let all = [Format::Smart, Format::Yaml, Format::Json];
        assert_eq!(Format::parse(None, Format::Smart, &all), Ok(Format::Smart));
        assert_eq!(
            Format::parse(Some("json"), Format::Smart, &all),
            Ok(Format::Json)
        );
        assert!(Format::parse(Some("xml"), Format::Smart, &all).is_err());
        assert!(Format::parse(Some("smart"), Format::Yaml, &[Format::Yaml, Format::Json]).is_err());
    }
}
