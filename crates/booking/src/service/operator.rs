//! The operator's use cases (the admin API): find bookings across clients, inspect one, and
//! revoke one (TERMINATED/BOOKING_REVOKED: its NEF subscription removed when active, its
//! capacity given back, its client notified).

use super::BookingService;
use crate::booking::{Booking, BookingId, BookingStatus, StatusInfo};
use crate::error::{Rejection, RejectionKind};
use time::OffsetDateTime;

/// What the operator looks for; every field unset matches everything.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub client_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub qos_profile: Option<String>,
    /// Bookings whose window overlaps `[from, to)`.
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

impl BookingFilter {
    pub fn matches(&self, b: &Booking) -> bool {
        self.client_id.as_ref().is_none_or(|c| &b.owner.client_id == c)
            && self.status.is_none_or(|s| b.status == s)
            && self.qos_profile.as_ref().is_none_or(|p| &b.qos_profile == p)
            && self.from.is_none_or(|f| b.end_time() > f)
            && self.to.is_none_or(|t| b.start_time < t)
    }
}

impl BookingService {
    /// Up to `limit` bookings matching `filter`, earliest start first.
    pub async fn find(&self, filter: &BookingFilter, limit: usize) -> Result<Vec<Booking>, Rejection> {
        let keep = |b: &Booking| filter.matches(b);
        let mut found = self.store.list(&keep, limit).await.map_err(super::unavailable)?;
        found.sort_by_key(|b| (b.start_time, b.id));
        Ok(found)
    }

    /// One booking, whoever owns it.
    pub async fn inspect(&self, id: BookingId) -> Result<Booking, Rejection> {
        self.load_any(id).await
    }

    /// Approves a REQUESTED booking: SCHEDULED, its client told. Anything else: 409.
    pub async fn approve(&self, id: BookingId) -> Result<Booking, Rejection> {
        self.decide(id, true).await
    }

    /// Declines a REQUESTED booking: TERMINATED/BOOKING_DECLINED, its capacity given back,
    /// its client told. Anything else: 409.
    pub async fn decline_requested(&self, id: BookingId) -> Result<Booking, Rejection> {
        self.decide(id, false).await
    }

    async fn decide(&self, id: BookingId, approve: bool) -> Result<Booking, Rejection> {
        let busy = || Rejection::new(RejectionKind::Unavailable, "The booking is changing; try again");
        self.until_written(busy, || async move {
            let b = self.load_any(id).await?;
            if b.status != BookingStatus::Requested {
                return Err(Rejection::new(
                    RejectionKind::Conflict,
                    format!("Booking {id} is {}, not REQUESTED", b.status.as_str()),
                ));
            }
            let decided = if approve {
                let mut s = b.touched();
                s.status = BookingStatus::Scheduled;
                s
            } else {
                b.end(StatusInfo::BookingDeclined, self.clock.now())
                    .map_err(|e| Rejection::new(RejectionKind::Conflict, e.to_string()))?
            };
            if !self.commit(&decided, true).await.map_err(super::unavailable)? {
                return Ok(super::Attempt::Lost);
            }
            if approve && let (Some(wake), Some(due)) = (&self.timer_wake, self.due_of(&decided)) {
                wake.due(due);
            }
            Ok(super::Attempt::Done(decided))
        })
        .await
    }

    /// Revokes a booking for the operator. A booking already ended is refused with 409.
    pub async fn revoke(&self, id: BookingId) -> Result<Booking, Rejection> {
        self.end_on_request(None, id, StatusInfo::BookingRevoked)
            .await?
            .ok_or_else(|| Rejection::new(RejectionKind::Conflict, format!("Booking {id} has already ended")))
    }
}
