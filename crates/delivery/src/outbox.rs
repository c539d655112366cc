//! The outbox worker: CloudEvents delivery from the durable outbox. A worker claims bookings with undelivered
//! events (leased, like timers), delivers each booking's events in order (retrying with
//! backoff under the same event `id`, `send.rs`), and acknowledges each event once delivered
//! or refused for good. A crash or restart delivers what was pending; a 410 from a sink stops
//! delivery to that sink. Each sink has a bounded share of the worker (`gate.rs`); a freed
//! slot is refilled at once, not at the next poll.

use crate::acks::Acks;
use crate::gate::{Admit, Gate, Gates};
use crate::resolve::GuardedResolver;
use crate::send::deliver;
use crate::shared::{DeliveryOutcome, DeliverySettings, DeliveryTelemetry, EventFormat, Shared, Wake};
use crate::tokens::PrivateKeyJwtTokens;
use booking::{BookingId, BookingStore, Chain, Clock, EventAck, Notifier, SinkPolicy, StatusEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tracing::warn;

#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
        let per_sink = settings.per_sink.max(1);
        let gates = Gates::new(
            per_sink,
            (settings.concurrency / 4).max(per_sink * 2),
            settings.initial_backoff,
        );
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
            gates,
            wake: Wake::default(),
            acks: Acks::new(),
        };
        Ok(Self {
            shared: Arc::new(shared),
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
        self.shared.wake.clone()
    }

    /// True while deliveries are running in this process.
    pub fn busy(&self) -> bool {
        self.shared.slots.available_permits() < self.shared.settings.concurrency.max(1)
    }

    /// Gives the claims of deliveries still running back to the other replicas (at exit,
    /// after the grace period): they deliver the rest at once, with the same event ids,
    /// instead of after the lease.
    pub async fn give_back(&self) {
        let left: Vec<EventAck> = lock(&self.shared.inflight)
            .iter()
            .map(|booking| EventAck {
                booking: *booking,
                event_id: String::new(),
                release: true,
            })
            .collect();
        if left.is_empty() {
            return;
        }
        match self.shared.store.ack_events(&left).await {
            Ok(given) if given.iter().all(|g| *g) => {}
            Ok(given) => {
                let kept = given.iter().filter(|g| !**g).count();
                warn!(
                    claims = kept,
                    "could not give back some event claims; they return after their lease"
                );
            }
            Err(e) => {
                warn!(claims = left.len(), error = %Chain(&e), "could not give back the event claims; they return after their lease")
            }
        }
    }

    /// Claims and delivers until told to stop. Unfinished work stays in the outbox.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let s = &self.shared.settings;
        self.shared.acks.start(self.shared.store.clone());
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
                        let mut later = Vec::new();
                        for (booking, events) in claimed {
                            // Claimed again while this replica still delivers it (a claim
                            // whose answer was taken for lost): the delivery under way
                            // acknowledges it; a second one would send its events twice.
                            if lock(&self.shared.inflight).contains(&booking) {
                                continue;
                            }
                            let sink = events.first().map(|e| e.sink.as_str()).unwrap_or_default();
                            let gate = match self.shared.gates.admit(sink) {
                                Admit::Go(gate) => gate,
                                Admit::Defer(wait) => {
                                    later.push((booking, wait));
                                    continue;
                                }
                            };
                            let Ok(permit) = self.shared.slots.clone().acquire_owned().await else {
                                return;
                            };
                            let shared = self.shared.clone();
                            lock(&shared.inflight).insert(booking);
                            tokio::spawn(async move {
                                deliver_all(&shared, booking, events, &gate).await;
                                gate.release();
                                lock(&shared.inflight).remove(&booking);
                                drop(permit);
                                // The freed slot is refilled now, not at the next poll.
                                shared.wake.wake();
                            });
                        }
                        if !later.is_empty() {
                            // Handed back in one call, off the claim loop: a claim of many
                            // bookings of a backed-off sink does not hold up the others.
                            let shared = self.shared.clone();
                            tokio::spawn(async move { defer(&shared, &later).await });
                        }
                    }
                    Err(e) => warn!(error = %Chain(&e), "could not read the event outbox"),
                }
            }
            tokio::select! {
                _ = self.shared.wake.0.notified() => {
                    // Wake-ups come in bursts (one per delivery done): a claim takes them all.
                    tokio::time::sleep(CLAIM_GAP).await;
                }
                _ = tokio::time::sleep(s.poll_interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// When an event that could not be sent now is tried again, if its sink is not backed off.
const RETRY_LATER: Duration = Duration::from_secs(1);

/// The shortest time between two claims of one worker.
const CLAIM_GAP: Duration = Duration::from_millis(2);

/// Hands bookings' claims back to the outbox, each due again after its wait.
async fn defer(shared: &Shared, bookings: &[(BookingId, Duration)]) {
    let now = shared.clock.now();
    let at: Vec<_> = bookings
        .iter()
        .map(|(b, wait)| {
            (
                *b,
                now + time::Duration::try_from(*wait).unwrap_or(time::Duration::SECOND),
            )
        })
        .collect();
    if let Err(e) = shared.store.defer_events(&at).await {
        // Still claimed: they come back after the lease.
        warn!(bookings = at.len(), error = %Chain(&e), "could not defer bookings' events");
    }
}

async fn deliver_all(shared: &Shared, booking: BookingId, events: Vec<StatusEvent>, gate: &Gate) {
    let last = events.len().saturating_sub(1);
    for (i, ev) in events.iter().enumerate() {
        let Ok(_in_flight) = gate.permits.acquire().await else {
            return;
        };
        // Backed off while this one waited: handed back (in order) for after the backoff.
        if let Some(wait) = gate.blocked_for() {
            defer(shared, &[(booking, wait)]).await;
            return;
        }
        if deliver(shared, ev, gate).await == DeliveryOutcome::Deferred {
            // Kept, with the ones after it (in order): claimed again after the sink's backoff.
            defer(shared, &[(booking, gate.blocked_for().unwrap_or(RETRY_LATER))]).await;
            return;
        }
        let ack = EventAck {
            booking,
            event_id: ev.id.clone(),
            release: i == last,
        };
        if !shared.acks.ack(ack).await {
            // Not acknowledged: it is delivered again after the lease (same id).
            warn!(booking.id = %booking, event.id = %ev.id, "could not acknowledge an event");
            return;
        }
    }
}
