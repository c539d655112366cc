//! The store port, observed: every call's duration and failure kind go to the metrics
//! (`db_client_operation_duration_seconds` by operation), whichever store is behind it.

use crate::metrics::Metrics;
use async_trait::async_trait;
use booking::capacity::PoolClaim;
use booking::{Booking, BookingId, BookingStore, CreateOutcome, EventAck, Owner, StatusEvent, StoreError, StoreStats};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use time::{Duration, OffsetDateTime};

pub struct ObservedStore {
    inner: Arc<dyn BookingStore>,
    metrics: Arc<Metrics>,
    /// `db.system.name`: `redis` or `memory`.
    system: &'static str,
}

impl ObservedStore {
    pub fn new(inner: Arc<dyn BookingStore>, metrics: Arc<Metrics>, system: &'static str) -> Self {
        Self { inner, metrics, system }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let r = f.await;
        let error = match &r {
            Ok(_) => "",
            Err(StoreError::Unavailable { .. }) => "unavailable",
            Err(StoreError::Corrupt { .. }) => "corrupt",
        };
        self.metrics
            .store_call(self.system, operation, error, started.elapsed());
        r
    }
}

#[async_trait]
impl BookingStore for ObservedStore {
    fn new_id(&self, owner: &Owner, device_keys: &[String]) -> BookingId {
        self.inner.new_id(owner, device_keys)
    }
    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        self.timed("create", self.inner.create(booking, due, event)).await
    }
    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.timed("get", self.inner.get(id)).await
    }
    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        self.timed("by_device", self.inner.by_device(device_keys)).await
    }
    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError> {
        self.timed("update", self.inner.update(booking, due, event)).await
    }
    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        self.timed("remove", self.inner.remove(id)).await
    }
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.timed("claim_due", self.inner.claim_due(now, limit, lease)).await
    }
    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.timed("renew", self.inner.renew(claims, until)).await
    }
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.timed("next_due", self.inner.next_due()).await
    }
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        self.timed("claim_events", self.inner.claim_events(now, limit, lease))
            .await
    }
    fn part_of(&self, booking: BookingId) -> usize {
        self.inner.part_of(booking)
    }
    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        self.timed("ack_events", self.inner.ack_events(acks)).await
    }
    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        self.timed("defer_events", self.inner.defer_events(deferrals)).await
    }
    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError> {
        self.timed("count_live", self.inner.count_live(client_id)).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.timed("stats", self.inner.stats()).await
    }
    async fn reserve(
        &self,
        claims: &[PoolClaim],
        id: BookingId,
        start: OffsetDateTime,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        // No pools, no call (the store answers at once): not a store operation worth timing.
        if claims.is_empty() {
            return Ok(None);
        }
        self.timed("reserve", self.inner.reserve(claims, id, start, end, now))
            .await
    }
    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError> {
        self.timed("list", self.inner.list(keep, limit)).await
    }
    fn ledger_shards(&self) -> u16 {
        self.inner.ledger_shards()
    }
    async fn ledger(
        &self,
        shard: u16,
        after: booking::usage::LedgerPosition,
        limit: usize,
    ) -> Result<Vec<booking::usage::LedgerEntry>, StoreError> {
        self.timed("ledger", self.inner.ledger(shard, after, limit)).await
    }
    async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<booking::usage::LeaseGrant, StoreError> {
        self.timed("lease", self.inner.lease(name, holder, ttl)).await
    }
    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<booking::usage::LedgerPosition, StoreError> {
        self.timed("ledger_marker", self.inner.ledger_marker(name, shard)).await
    }
    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: booking::usage::LedgerPosition,
    ) -> Result<bool, StoreError> {
        self.timed(
            "set_ledger_marker",
            self.inner.set_ledger_marker(name, holder, shard, at),
        )
        .await
    }
    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        self.timed("trim_ledger", self.inner.trim_ledger(shard, before_ms))
            .await
    }
    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed("export_state", self.inner.export_state(name, booking)).await
    }
    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        self.timed("set_export_state", self.inner.set_export_state(name, booking, state))
            .await
    }
    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        self.timed("export_states", self.inner.export_states(name)).await
    }
    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError> {
        self.timed("set_limit", self.inner.set_limit(pool, profile, limit))
            .await
    }
    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.timed("limits", self.inner.limits()).await
    }
    async fn set_client(&self, client_id: &str, record: Option<&booking::ClientRecord>) -> Result<(), StoreError> {
        self.timed("set_client", self.inner.set_client(client_id, record)).await
    }
    async fn clients(&self) -> Result<Vec<booking::ClientRecord>, StoreError> {
        self.timed("clients", self.inner.clients()).await
    }
    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError> {
        self.timed("release", self.inner.release(pools, id)).await
    }
}
