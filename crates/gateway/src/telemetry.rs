//! Logging and OpenTelemetry: one global subscriber (text or JSON logs; `auto`: JSON when
//! stdout is not a terminal, as collectors want it), and, when an OTLP endpoint is configured
//! (`telemetry.otlp_endpoint` or the standard `OTEL_EXPORTER_OTLP_*` variables), spans and
//! metrics exported over OTLP/HTTP with W3C trace-context propagation.
//!
//! Only spans go to OpenTelemetry, never log events: a log line may name a sink URL, which
//! can be an address. Span fields are chosen to carry no personal data (route templates,
//! booking ids, outcomes; never phone numbers, addresses or tokens).

use crate::settings::TelemetrySettings;
use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What this process exports, decided once at start (the request path asks on every request).
#[derive(Clone, Default)]
pub struct Exports {
    /// Spans go to an exporter: requests, transitions and calls get spans of their own.
    pub traces: bool,
    /// Metrics also go to OpenTelemetry (besides `/metrics`).
    pub meter: Option<opentelemetry::metrics::Meter>,
}

static EXPORTS: OnceLock<Exports> = OnceLock::new();

/// What [`init`] (or a test) switched on; nothing by default.
pub fn exports() -> Exports {
    EXPORTS.get().cloned().unwrap_or_default()
}

/// Switches exports on for this process (the first call wins): [`init`] calls it, and tests
/// that install their own exporters.
pub fn set_exports(e: Exports) {
    let _ = EXPORTS.set(e);
}

/// The providers to flush and stop at exit.
#[derive(Default)]
pub struct Guard {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Guard {
    /// Exports what is still buffered and stops the exporters (on their own threads, as the
    /// SDK's batch processors block).
    pub async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(t) = self.tracer
                && let Err(e) = t.shutdown()
            {
                eprintln!("OpenTelemetry traces: {e}");
            }
            if let Some(m) = self.meter
                && let Err(e) = m.shutdown()
            {
                eprintln!("OpenTelemetry metrics: {e}");
            }
        })
        .await;
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The OTLP/HTTP URL of one signal (`traces`, `metrics`), or `None` when it is not exported.
fn endpoint(t: &TelemetrySettings, signal: &str) -> Option<String> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let upper = signal.to_ascii_uppercase();
    if env(&format!("OTEL_{upper}_EXPORTER")).is_some_and(|v| v == "none") {
        return None;
    }
    // The per-signal variable is used as is; a base URL gets the signal's path.
    if let Some(url) = env(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")) {
        return Some(url);
    }
    let base = t
        .otlp_endpoint
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
    Some(format!("{}/v1/{signal}", base.trim_end_matches('/')))
}

/// Installs logging and, where configured, OpenTelemetry. Call once, at start.
pub fn init(format: &str, filter: &str, t: &TelemetrySettings) -> anyhow::Result<Guard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let json = format == "json" || (format == "auto" && !ansi);
    let fmt = tracing_subscriber::fmt::layer().with_target(false).with_ansi(ansi);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    // RUST_LOG (or log.filter) chooses the log lines only; spans at info and above go to
    // OpenTelemetry whatever the log level.
    let fmt = fmt.with_filter(filter);

    let service = env("OTEL_SERVICE_NAME").unwrap_or_else(|| t.service_name.clone());
    // One instance per process, so that metrics of replicas never collide (the pod name when
    // there is one).
    let instance = env("HOSTNAME").unwrap_or_else(|| format!("pid-{}", std::process::id()));
    let resource = Resource::builder()
        .with_service_name(service)
        .with_attribute(opentelemetry::KeyValue::new("service.instance.id", instance))
        .build();
    let mut guard = Guard::default();
    let mut exports = Exports::default();
    let otel = match endpoint(t, "traces").filter(|_| t.traces) {
        Some(url) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .build()
                .context("cannot build the OTLP span exporter")?;
            let provider = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_batch_exporter(exporter)
                .build();
            let tracer = provider.tracer("qos-booking-gateway");
            guard.tracer = Some(provider);
            exports.traces = true;
            Some(spans_only(tracer))
        }
        None => None,
    };
    if let Some(url) = endpoint(t, "metrics").filter(|_| t.metrics) {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(url)
            .build()
            .context("cannot build the OTLP metric exporter")?;
        let interval = env("OTEL_METRIC_EXPORT_INTERVAL")
            .and_then(|v| v.parse().ok())
            .map_or(t.metrics_interval, std::time::Duration::from_millis);
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(interval)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader)
            .build();
        exports.meter = Some(opentelemetry::metrics::MeterProvider::meter(
            &provider,
            "qos-booking-gateway",
        ));
        guard.meter = Some(provider);
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(fmt).with(otel).try_init();
    tracing::info!(
        traces = exports.traces,
        metrics = exports.meter.is_some(),
        "OpenTelemetry export"
    );
    set_exports(exports);
    Ok(guard)
}

/// The OpenTelemetry layer for `tracer`, fed spans only (see the module doc).
pub fn spans_only<S, T>(tracer: T) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    T: opentelemetry::trace::Tracer + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer().with_tracer(tracer).with_filter(
        tracing_subscriber::filter::filter_fn(|m| m.is_span() && *m.level() <= tracing::Level::INFO)
            .with_max_level_hint(tracing::level_filters::LevelFilter::INFO),
    )
}

/// Headers as an OpenTelemetry carrier (reading `traceparent`, writing it).
pub struct Headers<'a>(pub &'a mut axum::http::HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(key.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Read-only headers as a carrier.
pub struct RequestHeaders<'a>(pub &'a axum::http::HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// Adds the current span's trace context to outgoing headers (NEF calls, deliveries).
pub fn inject_current(headers: &mut axum::http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Headers(headers)));
}

/// Makes the trace context in `headers` (W3C `traceparent`) the parent of `span`.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&RequestHeaders(headers)));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Sets an OpenTelemetry attribute on `span` (for names a tracing field cannot spell).
pub fn set_attribute(span: &tracing::Span, key: &'static str, value: String) {
    span.set_attribute(key, value);
}

/// The current span's trace, to keep with a new booking.
pub fn current_origin() -> Option<booking::TraceOrigin> {
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| booking::TraceOrigin {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}

/// Links `span` to a stored trace origin.
pub fn link(span: &tracing::Span, o: booking::TraceOrigin) {
    span.add_link(SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(o.trace_id),
        opentelemetry::trace::SpanId::from_bytes(o.span_id),
        TraceFlags::new(o.flags),
        true,
        TraceState::default(),
    ));
}

/// A W3C propagator that never fails, for tests that set it up themselves.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}
