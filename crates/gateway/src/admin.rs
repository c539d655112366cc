//! The operator's admin API on the admin listener: find bookings across clients, inspect one,
//! revoke one, approve or decline one waiting for a decision (REQUESTED), see and change the
//! capacity of the pools and their calendar (booked against available over time); see, store
//! and remove API clients' onboarding records (kept in the store: every replica applies them
//! within seconds, and they win over configured ones); and the
//! state the usage report shares (`usage.rs` mounts it); the operator console, one server-sent page over those calls (`console.html`). Operator tokens only (`auth.operator_audience` and `auth.operator_scope`):
//! client tokens, made for the API's audience, are refused, as are anonymous calls. Every
//! action is an `audit` log line (operator, action, booking).

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use booking::{BookingFilter, BookingId, BookingService, BookingStatus, Clock};
use camara_api::{ApiError, Authenticator, BookingInfo};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::info;

#[derive(Clone)]
pub struct AdminState {
    pub service: Arc<BookingService>,
    pub auth: Arc<Authenticator>,
    pub scope: String,
    pub clock: Arc<dyn Clock>,
    pub clients: Arc<crate::clients::ClientSources>,
    pub store: Arc<dyn booking::BookingStore>,
    /// http sinks and token endpoints are allowed (development).
    pub insecure: bool,
    /// Usage records for the usage report.
    pub usage: Arc<charging::Renderer>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/bookings", get(list))
        .route("/admin/bookings/{id}", get(inspect))
        .route("/admin/bookings/{id}/revoke", post(revoke))
        .route("/admin/bookings/{id}/approve", post(approve))
        .route("/admin/bookings/{id}/decline", post(decline))
        .route("/admin/clients", get(clients))
        .route(
            "/admin/clients/{id}",
            get(get_client).put(put_client).delete(delete_client),
        )
        .route("/admin/capacity", get(capacities))
        .route("/admin/calendar", get(calendar))
        .route("/admin/console", get(console))
        .route("/admin/capacity/{pool}/{profile}", axum::routing::put(set_capacity))
        .with_state(state)
}

/// An authenticated operator (a token for the operator audience with the operator scope).
pub(crate) struct Operator(pub(crate) String);

impl FromRequestParts<AdminState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AdminState) -> Result<Self, ApiError> {
        let token = camara_api::bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("An operator bearer token is required"))?;
        let (caller, scopes) = st.auth.authenticate(token).await?;
        if !scopes.contains(&st.scope) {
            return Err(ApiError::permission_denied(format!(
                "The token lacks the operator scope '{}'",
                st.scope
            )));
        }
        Ok(Self(caller.client_id))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    client_id: Option<String>,
    status: Option<String>,
    qos_profile: Option<String>,
    pool: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

pub(crate) fn time_param(v: Option<&String>, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| ApiError::invalid_argument(format!("'{name}' must be an RFC 3339 date-time")))
    })
    .transpose()
}

fn status_param(v: Option<&String>) -> Result<Option<BookingStatus>, ApiError> {
    v.map(|s| {
        BookingStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ApiError::invalid_argument("'status' must be REQUESTED, SCHEDULED, ACTIVATED or TERMINATED"))
    })
    .transpose()
}

/// The operator's view of a booking: the client's, plus whose it is.
fn view(b: &booking::Booking, now: OffsetDateTime) -> Value {
    let mut v = serde_json::to_value(BookingInfo::at(b, now, camara_api::Version::V0_2)).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("clientId".into(), json!(b.owner.client_id));
        // QoS Booking and Assignment: a reservation's places, or a device's reservation.
        match &b.group {
            Some(g @ booking::Group::Reservation { total, members }) => {
                o.insert(
                    "reservation".into(),
                    json!({"totalDevices": total, "remainingDevices": g.remaining(),
                        "deviceBookings": members.iter().map(|m| m.id.to_string()).collect::<Vec<_>>()}),
                );
            }
            Some(booking::Group::Member { of }) => {
                o.insert("reservationId".into(), json!(of.to_string()));
            }
            None => {}
        }
    }
    v
}

fn booking_id(raw: &str) -> Result<BookingId, ApiError> {
    BookingId::parse(raw).ok_or_else(|| ApiError::invalid_argument("bookingId must be a UUID"))
}

async fn list(
    State(st): State<AdminState>,
    Operator(who): Operator,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_argument(e.body_text()))?;
    let filter = BookingFilter {
        client_id: q.client_id,
        status: status_param(q.status.as_ref())?,
        qos_profile: q.qos_profile,
        pool: q.pool,
        from: time_param(q.from.as_ref(), "from")?,
        to: time_param(q.to.as_ref(), "to")?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let found = st.service.find(&filter, limit).await?;
    info!(target: "audit", operator = %who, action = "list", count = found.len(), "operator action");
    let now = st.clock.now();
    Ok(Json(found.iter().map(|b| view(b, now)).collect::<Vec<_>>()).into_response())
}

async fn inspect(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = booking_id(&id)?;
    let b = st.service.inspect(id).await?;
    info!(target: "audit", operator = %who, action = "inspect", booking.id = %id, "operator action");
    Ok(Json(view(&b, st.clock.now())).into_response())
}

async fn revoke(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = booking_id(&id)?;
    let b = st.service.revoke(id).await?;
    info!(target: "audit", operator = %who, action = "revoke", booking.id = %id, client.id = %b.owner.client_id, "operator action");
    Ok(Json(view(&b, st.clock.now())).into_response())
}

async fn approve(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = booking_id(&id)?;
    let b = st.service.approve(id).await?;
    info!(target: "audit", operator = %who, action = "approve", booking.id = %id, client.id = %b.owner.client_id, "operator action");
    Ok(Json(view(&b, st.clock.now())).into_response())
}

async fn decline(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = booking_id(&id)?;
    let b = st.service.decline_requested(id).await?;
    info!(target: "audit", operator = %who, action = "decline", booking.id = %id, client.id = %b.owner.client_id, "operator action");
    Ok(Json(view(&b, st.clock.now())).into_response())
}

async fn capacities(State(st): State<AdminState>, Operator(_): Operator) -> Result<Response, ApiError> {
    let all = st.service.capacities().await?;
    let out: Vec<Value> = all
        .into_iter()
        .map(|(pool, profile, configured, change)| {
            json!({"pool": pool, "qosProfile": profile, "configured": configured, "capacity": change.unwrap_or(configured)})
        })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityChange {
    /// The new capacity; `null`: back to the configured one.
    capacity: Option<u32>,
}

async fn set_capacity(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path((pool, profile)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let change: CapacityChange = admin_body(&headers, body).await?;
    let revoked = st.service.set_capacity(&pool, &profile, change.capacity).await?;
    info!(target: "audit", operator = %who, action = "set_capacity", pool = %pool, qos_profile = %profile,
        capacity = ?change.capacity, revoked = revoked.len(), "operator action");
    Ok(Json(json!({
        "pool": pool,
        "qosProfile": profile,
        "capacity": change.capacity,
        "revoked": revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The largest body the admin API reads.
const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// An admin request's JSON body as `T`: read in one pass by the API's reader (a key named
/// twice, at any depth, is a 400 as on the CAMARA APIs), then typed.
async fn admin_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let value = camara_api::json_body(headers, body, ADMIN_BODY_LIMIT).await?;
    serde_json::from_value(value).map_err(|e| ApiError::invalid_argument(format!("Invalid body: {e}")))
}

/// A record as the admin API shows it (the configuration's field names).
fn client_view(r: &booking::ClientRecord, source: crate::clients::Source) -> Value {
    let rate = |r: Option<booking::ClientRate>| r.map(|r| json!({"per_second": r.per_second, "burst": r.burst}));
    json!({
        "client_id": r.client_id,
        "source": match source {
            crate::clients::Source::Configuration => "configuration",
            crate::clients::Source::Store => "store",
        },
        "profiles": r.profiles,
        "max_live_bookings": r.max_live_bookings,
        "limits": {"create": rate(r.rates.create), "read": rate(r.rates.read),
            "delete": rate(r.rates.delete), "retrieve": rate(r.rates.retrieve)},
        "sinks": r.sinks,
        "private_key_jwt": r.private_key_jwt.as_ref().map(|p| json!({
            "token_endpoint": p.token_endpoint, "client_id": p.client_id, "key_file": p.key_file,
            "algorithm": p.algorithm, "key_id": p.key_id, "scope": p.scope})),
    })
}

/// The onboarding records in force on this replica, with where each comes from.
async fn clients(State(st): State<AdminState>, Operator(who): Operator) -> Result<Response, ApiError> {
    st.clients.refresh(&*st.store).await;
    let all = st.clients.in_force();
    info!(target: "audit", operator = %who, action = "list_clients", count = all.len(), "operator action");
    Ok(Json(all.iter().map(|(r, s)| client_view(r, *s)).collect::<Vec<_>>()).into_response())
}

/// Stores a client's record (the configuration's form, as JSON; `client_id` may be left out).
async fn get_client(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    st.clients.refresh(&*st.store).await;
    let found = st.clients.in_force().into_iter().find(|(r, _)| r.client_id == id);
    info!(target: "audit", operator = %who, action = "get_client", client.id = %id, "operator action");
    match found {
        Some((r, source)) => Ok(Json(client_view(&r, source)).into_response()),
        None => Err(ApiError::from(booking::Rejection::new(
            booking::RejectionKind::NotFound,
            format!("No API client '{id}' is configured or stored"),
        ))),
    }
}

async fn put_client(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut body: Value = admin_body(&headers, body).await?;
    let o = body
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid_argument("the body must be a JSON object"))?;
    match o.get("client_id") {
        None => {
            o.insert("client_id".into(), json!(id));
        }
        Some(v) if v.as_str() == Some(id.as_str()) => {}
        Some(_) => return Err(ApiError::invalid_argument("client_id differs from the path")),
    }
    let settings: crate::settings::ClientSettings =
        serde_json::from_value(body).map_err(|e| ApiError::invalid_argument(format!("not a client record: {e}")))?;
    settings
        .check(st.insecure)
        .map_err(|e| ApiError::invalid_argument(format!("{e:#}")))?;
    let record = settings.record();
    st.store.set_client(&id, Some(&record)).await.map_err(|e| {
        ApiError::from(booking::Rejection::new(
            booking::RejectionKind::Unavailable,
            e.to_string(),
        ))
    })?;
    st.clients.refresh(&*st.store).await;
    info!(target: "audit", operator = %who, action = "put_client", client.id = %id, "operator action");
    Ok(Json(client_view(&record, crate::clients::Source::Store)).into_response())
}

/// Removes a client's stored record (a configured one, if any, is in force again).
async fn delete_client(
    State(st): State<AdminState>,
    Operator(who): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    st.store.set_client(&id, None).await.map_err(|e| {
        ApiError::from(booking::Rejection::new(
            booking::RejectionKind::Unavailable,
            e.to_string(),
        ))
    })?;
    st.clients.refresh(&*st.store).await;
    info!(target: "audit", operator = %who, action = "delete_client", client.id = %id, "operator action");
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CalendarQuery {
    pool: String,
    qos_profile: String,
    from: Option<String>,
    to: Option<String>,
    step_minutes: Option<i64>,
}

/// Booked against available capacity of one pool and profile over time (default: the next
/// 24 hours by the hour).
async fn calendar(
    State(st): State<AdminState>,
    Operator(_): Operator,
    query: Result<Query<CalendarQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_argument(e.body_text()))?;
    let now = st.clock.now();
    let from = time_param(q.from.as_ref(), "from")?.unwrap_or(now);
    let to = match time_param(q.to.as_ref(), "to")? {
        Some(to) => to,
        None => from
            .checked_add(time::Duration::days(1))
            .ok_or_else(|| ApiError::invalid_argument("'from' is too far in the future"))?,
    };
    let step = time::Duration::minutes(q.step_minutes.unwrap_or(60).clamp(1, 10_080));
    let (capacity, points) = st.service.calendar(&q.pool, &q.qos_profile, from, to, step).await?;
    let points: Vec<Value> = points
        .into_iter()
        .map(|(t, booked)| {
            json!({
                "time": t.format(&Rfc3339).unwrap_or_default(),
                "booked": booked,
                "available": capacity.saturating_sub(booked),
            })
        })
        .collect();
    Ok(
        Json(json!({"pool": q.pool, "qosProfile": q.qos_profile, "capacity": capacity, "points": points}))
            .into_response(),
    )
}

/// The operator console: one static page (no data in it; the token it is given fetches
/// everything from the calls above). Its scripts and styles are inline, nothing else loads.
async fn console() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
            ),
            (axum::http::header::X_FRAME_OPTIONS, "DENY"),
        ],
        include_str!("console.html"),
    )
        .into_response()
}
