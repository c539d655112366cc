//! The NEF notification endpoint (`UserPlaneNotificationData` to `notificationDestination`).
//! The rule of which NEF event ends a booking is [`network_event`]: SESSION_TERMINATION and
//! FAILED_RESOURCES_ALLOCATION end it NETWORK_TERMINATED; every other event is logged. Answers
//! 204 and tolerates unknown events and extra or null fields.

use super::{CallbackAuth, deliver, problem, route};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use booking::{BookingService, NetworkEvent};
use nef::UserPlaneNotificationData;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::info;

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
struct NefCallbacks {
    service: Arc<BookingService>,
    auth: CallbackAuth,
}

/// The NEF callback route for the configured protection.
pub fn router(service: Arc<BookingService>, auth: CallbackAuth) -> Router {
    Router::new()
        .route(&route(&auth, "nef-callbacks", ""), post(notification))
        .with_state(NefCallbacks { service, auth })
}

async fn notification(
    State(st): State<NefCallbacks>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let data: UserPlaneNotificationData = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("not a UserPlaneNotificationData: {e}"),
            );
        }
    };
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    for report in &data.event_reports {
        let event = report.event.as_deref().unwrap_or("");
        info!(booking.id = %id, nef.event = event, nef.applied_qos_ref = ?report.applied_qos_ref, "NEF event");
    }
    let event = network_event(&data);
    match deliver(&st.service, &st.auth, &params, data.transaction.as_deref(), event).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
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
