//! One event to its sink: the request (its credential, trace context and the same event `id`
//! on every try), the retries of transient failures, and what each answer means, told to the
//! sink's gate so that a failing sink is backed off as a whole.

use crate::gate::Gate;
use crate::shared::{DeliveryOutcome, Rendered, Shared};
use crate::tokens::TokenError;
use booking::{Chain, SinkCredential, StatusEvent};
use std::time::{Duration, Instant};
use tracing::{Instrument, info, warn};

/// Delivers one event in a span of its own (its trace context goes to the sink).
pub(crate) async fn deliver(shared: &Shared, ev: &StatusEvent, gate: &Gate) -> DeliveryOutcome {
    let span = tracing::info_span!(
        parent: None,
        "qos_booking.deliver",
        otel.name = "CloudEvent deliver",
        otel.kind = "producer",
        qos_booking.id = %ev.booking_id,
        cloudevents.event_id = %ev.id,
        qos_booking.outcome = tracing::field::Empty,
    );
    let outcome = deliver_one(shared, ev, gate).instrument(span.clone()).await;
    span.record("qos_booking.outcome", outcome.as_str());
    if !matches!(
        outcome,
        DeliveryOutcome::Delivered | DeliveryOutcome::Skipped | DeliveryOutcome::Deferred
    ) {
        shared.telemetry().delivery(outcome);
    }
    outcome
}

/// Delivers one event, retrying transient failures. Returns when the event is done with:
/// delivered, refused for good, or out of attempts.
async fn deliver_one(shared: &Shared, ev: &StatusEvent, gate: &Gate) -> DeliveryOutcome {
    if shared.gone.lock().unwrap_or_else(|p| p.into_inner()).contains(&ev.sink) {
        return DeliveryOutcome::Gone;
    }
    // The rules that need no lookup (an IP literal does not go through the resolver); names
    // are checked by the guarded resolver at connect time.
    if let Err(why) = shared.policy.check_url(&ev.sink) {
        warn!(booking.id = %ev.booking_id, sink = %ev.sink, reason = %why, "sink not allowed; event not delivered");
        return DeliveryOutcome::Failed;
    }
    let body = match shared.format.render(ev, &*shared.store).await {
        Rendered::Send(body) => body,
        Rendered::Skip => return DeliveryOutcome::Skipped,
        Rendered::Later => return DeliveryOutcome::Deferred,
    };
    let mut backoff = shared.settings.initial_backoff;
    for attempt in 1..=shared.settings.max_attempts {
        let mut req = shared
            .client
            .post(&ev.sink)
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json")
            .header("x-correlator", &ev.id)
            .body(body.clone());
        let mut trace = reqwest::header::HeaderMap::new();
        shared.telemetry().inject(&mut trace);
        req = req.headers(trace);
        let retry = match authorized(shared, ev, req, attempt).await {
            Err(outcome) => return outcome,
            // No token yet (its authorization server failed): worth another attempt.
            Ok(None) => true,
            Ok(Some(req)) => match timed(gate, req.send()).await {
                Ok(res) if res.status().is_success() => {
                    info!(booking.id = %ev.booking_id, event.id = %ev.id, status = ev.status.as_str(), "event delivered");
                    shared.telemetry().delivery(DeliveryOutcome::Delivered);
                    return DeliveryOutcome::Delivered;
                }
                Ok(res) if res.status() == reqwest::StatusCode::GONE => {
                    warn!(booking.id = %ev.booking_id, sink = %ev.sink, "sink answered 410 Gone; no more events to it");
                    shared
                        .gone
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(ev.sink.clone());
                    return DeliveryOutcome::Gone;
                }
                Ok(res) => {
                    let s = res.status();
                    warn!(booking.id = %ev.booking_id, event.id = %ev.id, http.status = s.as_u16(), attempt, "sink refused the event");
                    // A token of our own making the sink no longer takes (revoked, rotated key):
                    // a fresh one is worth another attempt.
                    let fetched_token = match (&ev.credential, shared.tokens.get()) {
                        (Some(SinkCredential::PrivateKeyJwt { client_id }), Some(tokens))
                            if s == reqwest::StatusCode::UNAUTHORIZED =>
                        {
                            tokens.invalidate(client_id).await;
                            true
                        }
                        _ => false,
                    };
                    fetched_token
                        || s.is_server_error()
                        || s == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || s == reqwest::StatusCode::REQUEST_TIMEOUT
                }
                Err(e) => {
                    warn!(booking.id = %ev.booking_id, event.id = %ev.id, error = %Chain(&e), attempt, "event delivery failed");
                    true
                }
            },
        };
        if !retry {
            return DeliveryOutcome::Failed;
        }
        if attempt < shared.settings.max_attempts {
            shared.telemetry().delivery(DeliveryOutcome::Retried);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    // A sink that is down for a while gets its events when it returns: they wait in the
    // outbox (claimed again after the sink's backoff), up to `give_up_after`.
    if shared.clock.now() - ev.time < shared.settings.give_up_after {
        warn!(booking.id = %ev.booking_id, event.id = %ev.id, "sink still failing; the event waits in the outbox");
        return DeliveryOutcome::Deferred;
    }
    warn!(booking.id = %ev.booking_id, event.id = %ev.id, "event dropped: its sink failed for longer than give_up_after");
    DeliveryOutcome::Failed
}

/// Sends `req`, telling the gate how the sink did: an answer it gave is a success (even a
/// refusal: the sink is up), no answer, a 5xx, 429 or 408 is a failure that backs it off.
async fn timed(
    gate: &Gate,
    send: impl Future<Output = Result<reqwest::Response, reqwest::Error>>,
) -> Result<reqwest::Response, reqwest::Error> {
    let started = Instant::now();
    let r = send.await;
    let took = started.elapsed();
    match &r {
        Ok(res)
            if !(res.status().is_server_error()
                || res.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                || res.status() == reqwest::StatusCode::REQUEST_TIMEOUT) =>
        {
            gate.succeeded(took)
        }
        _ => gate.failed(took),
    }
    r
}

/// `req` with the event's credential: the client's access token, or a token obtained for a
/// PRIVATE_KEY_JWT sink. `Ok(None)`: no token for now (try again); `Err`: never deliverable.
async fn authorized(
    shared: &Shared,
    ev: &StatusEvent,
    req: reqwest::RequestBuilder,
    attempt: u32,
) -> Result<Option<reqwest::RequestBuilder>, DeliveryOutcome> {
    match &ev.credential {
        None => Ok(Some(req)),
        Some(SinkCredential::AccessToken(cred)) => {
            if cred.expires_at <= shared.clock.now() {
                warn!(booking.id = %ev.booking_id, "sink access token expired; event not delivered");
                return Err(DeliveryOutcome::Failed);
            }
            Ok(Some(req.bearer_auth(&cred.access_token)))
        }
        Some(SinkCredential::PrivateKeyJwt { client_id }) => {
            let Some(tokens) = shared.tokens.get() else {
                warn!(booking.id = %ev.booking_id, "no PRIVATE_KEY_JWT token source; event not delivered");
                return Err(DeliveryOutcome::Failed);
            };
            match tokens.token(client_id).await {
                Ok(token) => Ok(Some(req.bearer_auth(token))),
                Err(TokenError::Permanent(why)) => {
                    warn!(booking.id = %ev.booking_id, client.id = %client_id, reason = %why, "no sink token; event not delivered");
                    Err(DeliveryOutcome::Failed)
                }
                Err(TokenError::Transient(why)) => {
                    warn!(booking.id = %ev.booking_id, client.id = %client_id, reason = %why, attempt, "no sink token yet");
                    Ok(None)
                }
            }
        }
    }
}
