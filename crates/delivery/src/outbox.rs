//! The outbox worker: CloudEvents delivery from the durable outbox. A worker claims bookings with undelivered
//! events (leased, like timers), delivers each booking's events in order (retrying with
//! backoff under the same event `id`), and acknowledges each event once delivered or refused
//! for good. A crash or restart delivers what was pending; a 410 from a sink stops delivery
//! to that sink.

use crate::resolve::GuardedResolver;
use crate::tokens::{PrivateKeyJwtTokens, TokenError};
use booking::{BookingId, BookingStore, Chain, Clock, Notifier, SinkCredential, SinkPolicy, StatusEvent};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{Instrument, info, warn};

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub timeout: Duration,
    /// How often the outbox is polled when nothing woke the worker.
    pub poll_interval: Duration,
    /// How long one replica holds a booking's events before another may deliver them.
    pub lease: time::Duration,
    /// Bookings delivered to at the same time.
    pub concurrency: usize,
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
    /// Not sent now: left in the outbox for a later claim.
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
pub struct Wake(Arc<Notify>);

impl Notifier for Wake {
    fn wake(&self) {
        self.0.notify_one();
    }
}

struct Shared {
    client: reqwest::Client,
    settings: DeliverySettings,
    store: Arc<dyn BookingStore>,
    gone: Mutex<HashSet<String>>,
    slots: Arc<Semaphore>,
    policy: SinkPolicy,
    clock: Arc<dyn Clock>,
    format: Arc<dyn EventFormat>,
    /// Tokens for PRIVATE_KEY_JWT sinks, when the gateway has onboarding records.
    tokens: std::sync::OnceLock<Arc<PrivateKeyJwtTokens>>,
    telemetry: std::sync::OnceLock<Arc<dyn DeliveryTelemetry>>,
    /// Bookings whose events this replica claimed and is delivering.
    inflight: Mutex<HashSet<BookingId>>,
}

impl Shared {
    fn telemetry(&self) -> &dyn DeliveryTelemetry {
        self.telemetry.get().map_or(&NoTelemetry, |t| &**t)
    }
}

#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
    wake: Wake,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

impl Outbox {
    pub fn new(
        settings: DeliverySettings,
        store: Arc<dyn BookingStore>,
        clock: Arc<dyn Clock>,
        policy: SinkPolicy,
        format: Arc<dyn EventFormat>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // Redirects are not followed (one could lead to an internal address), and every
            // name is resolved through the sink policy, at every delivery.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
            .build()?;
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let shared = Shared {
            client,
            settings,
            store,
            gone: Mutex::default(),
            slots,
            policy,
            clock,
            format,
            tokens: std::sync::OnceLock::new(),
            telemetry: std::sync::OnceLock::new(),
            inflight: Mutex::default(),
        };
        Ok(Self {
            shared: Arc::new(shared),
            wake: Wake::default(),
        })
    }

    /// Obtains the tokens of PRIVATE_KEY_JWT sinks from `tokens` (the first one given wins).
    pub fn with_tokens(self, tokens: Arc<PrivateKeyJwtTokens>) -> Self {
        let _ = self.shared.tokens.set(tokens);
        self
    }

    /// Reports deliveries to `telemetry` (the first one given wins).
    pub fn with_telemetry(self, telemetry: Arc<dyn DeliveryTelemetry>) -> Self {
        let _ = self.shared.telemetry.set(telemetry);
        self
    }

    /// The handle the booking service wakes the worker with.
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    /// True while deliveries are running in this process.
    pub fn busy(&self) -> bool {
        self.shared.slots.available_permits() < self.shared.settings.concurrency.max(1)
    }

    /// Gives the claims of deliveries still running back to the other replicas (at exit,
    /// after the grace period): they deliver the rest at once, with the same event ids,
    /// instead of after the lease.
    pub async fn give_back(&self) {
        let left: Vec<BookingId> = lock(&self.shared.inflight).iter().copied().collect();
        for booking in left {
            if let Err(e) = self.shared.store.ack_event(booking, "", true).await {
                warn!(booking.id = %booking, error = %Chain(&e), "could not give back an event claim; it returns after its lease");
            }
        }
    }

    /// Claims and delivers until told to stop. Unfinished work stays in the outbox.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let s = &self.shared.settings;
        loop {
            let limit = self.shared.slots.available_permits();
            if limit > 0 {
                match self
                    .shared
                    .store
                    .claim_events(self.shared.clock.now(), limit, s.lease)
                    .await
                {
                    Ok(claimed) => {
                        for (booking, events) in claimed {
                            let Ok(permit) = self.shared.slots.clone().acquire_owned().await else {
                                return;
                            };
                            let shared = self.shared.clone();
                            lock(&shared.inflight).insert(booking);
                            tokio::spawn(async move {
                                deliver_all(&shared, booking, events).await;
                                lock(&shared.inflight).remove(&booking);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => warn!(error = %Chain(&e), "could not read the event outbox"),
                }
            }
            tokio::select! {
                _ = self.wake.0.notified() => {}
                _ = tokio::time::sleep(s.poll_interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

async fn deliver_all(shared: &Shared, booking: BookingId, events: Vec<StatusEvent>) {
    let last = events.len().saturating_sub(1);
    for (i, ev) in events.iter().enumerate() {
        if deliver(shared, ev).await == DeliveryOutcome::Deferred {
            // Kept, with the ones after it (in order): claimed again after the lease.
            return;
        }
        if let Err(e) = shared.store.ack_event(booking, &ev.id, i == last).await {
            // Not acknowledged: it is delivered again after the lease (same id).
            warn!(booking.id = %booking, event.id = %ev.id, error = %Chain(&e), "could not acknowledge an event");
            return;
        }
    }
}

/// Delivers one event in a span of its own (its trace context goes to the sink).
async fn deliver(shared: &Shared, ev: &StatusEvent) -> DeliveryOutcome {
    let span = tracing::info_span!(
        parent: None,
        "qos_booking.deliver",
        otel.name = "CloudEvent deliver",
        otel.kind = "producer",
        qos_booking.id = %ev.booking_id,
        cloudevents.event_id = %ev.id,
        qos_booking.outcome = tracing::field::Empty,
    );
    let outcome = deliver_one(shared, ev).instrument(span.clone()).await;
    span.record("qos_booking.outcome", outcome.as_str());
    if !matches!(
        outcome,
        DeliveryOutcome::Delivered | DeliveryOutcome::Skipped | DeliveryOutcome::Deferred
    ) {
        shared.telemetry().delivery(outcome);
    }
    outcome
}

/// Delivers one event, retrying transient failures. Returns when the event is done with:
/// delivered, refused for good, or out of attempts.
async fn deliver_one(shared: &Shared, ev: &StatusEvent) -> DeliveryOutcome {
    if shared.gone.lock().unwrap_or_else(|p| p.into_inner()).contains(&ev.sink) {
        return DeliveryOutcome::Gone;
    }
    // The rules that need no lookup (an IP literal does not go through the resolver); names
    // are checked by the guarded resolver at connect time.
    if let Err(why) = shared.policy.check_url(&ev.sink) {
        warn!(booking.id = %ev.booking_id, sink = %ev.sink, reason = %why, "sink not allowed; event not delivered");
        return DeliveryOutcome::Failed;
    }
    let body = match shared.format.render(ev, &*shared.store).await {
        Rendered::Send(body) => body,
        Rendered::Skip => return DeliveryOutcome::Skipped,
        Rendered::Later => return DeliveryOutcome::Deferred,
    };
    let mut backoff = shared.settings.initial_backoff;
    for attempt in 1..=shared.settings.max_attempts {
        let mut req = shared
            .client
            .post(&ev.sink)
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json")
            .header("x-correlator", &ev.id)
            .body(body.clone());
        let mut trace = reqwest::header::HeaderMap::new();
        shared.telemetry().inject(&mut trace);
        req = req.headers(trace);
        let retry = match authorized(shared, ev, req, attempt).await {
            Err(outcome) => return outcome,
            // No token yet (its authorization server failed): worth another attempt.
            Ok(None) => true,
            Ok(Some(req)) => match req.send().await {
                Ok(res) if res.status().is_success() => {
                    info!(booking.id = %ev.booking_id, event.id = %ev.id, status = ev.status.as_str(), "event delivered");
                    shared.telemetry().delivery(DeliveryOutcome::Delivered);
                    return DeliveryOutcome::Delivered;
                }
                Ok(res) if res.status() == reqwest::StatusCode::GONE => {
                    warn!(booking.id = %ev.booking_id, sink = %ev.sink, "sink answered 410 Gone; no more events to it");
                    shared
                        .gone
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(ev.sink.clone());
                    return DeliveryOutcome::Gone;
                }
                Ok(res) => {
                    let s = res.status();
                    warn!(booking.id = %ev.booking_id, event.id = %ev.id, http.status = s.as_u16(), attempt, "sink refused the event");
                    // A token of our own making the sink no longer takes (revoked, rotated key):
                    // a fresh one is worth another attempt.
                    let fetched_token = match (&ev.credential, shared.tokens.get()) {
                        (Some(SinkCredential::PrivateKeyJwt { client_id }), Some(tokens))
                            if s == reqwest::StatusCode::UNAUTHORIZED =>
                        {
                            tokens.invalidate(client_id).await;
                            true
                        }
                        _ => false,
                    };
                    fetched_token
                        || s.is_server_error()
                        || s == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || s == reqwest::StatusCode::REQUEST_TIMEOUT
                }
                Err(e) => {
                    warn!(booking.id = %ev.booking_id, event.id = %ev.id, error = %Chain(&e), attempt, "event delivery failed");
                    true
                }
            },
        };
        if !retry {
            return DeliveryOutcome::Failed;
        }
        if attempt < shared.settings.max_attempts {
            shared.telemetry().delivery(DeliveryOutcome::Retried);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    warn!(booking.id = %ev.booking_id, event.id = %ev.id, "event dropped after the last attempt");
    DeliveryOutcome::Failed
}

/// `req` with the event's credential: the client's access token, or a token obtained for a
/// PRIVATE_KEY_JWT sink. `Ok(None)`: no token for now (try again); `Err`: never deliverable.
async fn authorized(
    shared: &Shared,
    ev: &StatusEvent,
    req: reqwest::RequestBuilder,
    attempt: u32,
) -> Result<Option<reqwest::RequestBuilder>, DeliveryOutcome> {
    match &ev.credential {
        None => Ok(Some(req)),
        Some(SinkCredential::AccessToken(cred)) => {
            if cred.expires_at <= shared.clock.now() {
                warn!(booking.id = %ev.booking_id, "sink access token expired; event not delivered");
                return Err(DeliveryOutcome::Failed);
            }
            Ok(Some(req.bearer_auth(&cred.access_token)))
        }
        Some(SinkCredential::PrivateKeyJwt { client_id }) => {
            let Some(tokens) = shared.tokens.get() else {
                warn!(booking.id = %ev.booking_id, "no PRIVATE_KEY_JWT token source; event not delivered");
                return Err(DeliveryOutcome::Failed);
            };
            match tokens.token(client_id).await {
                Ok(token) => Ok(Some(req.bearer_auth(token))),
                Err(TokenError::Permanent(why)) => {
                    warn!(booking.id = %ev.booking_id, client.id = %client_id, reason = %why, "no sink token; event not delivered");
                    Err(DeliveryOutcome::Failed)
                }
                Err(TokenError::Transient(why)) => {
                    warn!(booking.id = %ev.booking_id, client.id = %client_id, reason = %why, attempt, "no sink token yet");
                    Ok(None)
                }
            }
        }
    }
}
