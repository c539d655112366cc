//! What every operation of every API shares: the state the routes run with, the request's
//! caller and its first checks (scope and rate), the JSON body (limits, media type, nulls of
//! known properties), the `bookingId` path parameter, the sink host check and the 405 answer.
//! The routes of each API (`routes.rs`, `assignment.rs`, `profiles.rs`) build on it.

use crate::auth::{Authenticator, RequestContext};
use crate::correlator::Correlator;
use crate::error::ApiError;
use crate::limits::{Operation, RateLimits};
use crate::parse::{self, ParseOptions};
use crate::version::Version;
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use booking::{BookingId, BookingService, Clock, Rejection, RejectionKind};
use serde_json::Value;
use std::sync::Arc;

/// What every handler reads, behind one pointer: axum clones the state for every request,
/// and five shared counters bumped and dropped per request (on both cores' caches) showed
/// in the profile.
#[derive(Clone)]
pub struct ApiState(Arc<ApiParts>);

impl ApiState {
    pub fn new(parts: ApiParts) -> Self {
        Self(Arc::new(parts))
    }
    /// The same state answering in `version`.
    pub fn with_version(&self, version: Version) -> Self {
        Self::new(ApiParts {
            version,
            ..(*self.0).clone()
        })
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiParts;
    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

#[derive(Clone)]
pub struct ApiParts {
    pub service: Arc<BookingService>,
    pub auth: Arc<Authenticator>,
    pub clock: Arc<dyn Clock>,
    pub parse: Arc<ParseOptions>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    pub limits: Arc<RateLimits>,
    /// Deadline of one request, body upload included (504 TIMEOUT after it).
    pub request_timeout: std::time::Duration,
    /// The API version a route answers in (set by [`crate::router`] for each base path).
    pub version: Version,
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Reads a JSON body: 413 over the limit, 400 when empty, malformed or naming a key twice, 415
/// when not JSON.
pub async fn json_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, ApiError> {
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
    crate::json::from_slice(&bytes).map_err(|e| ApiError::invalid_argument(format!("Malformed JSON body: {e}")))
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
