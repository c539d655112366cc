//! The in-process store: a map of bookings, a device index and an ordered timer set behind one
//! mutex, so each call is atomic just as a Redis script is. Bookings are kept as the same
//! compact binary records the Redis store writes (`record`), about 500 bytes each instead of
//! several kilobytes of structs and strings, and the device index is keyed by a 64-bit hash
//! of the device key (a collision only adds a candidate: the conflict rule compares the
//! decoded bookings).

mod ledger;

use crate::record;
use async_trait::async_trait;
use booking::capacity::{PoolClaim, fits, peak};
use booking::usage::{LedgerEntry, LedgerPosition};
use booking::{
    Booking, BookingId, BookingStore, CreateOutcome, EventAck, StatusEvent, StoreError, StoreStats, overlaps,
};
use std::collections::VecDeque;
use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

/// One stored booking: what the store's own rules need, and the record.
struct Entry {
    version: u64,
    live: bool,
    client: std::sync::Arc<str>,
    device_keys: Box<[u64]>,
    record: Box<[u8]>,
}

/// A device key's index hash (fixed keys: the same on every run).
fn key_hash(k: &str) -> u64 {
    let mut h = DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

#[derive(Default)]
struct Inner {
    bookings: HashMap<BookingId, Entry>,
    by_key: HashMap<u64, Vec<BookingId>>,
    /// Live bookings per client (the quota), and the clients' ids shared by their entries.
    live: HashMap<std::sync::Arc<str>, usize>,
    /// (due time in unix ms, booking): ordered so the earliest timers come first.
    timers: BTreeSet<(i128, BookingId)>,
    due_of: HashMap<BookingId, i128>,
    /// Undelivered events per booking, and when each booking's outbox may next be claimed.
    outbox: HashMap<BookingId, VecDeque<StatusEvent>>,
    outbox_due: BTreeSet<(i128, BookingId)>,
    outbox_due_of: HashMap<BookingId, i128>,
    /// Bookings per status (`BookingStatus::ALL` order).
    by_status: [u64; 4],
    /// Capacity reservations per bucket (pool and profile): booking -> its window (unix ms).
    pools: HashMap<String, HashMap<BookingId, (i64, i64, u32)>>,
    /// The operator's capacity changes, by (pool, profile).
    limits: HashMap<(String, String), u32>,
    clients: std::collections::BTreeMap<String, booking::ClientRecord>,
    ledger: ledger::Ledger,
}

fn ms64(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

impl Inner {
    fn set_timer(&mut self, id: BookingId, due: Option<OffsetDateTime>) {
        if let Some(old) = self.due_of.remove(&id) {
            self.timers.remove(&(old, id));
        }
        if let Some(due) = due {
            self.timers.insert((ms(due), id));
            self.due_of.insert(id, ms(due));
        }
    }

    fn set_outbox_due(&mut self, id: BookingId, due: Option<i128>) {
        if let Some(old) = self.outbox_due_of.remove(&id) {
            self.outbox_due.remove(&(old, id));
        }
        if let Some(due) = due {
            self.outbox_due.insert((due, id));
            self.outbox_due_of.insert(id, due);
        }
    }

    fn push_event(&mut self, ev: Option<&StatusEvent>) {
        if let Some(ev) = ev {
            self.outbox.entry(ev.booking_id).or_default().push_back(ev.clone());
            // A claimed outbox keeps its lease; a new one is due at once.
            if !self.outbox_due_of.contains_key(&ev.booking_id) {
                self.set_outbox_due(ev.booking_id, Some(ms(ev.time)));
            }
        }
    }

    fn ack(&mut self, a: &EventAck) {
        let empty = match self.outbox.get_mut(&a.booking) {
            Some(q) => {
                // Events are acknowledged in order: the one named is nearly always the first.
                if let Some(at) = q.iter().position(|e| e.id == a.event_id) {
                    q.remove(at);
                }
                q.is_empty()
            }
            None => true,
        };
        if empty {
            self.outbox.remove(&a.booking);
            self.set_outbox_due(a.booking, None);
        } else if a.release {
            self.set_outbox_due(a.booking, Some(i128::MIN));
        }
    }

    fn unindex(&mut self, id: BookingId, keys: &[u64]) {
        for k in keys {
            if let Some(ids) = self.by_key.get_mut(k) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
    }

    fn index(&mut self, id: BookingId, keys: &[u64]) {
        for k in keys {
            let ids = self.by_key.entry(*k).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    fn client(&mut self, id: &str) -> std::sync::Arc<str> {
        match self.live.get_key_value(id) {
            Some((k, _)) => k.clone(),
            None => {
                let k: std::sync::Arc<str> = id.into();
                self.live.insert(k.clone(), 0);
                k
            }
        }
    }

    fn count(&mut self, client: &std::sync::Arc<str>, live: bool, delta: isize) {
        if live && let Some(n) = self.live.get_mut(client) {
            *n = n.saturating_add_signed(delta);
        }
    }

    fn tally(&mut self, record: &[u8], add: bool) {
        if let Some(n) = record::status_index(record).and_then(|i| self.by_status.get_mut(i)) {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    fn decode(&self, id: &BookingId) -> Result<Option<Booking>, StoreError> {
        self.bookings.get(id).map(|e| record::decode(&e.record)).transpose()
    }

    fn entry(&mut self, b: &Booking) -> Result<Entry, StoreError> {
        Ok(Entry {
            version: b.version,
            live: b.is_live(),
            client: self.client(&b.owner.client_id),
            device_keys: b.device_keys.iter().map(|k| key_hash(k)).collect(),
            record: record::encode(b)?.into_boxed_slice(),
        })
    }
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change: every method
        // mutates only after its checks, so the data is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl BookingStore for MemoryStore {
    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        let mut g = self.lock();
        let candidates: BTreeSet<BookingId> = booking
            .device_keys
            .iter()
            .filter_map(|k| g.by_key.get(&key_hash(k)))
            .flatten()
            .copied()
            .collect();
        for id in candidates {
            if let Some(existing) = g.decode(&id)?
                && overlaps(&existing, booking)
            {
                return Ok(CreateOutcome::Conflict(id));
            }
        }
        let entry = g.entry(booking)?;
        g.ledger.note(None, booking)?;
        g.index(booking.id, &entry.device_keys);
        g.count(&entry.client, entry.live, 1);
        g.tally(&entry.record, true);
        g.bookings.insert(booking.id, entry);
        g.set_timer(booking.id, due);
        g.push_event(event);
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.lock().decode(&id)
    }

    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        let g = self.lock();
        let ids: BTreeSet<BookingId> = device_keys
            .iter()
            .filter_map(|k| g.by_key.get(&key_hash(k)))
            .flatten()
            .copied()
            .collect();
        let mut out = Vec::new();
        for id in ids {
            // Only the bookings really indexed under one of the keys (not a hash collision).
            if let Some(b) = g.decode(&id)?
                && b.device_keys.iter().any(|k| device_keys.contains(k))
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g.bookings.get(&booking.id) {
            Some(stored) if stored.version + 1 == booking.version => {}
            _ => return Ok(false),
        }
        let entry = g.entry(booking)?;
        let was = g
            .bookings
            .get(&booking.id)
            .and_then(|e| record::status_index(&e.record));
        g.ledger.note(was, booking)?;
        if let Some(old) = g.bookings.remove(&booking.id) {
            g.unindex(booking.id, &old.device_keys);
            g.count(&old.client, old.live, -1);
            g.tally(&old.record, false);
        }
        g.index(booking.id, &entry.device_keys);
        g.count(&entry.client, entry.live, 1);
        g.tally(&entry.record, true);
        g.bookings.insert(booking.id, entry);
        g.set_timer(booking.id, due);
        g.push_event(event);
        Ok(true)
    }

    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        let mut g = self.lock();
        if let Some(old) = g.bookings.remove(&id) {
            g.unindex(id, &old.device_keys);
            g.count(&old.client, old.live, -1);
            g.tally(&old.record, false);
        }
        g.set_timer(id, None);
        Ok(())
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        let mut g = self.lock();
        let now_ms = ms(now);
        let due: Vec<BookingId> = g
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now_ms)
            .take(limit)
            .map(|(_, id)| *id)
            .collect();
        for id in &due {
            g.set_timer(*id, Some(now + lease));
        }
        Ok(due)
    }

    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        let mut g = self.lock();
        let mut moved = Vec::new();
        for (id, claimed) in claims {
            if g.due_of.get(id) == Some(&ms(*claimed)) {
                g.set_timer(*id, Some(until));
                moved.push(*id);
            }
        }
        Ok(moved)
    }

    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        let mut g = self.lock();
        let now_ms = ms(now);
        let due: Vec<BookingId> = g
            .outbox_due
            .iter()
            .take_while(|(t, _)| *t <= now_ms)
            .take(limit)
            .map(|(_, id)| *id)
            .collect();
        let mut out = Vec::new();
        for id in due {
            g.set_outbox_due(id, Some(ms(now + lease)));
            let events: Vec<StatusEvent> = g
                .outbox
                .get(&id)
                .map(|q| q.iter().cloned().collect())
                .unwrap_or_default();
            out.push((id, events));
        }
        Ok(out)
    }

    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        let mut g = self.lock();
        for a in acks {
            g.ack(a);
        }
        Ok(vec![true; acks.len()])
    }

    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        let mut g = self.lock();
        for (booking, at) in deferrals {
            if g.outbox.get(booking).is_some_and(|q| !q.is_empty()) {
                g.set_outbox_due(*booking, Some(ms(*at)));
            }
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let g = self.lock();
        Ok(g.timers
            .first()
            .and_then(|(t, _)| OffsetDateTime::from_unix_timestamp_nanos(t * 1_000_000).ok()))
    }

    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError> {
        Ok(self.lock().live.get(client_id).copied().unwrap_or(0))
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let g = self.lock();
        Ok(StoreStats {
            by_status: g.by_status,
            outbox_backlog: g.outbox.values().filter(|q| !q.is_empty()).count() as u64,
        })
    }

    async fn reserve(
        &self,
        claims: &[PoolClaim],
        id: BookingId,
        start: OffsetDateTime,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        if claims.is_empty() {
            return Ok(None);
        }
        let (s, e, now) = (ms64(start), ms64(end), ms64(now));
        let mut g = self.lock();
        for c in claims {
            let pool = g.pools.entry(c.bucket()).or_default();
            pool.retain(|_, w| w.1 > now);
            let windows: Vec<(i64, i64, u32)> = pool.iter().filter(|(b, _)| **b != id).map(|(_, w)| *w).collect();
            let base = g
                .limits
                .get(&(c.pool.clone(), c.profile.clone()))
                .copied()
                .unwrap_or(c.limit);
            let whole = [(s, e, None)];
            let periods: Vec<(i64, i64, Option<u32>)> = c
                .periods
                .iter()
                .map(|p| (ms64(p.start), ms64(p.end), p.limit))
                .collect();
            let periods = if periods.is_empty() { &whole[..] } else { &periods[..] };
            if periods
                .iter()
                .any(|(ps, pe, limit)| !fits(peak(&windows, *ps, *pe), c.units, limit.unwrap_or(base)))
            {
                return Ok(Some(c.pool.clone()));
            }
        }
        for c in claims {
            g.pools.entry(c.bucket()).or_default().insert(id, (s, e, c.units));
        }
        Ok(None)
    }

    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError> {
        let g = self.lock();
        let mut out = Vec::new();
        for (_, id) in g.timers.iter() {
            if out.len() >= limit {
                break;
            }
            if let Some(b) = g.decode(id)?
                && keep(&b)
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError> {
        let mut g = self.lock();
        let key = (pool.to_owned(), profile.to_owned());
        match limit {
            Some(n) => g.limits.insert(key, n),
            None => g.limits.remove(&key),
        };
        Ok(())
    }

    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        let g = self.lock();
        let mut out: Vec<_> = g.limits.iter().map(|((p, q), n)| (p.clone(), q.clone(), *n)).collect();
        out.sort();
        Ok(out)
    }

    async fn set_client(&self, client_id: &str, record: Option<&booking::ClientRecord>) -> Result<(), StoreError> {
        let mut g = self.lock();
        match record {
            Some(r) => g.clients.insert(client_id.to_owned(), r.clone()),
            None => g.clients.remove(client_id),
        };
        Ok(())
    }

    async fn clients(&self) -> Result<Vec<booking::ClientRecord>, StoreError> {
        Ok(self.lock().clients.values().cloned().collect())
    }

    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError> {
        let mut g = self.lock();
        for p in pools {
            if let Some(pool) = g.pools.get_mut(p) {
                pool.remove(&id);
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn ledger(&self, shard: u16, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        if shard != 0 {
            return Ok(Vec::new());
        }
        self.lock().ledger.read(after, limit)
    }

    async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<booking::usage::LeaseGrant, StoreError> {
        Ok(self.lock().ledger.lease(name, holder, ttl))
    }

    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError> {
        Ok(self.lock().ledger.marker(name, shard))
    }

    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().ledger.set_marker(name, holder, shard, at))
    }

    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        if shard == 0 {
            self.lock().ledger.trim(before_ms);
        }
        Ok(())
    }

    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().ledger.state(name, booking))
    }

    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        self.lock().ledger.set_state(name, booking, state);
        Ok(())
    }

    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        Ok(self.lock().ledger.states(name))
    }
}

#[cfg(test)]
mod tests {
    crate::suite::store_suite!((super::MemoryStore::new(), ()));
}
