//! The gateway's metrics, as Prometheus text at `/metrics` on the admin listener and, when
//! configured, through OpenTelemetry (OTLP): HTTP requests by route, method and status; timer
//! lag by transition; network (NEF) calls by operation and outcome; refused tokens by reason;
//! rate-limit and quota refusals; event deliveries by outcome; store calls by operation and
//! error; bookings by status and the outbox backlog (read from the store, so every replica
//! reports the same). Names and units follow the OpenTelemetry semantic conventions
//! (`http.server.request.duration` in seconds is `http_server_request_duration_seconds` in
//! Prometheus text). Labels never carry personal data: the route template, not the path with
//! its booking id.

use crate::telemetry::Exports;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use booking::{BookingStatus, CallOutcome, NetworkCall, StoreStats, Telemetry, TraceOrigin, Transition};
use delivery::{DeliveryOutcome, DeliveryTelemetry};
use opentelemetry::KeyValue;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

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
struct ClientLabels {
    client_id: String,
    http_response_status_code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    db_system_name: &'static str,
    db_operation_name: &'static str,
    /// Empty (no label) on success.
    error_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn durations() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

fn store_durations() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ])
}

/// The same instruments through OpenTelemetry, when metrics are exported over OTLP.
struct Otel {
    http: opentelemetry::metrics::Histogram<f64>,
    timer_lag: opentelemetry::metrics::Histogram<f64>,
    network: opentelemetry::metrics::Histogram<f64>,
    store: opentelemetry::metrics::Histogram<f64>,
    token_rejections: opentelemetry::metrics::Counter<u64>,
    refusals: opentelemetry::metrics::Counter<u64>,
    deliveries: opentelemetry::metrics::Counter<u64>,
    client_requests: opentelemetry::metrics::Counter<u64>,
    // Kept alive: their callbacks read the last store figures.
    _bookings: opentelemetry::metrics::ObservableGauge<u64>,
    _backlog: opentelemetry::metrics::ObservableGauge<u64>,
}

impl Otel {
    fn new(meter: &opentelemetry::metrics::Meter, stats: Arc<Mutex<StoreStats>>) -> Self {
        let hist = |name: &'static str, what: &'static str| {
            meter.f64_histogram(name).with_unit("s").with_description(what).build()
        };
        let count = |name: &'static str, what: &'static str| meter.u64_counter(name).with_description(what).build();
        let by_status = stats.clone();
        Self {
            http: hist("http.server.request.duration", "Duration of HTTP server requests"),
            timer_lag: hist("qos_booking.timer_lag", "How late each timer fired after its due time"),
            network: hist(
                "qos_booking.network_call.duration",
                "Duration of calls to the network (NEF)",
            ),
            store: hist("db.client.operation.duration", "Duration of store operations"),
            token_rejections: count("qos_booking.token_rejections", "Bearer tokens refused, by reason"),
            refusals: count("qos_booking.refusals", "Requests refused by a rate limit or the quota"),
            deliveries: count("qos_booking.event_deliveries", "Event delivery attempts, by outcome"),
            client_requests: count(
                "qos_booking.client_requests",
                "Requests by onboarded API client and status",
            ),
            _bookings: meter
                .u64_observable_gauge("qos_booking.bookings")
                .with_description("Bookings by status, in the store")
                .with_callback(move |o| {
                    let s = *by_status.lock().unwrap_or_else(|p| p.into_inner());
                    for (status, n) in BookingStatus::ALL.iter().zip(s.by_status) {
                        o.observe(n, &[KeyValue::new("status", status.as_str())]);
                    }
                })
                .build(),
            _backlog: meter
                .u64_observable_gauge("qos_booking.outbox_backlog")
                .with_description("Bookings with undelivered events, in the store")
                .with_callback(move |o| {
                    o.observe(stats.lock().unwrap_or_else(|p| p.into_inner()).outbox_backlog, &[]);
                })
                .build(),
        }
    }
}

pub struct Metrics {
    registry: Registry,
    http: Histograms<HttpLabels>,
    timer_lag: Histograms<TransitionLabels>,
    network: Histograms<CallLabels>,
    store: Histograms<StoreLabels>,
    token_rejections: Family<ReasonLabels, Counter>,
    refusals: Family<ReasonLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    client_requests: Family<ClientLabels, Counter>,
    /// The onboarding records: clients with one are counted by their id, others as `other`
    /// (the label's values stay as few as the operator's records).
    clients: std::sync::OnceLock<Arc<booking::ClientBook>>,
    bookings: Family<StatusLabels, Gauge>,
    backlog: Gauge,
    /// The last store figures (for the OpenTelemetry gauges' callbacks).
    stats: Arc<Mutex<StoreStats>>,
    otel: Option<Otel>,
    /// Requests, transitions and calls get spans (something exports them).
    traces: bool,
}

impl Metrics {
    pub fn new(exports: &Exports) -> Arc<Self> {
        let mut registry = Registry::default();
        let http: Histograms<HttpLabels> = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests, by route template, method and status",
            Unit::Seconds,
            http.clone(),
        );
        let timer_lag: Histograms<TransitionLabels> = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "qos_booking_timer_lag",
            "How late each timer fired after its due time, by transition (start, end, retry, purge)",
            Unit::Seconds,
            timer_lag.clone(),
        );
        let network: Histograms<CallLabels> = Family::new_with_constructor(durations);
        registry.register_with_unit(
            "qos_booking_network_call_duration",
            "Duration of calls to the network (NEF), by operation and outcome",
            Unit::Seconds,
            network.clone(),
        );
        let store: Histograms<StoreLabels> = Family::new_with_constructor(store_durations);
        registry.register_with_unit(
            "db_client_operation_duration",
            "Duration of store operations, by operation; error_type set on failures",
            Unit::Seconds,
            store.clone(),
        );
        let token_rejections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "qos_booking_token_rejections",
            "Bearer tokens refused, by reason",
            token_rejections.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "qos_booking_refusals",
            "Requests refused by a rate limit (rate_limit) or the per-client quota (quota)",
            refusals.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "qos_booking_event_deliveries",
            "Event delivery attempts by outcome (delivered, retried, failed, gone)",
            deliveries.clone(),
        );
        let client_requests = Family::<ClientLabels, Counter>::default();
        registry.register(
            "qos_booking_client_requests",
            "API requests by onboarded client (an aggregator's application developers each by their own id; clients without a record as `other`) and status",
            client_requests.clone(),
        );
        let bookings = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "qos_booking_bookings",
            "Bookings by status, in the store (all replicas)",
            bookings.clone(),
        );
        let backlog = Gauge::default();
        registry.register(
            "qos_booking_outbox_backlog",
            "Bookings with undelivered events, in the store (all replicas)",
            backlog.clone(),
        );
        let stats = Arc::new(Mutex::new(StoreStats::default()));
        Arc::new(Self {
            registry,
            http,
            timer_lag,
            network,
            store,
            token_rejections,
            refusals,
            deliveries,
            client_requests,
            clients: std::sync::OnceLock::new(),
            bookings,
            backlog,
            otel: exports.meter.as_ref().map(|m| Otel::new(m, stats.clone())),
            stats,
            traces: exports.traces,
        })
    }

    /// Counts requests by the clients of these onboarding records under their own ids.
    pub fn set_clients(&self, clients: Arc<booking::ClientBook>) {
        let _ = self.clients.set(clients);
    }

    fn client_request(&self, client_id: &str, status: u16) {
        let known = self.clients.get().is_some_and(|b| b.get(client_id).is_some());
        let client_id = if known {
            client_id.to_owned()
        } else {
            "other".to_owned()
        };
        if let Some(o) = &self.otel {
            o.client_requests.add(
                1,
                &[
                    KeyValue::new("client.id", client_id.clone()),
                    KeyValue::new("http.response.status_code", i64::from(status)),
                ],
            );
        }
        self.client_requests
            .get_or_create(&ClientLabels {
                client_id,
                http_response_status_code: status,
            })
            .inc();
    }

    /// Whether spans are exported.
    pub fn traces(&self) -> bool {
        self.traces
    }

    /// Whether metrics also go out over OTLP.
    pub fn exported(&self) -> bool {
        self.otel.is_some()
    }

    /// Counts a refused token (the authenticator's hook).
    pub fn token_rejected(&self, reason: &'static str) {
        self.token_rejections.get_or_create(&ReasonLabels { reason }).inc();
        if let Some(o) = &self.otel {
            o.token_rejections.add(1, &[KeyValue::new("reason", reason)]);
        }
    }

    fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabels { reason }).inc();
        if let Some(o) = &self.otel {
            o.refusals.add(1, &[KeyValue::new("reason", reason)]);
        }
    }

    /// Records one store call.
    pub fn store_call(&self, system: &'static str, operation: &'static str, error: &'static str, took: Duration) {
        self.store
            .get_or_create(&StoreLabels {
                db_system_name: system,
                db_operation_name: operation,
                error_type: error,
            })
            .observe(took.as_secs_f64());
        if let Some(o) = &self.otel {
            let mut attrs = vec![
                KeyValue::new("db.system.name", system),
                KeyValue::new("db.operation.name", operation),
            ];
            if !error.is_empty() {
                attrs.push(KeyValue::new("error.type", error));
            }
            o.store.record(took.as_secs_f64(), &attrs);
        }
    }

    /// Takes the store's figures (bookings by status, backlog) into the gauges.
    pub fn set_store_stats(&self, s: StoreStats) {
        for (status, n) in BookingStatus::ALL.iter().zip(s.by_status) {
            self.bookings
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.backlog.set(i64::try_from(s.outbox_backlog).unwrap_or(i64::MAX));
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = s;
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

/// OpenTelemetry's rule: known methods by name, any other as `_OTHER`.
fn method_name(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "_OTHER",
    }
}

/// Records each routed request's duration under its route template (a route layer, so the
/// route is known), writes its one log line (route, method, status, duration, API client,
/// x-correlator and, behind a trusted proxy, the client's address; never the path, which may
/// hold a booking id, nor any device identifier), and, when traces are exported, runs it in a
/// server span continuing the caller's W3C trace.
pub async fn track(State(m): State<Arc<Metrics>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_name(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    // What only the log line and the span need is gathered only when they are made.
    // The level hint, not `tracing::enabled!`: an `enabled!` check leaves the per-layer filter
    // state of the OpenTelemetry layer (spans only) set to "no", and the next span (this
    // request's) would then not be exported.
    let log = tracing::level_filters::LevelFilter::current() >= tracing::Level::INFO;
    let correlator = if log || m.traces {
        req.headers()
            .get("x-correlator")
            .and_then(|v| v.to_str().ok())
            .map(|c| c.chars().take(256).collect::<String>())
            .unwrap_or_default()
    } else {
        String::new()
    };
    // The authenticated client, for the log line and the per-client count.
    let client = camara_api::CallerSlot::default();
    req.extensions_mut().insert(client.clone());
    let origin = req.extensions().get::<crate::forwarded::Origin>().copied();
    let span = if m.traces {
        let scheme = origin.map_or("http", |o| o.scheme);
        let span = tracing::info_span!(
            "http.server",
            otel.name = %format_args!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = method,
            http.route = %route,
            url.scheme = scheme,
            http.response.status_code = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, req.headers());
        if !correlator.is_empty() {
            // The semantic-convention name has a dash, which a tracing field cannot carry.
            crate::telemetry::set_attribute(&span, "http.request.header.x-correlator", correlator.clone());
        }
        Some(span)
    } else {
        None
    };
    let res = match &span {
        Some(span) => next.run(req).instrument(span.clone()).await,
        None => next.run(req).await,
    };
    let took = started.elapsed();
    let status = res.status().as_u16();
    if let Some(span) = &span {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
    if let Some(id) = client.0.get() {
        m.client_request(id, status);
    }
    if log {
        let peer = origin.and_then(|o| o.client).map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(
            http.route = %route,
            http.request.method = method,
            http.response.status_code = status,
            duration_ms = took.as_secs_f64() * 1000.0,
            client.id = client.0.get().map_or("", String::as_str),
            client.address = %peer,
            correlator = %correlator,
            "request"
        );
    }
    if status == 429 {
        match res.extensions().get::<camara_api::ErrorCode>() {
            Some(camara_api::ErrorCode("QUOTA_EXCEEDED")) => m.refused("quota"),
            Some(camara_api::ErrorCode("TOO_MANY_REQUESTS")) => m.refused("rate_limit"),
            _ => {}
        }
    }
    if let Some(o) = &m.otel {
        o.http.record(
            took.as_secs_f64(),
            &[
                KeyValue::new("http.request.method", method),
                KeyValue::new("http.route", route.clone()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ],
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
    fn timer_fired(&self, transition: Transition, lag: Duration) {
        self.timer_lag
            .get_or_create(&TransitionLabels {
                transition: transition.as_str(),
            })
            .observe(lag.as_secs_f64());
        if let Some(o) = &self.otel {
            o.timer_lag
                .record(lag.as_secs_f64(), &[KeyValue::new("transition", transition.as_str())]);
        }
    }
    fn network_call(&self, call: NetworkCall, outcome: CallOutcome, took: Duration) {
        self.network
            .get_or_create(&CallLabels {
                operation: call.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64());
        if let Some(o) = &self.otel {
            o.network.record(
                took.as_secs_f64(),
                &[
                    KeyValue::new("operation", call.as_str()),
                    KeyValue::new("outcome", outcome.as_str()),
                ],
            );
        }
    }
    fn current_trace(&self) -> Option<TraceOrigin> {
        if self.traces {
            crate::telemetry::current_origin()
        } else {
            None
        }
    }
    fn link(&self, span: &tracing::Span, origin: TraceOrigin) {
        if self.traces {
            crate::telemetry::link(span, origin);
        }
    }
}

impl DeliveryTelemetry for Metrics {
    fn delivery(&self, outcome: DeliveryOutcome) {
        self.deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
        if let Some(o) = &self.otel {
            o.deliveries.add(1, &[KeyValue::new("outcome", outcome.as_str())]);
        }
    }
    fn inject(&self, headers: &mut reqwest::header::HeaderMap) {
        if self.traces {
            crate::telemetry::inject_current(headers);
        }
    }
}
