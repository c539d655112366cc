//! A store that counts the outbox calls the worker makes (and the bookings and events they
//! carry), forwarding everything to the store inside.

use async_trait::async_trait;
use booking::capacity::PoolClaim;
use booking::usage::{LeaseGrant, LedgerEntry, LedgerPosition};
use booking::{
    Booking, BookingId, BookingStore, ClientRecord, CreateOutcome, EventAck, Owner, StatusEvent, StoreError, StoreStats,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct Counts {
    pub claim_calls: AtomicUsize,
    pub bookings_claimed: AtomicUsize,
    pub defer_calls: AtomicUsize,
    pub defers: AtomicUsize,
    pub ack_calls: AtomicUsize,
    /// Per acknowledgement call, the store parts (Redis shards: one script call each) it
    /// touched, summed.
    pub ack_part_calls: AtomicUsize,
    pub events_acked: AtomicUsize,
}

impl Counts {
    pub fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

pub struct Counting {
    pub inner: Arc<dyn BookingStore>,
    pub counts: Arc<Counts>,
    /// Some: the store has two parts ([`part`]) and every acknowledgement call that touches
    /// part 1 waits until this turns true, as while a Redis primary fails over.
    pub stall: Option<tokio::sync::watch::Receiver<bool>>,
}

/// The part of a booking when [`Counting::stall`] is set.
pub fn part(id: BookingId) -> usize {
    usize::from(id.as_bytes()[15] % 2)
}

fn add(c: &AtomicUsize, n: usize) {
    c.fetch_add(n, Ordering::SeqCst);
}

#[async_trait]
impl BookingStore for Counting {
    fn new_id(&self, owner: &Owner, device_keys: &[String]) -> BookingId {
        self.inner.new_id(owner, device_keys)
    }
    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        self.inner.create(booking, due, event).await
    }
    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.inner.get(id).await
    }
    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        self.inner.by_device(device_keys).await
    }
    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError> {
        self.inner.update(booking, due, event).await
    }
    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        self.inner.remove(id).await
    }
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.inner.claim_due(now, limit, lease).await
    }
    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.inner.renew(claims, until).await
    }
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.inner.next_due().await
    }
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        let got = self.inner.claim_events(now, limit, lease).await?;
        add(&self.counts.claim_calls, 1);
        add(&self.counts.bookings_claimed, got.len());
        Ok(got)
    }
    fn part_of(&self, booking: BookingId) -> usize {
        match &self.stall {
            Some(_) => part(booking),
            None => self.inner.part_of(booking),
        }
    }
    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        if let Some(stall) = &self.stall
            && acks.iter().any(|a| part(a.booking) == 1)
        {
            let _ = stall.clone().wait_for(|over| *over).await;
        }
        add(&self.counts.ack_calls, 1);
        let parts: std::collections::HashSet<usize> = acks.iter().map(|a| self.part_of(a.booking)).collect();
        add(&self.counts.ack_part_calls, parts.len());
        add(
            &self.counts.events_acked,
            acks.iter().filter(|a| !a.event_id.is_empty()).count(),
        );
        self.inner.ack_events(acks).await
    }
    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        add(&self.counts.defer_calls, 1);
        add(&self.counts.defers, deferrals.len());
        self.inner.defer_events(deferrals).await
    }
    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError> {
        self.inner.count_live(client_id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats().await
    }
    async fn reserve(
        &self,
        claims: &[PoolClaim],
        id: BookingId,
        start: OffsetDateTime,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        self.inner.reserve(claims, id, start, end, now).await
    }
    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError> {
        self.inner.set_limit(pool, profile, limit).await
    }
    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.inner.limits().await
    }
    async fn set_client(&self, client_id: &str, record: Option<&ClientRecord>) -> Result<(), StoreError> {
        self.inner.set_client(client_id, record).await
    }
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.inner.clients().await
    }
    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError> {
        self.inner.release(pools, id).await
    }
    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError> {
        self.inner.list(keep, limit).await
    }
    fn ledger_shards(&self) -> u16 {
        self.inner.ledger_shards()
    }
    async fn ledger(&self, shard: u16, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.inner.ledger(shard, after, limit).await
    }
    async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<LeaseGrant, StoreError> {
        self.inner.lease(name, holder, ttl).await
    }
    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError> {
        self.inner.ledger_marker(name, shard).await
    }
    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError> {
        self.inner.set_ledger_marker(name, holder, shard, at).await
    }
    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        self.inner.trim_ledger(shard, before_ms).await
    }
    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.export_state(name, booking).await
    }
    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        self.inner.set_export_state(name, booking, state).await
    }
    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        self.inner.export_states(name).await
    }
}
