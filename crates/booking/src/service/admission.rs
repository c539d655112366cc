//! Network-confirmed admission's use cases (`capacity.network_admission`): the network is
//! asked at create, after the operator's pools have room; its answer decides SCHEDULED or
//! declined, or the booking waits REQUESTED and is asked again by its timer; a warning from
//! the network moves the booking to another policy that still covers it, or revokes it; and
//! whatever the network holds is released when the booking ends.

use super::{Attempt, BookingService, CallbackProof, NetworkOutcome, same_secret};
use crate::admission::{Answer, Candidate, NetworkHold};
use crate::booking::{Booking, BookingId, BookingStatus, StatusInfo};
use crate::error::{Chain, Rejection, RejectionKind};
use crate::store::StoreError;
use crate::telemetry::NetworkCall;
use time::OffsetDateTime;
use tracing::{error, info, warn};

/// What a create does after asking the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asked {
    /// Go on: agreed, not asked (off), or waiting (the booking was made REQUESTED).
    Go,
    /// The network cannot carry it: the booking is declined.
    Refused,
}

impl BookingService {
    /// Asks the network about a new booking and records the answer in it: the agreed hold;
    /// REQUESTED with a retry time when the answer is not in yet; or `Refused` (the hold then
    /// says what the network offered instead).
    pub(super) async fn ask_network(&self, b: &mut Booking, now: OffsetDateTime) -> Asked {
        let Some(net) = &self.admission else {
            return Asked::Go;
        };
        match self.network(NetworkCall::Negotiate, b.id, net.negotiate(b)).await {
            Ok(Answer::Agreed(hold)) => {
                b.network_hold = Some(hold);
                Asked::Go
            }
            Ok(Answer::Refused(hold)) => {
                b.network_hold = Some(NetworkHold { refused: true, ..hold });
                Asked::Refused
            }
            Ok(Answer::Pending(hold)) => {
                b.network_hold = Some(hold);
                self.wait_for_network(b, now);
                Asked::Go
            }
            Err(e) if e.is_unavailable() => {
                // Its outcome is unknown: the hold without a resource makes the next try look
                // for what this one may have created, and the release for every one.
                warn!(booking.id = %b.id, error = %Chain(&e), "the network did not answer the booking's question; REQUESTED until it does");
                b.network_hold = Some(NetworkHold {
                    unanswered: true,
                    ..NetworkHold::default()
                });
                self.wait_for_network(b, now);
                Asked::Go
            }
            Err(e) => {
                // Refused as a request (auth, our body): declined, but not "cannot carry".
                warn!(booking.id = %b.id, error = %Chain(&e), "the network refused the booking's question; declined");
                b.network_hold = Some(NetworkHold::default());
                Asked::Refused
            }
        }
    }

    fn wait_for_network(&self, b: &mut Booking, now: OffsetDateTime) {
        b.status = BookingStatus::Requested;
        b.retry_at = Some(now + self.ask_delay(b, now));
    }

    /// When a waiting booking is asked about again: 4 x `retry_base` at first, then a tenth
    /// of how long it has waited, up to 5 minutes, so an outage does not make every waiting
    /// booking list the NEF's negotiations every few seconds.
    fn ask_delay(&self, b: &Booking, now: OffsetDateTime) -> time::Duration {
        let waited = now - b.created_at;
        (waited / 10_i32).clamp(self.backoff(2), time::Duration::minutes(5))
    }

    /// Answers a create the network cannot carry: stored TERMINATED with BOOKING_DECLINED
    /// (its hold says what was offered instead), nothing left held at the network.
    pub(super) async fn declined_by_network(
        &self,
        booking: Booking,
        now: OffsetDateTime,
    ) -> Result<Booking, Rejection> {
        let declined = booking
            .end(StatusInfo::BookingDeclined, now)
            .map_err(|e| Rejection::new(RejectionKind::Unavailable, e.to_string()))?;
        if let Err(e) = self.store_new(&declined).await {
            // Not stored (a conflict with another booking of the device, the store): nothing
            // will end it later, so its negotiation goes now.
            self.release_network(&declined).await;
            return Err(e);
        }
        if let Err(e) = self.released_or_retried(&declined).await {
            warn!(booking.id = %declined.id, error = %Chain(&e), "could not store the retry of the network's release");
        }
        info!(booking.id = %declined.id, client.id = %declined.owner.client_id, offered = ?declined.network_hold.as_ref().and_then(|h| h.offered), "booking declined: the network cannot carry it");
        Ok(declined)
    }

    /// Whether `b` waits for the network's answer (and the network is still asked).
    pub(super) fn awaits_network(&self, b: &Booking) -> bool {
        self.admission.is_some() && b.network_hold.as_ref().is_some_and(|h| !h.agreed())
    }

    /// Whether a pool `b` draws on waits for the operator's decision.
    fn waits_for_operator(&self, b: &Booking) -> bool {
        self.plan()
            .claims_for(b)
            .is_ok_and(|claims| claims.iter().any(|c| c.deferred))
    }

    /// A REQUESTED booking's timer while it waits for the network: asks again.
    pub(super) async fn ask_again(&self, b: Booking, now: OffsetDateTime) -> Result<(), StoreError> {
        let Some(net) = &self.admission else {
            return Ok(());
        };
        let answer = self.network(NetworkCall::Negotiate, b.id, net.negotiate(&b)).await;
        let before = b.network_hold.clone().unwrap_or_default();
        // What an earlier unanswered ask may have left stays to be looked for at the release.
        let kept = |hold: NetworkHold| NetworkHold {
            unanswered: hold.unanswered || before.unanswered,
            ..hold
        };
        match answer {
            Ok(Answer::Agreed(hold)) => self.network_agreed(&b, kept(hold), now).await,
            Ok(Answer::Refused(hold)) => {
                let hold = NetworkHold {
                    refused: true,
                    ..kept(hold)
                };
                self.network_declined(&b, Some(hold), now).await
            }
            Ok(Answer::Pending(hold)) => {
                let mut waiting = b.touched();
                waiting.network_hold = Some(kept(hold));
                waiting.retry_at = Some(now + self.ask_delay(&b, now));
                if !self.commit(&waiting, false).await? {
                    self.lost_to_a_change(&waiting).await;
                }
                Ok(())
            }
            Err(e) if e.is_unavailable() => {
                warn!(booking.id = %b.id, error = %Chain(&e), "the network still does not answer; asking again later");
                let mut waiting = b.touched();
                // Only an ask without a known negotiation POSTs, and may leave one behind.
                let unanswered = before.unanswered || before.subscription.is_none();
                waiting.network_hold = Some(NetworkHold { unanswered, ..before });
                waiting.retry_at = Some(now + self.ask_delay(&b, now));
                self.commit(&waiting, false).await.map(|_| ())
            }
            Err(e) => {
                // Refused as a request (auth, our body): declined, but not "cannot carry".
                warn!(booking.id = %b.id, error = %Chain(&e), "the network refused the booking's question; declined");
                self.network_declined(&b, Some(before), now).await
            }
        }
    }

    /// The network agreed to a waiting booking: SCHEDULED (its client told), or on to the
    /// operator when a pool it draws on is deferred.
    async fn network_agreed(&self, b: &Booking, hold: NetworkHold, now: OffsetDateTime) -> Result<(), StoreError> {
        let next = if self.waits_for_operator(b) {
            let mut waiting = b.touched();
            waiting.retry_at = self.has_decider().then_some(now);
            waiting
        } else {
            match b.decided(true, now) {
                Ok(d) => d,
                Err(_) => return Ok(()),
            }
        };
        let mut next = next;
        next.network_hold = Some(hold);
        let notify = next.status != b.status;
        if self.commit(&next, notify).await? {
            info!(booking.id = %b.id, status = next.status.as_str(), "the network agreed to the booking's window");
            if let (Some(wake), Some(due)) = (&self.timer_wake, self.due_of(&next)) {
                wake.due(due);
            }
        } else {
            self.lost_to_a_change(&next).await;
        }
        Ok(())
    }

    /// A write of `ours` (with what the network now holds) lost to a concurrent change (a
    /// delete, another replica's ask): unless the stored booking names the same negotiation
    /// and lives on, ours is released, so it is not left at the network unrecorded.
    async fn lost_to_a_change(&self, ours: &Booking) {
        let Some(sub) = ours.network_hold.as_ref().and_then(|h| h.subscription.clone()) else {
            return;
        };
        let stored = self.store.get(ours.id).await.ok().flatten();
        let kept = stored.as_ref().is_some_and(|s| {
            s.is_live() && s.network_hold.as_ref().and_then(|h| h.subscription.as_deref()) == Some(sub.as_str())
        });
        if !kept {
            let mut orphan = ours.clone();
            orphan.network_hold = Some(NetworkHold {
                subscription: Some(sub),
                ..NetworkHold::default()
            });
            self.release_network(&orphan).await;
        }
    }

    /// The network cannot carry a waiting booking: declined, its client told.
    async fn network_declined(
        &self,
        b: &Booking,
        hold: Option<NetworkHold>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Ok(mut declined) = b.end(StatusInfo::BookingDeclined, now) else {
            return Ok(());
        };
        declined.network_hold = hold;
        if self.commit(&declined, true).await? {
            info!(booking.id = %b.id, "the network cannot carry the booking's window; declined");
        } else {
            self.lost_to_a_change(&declined).await;
        }
        Ok(())
    }

    /// Releases what the network holds for an ended booking. A failure is retried by the
    /// booking's timer (its retry time); `true` when nothing is left to release.
    pub(super) async fn release_network(&self, b: &Booking) -> bool {
        let (Some(net), Some(_)) = (&self.admission, &b.network_hold) else {
            return true;
        };
        match self.network(NetworkCall::Release, b.id, net.release(b)).await {
            Ok(()) => true,
            Err(e) if e.is_unavailable() => {
                warn!(booking.id = %b.id, error = %Chain(&e), "could not release the network's hold; will retry");
                false
            }
            Err(e) => {
                warn!(booking.id = %b.id, error = %Chain(&e), "the network refused the release; treating the hold as gone");
                true
            }
        }
    }

    /// After an end is stored: releases the network's hold, or sets the ended booking's timer
    /// to try again (an ended booking's retry time means exactly that).
    pub(super) async fn released_or_retried(&self, ended: &Booking) -> Result<(), StoreError> {
        if self.release_network(ended).await {
            return Ok(());
        }
        let mut again = ended.touched();
        again.retry_at = Some(self.clock.now() + self.backoff(2));
        self.store.update(&again, self.due_of(&again), None).await.map(|_| ())
    }

    /// An ended booking's retry time: the release of the network's hold failed before. Tried
    /// until the record's retention ends; then given up (logged), and the record purged.
    pub(super) async fn release_again(&self, b: Booking) -> Result<(), StoreError> {
        let now = self.clock.now();
        let released = self.release_network(&b).await;
        let give_up = b.terminated_at.is_some_and(|t| now >= t + self.policy.retention);
        if !released && give_up {
            error!(booking.id = %b.id, "could not release the network's hold within the booking's retention; given up, it may stay at the NEF until its window passes");
        }
        let mut next = b.touched();
        next.retry_at = (!released && !give_up).then(|| now + self.backoff(3));
        if released {
            info!(booking.id = %b.id, "the network's hold released");
        }
        self.store.update(&next, self.due_of(&next), None).await.map(|_| ())
    }

    /// Takes the network's candidate policies for booking `id` (a PDTQ notification): for a
    /// booking waiting for the answer, the answer; for an agreed one, a warning that its
    /// policy cannot be honoured any more. The first candidate that covers what is left of
    /// the window is selected and the booking goes on; if none does, a waiting booking is
    /// declined and an agreed one revoked, its client told either way.
    pub async fn network_candidates(
        &self,
        id: BookingId,
        proof: CallbackProof<'_>,
        reference: Option<&str>,
        candidates: &[Candidate],
    ) -> Result<NetworkOutcome, StoreError> {
        if let CallbackProof::SharedSecret { given, expected } = proof
            && !same_secret(given, expected)
        {
            return Ok(NetworkOutcome::Unknown);
        }
        let Some(net) = &self.admission else {
            return Ok(NetworkOutcome::Unknown);
        };
        let busy = || StoreError::Unavailable {
            what: format!("booking {id} kept changing"),
            source: None,
        };
        let revoke = self
            .until_written(busy, || async move {
                let Some(b) = self.store.get(id).await? else {
                    return Ok(Attempt::Done(None));
                };
                if let CallbackProof::Token(t) = proof
                    && !same_secret(t, &b.callback_token)
                {
                    warn!(booking.id = %id, "PDTQ callback with a wrong token");
                    return Ok(Attempt::Done(None));
                }
                let Some(hold) = b.network_hold.clone() else {
                    return Ok(Attempt::Done(None));
                };
                if b.status == BookingStatus::Terminated {
                    return Ok(Attempt::Done(Some(false)));
                }
                // Only after an unanswered ask can another negotiation of this booking exist; a
                // NEF may also give a new reference on reselection, so otherwise none is checked.
                if hold.unanswered
                    && let (Some(theirs), Some(ours)) = (reference, &hold.reference_id)
                    && theirs != ours
                {
                    // Another negotiation's (one an unanswered ask left): not this booking's.
                    warn!(booking.id = %id, pdtq.reference = theirs, "PDTQ notification for another negotiation; ignored");
                    return Ok(Attempt::Done(Some(false)));
                }
                let now = self.clock.now();
                let from = now.max(b.start_time);
                let selected = self
                    .network(
                        NetworkCall::Negotiate,
                        id,
                        net.select(&b, reference, candidates, from, b.end_time()),
                    )
                    .await;
                match selected {
                    Ok(Some(new_hold)) if hold.agreed() => {
                        let new_hold = NetworkHold {
                            unanswered: hold.unanswered,
                            ..new_hold
                        };
                        if b.status == BookingStatus::Scheduled && b.attempts > 0 {
                            // An activation is in flight and holds the timer: a write now
                            // would move it. The network has the new selection; the stored
                            // one is only the older policy's id.
                            info!(booking.id = %id, "the network warned during the activation; another policy selected");
                            return Ok(Attempt::Done(Some(false)));
                        }
                        let mut moved = b.touched();
                        moved.network_hold = Some(new_hold);
                        if !self.commit(&moved, false).await? {
                            return Ok(Attempt::Lost);
                        }
                        info!(booking.id = %id, policy = ?moved.network_hold.as_ref().and_then(|h| h.policy), "the network warned; another policy covers the booking");
                        Ok(Attempt::Done(Some(false)))
                    }
                    Ok(Some(new_hold)) => {
                        let new_hold = NetworkHold {
                            unanswered: hold.unanswered,
                            ..new_hold
                        };
                        self.network_agreed(&b, new_hold, now).await?;
                        Ok(Attempt::Done(Some(false)))
                    }
                    Ok(None) if hold.agreed() => Ok(Attempt::Done(Some(true))),
                    Ok(None) => {
                        let offered = candidates.first().map(|c| c.window);
                        let refused = NetworkHold {
                            offered,
                            refused: true,
                            ..hold
                        };
                        self.network_declined(&b, Some(refused), now).await?;
                        Ok(Attempt::Done(Some(false)))
                    }
                    Err(e) if e.is_unavailable() => {
                        // Not now: the network sends its notification again.
                        Err(StoreError::Unavailable {
                            what: format!("could not select a candidate policy now: {e}"),
                            source: None,
                        })
                    }
                    Err(e) => {
                        // The network refused its own offer: as good as none (a waiting
                        // booking is asked again by its timer).
                        warn!(booking.id = %id, error = %Chain(&e), "the network refused the selection of its candidate");
                        Ok(Attempt::Done(Some(hold.agreed())))
                    }
                }
            })
            .await?;
        match revoke {
            None => Ok(NetworkOutcome::Unknown),
            Some(false) => Ok(NetworkOutcome::Noted),
            Some(true) => {
                // Revoked as the operator would: QoS in place removed first, a reservation's
                // devices with it; the hold is released when the end is stored.
                match self.revoke(id).await {
                    Ok(_) => {
                        warn!(booking.id = %id, "the network can no longer honour the booking; revoked");
                        Ok(NetworkOutcome::Ended)
                    }
                    // Not now (the store, or the QoS could not be removed): the network
                    // sends its warning again.
                    Err(e) if e.kind == RejectionKind::Unavailable => Err(StoreError::Unavailable {
                        what: e.message,
                        source: None,
                    }),
                    // Ended meanwhile.
                    Err(_) => Ok(NetworkOutcome::Noted),
                }
            }
        }
    }
}
