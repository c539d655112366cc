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

    /// The span name of the transition.
    pub fn span_name(self) -> &'static str {
        match self {
            Self::Start => "qos_booking start",
            Self::End => "qos_booking end",
            Self::Retry => "qos_booking retry",
            Self::Purge => "qos_booking purge",
        }
    }
}

/// A call through the `Southbound` port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkCall {
    Activate,
    Deactivate,
    Abandon,
    /// Network-confirmed admission: asking, selecting a policy, releasing it.
    Negotiate,
    Release,
}

impl NetworkCall {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Abandon => "abandon",
            Self::Negotiate => "negotiate",
            Self::Release => "release",
        }
    }

    /// The span name of the call (low cardinality, no identifiers).
    pub fn span_name(self) -> &'static str {
        match self {
            Self::Activate => "NEF activate",
            Self::Deactivate => "NEF deactivate",
            Self::Abandon => "NEF abandon",
            Self::Negotiate => "NEF PDTQ negotiate",
            Self::Release => "NEF PDTQ release",
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

/// A W3C trace context (trace id, parent span id, flags) kept with a booking: the request
/// that created it, so that its later transitions can link to that trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOrigin {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub flags: u8,
}

pub trait Telemetry: Send + Sync + 'static {
    /// A due timer fired `lag` after its due time.
    fn timer_fired(&self, _transition: Transition, _lag: Duration) {}
    /// A network call ended with `outcome` after `took`.
    fn network_call(&self, _call: NetworkCall, _outcome: CallOutcome, _took: Duration) {}
    /// The trace the current request belongs to, if traces are exported (kept with a new
    /// booking).
    fn current_trace(&self) -> Option<TraceOrigin> {
        None
    }
    /// Links `span` (a timer transition) to the trace of the request that created the booking.
    fn link(&self, _span: &tracing::Span, _origin: TraceOrigin) {}
}

/// Nobody listens.
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}
