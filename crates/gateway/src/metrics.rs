//! Prometheus text at `/metrics` on the admin listener. Names and units follow the
//! OpenTelemetry semantic conventions (`http.server.request.duration` in seconds becomes
//! `http_server_request_duration_seconds`). Labels never carry personal data: the route
//! template, not the path with its booking id.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    http_request_method: String,
    http_route: String,
    http_response_status_code: u16,
}

type Durations = Family<HttpLabels, Histogram, fn() -> Histogram>;

fn durations() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

pub struct Metrics {
    registry: Registry,
    http: Durations,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let http: Durations = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests, by route template, method and status",
            Unit::Seconds,
            http.clone(),
        );
        Arc::new(Self { registry, http })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Records each routed request's duration under its route template (a route layer, so the
/// route is known).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let res = next.run(req).await;
    m.http
        .get_or_create(&HttpLabels {
            http_request_method: method,
            http_route: route,
            http_response_status_code: res.status().as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    res
}
