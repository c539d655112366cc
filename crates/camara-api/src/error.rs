//! The single mapping from refusals to CAMARA `ErrorInfo` responses: every `{status, code}`
//! the API answers with is decided in this file, by `From<Rejection>` for the domain's
//! refusals and by the constructors below for the HTTP-level ones (404 route, 405, 413, 415,
//! 401/403 of authentication).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use booking::{Rejection, RejectionKind};
use serde::Serialize;

/// A CAMARA error: `status` equals the HTTP status, `code` is from the API's enumerations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 and 503).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        // ErrorInfo.message has maxLength 512.
        if message.len() > 512 {
            let mut cut = 509;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        Self {
            status,
            code,
            message,
            retry_after: None,
        }
    }
    /// An error with a code of one API's own enumeration.
    pub(crate) fn with_code(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, code, message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "UNAUTHENTICATED", message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(403, "PERMISSION_DENIED", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }
    pub fn method_not_allowed() -> Self {
        Self::new(405, "METHOD_NOT_ALLOWED", "The method is not allowed on this resource")
    }
    /// 413 has no code in CAMARA Commonalities; this one follows the HTTP reason phrase.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("The request body exceeds {limit} bytes"),
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "The request body must be application/json",
        )
    }
    pub fn internal() -> Self {
        Self::new(500, "INTERNAL", "An unexpected error occurred")
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        use RejectionKind as K;
        let (status, code) = match r.kind {
            K::InvalidArgument => (400, "INVALID_ARGUMENT"),
            K::OutOfRange => (400, "OUT_OF_RANGE"),
            K::DurationOutOfRange => (400, "QOS_BOOKING.DURATION_OUT_OF_RANGE"),
            K::InvalidCredential => (400, "INVALID_CREDENTIAL"),
            K::InvalidToken => (400, "INVALID_TOKEN"),
            K::InvalidSink => (400, "INVALID_SINK"),
            K::PermissionDenied => (403, "PERMISSION_DENIED"),
            K::NotFound => (404, "NOT_FOUND"),
            K::IdentifierNotFound => (404, "IDENTIFIER_NOT_FOUND"),
            K::Conflict => (409, "CONFLICT"),
            K::AlreadyExists => (409, "ALREADY_EXISTS"),
            K::IncompatibleState | K::NoCapacity => (409, "INCOMPATIBLE_STATE"),
            K::MissingIdentifier => (422, "MISSING_IDENTIFIER"),
            K::UnnecessaryIdentifier => (422, "UNNECESSARY_IDENTIFIER"),
            K::UnsupportedIdentifier => (422, "UNSUPPORTED_IDENTIFIER"),
            K::ServiceNotApplicable => (422, "SERVICE_NOT_APPLICABLE"),
            K::NotManagedAreaType => (422, "QOS_BOOKING.NOT_MANAGED_AREA_TYPE"),
            K::InvalidArea => (422, "QOS_BOOKING.INVALID_AREA"),
            K::AreaNotCovered => (422, "QOS_BOOKING.AREA_NOT_COVERED"),
            K::ProfileNotApplicable => (422, "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE"),
            K::Unauthenticated => (401, "UNAUTHENTICATED"),
            K::QuotaExceeded => (429, "QUOTA_EXCEEDED"),
            K::TooManyRequests { .. } => (429, "TOO_MANY_REQUESTS"),
            K::Unavailable => (503, "UNAVAILABLE"),
            K::Timeout => (504, "TIMEOUT"),
        };
        let mut e = Self::new(status, code, r.message);
        e.retry_after = match r.kind {
            K::TooManyRequests { retry_after } => Some(retry_after),
            K::Unavailable => Some(1),
            _ => None,
        };
        e
    }
}

/// The CAMARA error code of an error response, kept in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let code = ErrorCode(self.code);
        let mut res = (status, Json(self)).into_response();
        // For the metrics layer (refusals by reason), which sees only the response.
        res.extensions_mut().insert(code);
        if let Some(secs) = retry_after {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        res
    }
}
