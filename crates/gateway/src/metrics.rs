//! Prometheus text at `/metrics` on the admin listener: HTTP requests by route, method and
//! status; timer lag by transition; network (NEF) calls by operation and outcome; refused
//! tokens by reason. Names and units follow the OpenTelemetry semantic conventions where one
//! exists (`http.server.request.duration` in seconds becomes
//! `http_server_request_duration_seconds`). Labels never carry personal data: the route
//! template, not the path with its booking id.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use booking::{CallOutcome, NetworkCall, Telemetry, Transition};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    http_request_method: &'static str,
    http_route: String,
    http_response_status_code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    transition: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
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
    timer_lag: Family<TransitionLabels, Histogram, fn() -> Histogram>,
    network: Family<CallLabels, Histogram, fn() -> Histogram>,
    token_rejections: Family<ReasonLabels, Counter>,
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
        let timer_lag: Family<TransitionLabels, Histogram, fn() -> Histogram> = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "qos_booking_timer_lag",
            "How late each timer fired after its due time, by transition (start, end, retry, purge)",
            Unit::Seconds,
            timer_lag.clone(),
        );
        let network: Family<CallLabels, Histogram, fn() -> Histogram> = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "qos_booking_network_call_duration",
            "Duration of calls to the network (NEF), by operation and outcome",
            Unit::Seconds,
            network.clone(),
        );
        let token_rejections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "qos_booking_token_rejections",
            "Bearer tokens refused, by reason",
            token_rejections.clone(),
        );
        Arc::new(Self {
            registry,
            http,
            timer_lag,
            network,
            token_rejections,
        })
    }

    /// Counts a refused token (the authenticator's hook).
    pub fn token_rejected(&self, reason: &'static str) {
        self.token_rejections.get_or_create(&ReasonLabels { reason }).inc();
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
/// route is known), and writes its one log line: route, method, status, duration, API client
/// and x-correlator (never the path, which may hold a booking id, nor any device identifier).
pub async fn track(State(m): State<Arc<Metrics>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // OpenTelemetry's rule: known methods by name, any other as `_OTHER`.
    let method = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "_OTHER",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    // What only the log line needs is gathered only when the line is written.
    let log = tracing::enabled!(tracing::Level::INFO);
    let (correlator, client) = if log {
        let correlator = req
            .headers()
            .get("x-correlator")
            .and_then(|v| v.to_str().ok())
            .map(|c| c.chars().take(256).collect::<String>())
            .unwrap_or_default();
        let client = camara_api::CallerSlot::default();
        req.extensions_mut().insert(client.clone());
        (correlator, Some(client))
    } else {
        (String::new(), None)
    };
    let res = next.run(req).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    if let Some(client) = client {
        tracing::info!(
            http.route = %route,
            http.request.method = method,
            http.response.status_code = status,
            duration_ms = took.as_secs_f64() * 1000.0,
            client.id = client.0.get().map_or("", String::as_str),
            correlator = %correlator,
            "request"
        );
    }
    m.http
        .get_or_create(&HttpLabels {
            http_request_method: method,
            http_route: route,
            http_response_status_code: status,
        })
        .observe(took.as_secs_f64());
    res
}

impl Telemetry for Metrics {
    fn timer_fired(&self, transition: Transition, lag: std::time::Duration) {
        self.timer_lag
            .get_or_create(&TransitionLabels {
                transition: transition.as_str(),
            })
            .observe(lag.as_secs_f64());
    }
    fn network_call(&self, call: NetworkCall, outcome: CallOutcome, took: std::time::Duration) {
        self.network
            .get_or_create(&CallLabels {
                operation: call.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64());
    }
}
