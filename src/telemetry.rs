//! Structured logs: `RUST_LOG` filters (default `info`); every line logged while a request
//! is handled carries that request's id (tracing-actix-web's root span).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
