//! Operations, on the real binary: OTLP export of spans and metrics to a collector (a small
//! OTLP/HTTP receiver decoding with `opentelemetry-proto`), flushed on SIGTERM.
#![allow(clippy::disallowed_methods, reason = "tests compare with real time")]

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use e2e_tests::{free_port, start_gateway};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

type Shared = Arc<Mutex<Received>>;

async fn traces(State(r): State<Shared>, body: Bytes) -> &'static str {
    if let Ok(req) = ExportTraceServiceRequest::decode(body) {
        r.lock().unwrap().traces.push(req);
    }
    ""
}

async fn metrics(State(r): State<Shared>, body: Bytes) -> &'static str {
    if let Ok(req) = ExportMetricsServiceRequest::decode(body) {
        r.lock().unwrap().metrics.push(req);
    }
    ""
}

async fn collector() -> (String, Shared) {
    let shared = Shared::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn spans_and_metrics_reach_an_otlp_collector_and_are_flushed_on_sigterm() {
    let (url, received) = collector().await;
    let admin = free_port();
    let admin_listen = format!("127.0.0.1:{admin}");
    let mut gw = start_gateway(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
        ("OTEL_SERVICE_NAME", "qos-gw-e2e"),
        ("QOSGW__SERVER__ADMIN_LISTEN", admin_listen.as_str()),
    ])
    .await;
    let http = reqwest::Client::new();
    let start = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let res = http
        .post(format!("{}/device-qos-bookings", gw.base))
        .bearer_auth(&gw.token)
        .json(&e2e_tests::city_booking(&start.format(&Rfc3339).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.wait_for_status(&http, &id, "ACTIVATED").await;
    // Wait for one metrics export after the activation, then stop: the rest is flushed.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(gw.terminate(Duration::from_secs(25)).await, "no clean exit on SIGTERM");

    let r = received.lock().unwrap();
    let spans: Vec<_> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| {
            let service = rs
                .resource
                .iter()
                .flat_map(|res| &res.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(&kv.value))
                .unwrap_or_default();
            rs.scope_spans.iter().flat_map(move |ss| {
                ss.spans.iter().map({
                    let service = service.clone();
                    move |s| (service.clone(), s)
                })
            })
        })
        .collect();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    for want in [
        "POST /qos-booking/v0.2/device-qos-bookings",
        "qos_booking start",
        "NEF activate",
    ] {
        assert!(names.contains(&want), "no span {want} in {names:?}");
    }
    assert!(spans.iter().all(|(service, _)| service == "qos-gw-e2e"));
    // The activation links to the create request's span.
    let create = spans.iter().find(|(_, s)| s.name.starts_with("POST ")).unwrap().1;
    let start = spans.iter().find(|(_, s)| s.name == "qos_booking start").unwrap().1;
    assert_eq!(start.links.len(), 1);
    assert_eq!(start.links[0].trace_id, create.trace_id);
    assert_eq!(start.links[0].span_id, create.span_id);

    let metric_names: Vec<&str> = r
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| m.name.as_str())
        .collect();
    for want in [
        "http.server.request.duration",
        "qos_booking.timer_lag",
        "qos_booking.network_call.duration",
        "db.client.operation.duration",
        "qos_booking.bookings",
        "qos_booking.outbox_backlog",
    ] {
        assert!(metric_names.contains(&want), "no metric {want} in {metric_names:?}");
    }
}
