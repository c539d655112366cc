//! The network's callbacks to the gateway, one module per southbound ([`nef`]: the NEF's
//! `UserPlaneNotificationData`; [`pcf`]: the PCF's `/notify` and `/terminate`; [`pdtq`]: the
//! NEF's PDTQ candidate policies). Shared here:
//! the URL shapes for the configured protection (the booking's token in the URL, the
//! deployment's shared secret, or none), the `ProblemDetails` answers, and the hand-off to
//! `BookingService::network_event`, which checks the proof against the booking.

pub mod nef;
pub mod pcf;
pub mod pdtq;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use booking::{BookingId, BookingService, CallbackProof, Chain, NetworkEvent, NetworkOutcome};
pub use qos_mapping::CallbackAuth;
use std::collections::HashMap;
use tracing::{info, warn};

/// The route of a booking's callback under `prefix`, with `suffix` (`/notify`, or none), in
/// the shape the protection gives the URL (as `qos-mapping` builds it).
pub(crate) fn route(auth: &CallbackAuth, prefix: &str, suffix: &str) -> String {
    match auth {
        CallbackAuth::PerBookingToken => format!("/{prefix}/bookings/{{id}}/{{token}}{suffix}"),
        CallbackAuth::SharedSecret(_) => format!("/{prefix}/{{secret}}/bookings/{{id}}{suffix}"),
        CallbackAuth::None => format!("/{prefix}/bookings/{{id}}{suffix}"),
    }
}

/// What the URL's path parameters prove, for the configured protection.
pub(crate) fn proof<'a>(auth: &'a CallbackAuth, params: &'a HashMap<String, String>) -> Option<CallbackProof<'a>> {
    Some(match auth {
        CallbackAuth::PerBookingToken => CallbackProof::Token(params.get("token")?),
        CallbackAuth::SharedSecret(expected) => CallbackProof::SharedSecret {
            given: params.get("secret")?,
            expected,
        },
        CallbackAuth::None => CallbackProof::Unprotected,
    })
}

pub(crate) fn problem(status: StatusCode, detail: &str) -> Response {
    let p = sbi::ProblemDetails {
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

pub(crate) fn unknown() -> Response {
    problem(StatusCode::NOT_FOUND, "unknown callback")
}

/// Hands an event about `subscription` to the booking the URL names. `Err` is the answer
/// when it could not be taken (unknown callback, store unavailable).
pub(crate) async fn deliver(
    service: &BookingService,
    auth: &CallbackAuth,
    params: &HashMap<String, String>,
    subscription: Option<&str>,
    event: NetworkEvent,
) -> Result<(BookingId, NetworkOutcome), Response> {
    let (Some(id), Some(proof)) = (params.get("id").and_then(|i| BookingId::parse(i)), proof(auth, params)) else {
        return Err(unknown());
    };
    match service.network_event(id, proof, subscription, event).await {
        Ok(NetworkOutcome::Unknown) => Err(unknown()),
        Ok(outcome) => {
            if outcome == NetworkOutcome::Ended {
                info!(booking.id = %id, "the network ended the booking's QoS");
            }
            Ok((id, outcome))
        }
        Err(e) => {
            warn!(booking.id = %id, error = %Chain(&e), "network notification not taken");
            Err(problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))
        }
    }
}
