//! The four operations of `qos-booking.yaml` in each published version (the same handlers;
//! the version picks the wire shape), plus CAMARA-shaped 404/405/413/415 answers.

use crate::auth::{Authenticator, RequestContext, scopes};
use crate::correlator::Correlator;
use crate::error::ApiError;
use crate::limits::{Operation, RateLimits};
use crate::parse::{self, ParseOptions};
use crate::version::Version;
use crate::wire::BookingInfo;
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use booking::{BookingId, BookingService, Clock, Rejection, RejectionKind};
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone)]
pub struct ApiState {
    pub service: Arc<BookingService>,
    pub auth: Arc<Authenticator>,
    pub clock: Arc<dyn Clock>,
    pub parse: Arc<ParseOptions>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    pub limits: Arc<RateLimits>,
    /// Deadline of one request, body upload included (504 TIMEOUT after it).
    pub request_timeout: std::time::Duration,
    /// The API version a route answers in (set by [`router`] for each base path).
    pub version: Version,
}

/// The booking API under each of `base_paths` in its version (e.g. `/qos-booking/v0.2` and
/// `/qos-booking/vwip` as v0.2, `/qos-booking/v0.1` as v0.1) and the QoS Profiles API under
/// each of `profile_paths`, and the QoS Booking and Assignment API under each of
/// `assignment_paths`.
pub fn router(
    state: ApiState,
    base_paths: &[(String, Version)],
    profile_paths: &[String],
    assignment_paths: &[String],
) -> Router {
    let deadline = state.request_timeout;
    let profiles = crate::profiles::routes(state.clone());
    let assignment = crate::assignment::routes(state.clone());
    let mut app = Router::new();
    for (base, version) in base_paths {
        let state = ApiState {
            version: *version,
            ..state.clone()
        };
        app = app.nest(base, booking_routes(state));
    }
    for base in profile_paths {
        app = app.nest(base, profiles.clone());
    }
    for base in assignment_paths {
        app = app.nest(base, assignment.clone());
    }
    // The deadline sits inside the x-correlator layer, so a 504 still echoes the correlator.
    app.fallback(not_found)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(deadline, next.run(req)).await {
                    Ok(res) => res,
                    Err(_) => ApiError::from(Rejection::new(
                        RejectionKind::Timeout,
                        "The request took too long to complete",
                    ))
                    .into_response(),
                }
            },
        ))
        .layer(axum::middleware::from_fn(crate::correlator::layer))
}

/// The four operations and the OpenAPI file of one version.
fn booking_routes(state: ApiState) -> Router {
    Router::new()
        .route("/device-qos-bookings", post(create).fallback(method_not_allowed))
        .route(
            "/device-qos-bookings/{bookingId}",
            get(get_booking).delete(delete_booking).fallback(method_not_allowed),
        )
        .route(
            "/retrieve-device-qos-bookings",
            post(retrieve).fallback(method_not_allowed),
        )
        .route("/openapi.yaml", get(openapi).fallback(method_not_allowed))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("No such resource")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn openapi(State(st): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], st.version.openapi()).into_response()
}

/// Reads a JSON body: 413 over the limit, 400 when empty or malformed, 415 when not JSON.
pub(crate) async fn json_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_argument("A JSON request body is required"));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_argument(format!("Malformed JSON body: {e}")))
}

/// The JSON body, with `null`s of known properties dropped when so configured.
pub(crate) async fn body_of(st: &ApiState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let mut v = json_body(headers, body, st.body_limit).await?;
    if st.parse.null_as_absent {
        parse::drop_nulls(&mut v);
    }
    Ok(v)
}

pub(crate) fn booking_id(raw: &str) -> Result<BookingId, ApiError> {
    BookingId::parse(raw).ok_or_else(|| ApiError::invalid_argument("bookingId must be a UUID"))
}

/// The sink's host must resolve only to acceptable addresses (checked again at every
/// delivery, as DNS can change); after the body's own checks, as CAMARA orders them.
pub(crate) async fn check_sink_host(st: &ApiState, sink: Option<&str>) -> Result<(), ApiError> {
    if let Some(sink) = sink {
        st.parse.sink.check(sink).await.map_err(|why| {
            ApiError::from(Rejection::new(
                RejectionKind::InvalidSink,
                format!("'sink' is not acceptable: {why}"),
            ))
        })?;
    }
    Ok(())
}

impl RequestContext {
    /// The scope `scope` and the client's rate for `op`: what every operation checks first.
    pub(crate) fn admit(&self, st: &ApiState, scope: &str, op: Operation) -> Result<(), ApiError> {
        self.require(scope)?;
        st.limits.check(op, &self.caller.client_id)
    }
}

async fn create(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::CREATE, Operation::Create)?;
    let body = body_of(&st, &headers, body).await?;
    let mut new = parse::create_booking(&body, st.clock.now(), &st.parse, st.version)?;
    new.dialect = st.version.dialect();
    check_sink_host(&st, new.sink.as_deref()).await?;
    let booking = st.service.create(&ctx.caller, new).await.map_err(|r| {
        // r1.2 has no QOS_PROFILE_NOT_APPLICABLE: a profile that cannot be booked is, to its
        // clients, not a valid `qosProfile`.
        if r.kind == RejectionKind::ProfileNotApplicable && !st.version.has_profile_not_applicable() {
            Rejection::new(RejectionKind::InvalidArgument, r.message)
        } else {
            r
        }
    })?;
    Ok((
        StatusCode::CREATED,
        Json(BookingInfo::at(&booking, st.clock.now(), st.version)),
    )
        .into_response())
}

async fn get_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::READ, Operation::Read)?;
    let booking = st.service.get(&ctx.caller, booking_id(&id)?).await?;
    Ok(Json(BookingInfo::at(&booking, st.clock.now(), st.version)).into_response())
}

async fn delete_booking(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::DELETE, Operation::Delete)?;
    match st.service.delete(&ctx.caller, booking_id(&id)?).await? {
        booking::Deleted::Done => Ok(StatusCode::NO_CONTENT.into_response()),
        booking::Deleted::Accepted(b) => Ok((
            StatusCode::ACCEPTED,
            Json(BookingInfo::at(&b, st.clock.now(), st.version)),
        )
            .into_response()),
    }
}

async fn retrieve(
    State(st): State<ApiState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ctx.admit(&st, scopes::RETRIEVE, Operation::Retrieve)?;
    let body = body_of(&st, &headers, body).await?;
    let device = parse::retrieve_booking(&body, &st.parse)?;
    let bookings = st.service.retrieve(&ctx.caller, device).await?;
    let now = st.clock.now();
    Ok(Json(
        bookings
            .iter()
            .map(|b| BookingInfo::at(b, now, st.version))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// The caller of a request: its bearer token verified (401/403 as CAMARA says), and whether
/// its x-correlator is well-formed.
impl FromRequestParts<ApiState> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = crate::auth::bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("A bearer access token is required"))?;
        let (caller, scopes) = state.auth.authenticate(token).await?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(caller.client_id.clone());
        }
        let correlator_valid = !matches!(parts.extensions.get::<Correlator>(), Some(Correlator::Invalid));
        Ok(Self {
            caller,
            scopes,
            correlator_valid,
        })
    }
}

/// Put into a request's extensions by the layer that logs the request: the authenticated
/// API client's id is written into it, so the request's log line can name the client.
#[derive(Clone, Default)]
pub struct CallerSlot(pub Arc<std::sync::OnceLock<String>>);
