//! The memory store's usage ledger, exporter leases and markers (one ledger: the memory store
//! has one shard). Entries are the same binary records the Redis store appends to its streams.

use crate::record;
use booking::usage::{LeaseGrant, LedgerEntry, LedgerPosition, ledger_worthy};
use booking::{Booking, BookingStatus, StoreError};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

#[derive(Default)]
pub(super) struct Ledger {
    entries: VecDeque<(LedgerPosition, Box<[u8]>)>,
    last: LedgerPosition,
    /// Lease name -> holder and the instant it lapses.
    leases: HashMap<String, (String, Instant)>,
    markers: HashMap<(String, u16), LedgerPosition>,
    /// Exporter name -> booking -> its state.
    states: HashMap<String, std::collections::BTreeMap<booking::BookingId, Vec<u8>>>,
}

fn status_code(s: BookingStatus) -> Option<usize> {
    BookingStatus::ALL.iter().position(|x| *x == s)
}

impl Ledger {
    /// Appends `b` when it is worth an entry and its stored status (`was`, as a status code)
    /// was another. Positions only grow, whatever the transition times.
    pub(super) fn note(&mut self, was: Option<usize>, b: &Booking) -> Result<(), StoreError> {
        if !ledger_worthy(b) || was == status_code(b.status) {
            return Ok(());
        }
        let at = b.terminated_at.or(b.started_at).unwrap_or(b.created_at);
        let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let position = if ms > self.last.ms {
            LedgerPosition { ms, seq: 0 }
        } else {
            LedgerPosition {
                ms: self.last.ms,
                seq: self.last.seq + 1,
            }
        };
        let bytes = record::encode(&booking::usage::for_ledger(b))?;
        self.entries.push_back((position, bytes.into_boxed_slice()));
        self.last = position;
        Ok(())
    }

    pub(super) fn read(&self, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        let from = self.entries.partition_point(|(p, _)| *p <= after);
        self.entries
            .range(from..)
            .take(limit)
            .map(|(position, bytes)| {
                Ok(LedgerEntry {
                    shard: 0,
                    position: *position,
                    booking: record::decode(bytes)?,
                })
            })
            .collect()
    }

    pub(super) fn lease(&mut self, name: &str, holder: &str, ttl: time::Duration) -> LeaseGrant {
        let now = Instant::now();
        let until = now + std::time::Duration::try_from(ttl).unwrap_or_default();
        let grant = match self.leases.get(name) {
            Some((h, lapses)) if *lapses > now && h != holder => return LeaseGrant::Refused,
            Some((h, lapses)) if *lapses > now && h == holder => LeaseGrant::Renewed,
            _ => LeaseGrant::Taken,
        };
        self.leases.insert(name.to_owned(), (holder.to_owned(), until));
        grant
    }

    pub(super) fn marker(&self, name: &str, shard: u16) -> LedgerPosition {
        self.markers.get(&(name.to_owned(), shard)).copied().unwrap_or_default()
    }

    pub(super) fn set_marker(&mut self, name: &str, holder: &str, shard: u16, at: LedgerPosition) -> bool {
        let held = self
            .leases
            .get(name)
            .is_some_and(|(h, lapses)| h == holder && *lapses > Instant::now());
        if !held || at < self.marker(name, shard) {
            return false;
        }
        self.markers.insert((name.to_owned(), shard), at);
        true
    }

    pub(super) fn trim(&mut self, before_ms: u64) {
        while self.entries.front().is_some_and(|(p, _)| p.ms < before_ms) {
            self.entries.pop_front();
        }
    }
}

impl Ledger {
    pub(super) fn state(&self, name: &str, id: booking::BookingId) -> Option<Vec<u8>> {
        self.states.get(name).and_then(|m| m.get(&id)).cloned()
    }

    pub(super) fn set_state(&mut self, name: &str, id: booking::BookingId, state: Option<&[u8]>) {
        let m = self.states.entry(name.to_owned()).or_default();
        match state {
            Some(s) => {
                m.insert(id, s.to_vec());
            }
            None => {
                m.remove(&id);
            }
        }
    }

    pub(super) fn states(&self, name: &str) -> Vec<(booking::BookingId, Vec<u8>)> {
        self.states
            .get(name)
            .map(|m| m.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }
}
