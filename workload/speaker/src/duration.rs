//! Durations as upstream MetalLB writes them in its objects (Go's `90s`, `1m30s`).

/// A Go duration as upstream writes them ("90s", "1m30s"), in seconds; `None` if malformed.
pub fn duration_seconds(text: &str) -> Option<u16> {
    let mut total = 0u64;
    let mut number = String::new();
    for ch in text.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'h' | 'm' | 's' => {
                let n: u64 = number.parse().ok()?;
                total = total.saturating_add(n.saturating_mul(match ch {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                }));
                number.clear();
            }
            _ => return None,
        }
    }
    if !number.is_empty() {
        return None;
    }
    Some(u16::try_from(total).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_in_whole_seconds() {
        assert_eq!(duration_seconds("90s"), Some(90));
        assert_eq!(duration_seconds("1m30s"), Some(90));
        assert_eq!(duration_seconds("30"), None);
        assert_eq!(duration_seconds("bad"), None);
        assert_eq!(duration_seconds("99999999999999999999s"), None);
    }
}
