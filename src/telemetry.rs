//! Structured JSON logs for CloudWatch. Callers must never pass secrets, links or mail
//! bodies to a log macro; the types holding them redact themselves in `Debug`.
//!
//! `RUST_LOG` sets how much this crate says. The libraries under it stay at `info` whatever
//! `RUST_LOG` asks: at `debug` and `trace` the Lambda runtime logs every raw event (bearer
//! tokens, claims) and the AWS SDK every response body (users' e-mail addresses).

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::ConfigError;

/// The crates whose every level `RUST_LOG` may open: ours (library and binaries).
const OWN_TARGETS: &[&str] = &["send_passkey_link", "passkey_admin", "delivery_feedback"];

/// How much to log and in which format, from `RUST_LOG` and `LOG_FORMAT`.
#[derive(Debug)]
pub struct LogSettings {
    pub filter: EnvFilter,
    pub text: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { filter: EnvFilter::new("info"), text: false }
    }
}

impl LogSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `RUST_LOG` (default `info`) must parse; `LOG_FORMAT` is `json` (default) or `text`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let filter = match lookup("RUST_LOG").filter(|v| !v.trim().is_empty()) {
            None => EnvFilter::new("info"),
            Some(raw) => EnvFilter::builder()
                .parse(&raw)
                .map_err(|e| ConfigError { variable: "RUST_LOG", reason: e.to_string() })?,
        };
        let text = match lookup("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("" | "json") => false,
            Some("text") => true,
            Some(other) => {
                return Err(ConfigError {
                    variable: "LOG_FORMAT",
                    reason: format!("{other:?} is neither \"json\" nor \"text\""),
                })
            }
        };
        Ok(Self { filter, text })
    }
}

/// Caps every library at `info`; lets `RUST_LOG` decide for [`OWN_TARGETS`].
fn library_cap() -> Targets {
    OWN_TARGETS.iter().fold(Targets::new().with_default(LevelFilter::INFO), |t, own| {
        t.with_target(*own, LevelFilter::TRACE)
    })
}

/// Installs the process-wide subscriber writing to stdout.
/// Logs as `RUST_LOG` and `LOG_FORMAT` ask, or by default when they cannot be read: then
/// their error is returned, for the caller to report through the logger. Panics go to the
/// log (JSON, with the request id) instead of plain text on stderr.
pub fn init_from_env() -> Result<(), ConfigError> {
    let (settings, error) = match LogSettings::from_env() {
        Ok(settings) => (settings, None),
        Err(e) => (LogSettings::default(), Some(e)),
    };
    init(settings);
    std::panic::set_hook(Box::new(|info| tracing::warn!(panic = %info, "panic")));
    error.map_or(Ok(()), Err)
}

pub fn init(settings: LogSettings) {
    if settings.text {
        tracing_subscriber::fmt()
            .with_env_filter(settings.filter)
            .with_target(false)
            .finish()
            .with(library_cap())
            .init();
    } else {
        json_subscriber(settings.filter, std::io::stdout).init();
    }
}

/// The production JSON format, writing to `writer`; tests use it to read what would be logged.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .finish()
        .with(library_cap())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<LogSettings, ConfigError> {
        LogSettings::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn log_format_is_json_or_text_and_nothing_else() {
        assert!(!settings(&[]).unwrap().text);
        assert!(settings(&[("LOG_FORMAT", "text")]).unwrap().text);
        assert!(!settings(&[("LOG_FORMAT", "json")]).unwrap().text);
        assert_eq!(settings(&[("LOG_FORMAT", "txt")]).unwrap_err().variable, "LOG_FORMAT");
    }

    #[test]
    fn an_unreadable_rust_log_is_named() {
        assert_eq!(settings(&[("RUST_LOG", "=[")]).unwrap_err().variable, "RUST_LOG");
        assert!(settings(&[("RUST_LOG", "send_passkey_link=debug,warn")]).is_ok());
    }
}
