//! The arguments xtask gives `cargo test`.

/// `cargo test` arguments with `--include-ignored` added to the test binaries' arguments (after
/// `--`), so that the tests `#[ignore]`d for plain `cargo test` run here, where what they need
/// is prepared.
pub fn with_ignored(cargo_args: &[String]) -> Vec<String> {
    let mut args = cargo_args.to_vec();
    match args.iter().position(|a| a == "--") {
        Some(at) => args.insert(at + 1, "--include-ignored".into()),
        None => args.extend(["--".into(), "--include-ignored".into()]),
    }
    args
}

#[cfg(test)]
mod tests {
    use super::with_ignored;

    #[test]
    fn ignored_tests_are_included_for_the_test_binaries_only() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_ignored(&args(&["--test", "charm"])),
            args(&["--test", "charm", "--", "--include-ignored"])
        );
        assert_eq!(
            with_ignored(&args(&["--test", "charm", "--", "--nocapture"])),
            args(&["--test", "charm", "--", "--include-ignored", "--nocapture"])
        );
    }
}
