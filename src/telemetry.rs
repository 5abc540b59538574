//! Structured JSON logs for CloudWatch. Callers must never pass secrets, links or mail
//! bodies to a log macro; the types holding them redact themselves in `Debug`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` filters (default `info`); `LOG_FORMAT=text` gives human-readable lines locally.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "text") {
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
    } else {
        init_json(filter, std::io::stdout);
    }
}

/// The production JSON format, writing to `writer`; tests use it to read what would be logged.
pub fn init_json<W>(filter: EnvFilter, writer: W)
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
        .init();
}
