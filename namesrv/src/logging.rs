//! Process logging for both binaries (`mqnamesrv`, `mqbroker`): one tracing subscriber whose
//! filter is the RUST_LOG environment variable when set, else the config key `logLevel`.
//! Invariant: a `logLevel` that is not a valid filter is refused at start, naming the key.

use tracing_subscriber::EnvFilter;

/// The config key holding the default filter (`info`, `warn`, `info,broker=debug`, ...).
pub const LOG_LEVEL_KEY: &str = "logLevel";

/// Where the effective filter came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterSource {
    Env,
    Config,
}

/// Chooses the filter: a valid RUST_LOG wins, else `config_level` (which must be valid).
pub fn choose_filter(
    env: Option<&str>,
    config_level: &str,
) -> Result<(EnvFilter, FilterSource), String> {
    if let Some(f) = env.filter(|e| !e.trim().is_empty()) {
        if let Ok(filter) = EnvFilter::try_new(f) {
            return Ok((filter, FilterSource::Env));
        }
    }
    let level = if config_level.trim().is_empty() {
        "info"
    } else {
        config_level.trim()
    };
    EnvFilter::try_new(level)
        .map(|f| (f, FilterSource::Config))
        .map_err(|e| format!("invalid value of {LOG_LEVEL_KEY}: {level:?} ({e})"))
}

/// Installs the process-wide subscriber; `Err` names the bad key.
pub fn init(config_level: &str) -> Result<(), String> {
    let env = std::env::var("RUST_LOG").ok();
    let (filter, _) = choose_filter(env.as_deref(), config_level)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_config() {
        let (f, src) = choose_filter(Some("debug"), "warn").unwrap();
        assert_eq!(src, FilterSource::Env);
        assert_eq!(f.to_string(), "debug");
    }

    #[test]
    fn config_used_without_env_or_with_bad_env() {
        assert_eq!(choose_filter(None, "warn").unwrap().1, FilterSource::Config);
        assert_eq!(
            choose_filter(Some("=[bad"), "warn,broker=debug")
                .unwrap()
                .0
                .to_string(),
            "broker=debug,warn"
        );
        assert_eq!(choose_filter(Some(""), "").unwrap().0.to_string(), "info");
    }

    #[test]
    fn bad_config_level_is_refused_naming_the_key() {
        let err = choose_filter(None, "=[bad").unwrap_err();
        assert!(err.contains("logLevel"), "{err}");
    }
}
