//! The storage port. Every implementation keeps the booking record, its device index and its
//! due timer consistent with one another in each call, and must pass the shared test suite in
//! the `store` crate.

use crate::booking::{Booking, BookingId, Owner};
use crate::capacity::PoolClaim;
use crate::clients::ClientRecord;
use crate::error::BoxError;
use crate::notify::StatusEvent;
use crate::usage::{LeaseGrant, LedgerEntry, LedgerPosition};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// Why a store call failed, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached in time; the caller may retry later.
    #[error("store unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A stored record could not be read back; a bug or a foreign writer.
    #[error("store record unreadable: {what}")]
    Corrupt {
        what: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    pub fn unavailable(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: Some(source.into()),
        }
    }
    pub fn corrupt(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// A live booking of the same client shares a device key and overlaps in time.
    Conflict(BookingId),
}

/// The conflict rule, stated once: `candidate` conflicts with `existing` when both are live,
/// they belong to the same client, share a device key, and their windows overlap (a window is
/// `[start, start + duration)`, so back-to-back bookings do not overlap). The memory store
/// calls this; the Redis script `lua/create.lua` restates it over index entries, and the
/// store suite's `the_conflict_rule_is_the_same_on_every_store` proves both agree.
pub fn overlaps(existing: &Booking, candidate: &Booking) -> bool {
    existing.is_live()
        && existing.owner.client_id == candidate.owner.client_id
        && existing.device_keys.iter().any(|k| candidate.device_keys.contains(k))
        && existing.overlaps(candidate.start_time, candidate.duration)
}

#[async_trait]
pub trait BookingStore: Send + Sync + 'static {
    /// A fresh id for a booking of `owner` on a device with these index keys. A sharded store
    /// picks one that lands in the shard of the owner's device, so that the conflict check and
    /// the insert stay one atomic step and `get` finds the shard from the id alone.
    fn new_id(&self, _owner: &Owner, _device_keys: &[String]) -> BookingId {
        BookingId::new()
    }

    /// Stores a new booking, its timer and its first event, unless it conflicts (see
    /// [`overlaps`]); the check and the insert are one atomic step.
    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError>;

    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError>;

    /// Every booking (of any client) indexed under one of `device_keys`.
    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError>;

    /// Replaces the booking if the stored version is `booking.version - 1`, sets its timer to
    /// `due` (none: no timer) and appends `event` to the booking's outbox, all in one step.
    /// Returns false when the stored version differs (a concurrent change won) or the booking
    /// is gone; then nothing was written.
    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError>;

    /// Removes the booking, its index entries and its timer.
    async fn remove(&self, id: BookingId) -> Result<(), StoreError>;

    /// Claims up to `limit` timers due at `now`. A claimed timer is pushed to `now + lease`,
    /// so it is not handed out again unless the claimer fails to store its transition within
    /// the lease (a crashed replica's work is then redone).
    async fn claim_due(&self, now: OffsetDateTime, limit: usize, lease: Duration)
    -> Result<Vec<BookingId>, StoreError>;

    /// Moves each claimed timer that is still at the time it was claimed until (`claims`:
    /// booking, that time) to `until`: a later `until` keeps the claims of running work, `now`
    /// gives them back. A timer that changed meanwhile (its transition was stored) is left
    /// alone. Returns the bookings whose timer moved.
    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError>;

    /// The earliest pending timer, for the scheduler to know how long it may sleep.
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Claims up to `limit` bookings with undelivered events, each with its events in order.
    /// As with timers, a claim holds for `lease`; the claimer acknowledges each event it is
    /// done with, and unacknowledged events come back when the lease ends. A store may make
    /// several calls of a bounded size for a large `limit`; each booking is in the answer
    /// once.
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError>;

    /// Removes a delivered (or finally refused) event from the booking's outbox. `release`:
    /// the claimer is done with its claim, so events added since are due at once. An
    /// `event_id` that names no event (e.g. empty) with `release` only gives the claim back
    /// (a replica shutting down hands its unfinished deliveries over).
    async fn ack_event(&self, booking: BookingId, event_id: &str, release: bool) -> Result<(), StoreError> {
        let ack = EventAck {
            booking,
            event_id: event_id.to_owned(),
            release,
        };
        match self.ack_events(std::slice::from_ref(&ack)).await?.first() {
            Some(true) => Ok(()),
            _ => Err(StoreError::Unavailable {
                what: "the acknowledgement was not stored".into(),
                source: None,
            }),
        }
    }

    /// [`Self::ack_event`] for many events (of one booking or many), applied in order: one
    /// call for a replica's many deliveries instead of one each. A store may split them
    /// (per shard, in calls of a bounded size). The answer tells, for each in order, whether
    /// it was stored; `Err`: none was.
    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError>;

    /// The part of the store that holds `booking`'s events, for callers that batch calls
    /// ([`Self::ack_events`]) to batch per part: a part that stops answering (a Redis
    /// primary failing over) then holds up only its own bookings. One part by default.
    fn part_of(&self, _booking: BookingId) -> usize {
        0
    }

    /// Gives claims of bookings' events back, each to be claimed again (by any replica) from
    /// its time on: its sink is backing off or busy. Nothing happens to a booking with no
    /// events left. `Err`: some may not have been given back (they return after the lease).
    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError>;

    /// How many live (not TERMINATED) bookings the client holds (the per-client quota).
    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError>;

    /// Whether the backend answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Bookings by status and bookings with undelivered events, as every replica sees them
    /// (metrics).
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Reserves capacity for booking `id` over `[start, end)` in every pool of `claims`, all
    /// or nothing, in one atomic step: refused (returning the pool) when a pool would then
    /// hold more than its limit at some instant of the window. Reservations whose window
    /// ended before `now` no longer count and are dropped.
    async fn reserve(
        &self,
        claims: &[PoolClaim],
        id: BookingId,
        start: OffsetDateTime,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;

    /// Sets (or, with `None`, clears) the operator's capacity for `profile` in `pool`, which
    /// wins over the configured one on every replica.
    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError>;

    /// The operator's capacity changes: (pool, profile, capacity).
    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError>;

    /// Stores (or, with `None` for `client_id`'s record, removes) an API client's onboarding
    /// record, which wins over a configured one of the same client on every replica.
    async fn set_client(&self, client_id: &str, record: Option<&ClientRecord>) -> Result<(), StoreError>;

    /// The onboarding records stored with [`Self::set_client`].
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError>;

    /// Gives `id`'s capacity back in `pools` (a delete, an end, a failed create).
    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError>;

    /// Up to `limit` stored bookings (with a timer: every booking but a REQUESTED one) that
    /// `keep` accepts, for the operator. Reads every record it passes: an operator's tool,
    /// not a client path.
    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError>;

    // The usage ledger (`crate::usage`). `create` and `update` append an entry, in the same
    // atomic step, whenever they store a booking for which `usage::ledger_worthy` holds and
    // whose stored status was another (so a booking stored again unchanged adds none).

    /// How many ledgers the store keeps (one per shard), numbered from 0.
    fn ledger_shards(&self) -> u16 {
        1
    }

    /// Up to `limit` entries of `shard`'s ledger after `after`, in ledger order.
    async fn ledger(&self, shard: u16, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError>;

    /// Takes, or renews, the lease `name` for `holder` for `ttl` (one exporter at a time
    /// across replicas).
    async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<LeaseGrant, StoreError>;

    /// How far the exporter `name` is done with `shard`'s ledger (the default position: not
    /// started).
    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError>;

    /// Moves `name`'s marker of `shard` to `at`, only while `holder` holds the lease `name`
    /// and only forward, in one atomic step: false (nothing written) otherwise.
    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError>;

    /// Drops `shard`'s ledger entries written before `before` (milliseconds since the epoch,
    /// as positions count them).
    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError>;

    /// What the exporter `name` keeps for one booking (a CHF session), kept with the
    /// booking's shard; opaque to the store.
    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores (or, with `None`, removes) `name`'s state of `booking`.
    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError>;

    /// Every booking `name` keeps state for, with it (interim reports).
    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError>;
}

/// One acknowledgement of [`BookingStore::ack_events`] (see [`BookingStore::ack_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAck {
    pub booking: BookingId,
    /// The event done with; one that names no event (e.g. empty) acknowledges nothing.
    pub event_id: String,
    /// The claimer is done with its claim: events added since are due at once.
    pub release: bool,
}

/// What [`BookingStore::stats`] counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Bookings per status, in the order of [`crate::BookingStatus::ALL`].
    pub by_status: [u64; 4],
    /// Bookings with events not yet delivered (or given up).
    pub outbox_backlog: u64,
}
