//! Why a request is refused, in the domain's words, and the errors of the ports. `camara-api`
//! maps each [`RejectionKind`] to exactly one CAMARA `{status, code}` pair; the message travels
//! unchanged to the client. Port errors keep their cause ([`std::error::Error::source`]), and
//! [`Chain`] prints the whole chain on one log line.

use std::error::Error;
use std::fmt;

/// A boxed cause, as the ports' errors carry it.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// The reasons a use case can refuse a request. One kind per CAMARA error code the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    InvalidArgument,
    OutOfRange,
    DurationOutOfRange,
    InvalidCredential,
    InvalidToken,
    InvalidSink,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    IdentifierNotFound,
    Conflict,
    /// The resource is already there (a device already assigned to the reservation).
    AlreadyExists,
    /// The resource's state does not allow the operation (a reservation ended, or full).
    IncompatibleState,
    /// The operator cannot honour the request: a capacity pool it draws on is full in its
    /// window (a reservation's synchronous refusal; a booking is declined instead).
    NoCapacity,
    MissingIdentifier,
    UnnecessaryIdentifier,
    UnsupportedIdentifier,
    ServiceNotApplicable,
    NotManagedAreaType,
    InvalidArea,
    AreaNotCovered,
    ProfileNotApplicable,
    QuotaExceeded,
    /// Too many requests of this client for one operation; retry after the given seconds.
    TooManyRequests {
        retry_after: u64,
    },
    /// A dependency (store, NEF) is down; the caller may retry.
    Unavailable,
    /// The request did not finish within its deadline.
    Timeout,
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

/// Displays an error and every `source()` below it, `outer: inner: innermost`: one log line
/// that says why, not only what.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_prints_every_cause() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(Chain(&e).to_string(), "outer: inner");
    }
}
