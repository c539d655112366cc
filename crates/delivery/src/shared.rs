//! What the outbox worker and a single delivery share: the settings, the outcome of an
//! attempt, the telemetry and event-format ports, the worker's waker, and the state both read
//! (`Shared`). Kept apart from `outbox.rs` and `send.rs` so that neither depends on the other
//! for its vocabulary.

use crate::acks::Acks;
use crate::gate::Gates;
use crate::tokens::PrivateKeyJwtTokens;
use booking::{BookingId, BookingStore, Clock, Notifier, SinkPolicy, StatusEvent};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub timeout: Duration,
    /// How often the outbox is polled when nothing woke the worker.
    pub poll_interval: Duration,
    /// How long one replica holds a booking's events before another may deliver them.
    pub lease: time::Duration,
    /// Bookings whose events one replica holds (is delivering) at the same time.
    pub concurrency: usize,
    /// A sink that keeps failing gets an event until it is this old; then it is dropped.
    pub give_up_after: time::Duration,
    /// Requests in flight to one sink (scheme, host and port) at the same time. One sink
    /// holds at most a quarter of `concurrency` (or twice this, if more) claimed bookings.
    pub per_sink: usize,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    /// The sink took the event (2xx).
    Delivered,
    /// A transient failure; the event goes again.
    Retried,
    /// Given up: refused (4xx), not allowed, credential expired or out of attempts.
    Failed,
    /// The sink answered 410 Gone; nothing more is sent to it.
    Gone,
    /// Not sent: the booking's API has no event for this change.
    Skipped,
    /// Not sent now: left in the outbox for a later claim (its sink backed off, or what it
    /// tells of could not be read).
    Deferred,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Failed => "failed",
            Self::Gone => "gone",
            Self::Skipped => "skipped",
            Self::Deferred => "deferred",
        }
    }
}

/// What the outbox tells the operator's telemetry, and the trace context its requests carry.
pub trait DeliveryTelemetry: Send + Sync {
    fn delivery(&self, _outcome: DeliveryOutcome) {}
    /// Adds the current trace context (W3C `traceparent`) to a delivery request.
    fn inject(&self, _headers: &mut reqwest::header::HeaderMap) {}
}

struct NoTelemetry;
impl DeliveryTelemetry for NoTelemetry {}

/// Wakes the delivery worker when the service stored new events.
#[derive(Clone, Default)]
pub struct Wake(pub(crate) Arc<Notify>);

impl Notifier for Wake {
    fn wake(&self) {
        self.0.notify_one();
    }
}

pub(crate) struct Shared {
    pub(crate) client: reqwest::Client,
    pub(crate) settings: DeliverySettings,
    pub(crate) store: Arc<dyn BookingStore>,
    pub(crate) gone: Mutex<HashSet<String>>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) policy: SinkPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) format: Arc<dyn EventFormat>,
    /// Tokens for PRIVATE_KEY_JWT sinks, when the gateway has onboarding records.
    pub(crate) tokens: std::sync::OnceLock<Arc<PrivateKeyJwtTokens>>,
    pub(crate) telemetry: std::sync::OnceLock<Arc<dyn DeliveryTelemetry>>,
    /// Bookings whose events this replica claimed and is delivering.
    pub(crate) inflight: Mutex<HashSet<BookingId>>,
    pub(crate) gates: Gates,
    /// Wakes the worker: new events stored, or a slot freed.
    pub(crate) wake: Wake,
    pub(crate) acks: Acks,
}

impl Shared {
    pub(crate) fn telemetry(&self) -> &dyn DeliveryTelemetry {
        self.telemetry.get().map_or(&NoTelemetry, |t| &**t)
    }
}

/// How an event becomes the CloudEvent a sink receives (the API layer knows each API's
/// shapes; the gateway supplies it).
#[async_trait::async_trait]
pub trait EventFormat: Send + Sync {
    /// The CloudEvents JSON body of `ev`. `store`: where what the event tells of (its
    /// booking now) can be read.
    async fn render(&self, ev: &StatusEvent, store: &dyn BookingStore) -> Rendered;
}

/// What [`EventFormat::render`] made of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// The body to send.
    Send(String),
    /// Its API has no event for this change: acknowledged without sending.
    Skip,
    /// Not now (what it tells of could not be read): left in the outbox, tried again.
    Later,
}
