//! Logging: JSON lines (default) or human-readable, filtered by `log.level` or `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogSettings;

pub fn init(cfg: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // `try_init`: tests build several applications in one process.
    let _ = if cfg.format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}
