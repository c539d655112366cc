//! The scheduler's use cases: claim due timers and run the transition each stands for (start:
//! activate at the NEF; end: remove; retry; purge after retention). Idempotent: the stored
//! booking decides what is left to do, so a timer redone after a crash does no harm.

use super::BookingService;
use crate::booking::{Booking, BookingId, BookingStatus, StatusInfo};
use crate::error::Chain;
use crate::store::StoreError;
use crate::telemetry::{NetworkCall, Transition};
use time::{Duration, OffsetDateTime};
use tracing::{Instrument, error, info, warn};

/// The claim on a due timer while its transition runs: until when the timer is reserved for
/// this replica. The scheduler renews it; an activation records its attempt with the timer
/// left at this time, so the renewals go on.
pub trait Lease: Send + Sync {
    fn until(&self) -> OffsetDateTime;
}

/// A claim that is never renewed (one pass of [`BookingService::run_due`]).
pub struct FixedLease(pub OffsetDateTime);

impl Lease for FixedLease {
    fn until(&self) -> OffsetDateTime {
        self.0
    }
}

impl BookingService {
    /// One scheduler pass, one timer after another: claims the due timers and runs their
    /// transitions. Returns how many timers were handled. Errors of single bookings are
    /// logged, not returned: their timers come back after the lease. (The gateway's
    /// scheduler claims and runs them concurrently; tests drive time with this.)
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let lease = FixedLease(now + self.policy.lease);
        let ids = self
            .store
            .claim_due(now, self.policy.claim_batch, self.policy.lease)
            .await?;
        for id in &ids {
            self.fire_logged(*id, &lease).await;
        }
        Ok(ids.len())
    }

    /// [`Self::fire`], its error logged: the timer comes back when its claim ends.
    pub async fn fire_logged(&self, id: BookingId, lease: &dyn Lease) {
        if let Err(e) = self.fire(id, lease).await {
            warn!(booking.id = %id, error = %Chain(&e), "timer transition failed; it will be retried after the lease");
        }
    }

    /// Runs the transition a claimed timer stands for.
    pub async fn fire(&self, id: BookingId, lease: &dyn Lease) -> Result<(), StoreError> {
        let Some(b) = self.store.get(id).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        let transition = match self.due_of(&b) {
            Some(due) if due <= now => {
                let transition = match b.status {
                    _ if b.retry_at.is_some() => Transition::Retry,
                    BookingStatus::Activated => Transition::End,
                    BookingStatus::Terminated => Transition::Purge,
                    _ => Transition::Start,
                };
                let lag = std::time::Duration::try_from(now - due).unwrap_or_default();
                self.telemetry.timer_fired(transition, lag);
                transition
            }
            due => {
                // Claimed early (clock skew between replicas): put the timer back.
                self.store.update(&b.touched(), due, None).await?;
                return Ok(());
            }
        };
        // A root span per transition, linked to the trace of the request that created the
        // booking (a link, not a parent: that trace ended long ago).
        let span = tracing::info_span!(
            parent: None,
            "qos_booking.transition",
            otel.name = transition.span_name(),
            qos_booking.id = %id,
            qos_booking.transition = transition.as_str(),
        );
        if let Some(origin) = b.origin {
            self.telemetry.link(&span, origin);
        }
        self.transition(b, now, lease).instrument(span).await
    }

    async fn transition(&self, b: Booking, now: OffsetDateTime, lease: &dyn Lease) -> Result<(), StoreError> {
        let id = b.id;
        let delete_requested = b.status_info == Some(StatusInfo::DeleteRequested);
        if delete_requested
            && matches!(b.status, BookingStatus::Requested | BookingStatus::Scheduled)
            && !b.is_reservation()
        {
            // An async delete of a booking not yet active: it ends now, and no subscription
            // of an unconfirmed attempt stays at the network.
            if self.end_unactivated(&b, &b, StatusInfo::DeleteRequested, now).await? {
                info!(booking.id = %id, "booking deleted before its activation");
            }
            return Ok(());
        }
        match b.status {
            BookingStatus::Requested => {
                if b.retry_at.is_some() && now < b.start_time && self.awaits_network(&b) {
                    return self.ask_again(b, now).await;
                }
                if b.retry_at.is_some()
                    && now < b.start_time
                    && let Some((decider, approve_by_default)) = &self.decider
                {
                    // The operator's policy service decides; no answer: the default.
                    let approve = decider.decide(&b).await.unwrap_or(*approve_by_default);
                    let decided = b.decided(approve, now).ok();
                    if let Some(d) = decided
                        && self.commit(&d, true).await?
                    {
                        info!(booking.id = %id, approved = approve, "requested booking decided by policy");
                        if let (Some(wake), Some(due)) = (&self.timer_wake, self.due_of(&d)) {
                            wake.due(due);
                        }
                    }
                    return Ok(());
                }
                if b.retry_at.is_some() && now < b.start_time {
                    // Asked of a policy service no longer configured: the operator decides,
                    // until the start.
                    let mut waiting = b.touched();
                    waiting.retry_at = None;
                    self.commit(&waiting, false).await?;
                    return Ok(());
                }
                // Nobody decided before the start: declined (its capacity goes back).
                if let Ok(declined) = b.end(StatusInfo::BookingDeclined, now)
                    && self.commit(&declined, true).await?
                {
                    info!(booking.id = %id, "undecided booking declined at its start");
                }
                Ok(())
            }
            BookingStatus::Scheduled if b.is_reservation() => {
                // A reservation holds no subscription: its devices activate themselves.
                if let Ok(open) = b.opened(now.max(b.start_time))
                    && self.commit(&open, true).await?
                {
                    info!(booking.id = %id, "reservation window opened");
                }
                Ok(())
            }
            BookingStatus::Scheduled => self.activate(b, now, lease).await,
            BookingStatus::Activated => self.expire(b, now).await,
            BookingStatus::Terminated if b.retry_at.is_some() => self.release_again(b).await,
            BookingStatus::Terminated => {
                if b.purgeable(now, self.policy.retention).is_ok() {
                    info!(booking.id = %id, "booking purged after retention");
                    self.store.remove(id).await?;
                }
                Ok(())
            }
        }
    }

    /// A booking that ends without having been activated, after activation attempts whose
    /// outcome is unknown: make sure no subscription of it stays at the NEF.
    pub(super) async fn abandon_attempts(&self, b: &Booking) {
        if b.has_unconfirmed_attempts()
            && let Err(e) = self
                .network(NetworkCall::Abandon, b.id, self.southbound.abandon(b))
                .await
        {
            warn!(booking.id = %b.id, error = %Chain(&e), "could not check the NEF for a subscription of an unconfirmed attempt");
        }
    }

    pub(super) fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1_i32 << attempts.min(6);
        (self.policy.retry_base * factor).min(Duration::minutes(1))
    }

    /// Stores `b` ended with `reason` (and its event); then makes sure no subscription of an
    /// unconfirmed attempt of `attempted` stays at the NEF.
    async fn end_unactivated(
        &self,
        b: &Booking,
        attempted: &Booking,
        reason: StatusInfo,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let Ok(ended) = b.end(reason, now) else {
            return Ok(false);
        };
        let done = self.commit(&ended, true).await?;
        if done {
            self.abandon_attempts(attempted).await;
        }
        Ok(done)
    }

    async fn activate(&self, b: Booking, now: OffsetDateTime, lease: &dyn Lease) -> Result<(), StoreError> {
        if now >= b.end_time() {
            // The whole window passed while no replica ran: too late to give any QoS.
            if self.end_unactivated(&b, &b, StatusInfo::BookingRevoked, now).await? {
                warn!(booking.id = %b.id, "booking window passed before activation");
            }
            return Ok(());
        }
        // Record the attempt before calling the NEF: if this replica dies after its POST, the
        // replica that takes the timer over sees a started attempt and looks for the
        // subscription before creating another.
        // The timer stays at the claim's time, so the scheduler's renewals keep it claimed
        // while the NEF answers.
        let Ok(intent) = b.begin_attempt(self.southbound.attempt_marker(&b)) else {
            return Ok(());
        };
        if !self.store.update(&intent, Some(lease.until()), None).await? {
            return Ok(());
        }
        match self
            .network(NetworkCall::Activate, intent.id, self.southbound.activate(&intent))
            .await
        {
            Ok(location) => {
                // Sent ahead of the start (the activation lead): active from the start.
                let Ok(active) = intent.activated(location.clone(), now.max(b.start_time)) else {
                    return Ok(());
                };
                if self.commit(&active, true).await? {
                    info!(booking.id = %b.id, nef.subscription = %location, "booking activated");
                } else {
                    // The booking changed meanwhile (deleted): do not leave the subscription.
                    warn!(booking.id = %b.id, "booking changed during activation; removing the new subscription");
                    if let Err(e) = self
                        .network(NetworkCall::Deactivate, b.id, self.southbound.deactivate(&location))
                        .await
                    {
                        warn!(booking.id = %b.id, error = %Chain(&e), "could not remove the orphan subscription");
                    }
                }
                Ok(())
            }
            Err(e) if e.is_unavailable() && now < b.start_time + self.policy.retry_deadline => {
                let Ok(again) = intent.retry(now + self.backoff(b.attempts)) else {
                    return Ok(());
                };
                warn!(booking.id = %b.id, error = %Chain(&e), attempt = again.attempts, "activation failed; will retry");
                self.commit(&again, false).await.map(|_| ())
            }
            Err(e) => {
                // This attempt's outcome is unknown unless the NEF refused it.
                let attempted = if e.is_unavailable() { &intent } else { &b };
                if self
                    .end_unactivated(&intent, attempted, StatusInfo::BookingRevoked, now)
                    .await?
                {
                    warn!(booking.id = %b.id, error = %Chain(&e), "activation refused; booking revoked");
                }
                Ok(())
            }
        }
    }

    async fn expire(&self, b: Booking, now: OffsetDateTime) -> Result<(), StoreError> {
        if let Some(sub) = &b.nef_subscription {
            match self
                .network(NetworkCall::Deactivate, b.id, self.southbound.deactivate(sub))
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_unavailable() && now < b.end_time() + self.policy.retry_deadline => {
                    let Ok(again) = b.retry(now + self.backoff(b.attempts)) else {
                        return Ok(());
                    };
                    warn!(booking.id = %b.id, error = %Chain(&e), attempt = again.attempts, "removal failed; will retry");
                    return self.commit(&again, false).await.map(|_| ());
                }
                Err(e) => {
                    error!(booking.id = %b.id, nef.subscription = %sub, error = %Chain(&e),
                        "could not remove the NEF subscription; ending the booking anyway");
                }
            }
        }
        // A delete accepted earlier (async mode) ends as the client asked; else the time is up.
        let reason = match b.status_info {
            Some(StatusInfo::DeleteRequested) => StatusInfo::DeleteRequested,
            _ => StatusInfo::DurationExpired,
        };
        if let Ok(ended) = b.end(reason, now)
            && self.commit(&ended, true).await?
        {
            info!(booking.id = %b.id, status_info = reason.as_str(), "booking ended");
        }
        Ok(())
    }
}
