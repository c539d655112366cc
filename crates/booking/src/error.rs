//! Why a request is refused, in the domain's words. `camara-api` maps each kind to exactly one
//! CAMARA `{status, code}` pair; the message travels unchanged to the client.

/// The reasons a use case can refuse a request. One kind per CAMARA error code the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    InvalidArgument,
    OutOfRange,
    DurationOutOfRange,
    InvalidCredential,
    InvalidToken,
    InvalidSink,
    PermissionDenied,
    NotFound,
    IdentifierNotFound,
    Conflict,
    MissingIdentifier,
    UnnecessaryIdentifier,
    UnsupportedIdentifier,
    ServiceNotApplicable,
    NotManagedAreaType,
    InvalidArea,
    AreaNotCovered,
    ProfileNotApplicable,
    QuotaExceeded,
    /// A dependency (store, NEF) is down; the caller may retry.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct Rejection {
    pub kind: RejectionKind,
    pub message: String,
}

impl Rejection {
    pub fn new(kind: RejectionKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::InvalidArgument, message)
    }
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::OutOfRange, message)
    }
}
