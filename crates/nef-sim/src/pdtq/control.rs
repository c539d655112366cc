//! The PDTQ simulation's control endpoints: what tests and benchmarks drive it with (the
//! subscriptions as held, a new capacity that warns whatever no longer fits, a warning with
//! given candidates).

use super::model::PdtqCapacity;
use super::{PdtqState, Span, notify, secs};
use crate::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

impl PdtqState {
    /// The subscriptions: URI -> body.
    pub(crate) fn bodies(&self) -> BTreeMap<String, Value> {
        self.subs
            .values()
            .map(|s| (s.location.clone(), s.body.clone()))
            .collect()
    }
}

/// `GET /sim/pdtq`: the subscriptions (URI -> body).
pub(crate) async fn control_list(State(sh): State<Shared>) -> Json<BTreeMap<String, Value>> {
    Json(sh.lock().pdtq.bodies())
}

/// Sets the capacity and warns the subscriptions squeezed out.
pub(crate) async fn apply_capacity(sh: &Shared, cap: PdtqCapacity) -> Value {
    let warned = {
        let mut s = sh.lock();
        s.pdtq.capacity = cap;
        let cap = s.pdtq.capacity.clone();
        s.pdtq.held.recount(&cap);
        s.pdtq.squeeze()
    };
    let mut statuses = Vec::new();
    for id in &warned {
        statuses.push(match notify(sh, id, None).await {
            Ok(st) => json!({"subscription": id, "subscriberStatus": st}),
            Err(e) => json!({"subscription": id, "error": e}),
        });
    }
    json!({"warned": statuses})
}

/// `POST /sim/pdtq/capacity`: the new capacity; selected policies that no longer fit are
/// warned (latest first), each with the window it could have instead.
pub(crate) async fn control_capacity(State(sh): State<Shared>, Json(cap): Json<PdtqCapacity>) -> Response {
    Json(apply_capacity(&sh, cap).await).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotifyCmd {
    /// The subscription's URI or id.
    subscription: String,
    /// Candidate windows to offer (ids 1, 2, ...): `[[start, stop], ...]` in RFC 3339.
    candidates: Vec<(String, String)>,
    /// The id of the first candidate (default 1).
    #[serde(default)]
    first_id: Option<i64>,
}

/// `POST /sim/pdtq/notify`: sends these candidates to the subscriber, as a warning.
pub(crate) async fn control_notify(State(sh): State<Shared>, Json(c): Json<NotifyCmd>) -> Response {
    let id = c.subscription.rsplit('/').next().unwrap_or_default().to_owned();
    let first = c.first_id.unwrap_or(1);
    let cands: Option<Vec<(i64, Span)>> = c
        .candidates
        .iter()
        .zip(first..)
        .map(|((a, b), n)| Some((n, (secs(a)?, secs(b)?))))
        .collect();
    let Some(cands) = cands else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "candidates are RFC 3339 pairs"})),
        )
            .into_response();
    };
    match notify(&sh, &id, Some(cands)).await {
        Ok(status) => Json(json!({"subscriberStatus": status})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}
