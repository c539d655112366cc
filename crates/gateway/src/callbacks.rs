//! The NEF notification endpoint (`UserPlaneNotificationData` to `notificationDestination`).
//! SESSION_TERMINATION and FAILED_RESOURCES_ALLOCATION end the booking NETWORK_TERMINATED;
//! every other event is logged. Answers 204, tolerates unknown events and extra or null
//! fields, and proves the caller with the booking's callback token or a shared secret.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use booking::{BookingId, BookingService};
use nef::{ProblemDetails, UserPlaneNotificationData};
use nef_mapping::CallbackAuth;
use std::sync::Arc;
use tracing::{info, warn};

#[derive(Clone)]
struct CallbackState {
    service: Arc<BookingService>,
    auth: CallbackAuth,
}

pub fn router(service: Arc<BookingService>, auth: CallbackAuth) -> Router {
    let r = Router::new();
    let r = match &auth {
        CallbackAuth::PerBookingToken => r.route("/nef-callbacks/bookings/{id}/{token}", post(with_token)),
        CallbackAuth::SharedSecret(_) => r.route("/nef-callbacks/{secret}/bookings/{id}", post(with_secret)),
        CallbackAuth::None => r.route("/nef-callbacks/bookings/{id}", post(open)),
    };
    r.with_state(CallbackState { service, auth })
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let p = ProblemDetails {
        status: Some(status.as_u16()),
        detail: Some(detail.to_owned()),
        ..Default::default()
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_string(&p).unwrap_or_default(),
    )
        .into_response()
}

/// Compares secrets without an early exit, so timing does not reveal a matching prefix.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn with_token(
    State(st): State<CallbackState>,
    Path((id, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    handle(&st, &id, Some(&token), body).await
}

async fn with_secret(
    State(st): State<CallbackState>,
    Path((secret, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    match &st.auth {
        CallbackAuth::SharedSecret(s) if same(s, &secret) => handle(&st, &id, None, body).await,
        _ => problem(StatusCode::NOT_FOUND, "unknown callback"),
    }
}

async fn open(State(st): State<CallbackState>, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&st, &id, None, body).await
}

fn last_segment(uri: &str) -> &str {
    uri.trim_end_matches('/').rsplit('/').next().unwrap_or_default()
}

async fn handle(st: &CallbackState, id: &str, token: Option<&str>, body: Bytes) -> Response {
    let Some(id) = BookingId::parse(id) else {
        return problem(StatusCode::NOT_FOUND, "unknown callback");
    };
    let data: UserPlaneNotificationData = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("not a UserPlaneNotificationData: {e}"),
            );
        }
    };
    let booking = match st.service.load(id).await {
        Ok(b) => b,
        Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let Some(booking) = booking else {
        return problem(StatusCode::NOT_FOUND, "unknown callback");
    };
    if let Some(t) = token
        && !same(t, &booking.callback_token)
    {
        warn!(booking.id = %id, "NEF callback with a wrong token");
        return problem(StatusCode::NOT_FOUND, "unknown callback");
    }
    // Correlate by the subscription too: a notification of an older subscription of this
    // booking (say, one removed after a lost answer) must not end the current one. Before the
    // create's answer is stored there is nothing to compare with, and the event still counts.
    if let (Some(tx), Some(current)) = (&data.transaction, &booking.nef_subscription)
        && last_segment(tx) != last_segment(current)
    {
        warn!(booking.id = %id, nef.transaction = %tx, "notification for another subscription; ignored");
        return StatusCode::NO_CONTENT.into_response();
    }
    for report in &data.event_reports {
        let event = report.event.as_deref().unwrap_or("");
        match event {
            "SESSION_TERMINATION" | "FAILED_RESOURCES_ALLOCATION" => {
                info!(booking.id = %id, nef.event = event, "the network ended the booking's QoS");
                if let Err(e) = st.service.network_terminated(id).await {
                    return problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
                }
            }
            _ => info!(booking.id = %id, nef.event = event, nef.applied_qos_ref = ?report.applied_qos_ref, "NEF event"),
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
