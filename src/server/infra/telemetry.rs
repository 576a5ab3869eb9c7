//! Logging: readable lines in a terminal, one JSON object per line for collectors.
//! Logs go to standard error, so a command's own output on standard out stays clean.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::server::infra::config::LogFormat;

/// Installs the global subscriber. A second call (tests start many apps in one process)
/// keeps the first subscriber.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}
