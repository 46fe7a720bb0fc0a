//! The log set-up of the workload binaries: human-readable lines on stderr at the level given
//! on the command line, with the chatty HTTP, TLS and client libraries held at `info`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

/// Why the logs could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up logging: {0}")]
pub struct TelemetryError(#[from] tracing_subscriber::util::TryInitError);

/// The filter for `level` (`error`, `warn`, `info`, `debug` or any `EnvFilter` directive):
/// the libraries below the workload (hyper, kube, tower, rustls) never log beneath `info`.
pub fn filter(level: &str) -> EnvFilter {
    EnvFilter::new(format!(
        "{level},hyper=info,kube=info,tower=info,rustls=info"
    ))
}

/// Installs the process-wide log subscriber at `level`; fails if one is already installed.
pub fn init(level: &str) -> Result<(), TelemetryError> {
    tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .finish()
        .try_init()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_libraries_stay_at_info_whatever_the_level() {
        let text = filter("debug").to_string();
        for directive in [
            "debug",
            "hyper=info",
            "kube=info",
            "tower=info",
            "rustls=info",
        ] {
            assert!(text.split(',').any(|d| d == directive), "{text}");
        }
    }

    #[test]
    fn a_second_init_is_an_error_not_a_panic() {
        let _ = init("info");
        assert!(init("info").is_err());
    }
}
