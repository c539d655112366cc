//! A store that fails chosen operations on demand, in front of a real one: for tests of what
//! callers do when the store does not answer (a Redis primary failing over), at the
//! `BookingStore` seam.

use async_trait::async_trait;
use booking::capacity::PoolClaim;
use booking::usage::{LeaseGrant, LedgerEntry, LedgerPosition};
use booking::{
    Booking, BookingId, BookingStore, ClientRecord, CreateOutcome, EventAck, Owner, StatusEvent, StoreError, StoreStats,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

pub struct Flaky {
    inner: Arc<dyn BookingStore>,
    /// Operation name -> how many of its next calls fail.
    failing: Mutex<HashMap<&'static str, usize>>,
    /// Operation name -> calls made (failed ones included).
    calls: Mutex<HashMap<&'static str, usize>>,
    /// Timers handed out by `claim_due`, summed.
    claimed: Mutex<usize>,
}

impl Flaky {
    pub fn new(inner: Arc<dyn BookingStore>) -> Self {
        Self {
            inner,
            failing: Mutex::default(),
            calls: Mutex::default(),
            claimed: Mutex::default(),
        }
    }

    /// The next `n` calls of `operation` (a `BookingStore` method's name) fail as a store that
    /// does not answer.
    pub fn fail(&self, operation: &'static str, n: usize) {
        *self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation)
            .or_default() += n;
    }

    /// Calls of `operation` so far.
    pub fn calls(&self, operation: &'static str) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Timers handed out by `claim_due` so far (a timer claimed twice counts twice).
    pub fn claimed(&self) -> usize {
        *self.claimed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fault(&self, operation: &'static str) -> Result<(), StoreError> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation)
            .or_default() += 1;
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match failing.get_mut(operation) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(StoreError::Unavailable {
                    what: format!("{operation} failed on purpose"),
                    source: None,
                })
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl BookingStore for Flaky {
    fn new_id(&self, owner: &Owner, device_keys: &[String]) -> BookingId {
        self.inner.new_id(owner, device_keys)
    }
    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        self.fault("create")?;
        self.inner.create(booking, due, event).await
    }
    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.fault("get")?;
        self.inner.get(id).await
    }
    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        self.fault("by_device")?;
        self.inner.by_device(device_keys).await
    }
    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError> {
        self.fault("update")?;
        self.inner.update(booking, due, event).await
    }
    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        self.fault("remove")?;
        self.inner.remove(id).await
    }
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.fault("claim_due")?;
        let got = self.inner.claim_due(now, limit, lease).await?;
        *self.claimed.lock().unwrap_or_else(|p| p.into_inner()) += got.len();
        Ok(got)
    }
    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.fault("renew")?;
        self.inner.renew(claims, until).await
    }
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.fault("next_due")?;
        self.inner.next_due().await
    }
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        self.fault("claim_events")?;
        self.inner.claim_events(now, limit, lease).await
    }
    fn part_of(&self, booking: BookingId) -> usize {
        self.inner.part_of(booking)
    }
    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        self.fault("ack_events")?;
        self.inner.ack_events(acks).await
    }
    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        self.fault("defer_events")?;
        self.inner.defer_events(deferrals).await
    }
    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError> {
        self.fault("count_live")?;
        self.inner.count_live(client_id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.fault("ping")?;
        self.inner.ping().await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.fault("stats")?;
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
        self.fault("reserve")?;
        self.inner.reserve(claims, id, start, end, now).await
    }
    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError> {
        self.fault("set_limit")?;
        self.inner.set_limit(pool, profile, limit).await
    }
    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        self.fault("limits")?;
        self.inner.limits().await
    }
    async fn set_client(&self, client_id: &str, record: Option<&ClientRecord>) -> Result<(), StoreError> {
        self.fault("set_client")?;
        self.inner.set_client(client_id, record).await
    }
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.fault("clients")?;
        self.inner.clients().await
    }
    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError> {
        self.fault("release")?;
        self.inner.release(pools, id).await
    }
    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError> {
        self.fault("list")?;
        self.inner.list(keep, limit).await
    }
    fn ledger_shards(&self) -> u16 {
        self.inner.ledger_shards()
    }
    async fn ledger(&self, shard: u16, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.fault("ledger")?;
        self.inner.ledger(shard, after, limit).await
    }
    async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<LeaseGrant, StoreError> {
        self.fault("lease")?;
        self.inner.lease(name, holder, ttl).await
    }
    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError> {
        self.fault("ledger_marker")?;
        self.inner.ledger_marker(name, shard).await
    }
    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError> {
        self.fault("set_ledger_marker")?;
        self.inner.set_ledger_marker(name, holder, shard, at).await
    }
    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        self.fault("trim_ledger")?;
        self.inner.trim_ledger(shard, before_ms).await
    }
    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        self.fault("export_state")?;
        self.inner.export_state(name, booking).await
    }
    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        self.fault("set_export_state")?;
        self.inner.set_export_state(name, booking, state).await
    }
    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        self.fault("export_states")?;
        self.inner.export_states(name).await
    }
}
