//! The in-process store: a map of bookings, a device index and an ordered timer set behind one
//! mutex, so each call is atomic just as a Redis script is.

use async_trait::async_trait;
use booking::{Booking, BookingId, BookingStore, CreateOutcome, StatusEvent, StoreError, overlaps};
use std::collections::VecDeque;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

#[derive(Default)]
struct Inner {
    bookings: HashMap<BookingId, Booking>,
    by_key: HashMap<String, HashSet<BookingId>>,
    /// (due time in unix ms, booking): ordered so the earliest timers come first.
    timers: BTreeSet<(i128, BookingId)>,
    due_of: HashMap<BookingId, i128>,
    /// Undelivered events per booking, and when each booking's outbox may next be claimed.
    outbox: HashMap<BookingId, VecDeque<StatusEvent>>,
    outbox_due: BTreeSet<(i128, BookingId)>,
    outbox_due_of: HashMap<BookingId, i128>,
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

    fn unindex(&mut self, b: &Booking) {
        for k in &b.device_keys {
            if let Some(set) = self.by_key.get_mut(k) {
                set.remove(&b.id);
                if set.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
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
        let conflict = booking
            .device_keys
            .iter()
            .filter_map(|k| g.by_key.get(k))
            .flatten()
            .filter_map(|id| g.bookings.get(id))
            .find(|existing| overlaps(existing, booking))
            .map(|b| b.id);
        if let Some(id) = conflict {
            return Ok(CreateOutcome::Conflict(id));
        }
        for k in &booking.device_keys {
            g.by_key.entry(k.clone()).or_default().insert(booking.id);
        }
        g.bookings.insert(booking.id, booking.clone());
        g.set_timer(booking.id, due);
        g.push_event(event);
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        Ok(self.lock().bookings.get(&id).cloned())
    }

    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        let g = self.lock();
        let ids: BTreeSet<BookingId> = device_keys
            .iter()
            .filter_map(|k| g.by_key.get(k))
            .flatten()
            .copied()
            .collect();
        Ok(ids.iter().filter_map(|id| g.bookings.get(id)).cloned().collect())
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
        if let Some(old) = g.bookings.insert(booking.id, booking.clone()) {
            g.unindex(&old);
        }
        for k in &booking.device_keys {
            g.by_key.entry(k.clone()).or_default().insert(booking.id);
        }
        g.set_timer(booking.id, due);
        g.push_event(event);
        Ok(true)
    }

    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        let mut g = self.lock();
        if let Some(old) = g.bookings.remove(&id) {
            g.unindex(&old);
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

    async fn ack_event(&self, booking: BookingId, event_id: &str, release: bool) -> Result<(), StoreError> {
        let mut g = self.lock();
        let empty = match g.outbox.get_mut(&booking) {
            Some(q) => {
                q.retain(|e| e.id != event_id);
                q.is_empty()
            }
            None => true,
        };
        if empty {
            g.outbox.remove(&booking);
            g.set_outbox_due(booking, None);
        } else if release {
            g.set_outbox_due(booking, Some(i128::MIN));
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
        let g = self.lock();
        Ok(g.bookings
            .values()
            .filter(|b| b.is_live() && b.owner.client_id == client_id)
            .count())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::suite::store_suite!((super::MemoryStore::new(), ()));
}
