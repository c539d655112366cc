//! The NEF notification endpoint (`UserPlaneNotificationData` to `notificationDestination`).
//! The rule of which NEF event ends a booking is [`network_event`]: SESSION_TERMINATION and
//! FAILED_RESOURCES_ALLOCATION end it NETWORK_TERMINATED; every other event is logged. Answers
//! 204, tolerates unknown events and extra or null fields, and passes the callback's proof
//! (the booking's token in the URL, or the deployment's shared secret) to
//! `BookingService::network_event`, which checks it against the booking.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use booking::{BookingId, BookingService, CallbackProof, Chain, NetworkEvent, NetworkOutcome};
use nef::{ProblemDetails, UserPlaneNotificationData};
pub use qos_mapping::CallbackAuth;
use std::sync::Arc;
use tracing::{info, warn};

/// Which NEF events end a booking's QoS: the session ended, or its resources could not be
/// allocated. Anything else is a report.
pub fn network_event(data: &UserPlaneNotificationData) -> NetworkEvent {
    let ends = data.event_reports.iter().any(|r| {
        matches!(
            r.event.as_deref(),
            Some("SESSION_TERMINATION" | "FAILED_RESOURCES_ALLOCATION")
        )
    });
    if ends {
        NetworkEvent::QosEnded
    } else {
        NetworkEvent::Report
    }
}

#[derive(Clone)]
struct CallbackState {
    service: Arc<BookingService>,
    auth: CallbackAuth,
}

/// The callback routes for the configured protection (the URL shapes `qos-mapping` gives out).
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

async fn with_token(
    State(st): State<CallbackState>,
    Path((id, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    handle(&st, &id, CallbackProof::Token(&token), body).await
}

async fn with_secret(
    State(st): State<CallbackState>,
    Path((secret, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let CallbackAuth::SharedSecret(expected) = &st.auth else {
        return problem(StatusCode::NOT_FOUND, "unknown callback");
    };
    let proof = CallbackProof::SharedSecret {
        given: &secret,
        expected,
    };
    handle(&st, &id, proof, body).await
}

async fn open(State(st): State<CallbackState>, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&st, &id, CallbackProof::Unprotected, body).await
}

async fn handle(st: &CallbackState, id: &str, proof: CallbackProof<'_>, body: Bytes) -> Response {
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
    for report in &data.event_reports {
        let event = report.event.as_deref().unwrap_or("");
        info!(booking.id = %id, nef.event = event, nef.applied_qos_ref = ?report.applied_qos_ref, "NEF event");
    }
    let event = network_event(&data);
    match st
        .service
        .network_event(id, proof, data.transaction.as_deref(), event)
        .await
    {
        Ok(NetworkOutcome::Unknown) => problem(StatusCode::NOT_FOUND, "unknown callback"),
        Ok(NetworkOutcome::Ended) => {
            info!(booking.id = %id, "the network ended the booking's QoS");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(NetworkOutcome::Noted | NetworkOutcome::OtherSubscription) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            warn!(booking.id = %id, error = %Chain(&e), "NEF notification not taken");
            problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[&str]) -> UserPlaneNotificationData {
        serde_json::from_value(serde_json::json!({
            "transaction": "t",
            "eventReports": events.iter().map(|e| serde_json::json!({"event": e})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn only_session_termination_and_failed_allocation_end_a_booking() {
        assert_eq!(network_event(&data(&["SESSION_TERMINATION"])), NetworkEvent::QosEnded);
        assert_eq!(
            network_event(&data(&["QOS_GUARANTEED", "FAILED_RESOURCES_ALLOCATION"])),
            NetworkEvent::QosEnded
        );
        assert_eq!(
            network_event(&data(&["SUCCESSFUL_RESOURCES_ALLOCATION"])),
            NetworkEvent::Report
        );
        assert_eq!(network_event(&data(&["SOMETHING_NEW"])), NetworkEvent::Report);
        assert_eq!(network_event(&data(&[])), NetworkEvent::Report);
    }
}
