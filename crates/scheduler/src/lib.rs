//! The timer engine of one gateway replica. It claims due timers from the store in batches
//! and runs their transitions (`BookingService::fire`) concurrently, at most `max_in_flight`
//! at a time. Claims are short leases, renewed while their transition runs, so a replica that
//! dies loses its claims within one lease and another replica takes them over; on shutdown
//! the claims of work not finished are given back at once. Between batches the engine sleeps
//! until the earliest due time it knows of, and wakes sooner when a create on this replica
//! ([`Wake`], the domain's `TimerWake`) or on another (the store's notifications, fed to the
//! same [`Wake`]) sets an earlier timer; a slow safety poll covers a lost notification.
#![forbid(unsafe_code)]

use booking::{BookingId, BookingService, BookingStore, Chain, Clock, Lease, TimerWake};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How soon the engine claims again after the store failed to answer a claim (and the first
/// wait before a transition the store failed is run again).
const STORE_RETRY: Duration = Duration::from_millis(200);

/// Most runs of one claimed timer's transition when the store fails to answer.
const FIRE_ATTEMPTS: u32 = 4;
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, warn};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Most transitions running at once on this replica.
    pub max_in_flight: usize,
    /// Most timers claimed in one store call.
    pub claim_batch: usize,
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// Longest sleep without looking at the store (covers a lost wake-up).
    pub safety_poll: Duration,
    /// On stop, how long running transitions may finish; those still running then are
    /// cut off (an activation's recorded attempt lets the next replica adopt what it did)
    /// and their claims given back.
    pub shutdown_grace: Duration,
}

/// Wakes the engine when a timer sooner than the one it sleeps until is set.
#[derive(Default)]
pub struct Wake {
    earliest: Mutex<Option<OffsetDateTime>>,
    notify: Notify,
}

impl Wake {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// A timer is due at `at`.
    pub fn at(&self, at: OffsetDateTime) {
        let mut e = lock(&self.earliest);
        if e.is_none_or(|e| at < e) {
            *e = Some(at);
        }
        drop(e);
        self.notify.notify_one();
    }
    fn take(&self) -> Option<OffsetDateTime> {
        lock(&self.earliest).take()
    }
}

impl TimerWake for Wake {
    fn due(&self, at: OffsetDateTime) {
        self.at(at);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The claims this replica holds: booking -> the time its timer is claimed until.
#[derive(Default)]
struct Claims(Mutex<HashMap<BookingId, Held>>);

/// One claim this replica holds while its transition runs.
struct Held {
    /// The end of its lease, as the store holds it.
    until: OffsetDateTime,
    /// Claimed again while its transition ran (the booking's next timer, or a lapsed claim):
    /// the running task runs the transition once more before it lets the claim go.
    again: bool,
}

impl Claims {
    fn snapshot(&self) -> Vec<(BookingId, OffsetDateTime)> {
        lock(&self.0).iter().map(|(id, h)| (*id, h.until)).collect()
    }
}

/// One claim, as the running transition sees it.
struct Claim {
    id: BookingId,
    claims: Arc<Claims>,
    fallback: OffsetDateTime,
}

impl Lease for Claim {
    fn until(&self) -> OffsetDateTime {
        lock(&self.claims.0).get(&self.id).map_or(self.fallback, |h| h.until)
    }
}

pub struct Engine {
    service: Arc<BookingService>,
    store: Arc<dyn BookingStore>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    wake: Arc<Wake>,
    claims: Arc<Claims>,
}

fn span(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

impl Engine {
    pub fn new(service: Arc<BookingService>, clock: Arc<dyn Clock>, settings: EngineSettings, wake: Arc<Wake>) -> Self {
        Self {
            store: service.store().clone(),
            service,
            clock,
            settings,
            wake,
            claims: Arc::default(),
        }
    }

    /// Runs until `stop` turns true; then waits for the running transitions and gives back
    /// the claims of any that did not finish.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let lease = span(self.settings.lease);
        let permits = Arc::new(Semaphore::new(self.settings.max_in_flight.max(1)));
        let mut running = JoinSet::new();
        let renewer = AbortOnDrop(tokio::spawn(renew(
            self.store.clone(),
            self.clock.clone(),
            self.claims.clone(),
            self.settings.lease,
        )));
        loop {
            if *stop.borrow() {
                break;
            }
            while running.try_join_next().is_some() {}
            let free = permits.available_permits();
            let asked = free.min(self.settings.claim_batch.max(1));
            let mut got = 0;
            let mut store_failed = false;
            if asked > 0 {
                let now = self.clock.now();
                match self.store.claim_due(now, asked, lease).await {
                    Ok(ids) => {
                        got = ids.len();
                        for id in ids {
                            if let Some(held) = lock(&self.claims.0).get_mut(&id) {
                                // Still running here and claimed again (its earlier claim
                                // lapsed, or its next timer fell due): the running task takes
                                // the new claim and runs the transition once more, so that no
                                // second task runs beside it.
                                held.until = now + lease;
                                held.again = true;
                                continue;
                            }
                            let Ok(permit) = permits.clone().try_acquire_owned() else {
                                break;
                            };
                            lock(&self.claims.0).insert(
                                id,
                                Held {
                                    until: now + lease,
                                    again: false,
                                },
                            );
                            let claim = Claim {
                                id,
                                claims: self.claims.clone(),
                                fallback: now + lease,
                            };
                            let (service, clock) = (self.service.clone(), self.clock.clone());
                            let lease = self.settings.lease;
                            running.spawn(async move {
                                loop {
                                    fire_until_stored(&service, &*clock, lease, &claim).await;
                                    let mut held = lock(&claim.claims.0);
                                    match held.get_mut(&id) {
                                        Some(h) if h.again => h.again = false,
                                        _ => {
                                            held.remove(&id);
                                            break;
                                        }
                                    }
                                }
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        store_failed = true;
                        warn!(error = %Chain(&e), "claiming due timers failed");
                    }
                }
            }
            if asked > 0 && got == asked {
                continue; // more may be due: a backlog drains without sleeping
            }
            // Sleep until the next due time, a sooner timer, a free slot (when all were
            // busy), the safety poll, or the stop.
            let now = self.clock.now();
            // After a store failure: soon again, so that what fell due while the store was
            // away fires within moments of its return, not at the safety poll.
            let poll = if store_failed {
                self.settings.safety_poll.min(STORE_RETRY)
            } else {
                self.settings.safety_poll
            };
            let mut until = now + span(poll);
            if free > 0 && !store_failed {
                match self.store.next_due().await {
                    Ok(Some(next)) => until = until.min(next),
                    Ok(None) => {}
                    Err(e) => {
                        // A part of the store is away (a primary failing over): look again
                        // soon, not at the safety poll, for what its return makes due.
                        warn!(error = %Chain(&e), "reading the next due time failed");
                        until = until.min(now + span(STORE_RETRY));
                    }
                }
            }
            loop {
                let wait = (until - self.clock.now()).max(time::Duration::ZERO);
                let wait = Duration::try_from(wait).unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => break,
                    _ = self.wake.notify.notified() => {
                        match self.wake.take() {
                            Some(at) if at < until => until = at,
                            _ => {}
                        }
                    }
                    Some(_) = running.join_next(), if free == 0 => break,
                    changed = stop.changed() => {
                        if changed.is_err() {
                            // The stop signal's sender is gone: nobody can stop us any more.
                            return self.finish(running, renewer).await;
                        }
                        break;
                    }
                }
            }
        }
        self.finish(running, renewer).await;
    }

    /// Lets the running transitions finish within the shutdown grace (their claims renewed
    /// meanwhile), cuts off the rest, then gives back every claim still held, so another
    /// replica takes them at once rather than after the lease.
    async fn finish(&self, mut running: JoinSet<()>, renewer: AbortOnDrop) {
        let all = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.shutdown_grace, all).await.is_err() {
            warn!(
                running = running.len(),
                "shutdown: transitions still running were cut off; their claims are given back"
            );
            running.abort_all();
            while running.join_next().await.is_some() {}
        }
        drop(renewer);
        let left = self.claims.snapshot();
        if !left.is_empty()
            && let Err(e) = self.store.renew(&left, self.clock.now()).await
        {
            warn!(error = %Chain(&e), "giving back claims failed; they return when their lease ends");
        }
    }
}

/// Runs the transition of a claimed timer. When the store fails to answer (a Redis primary
/// failing over, a connection being repaired) it runs it again a moment later, instead of
/// leaving the timer to wait out its lease, but only while the claim holds: renewed, or (the
/// store still away) with half a lease left. A lapsed claim may be another replica's by
/// now, and two runs must never overlap. Runs one after another
/// are harmless (an activation records its attempt before the network call and asks the
/// network before trying again).
async fn fire_until_stored(service: &BookingService, clock: &dyn Clock, lease: Duration, claim: &Claim) {
    let (id, store) = (claim.id, service.store());
    let mut wait = STORE_RETRY;
    for attempt in 1..=FIRE_ATTEMPTS {
        let e = match service.fire(id, claim).await {
            Ok(()) => return,
            Err(e) => e,
        };
        if !matches!(e, booking::StoreError::Unavailable { .. }) || attempt == FIRE_ATTEMPTS {
            warn!(booking.id = %id, attempts = attempt, error = %Chain(&e), "timer transition failed; it will be retried after the lease");
            return;
        }
        debug!(booking.id = %id, attempt, error = %Chain(&e), "timer transition failed; trying again");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
        let (held, now) = (claim.until(), clock.now());
        let until = now + span(lease);
        let keep = match store.renew(&[(id, held)], until).await {
            Ok(renewed) if renewed.contains(&id) => {
                if let Some(h) = lock(&claim.claims.0).get_mut(&id) {
                    h.until = until;
                }
                true
            }
            // The renewer renewed it first (the stamp sent was already old).
            Ok(_) => claim.until() > held,
            // The store is still away: the claim stands as it was. Run again only with half
            // a lease left, as much as a first run starts with between two renewals.
            Err(_) => held - now >= span(lease / 2),
        };
        if !keep {
            warn!(booking.id = %id, attempts = attempt, error = %Chain(&e), "timer transition failed and its claim could not be renewed; it will be retried after the lease");
            return;
        }
    }
}

/// The renewer lives exactly as long as the engine's run, even when that run is dropped
/// (a crashed replica must stop renewing its claims).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the claims of running transitions every third of the lease.
async fn renew(store: Arc<dyn BookingStore>, clock: Arc<dyn Clock>, claims: Arc<Claims>, lease: Duration) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let held = claims.snapshot();
        if held.is_empty() {
            continue;
        }
        let until = clock.now() + span(lease);
        match store.renew(&held, until).await {
            Ok(renewed) => {
                let mut g = lock(&claims.0);
                for id in renewed {
                    if let Some(h) = g.get_mut(&id) {
                        h.until = until;
                    }
                }
                debug!(held = held.len(), "claims renewed");
            }
            Err(e) => warn!(error = %Chain(&e), "renewing claims failed"),
        }
    }
}

#[cfg(test)]
mod tests;
