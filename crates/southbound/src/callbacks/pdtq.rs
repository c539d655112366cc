//! The PDTQ notification endpoint (`Notification` to the negotiation's
//! `notificationDestination`): the network's candidate policies for a booking, a warning that
//! its selected policy can no longer be honoured (or a late answer). Handed to
//! `BookingService::network_candidates`, which selects one that still covers the booking or
//! revokes it. Answers 204.

use super::{CallbackAuth, problem, proof, route, unknown};
use crate::pdtq::candidates;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use booking::{BookingId, BookingService, Chain, NetworkOutcome};
use nef::pdtq::PdtqNotification;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{info, warn};

#[derive(Clone)]
struct PdtqCallbacks {
    service: Arc<BookingService>,
    auth: CallbackAuth,
}

/// The PDTQ callback route for the configured protection.
pub fn router(service: Arc<BookingService>, auth: CallbackAuth) -> Router {
    Router::new()
        .route(&route(&auth, "pdtq-callbacks", ""), post(notification))
        .with_state(PdtqCallbacks { service, auth })
}

async fn notification(
    State(st): State<PdtqCallbacks>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let data: PdtqNotification = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("not a PDTQ Notification: {e}")),
    };
    let (Some(id), Some(proof)) = (
        params.get("id").and_then(|i| BookingId::parse(i)),
        proof(&st.auth, &params),
    ) else {
        return unknown();
    };
    info!(booking.id = %id, pdtq.reference = %data.pdtq_ref_id, candidates = data.cand_policies.len(), "PDTQ notification");
    match st
        .service
        .network_candidates(id, proof, Some(&data.pdtq_ref_id), &candidates(&data.cand_policies))
        .await
    {
        Ok(NetworkOutcome::Unknown) => unknown(),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            warn!(booking.id = %id, error = %Chain(&e), "PDTQ notification not taken");
            problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}
