//! What a NEF call can end in, with its cause kept for the log line.

use crate::types::ProblemDetails;

type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum NefError {
    /// A 4xx: the NEF refused the request; resending it will not help.
    #[error("NEF refused ({status}): {message}")]
    Rejected {
        status: u16,
        problem: Option<Box<ProblemDetails>>,
        message: String,
    },
    /// Network error, timeout, 5xx or overload: the outcome may be unknown; try later.
    #[error("NEF unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        source: Option<Cause>,
    },
}

impl NefError {
    pub(crate) fn unavailable(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: Some(source.into()),
        }
    }
    /// Unavailable with no underlying error (a bad answer, an overload status).
    pub(crate) fn gave_up(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: None,
        }
    }
}
