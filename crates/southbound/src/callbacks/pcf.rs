//! The PCF's callbacks (TS 29.514): `POST {notifUri}/terminate` (`TerminationInfo`) and
//! `POST {evSubsc.notifUri}/notify` (`EventsNotification`), both under the booking's own
//! secret URL. The rule of which event ends a booking is [`pcf_event`]: a termination always
//! (whatever its body: some PCFs send none), and FAILED_RESOURCES_ALLOCATION when a report
//! says the resources are INACTIVE; everything else is logged. Answers 204, tolerates empty
//! or partial bodies and unknown events. A callback that names another app session of the
//! booking (one a lost attempt created) gets that session deleted.

use super::{CallbackAuth, deliver, route};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use booking::{BookingService, Chain, NetworkEvent, NetworkOutcome};
use pcf::{EventsNotification, PcfClient, TerminationInfo, app_session_of};
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{info, warn};

/// Which N5 notifications end a booking's QoS.
pub fn pcf_event(n: &EventsNotification) -> NetworkEvent {
    let failed = n
        .ev_notifs
        .iter()
        .any(|e| e.event.as_deref() == Some("FAILED_RESOURCES_ALLOCATION"));
    let inactive = n
        .failed_resourc_alloc_reports
        .iter()
        .any(|r| r.mc_resourc_status.as_deref() == Some("INACTIVE"));
    if failed && inactive {
        NetworkEvent::QosEnded
    } else {
        NetworkEvent::Report
    }
}

#[derive(Clone)]
struct PcfCallbacks {
    service: Arc<BookingService>,
    auth: CallbackAuth,
    client: Arc<PcfClient>,
}

/// The PCF callback routes for the configured protection; `client` deletes the app sessions
/// of lost attempts that callbacks reveal.
pub fn router(service: Arc<BookingService>, auth: CallbackAuth, client: Arc<PcfClient>) -> Router {
    Router::new()
        .route(&route(&auth, "pcf-callbacks", "/notify"), post(notify))
        .route(&route(&auth, "pcf-callbacks", "/terminate"), post(terminate))
        .with_state(PcfCallbacks { service, auth, client })
}

/// A body that may be empty or not the schema: read leniently, defaulting what is missing.
fn lenient<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
    serde_json::from_slice(body).unwrap_or_default()
}

async fn notify(State(st): State<PcfCallbacks>, Path(params): Path<HashMap<String, String>>, body: Bytes) -> Response {
    let n: EventsNotification = lenient(&body);
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    for e in &n.ev_notifs {
        info!(booking.id = %id, pcf.event = e.event.as_deref().unwrap_or(""), "PCF event");
    }
    let session = n.ev_subs_uri.as_deref().map(app_session_of);
    answer(&st, &params, session, pcf_event(&n)).await
}

async fn terminate(
    State(st): State<PcfCallbacks>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let t: TerminationInfo = lenient(&body);
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    info!(booking.id = %id, pcf.term_cause = t.term_cause.as_deref().unwrap_or(""), "PCF terminated the app session");
    let session = t.res_uri.as_deref().map(app_session_of);
    answer(&st, &params, session, NetworkEvent::QosEnded).await
}

async fn answer(
    st: &PcfCallbacks,
    params: &HashMap<String, String>,
    session: Option<&str>,
    event: NetworkEvent,
) -> Response {
    match deliver(&st.service, &st.auth, params, session, event).await {
        Ok((id, NetworkOutcome::OtherSubscription)) => {
            // An app session of this booking that is not the one it keeps: what an attempt
            // whose answer was lost created. Only a PCF's app-session URI is deleted.
            if let Some(orphan) = session.filter(|s| s.contains("/npcf-policyauthorization/v1/app-sessions/")) {
                let (client, orphan) = (st.client.clone(), orphan.to_owned());
                tokio::spawn(async move {
                    match client.delete(&orphan).await {
                        Ok(()) => {
                            info!(booking.id = %id, pcf.app_session = %orphan, "deleted the app session of a lost attempt")
                        }
                        Err(e) => {
                            warn!(booking.id = %id, pcf.app_session = %orphan, error = %Chain(&e), "could not delete the app session of a lost attempt")
                        }
                    }
                });
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: serde_json::Value) -> EventsNotification {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_failed_allocation_with_inactive_resources_ends_a_booking() {
        let failed = n(
            serde_json::json!({"evSubsUri": "x", "evNotifs": [{"event": "FAILED_RESOURCES_ALLOCATION"}],
            "failedResourcAllocReports": [{"mcResourcStatus": "INACTIVE"}]}),
        );
        assert_eq!(pcf_event(&failed), NetworkEvent::QosEnded);
        let partial = n(
            serde_json::json!({"evSubsUri": "x", "evNotifs": [{"event": "FAILED_RESOURCES_ALLOCATION"}],
            "failedResourcAllocReports": [{"mcResourcStatus": "ACTIVE"}]}),
        );
        assert_eq!(pcf_event(&partial), NetworkEvent::Report);
        let ok = n(serde_json::json!({"evSubsUri": "x", "evNotifs": [{"event": "SUCCESSFUL_RESOURCES_ALLOCATION"}]}));
        assert_eq!(pcf_event(&ok), NetworkEvent::Report);
        assert_eq!(pcf_event(&EventsNotification::default()), NetworkEvent::Report);
        assert_eq!(
            pcf_event(&n(serde_json::json!({"evNotifs": [{"event": "SOMETHING_NEW"}]}))),
            NetworkEvent::Report
        );
    }
}
