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
    /// Bookings drawing on this capacity pool (an area).
    pub pool: Option<String>,
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
        let plan = self.plan();
        let keep = |b: &Booking| {
            filter.matches(b)
                && filter.pool.as_ref().is_none_or(|pool| {
                    plan.pools_of(b)
                        .contains(&crate::capacity::bucket(pool, &b.qos_profile))
                })
        };
        // All matches, then the earliest: the store's order is not the start order.
        let mut found = self.store.list(&keep, usize::MAX).await.map_err(super::unavailable)?;
        found.sort_by_key(|b| (b.start_time, b.id));
        found.truncate(limit);
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
            if approve && self.awaits_network(&b) {
                return Err(Rejection::new(
                    RejectionKind::Conflict,
                    format!("Booking {id} waits for the network's answer; it cannot be approved before"),
                ));
            }
            let decided = b.decided(approve, self.clock.now()).map_err(|_| {
                Rejection::new(
                    RejectionKind::Conflict,
                    format!("Booking {id} is {}, not REQUESTED", b.status.as_str()),
                )
            })?;
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

    /// Changes the capacity of `profile` in `pool` on every replica (`None`: back to the
    /// configured one). When live bookings exceed the new capacity at some instant, the
    /// latest created are revoked until they fit; returns those revoked.
    pub async fn set_capacity(
        &self,
        pool: &str,
        profile: &str,
        limit: Option<u32>,
    ) -> Result<Vec<BookingId>, Rejection> {
        let plan = self.plan();
        let bucket = crate::capacity::bucket(pool, profile);
        let Some(configured) = plan
            .pools
            .iter()
            .find(|p| p.name == pool)
            .and_then(|p| p.profiles.get(profile).copied())
        else {
            return Err(Rejection::new(
                RejectionKind::NotFound,
                format!("No pool {pool} with a capacity for {profile}"),
            ));
        };
        self.store
            .set_limit(pool, profile, limit)
            .await
            .map_err(super::unavailable)?;
        let capacity = limit.unwrap_or(configured);
        let in_pool = |b: &Booking| b.is_live() && b.qos_profile == profile && plan.pools_of(b).contains(&bucket);
        let mut live = self
            .store
            .list(&in_pool, usize::MAX)
            .await
            .map_err(super::unavailable)?;
        // The earliest created keep their place; a later one that no longer fits goes.
        live.sort_by_key(|b| (b.created_at, b.id));
        let now = self.clock.now();
        let ms = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let mut kept: Vec<(i64, i64, u32)> = Vec::new();
        let mut over = Vec::new();
        for b in live.iter().filter(|b| b.end_time() > now) {
            let (start, end, units) = (ms(b.start_time), ms(b.end_time()), b.capacity_units());
            if crate::capacity::fits(crate::capacity::peak(&kept, start, end), units, capacity) {
                kept.push((start, end, units));
            } else {
                over.push(b.id);
            }
        }
        // The latest first.
        over.reverse();
        let mut revoked = Vec::new();
        for id in over {
            match self.revoke(id).await {
                Ok(_) => revoked.push(id),
                // Ended (or purged) since it was read: it no longer holds capacity.
                Err(e) if matches!(e.kind, RejectionKind::Conflict | RejectionKind::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(revoked)
    }

    /// The booking calendar of one pool and profile: at each `step` from `from` until `to`,
    /// how many live bookings hold capacity then, and the capacity.
    pub async fn calendar(
        &self,
        pool: &str,
        profile: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        step: time::Duration,
    ) -> Result<(u32, Vec<(OffsetDateTime, u32)>), Rejection> {
        let capacity = self
            .capacities()
            .await?
            .into_iter()
            .find(|(p, q, _, _)| p == pool && q == profile)
            .map(|(_, _, configured, change)| change.unwrap_or(configured))
            .ok_or_else(|| {
                Rejection::new(
                    RejectionKind::NotFound,
                    format!("No pool {pool} with a capacity for {profile}"),
                )
            })?;
        let plan = self.plan();
        let bucket = crate::capacity::bucket(pool, profile);
        let in_pool = |b: &Booking| {
            b.is_live()
                && b.qos_profile == profile
                && b.end_time() > from
                && b.start_time < to
                && plan.pools_of(b).contains(&bucket)
        };
        let live = self
            .store
            .list(&in_pool, usize::MAX)
            .await
            .map_err(super::unavailable)?;
        let step = step.max(time::Duration::minutes(1));
        let mut points = Vec::new();
        let mut t = from;
        while t < to && points.len() < 10_000 {
            let n: u32 = live
                .iter()
                .filter(|b| b.start_time <= t && t < b.end_time())
                .map(Booking::capacity_units)
                .sum();
            points.push((t, n));
            match t.checked_add(step) {
                Some(next) => t = next,
                None => break,
            }
        }
        Ok((capacity, points))
    }

    /// Every pool's capacity per profile: (pool, profile, configured, operator's change).
    pub async fn capacities(&self) -> Result<Vec<(String, String, u32, Option<u32>)>, Rejection> {
        let changes = self.store.limits().await.map_err(super::unavailable)?;
        let mut out = Vec::new();
        for pool in &self.plan().pools {
            let mut profiles: Vec<_> = pool.profiles.iter().collect();
            profiles.sort();
            for (profile, n) in profiles {
                let change = changes
                    .iter()
                    .find(|(p, q, _)| p == &pool.name && q == profile)
                    .map(|c| c.2);
                out.push((pool.name.clone(), profile.clone(), *n, change));
            }
        }
        Ok(out)
    }

    /// Revokes a booking for the operator. A booking already ended is refused with 409.
    pub async fn revoke(&self, id: BookingId) -> Result<Booking, Rejection> {
        // A reservation ends with its devices' bookings (their places were its places).
        let ended = if self.load_any(id).await?.is_reservation() {
            self.end_reservation(id, StatusInfo::BookingRevoked).await?
        } else {
            self.end_on_request(None, id, StatusInfo::BookingRevoked).await?
        };
        ended.ok_or_else(|| Rejection::new(RejectionKind::Conflict, format!("Booking {id} has already ended")))
    }
}
