//! What a call to a network function (NEF, PCF, NRF, BSF) can end in, with its cause kept
//! for the log line.

use crate::types::ProblemDetails;

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SbiError {
    /// A 4xx: the network function refused the request; resending it will not help.
    #[error("refused ({status}): {message}")]
    Rejected {
        status: u16,
        problem: Option<Box<ProblemDetails>>,
        message: String,
    },
    /// Network error, timeout, 5xx or overload: the outcome may be unknown; try later. A 5xx
    /// keeps its status and `ProblemDetails` (a PCF's 500 `PDU_SESSION_NOT_AVAILABLE` means
    /// the device is not attached).
    #[error("unavailable: {what}")]
    Unavailable {
        what: String,
        status: Option<u16>,
        problem: Option<Box<ProblemDetails>>,
        #[source]
        source: Option<Cause>,
    },
}

impl SbiError {
    pub fn unavailable(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Unavailable {
            what: what.into(),
            status: None,
            problem: None,
            source: Some(source.into()),
        }
    }
    /// Unavailable with no underlying error (a bad answer, an overload status).
    pub fn gave_up(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            status: None,
            problem: None,
            source: None,
        }
    }
    /// The `cause` of the producer's `ProblemDetails`, if it sent one.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::Rejected { problem, .. } | Self::Unavailable { problem, .. } => problem.as_deref()?.cause.as_deref(),
        }
    }
    /// The HTTP status the producer answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } => Some(*status),
            Self::Unavailable { status, .. } => *status,
        }
    }
}
