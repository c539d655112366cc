//! What the use cases tell the operator's telemetry: how late each timer fired and how each
//! call to the network went. A port like the others: the gateway turns it into metrics; the
//! domain only reports, and by default nobody listens.

use std::time::Duration;

/// The transition a due timer stood for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Start,
    End,
    Retry,
    Purge,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::End => "end",
            Self::Retry => "retry",
            Self::Purge => "purge",
        }
    }
}

/// A call through the `Southbound` port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkCall {
    Activate,
    Deactivate,
    Abandon,
}

impl NetworkCall {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Abandon => "abandon",
        }
    }
}

/// How a network call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    Ok,
    Rejected,
    Unavailable,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Unavailable => "unavailable",
        }
    }
}

pub trait Telemetry: Send + Sync + 'static {
    /// A due timer fired `lag` after its due time.
    fn timer_fired(&self, _transition: Transition, _lag: Duration) {}
    /// A network call ended with `outcome` after `took`.
    fn network_call(&self, _call: NetworkCall, _outcome: CallOutcome, _took: Duration) {}
}

/// Nobody listens.
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}
