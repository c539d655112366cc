//! The simulated network's capacity for planned data transfers: per QoS reference and area,
//! a number of UEs per time slot. A window fits when every slot it touches has room for the
//! subscription's UEs beside what the other subscriptions hold.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The capacity the simulated network has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PdtqCapacity {
    /// UEs per slot, for each QoS reference in each area, unless `perReference` says otherwise.
    pub ues: u32,
    /// UEs per slot for these QoS references.
    pub per_reference: HashMap<String, u32>,
    /// Slot length.
    pub slot_seconds: i64,
    /// How far past the desired window an alternative is looked for.
    pub search_hours: i64,
    /// Answer creates without candidates and send them this much later in a notification
    /// (an asynchronous network); 0: in the 201.
    pub defer_answers_ms: u64,
}

impl Default for PdtqCapacity {
    fn default() -> Self {
        Self {
            ues: 1000,
            per_reference: HashMap::new(),
            slot_seconds: 900,
            search_hours: 24,
            defer_answers_ms: 0,
        }
    }
}

impl PdtqCapacity {
    pub fn of(&self, qos_reference: &str) -> u32 {
        self.per_reference.get(qos_reference).copied().unwrap_or(self.ues)
    }
}

/// A window in Unix seconds, `[start, stop)`.
pub type Span = (i64, i64);

/// Area and QoS reference: what shares capacity.
pub type Key = (String, String);

/// One PDTQ subscription as the model sees it.
#[derive(Debug, Clone)]
pub struct Held {
    pub key: Key,
    pub ues: u32,
    /// The window it holds (a covering candidate offered, or the selected policy's).
    pub span: Option<Span>,
}

/// The slots `span` touches.
fn slots(span: Span, slot: i64) -> std::ops::Range<i64> {
    span.0.div_euclid(slot)..(span.1 - 1).div_euclid(slot) + 1
}

/// The subscriptions and the UEs they hold per key and slot (kept with every change, so a
/// check costs the slots of one window, not a scan of every subscription).
#[derive(Debug, Default)]
pub struct Holdings {
    held: BTreeMap<String, Held>,
    used: HashMap<(Key, i64), u32>,
}

impl Holdings {
    pub fn get(&self, id: &str) -> Option<&Held> {
        self.held.get(id)
    }

    fn count(&mut self, h: &Held, cap: &PdtqCapacity, add: bool) {
        let Some(span) = h.span else { return };
        for s in slots(span, cap.slot_seconds.max(1)) {
            let k = (h.key.clone(), s);
            let n = self.used.entry(k.clone()).or_default();
            *n = if add {
                n.saturating_add(h.ues)
            } else {
                n.saturating_sub(h.ues)
            };
            if *n == 0 {
                self.used.remove(&k);
            }
        }
    }

    /// Adds or replaces `id`.
    pub fn insert(&mut self, id: &str, h: Held, cap: &PdtqCapacity) {
        self.remove(id, cap);
        self.count(&h, cap, true);
        self.held.insert(id.to_owned(), h);
    }

    pub fn remove(&mut self, id: &str, cap: &PdtqCapacity) {
        if let Some(old) = self.held.remove(id) {
            self.count(&old, cap, false);
        }
    }

    /// Moves `id` to `span` (or none).
    pub fn hold(&mut self, id: &str, span: Option<Span>, cap: &PdtqCapacity) {
        if let Some(mut h) = self.held.get(id).cloned() {
            h.span = span;
            self.insert(id, h, cap);
        }
    }

    /// Counts everything again (the slot length changed).
    pub fn recount(&mut self, cap: &PdtqCapacity) {
        self.used.clear();
        let all: Vec<Held> = self.held.values().cloned().collect();
        for h in &all {
            self.count(h, cap, true);
        }
    }

    /// The UEs of `key` in slot `s`, `except` the subscription's own.
    fn used_in(&self, key: &Key, s: i64, except: Option<&Held>, slot: i64) -> u32 {
        let own = except
            .filter(|h| &h.key == key && h.span.is_some_and(|sp| slots(sp, slot).contains(&s)))
            .map_or(0, |h| h.ues);
        self.used
            .get(&(key.clone(), s))
            .copied()
            .unwrap_or(0)
            .saturating_sub(own)
    }

    /// Whether `span` has room for `ues` of `key`, beside every subscription but `except`.
    pub fn fits(&self, cap: &PdtqCapacity, key: &Key, ues: u32, span: Span, except: Option<&str>) -> bool {
        let limit = cap.of(&key.1);
        let slot = cap.slot_seconds.max(1);
        let own = except.and_then(|id| self.held.get(id));
        slots(span, slot).all(|s| self.used_in(key, s, own, slot).saturating_add(ues) <= limit)
    }

    /// The first window as long as `want`, at or after its start in whole slots, that fits;
    /// `None` within the search horizon.
    pub fn first_fit(&self, cap: &PdtqCapacity, key: &Key, ues: u32, want: Span, except: Option<&str>) -> Option<Span> {
        let slot = cap.slot_seconds.max(1);
        let steps = cap.search_hours.clamp(0, 24 * 400).saturating_mul(3600) / slot;
        (0..=steps)
            .map(|k| (want.0 + k * slot, want.1 + k * slot))
            .find(|sp| self.fits(cap, key, ues, *sp, except))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(span: Span, ues: u32) -> Held {
        Held {
            key: ("a".into(), "q".into()),
            ues,
            span: Some(span),
        }
    }

    #[test]
    fn room_is_counted_per_slot_and_freed_by_others_ending() {
        let cap = PdtqCapacity {
            ues: 2,
            slot_seconds: 100,
            ..PdtqCapacity::default()
        };
        let key = ("a".to_owned(), "q".to_owned());
        let mut all = Holdings::default();
        all.insert("1", held((0, 200), 1), &cap);
        all.insert("2", held((100, 300), 1), &cap);
        assert!(all.fits(&cap, &key, 1, (0, 100), None), "slot 0 holds one");
        assert!(!all.fits(&cap, &key, 1, (150, 160), None), "slot 1 is full");
        assert!(all.fits(&cap, &key, 1, (150, 160), Some("2")), "itself excepted");
        assert_eq!(
            all.first_fit(&cap, &key, 1, (100, 200), None),
            Some((200, 300)),
            "the next slot with room"
        );
        let other = ("b".to_owned(), "q".to_owned());
        assert!(
            all.fits(&cap, &other, 2, (100, 200), None),
            "another area has its own room"
        );
        all.remove("2", &cap);
        assert!(all.fits(&cap, &key, 1, (150, 160), None), "freed by the delete");
        all.hold("1", None, &cap);
        assert!(all.fits(&cap, &key, 2, (0, 200), None), "freed by losing its hold");
    }
}
