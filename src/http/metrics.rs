//! Prometheus metrics at `/metrics`: request duration by route pattern and status, plus
//! process metrics (CPU, memory, open fds). Routes are labelled by their pattern
//! (`/api/posts/{id}`), never the raw path, so label cardinality stays bounded.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_duration: HistogramVec,
    pub events: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["method", "route", "status"],
        )
        .expect("metric");
        let events = IntCounterVec::new(
            Opts::new("copydesk_events_total", "Domain events recorded"),
            &["type"],
        )
        .expect("metric");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("register");
        registry
            .register(Box::new(events.clone()))
            .expect("register");
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("register");
        Arc::new(Self {
            registry,
            http_duration,
            events,
        })
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encode metrics");
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: times every request.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Arc<Metrics>>>().cloned();
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        m.http_duration
            .with_label_values(&[method.as_str(), route.as_str(), res.status().as_str()])
            .observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}

pub async fn metrics(
    m: web::Data<Arc<Metrics>>,
    state: web::Data<crate::state::AppState>,
) -> HttpResponse {
    let mut out = m.render();
    out.push_str(&background(&state).await);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The background machinery as gauges, read at scrape time: jobs by kind and status, due
/// jobs and the oldest one's wait, each consumer's lag and parked events, open sockets.
async fn background(state: &crate::state::AppState) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    if let Ok(jobs) = crate::jobs::admin::overview(state).await {
        o.push_str("# HELP copydesk_jobs Jobs by kind and status.\n# TYPE copydesk_jobs gauge\n");
        for c in &jobs.counts {
            let _ = writeln!(
                o,
                "copydesk_jobs{{kind=\"{}\",status=\"{}\"}} {}",
                label(&c.kind),
                label(&c.status),
                c.count
            );
        }
        let _ = writeln!(o, "# HELP copydesk_jobs_due Queued jobs whose time has come.\n# TYPE copydesk_jobs_due gauge\ncopydesk_jobs_due {}", jobs.due);
        let wait = jobs
            .oldest_due_at
            .map(|t| (state.clock.now() - t).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        let _ = writeln!(o, "# HELP copydesk_jobs_oldest_due_seconds How long the oldest due job has waited.\n# TYPE copydesk_jobs_oldest_due_seconds gauge\ncopydesk_jobs_oldest_due_seconds {wait}");
    }
    if let Ok(consumers) = crate::jobs::admin::consumers(state).await {
        o.push_str("# HELP copydesk_outbox_consumer_lag Events committed but not yet delivered to a consumer.\n# TYPE copydesk_outbox_consumer_lag gauge\n");
        for c in &consumers {
            let _ = writeln!(
                o,
                "copydesk_outbox_consumer_lag{{consumer=\"{}\"}} {}",
                label(&c.name),
                c.lag
            );
        }
        o.push_str("# HELP copydesk_outbox_consumer_parked Events a consumer set aside after its retries.\n# TYPE copydesk_outbox_consumer_parked gauge\n");
        for c in &consumers {
            let _ = writeln!(
                o,
                "copydesk_outbox_consumer_parked{{consumer=\"{}\"}} {}",
                label(&c.name),
                c.parked.len()
            );
        }
    }
    let _ = writeln!(o, "# HELP copydesk_open_sockets Open WebSockets on this node.\n# TYPE copydesk_open_sockets gauge\ncopydesk_open_sockets {}", state.sockets.len());
    o
}
