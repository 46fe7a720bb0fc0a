//! The one table the comparison prints: a row per measure, upstream's value, ours, and the
//! ratio upstream ÷ ours (every measure is "lower is better", so a ratio above 1 means ours
//! does better).

use std::time::Duration;

/// How a row's values are shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// Seconds or milliseconds, whichever reads better.
    Time,
    /// Bytes, shown in MiB.
    Bytes,
    /// A plain number with two decimals.
    Count,
}

/// One measure of both implementations.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What was measured.
    pub label: String,
    /// Upstream's value (seconds for times), if measured.
    pub upstream: Option<f64>,
    /// Ours, if measured.
    pub ours: Option<f64>,
    /// How to show the values.
    pub unit: Unit,
}

impl Row {
    /// A row of durations.
    pub fn time(
        label: impl Into<String>,
        upstream: Option<Duration>,
        ours: Option<Duration>,
    ) -> Self {
        Row {
            label: label.into(),
            upstream: upstream.map(|d| d.as_secs_f64()),
            ours: ours.map(|d| d.as_secs_f64()),
            unit: Unit::Time,
        }
    }

    /// A row of byte sizes.
    pub fn bytes(label: impl Into<String>, upstream: Option<u64>, ours: Option<u64>) -> Self {
        Row {
            label: label.into(),
            upstream: upstream.map(|b| b as f64),
            ours: ours.map(|b| b as f64),
            unit: Unit::Bytes,
        }
    }

    /// A row of plain numbers.
    pub fn count(label: impl Into<String>, upstream: Option<f64>, ours: Option<f64>) -> Self {
        Row {
            label: label.into(),
            upstream,
            ours,
            unit: Unit::Count,
        }
    }
}

fn show(value: Option<f64>, unit: Unit) -> String {
    let Some(v) = value else {
        return "-".into();
    };
    match unit {
        Unit::Time if v >= 10.0 => format!("{v:.1} s"),
        Unit::Time if v >= 1.0 => format!("{v:.2} s"),
        Unit::Time if v >= 0.01 => format!("{:.0} ms", v * 1e3),
        Unit::Time => format!("{:.2} ms", v * 1e3),
        Unit::Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Unit::Count => format!("{v:.2}"),
    }
}

/// Upstream ÷ ours, when both are known and ours is not zero.
pub fn ratio(upstream: Option<f64>, ours: Option<f64>) -> Option<f64> {
    match (upstream, ours) {
        (Some(u), Some(o)) if o > 0.0 => Some(u / o),
        _ => None,
    }
}

/// The table as text (Markdown, so that it pastes into the README as is).
pub fn render(rows: &[Row]) -> String {
    let mut lines = vec![
        "| measure | upstream v0.16.2 | metallb-rs | upstream ÷ metallb-rs |".to_string(),
        "|---|---:|---:|---:|".to_string(),
    ];
    for row in rows {
        let r = ratio(row.upstream, row.ours).map_or("-".into(), |r| {
            if r >= 10.0 {
                format!("{r:.0}×")
            } else {
                format!("{r:.1}×")
            }
        });
        lines.push(format!(
            "| {} | {} | {} | {r} |",
            row.label,
            show(row.upstream, row.unit),
            show(row.ours, row.unit)
        ));
    }
    lines.join("\n") + "\n"
}

/// Median and maximum of `samples`.
pub fn median_max(samples: &[Duration]) -> Option<(Duration, Duration)> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let max = *sorted.last()?;
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    Some((median, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_units_and_ratios() {
        let rows = vec![
            Row::time(
                "failover",
                Some(Duration::from_millis(5900)),
                Some(Duration::from_millis(700)),
            ),
            Row::bytes("RSS", Some(75 * 1024 * 1024), Some(8 * 1024 * 1024)),
            Row::count("requests", Some(3.0), None),
            Row::time(
                "tiny",
                Some(Duration::from_micros(2760)),
                Some(Duration::from_micros(300)),
            ),
        ];
        let text = render(&rows);
        assert!(
            text.contains("| failover | 5.90 s | 700 ms | 8.4× |"),
            "{text}"
        );
        assert!(
            text.contains("| RSS | 75.0 MiB | 8.0 MiB | 9.4× |"),
            "{text}"
        );
        assert!(text.contains("| requests | 3.00 | - | - |"), "{text}");
        assert!(
            text.contains("| tiny | 2.76 ms | 0.30 ms | 9.2× |"),
            "{text}"
        );
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
    }

    #[test]
    fn median_of_odd_and_even_samples() {
        let ms = Duration::from_millis;
        assert_eq!(median_max(&[ms(3), ms(1), ms(2)]), Some((ms(2), ms(3))));
        assert_eq!(
            median_max(&[ms(4), ms(1), ms(2), ms(3)]),
            Some((Duration::from_micros(2500), ms(4)))
        );
        assert_eq!(median_max(&[]), None);
    }
}
