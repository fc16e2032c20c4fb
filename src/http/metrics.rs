//! What `/metrics` reports, counted as requests pass ([`observe`]): requests by route
//! pattern and status, and their latency as a histogram. Other parts report their own
//! numbers here (the request recorder its queue and drops); the page itself (`web::metrics`)
//! adds the database pool and the outbox, read when it is asked for.

use super::routes::route_pattern;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Metrics {
    /// (route pattern, status) → requests.
    requests: Mutex<HashMap<(String, u16), u64>>,
    /// Requests at or under each of [`BUCKETS`] (cumulative is made when written).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Microseconds, summed.
    sum_micros: AtomicU64,
    /// Request records waiting to be written, and dropped since the start (by the recorder).
    pub records_queued: AtomicU64,
    pub records_dropped: AtomicU64,
}

impl Metrics {
    fn observe(&self, pattern: String, status: u16, seconds: f64) {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry((pattern, status)).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The counted metrics in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP teamdeck_http_requests_total Requests answered, by route pattern and status.");
        let _ = writeln!(out, "# TYPE teamdeck_http_requests_total counter");
        let mut rows: Vec<((String, u16), u64)> =
            self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect();
        rows.sort();
        for ((route, status), n) in rows {
            let _ =
                writeln!(out, "teamdeck_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", label(&route));
        }
        let _ = writeln!(out, "# HELP teamdeck_http_request_duration_seconds Time to answer a request.");
        let _ = writeln!(out, "# TYPE teamdeck_http_request_duration_seconds histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "teamdeck_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "teamdeck_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "teamdeck_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "teamdeck_http_request_duration_seconds_count {count}");
        gauge(
            out,
            "teamdeck_request_records_queued",
            "Request records waiting to be written.",
            self.records_queued.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP teamdeck_request_records_dropped_total Request records dropped because their buffer was full."
        );
        let _ = writeln!(out, "# TYPE teamdeck_request_records_dropped_total counter");
        let _ =
            writeln!(out, "teamdeck_request_records_dropped_total {}", self.records_dropped.load(Ordering::Relaxed));
    }
}

/// One gauge with its help line.
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it (backslash, quote and newline escaped).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: counts every answered request under its route pattern (or `unmatched`, so
/// that paths, which may hold tokens, never become labels).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let pattern = route_pattern(res.request()).unwrap_or_else(|| "unmatched".into());
        metrics.observe(pattern, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(res)
}
