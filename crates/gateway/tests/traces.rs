//! Traces, through an in-memory span exporter: the request span continues the caller's
//! `traceparent`; the activation runs in a root span linked to the trace of the request that
//! created the booking; NEF calls are spans of their own whose context the NEF receives in
//! `traceparent` (within a DELETE's request trace for a removal); no span carries a phone
//! number, an address or a token.
#![allow(clippy::disallowed_methods, reason = "tests compare with real time")]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

const CREATE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CREATE_PARENT: &str = "00f067aa0ba902b7";
const DELETE_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

fn attr(s: &SpanData, key: &str) -> Option<String> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The spans of `trace`, and whether `child` descends from `ancestor` through them.
fn descends(spans: &[SpanData], child: &SpanData, ancestor: SpanId) -> bool {
    let mut parent = child.parent_span_id;
    for _ in 0..16 {
        if parent == ancestor {
            return true;
        }
        match spans.iter().find(|s| s.span_context.span_id() == parent) {
            Some(p) => parent = p.parent_span_id,
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn spans_follow_a_booking_from_its_request_to_the_nef_without_personal_data() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        // As the gateway composes it: logs filtered on their own, spans to OpenTelemetry.
        .with(tracing_subscriber::Layer::with_filter(
            tracing_subscriber::fmt::layer().json(),
            tracing_subscriber::EnvFilter::new("info"),
        ))
        .with(gateway::telemetry::spans_only(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    gateway::telemetry::install_propagator();
    gateway::telemetry::set_exports(gateway::telemetry::Exports {
        traces: true,
        meter: None,
    });

    let app = spawn_app().await;
    let phone = "+123456789";
    let sink = Sink::start().await;
    let mut body = booking_body(&app, phone, time::Duration::minutes(5), 600);
    body["sink"] = sink.url.clone().into();
    let res = app
        .client
        .post(format!("{}{BASE}/device-qos-bookings", app.addr))
        .bearer_auth(&app.token)
        .header("traceparent", traceparent(CREATE_TRACE, CREATE_PARENT))
        .header("x-correlator", "corr-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["bookingId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The start: a transition span, linked to the create trace, with the NEF call inside.
    app.advance(time::Duration::minutes(5)).await;
    assert_eq!(app.get(&id).await.body["bookingStatus"], json!("ACTIVATED"));

    // A DELETE of an active booking removes it at the NEF within the request's trace.
    let res = app
        .client
        .delete(format!("{}{BASE}/device-qos-bookings/{id}", app.addr))
        .bearer_auth(&app.token)
        .header("traceparent", traceparent(DELETE_TRACE, "b7ad6b7169203331"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // SCHEDULED, ACTIVATED, TERMINATED reached the sink.
    let events = sink.wait_for(3).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().unwrap();
    let named = |name: &str| -> Vec<&SpanData> { spans.iter().filter(|s| s.name == name).collect() };

    // A request without a trace context starts a trace of its own.
    assert!(
        !named("GET /qos-booking/v0.2/device-qos-bookings/{bookingId}").is_empty(),
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    // The request span continues the caller's trace, named by method and route template.
    let create_trace = TraceId::from_hex(CREATE_TRACE).unwrap();
    let create = named("POST /qos-booking/v0.2/device-qos-bookings");
    assert_eq!(
        create.len(),
        1,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let create = create[0];
    assert_eq!(create.span_context.trace_id(), create_trace);
    assert_eq!(create.parent_span_id, SpanId::from_hex(CREATE_PARENT).unwrap());
    assert_eq!(create.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(
        attr(create, "http.route").as_deref(),
        Some("/qos-booking/v0.2/device-qos-bookings")
    );
    assert_eq!(attr(create, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(attr(create, "http.response.status_code").as_deref(), Some("201"));
    assert_eq!(
        attr(create, "http.request.header.x-correlator").as_deref(),
        Some("corr-42")
    );

    // The activation: its own trace, linked to the create request's span.
    let start = named("qos_booking start");
    assert_eq!(start.len(), 1);
    let start = start[0];
    assert_ne!(start.span_context.trace_id(), create_trace);
    assert_eq!(attr(start, "qos_booking.id").as_deref(), Some(id.as_str()));
    let link = &start.links.links;
    assert_eq!(link.len(), 1);
    assert_eq!(link[0].span_context.trace_id(), create_trace);
    assert_eq!(link[0].span_context.span_id(), create.span_context.span_id());
    let activate = named("NEF activate");
    assert_eq!(activate.len(), 1);
    let activate = activate[0];
    assert!(descends(&spans, activate, start.span_context.span_id()));
    assert_eq!(attr(activate, "qos_booking.outcome").as_deref(), Some("ok"));
    assert_eq!(attr(activate, "qos_booking.id").as_deref(), Some(id.as_str()));

    // What the NEF received: the NEF call span's context.
    let posts = app.sim.requests_of("POST");
    let post = posts.iter().find(|r| r.path.contains("/subscriptions")).unwrap();
    let tp = post.traceparent.clone().expect("the NEF POST carries traceparent");
    assert!(
        tp.starts_with(&format!("00-{}-", start.span_context.trace_id())),
        "{tp}"
    );

    // The removal within the DELETE request's trace, and its traceparent at the NEF.
    let delete_trace = TraceId::from_hex(DELETE_TRACE).unwrap();
    let delete = named("DELETE /qos-booking/v0.2/device-qos-bookings/{bookingId}");
    assert_eq!(delete.len(), 1);
    let deactivate = named("NEF deactivate");
    assert_eq!(deactivate.len(), 1);
    assert_eq!(deactivate[0].span_context.trace_id(), delete_trace);
    assert!(descends(&spans, deactivate[0], delete[0].span_context.span_id()));
    let deletes = app.sim.requests_of("DELETE");
    let tp = deletes[0]
        .traceparent
        .clone()
        .expect("the NEF DELETE carries traceparent");
    assert!(tp.starts_with(&format!("00-{DELETE_TRACE}-")), "{tp}");

    // Each delivery is a span of its own whose context the sink received.
    let deliveries = named("CloudEvent deliver");
    assert_eq!(deliveries.len(), 3);
    for (headers, _) in &events {
        let tp = headers["traceparent"].to_str().unwrap();
        let trace = tp.split('-').nth(1).unwrap();
        let span = deliveries
            .iter()
            .find(|d| d.span_context.trace_id().to_string() == trace)
            .unwrap_or_else(|| panic!("no delivery span for {tp}"));
        assert_eq!(attr(span, "qos_booking.id").as_deref(), Some(id.as_str()));
        assert_eq!(attr(span, "qos_booking.outcome").as_deref(), Some("delivered"));
    }

    // Nothing personal in any span: no phone number, device address or token.
    for s in &spans {
        let texts = std::iter::once(s.name.to_string()).chain(s.attributes.iter().map(|kv| kv.value.to_string()));
        for t in texts {
            for secret in ["123456789", "10.45.0.", app.token.as_str()] {
                assert!(!t.contains(secret), "span {} carries {t}", s.name);
            }
        }
    }
}
