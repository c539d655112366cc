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

/// One PDTQ subscription as the model sees it.
#[derive(Debug, Clone)]
pub struct Held {
    /// Area and QoS reference (what shares capacity).
    pub key: (String, String),
    pub ues: u32,
    /// The window it holds (a covering candidate offered, or the selected policy's).
    pub span: Option<Span>,
}

/// The slots `span` touches.
fn slots(span: Span, slot: i64) -> std::ops::Range<i64> {
    span.0.div_euclid(slot)..(span.1 - 1).div_euclid(slot) + 1
}

/// Whether `span` has room for `ues` of `key`, beside every subscription but `except`.
pub fn fits(
    all: &BTreeMap<String, Held>,
    cap: &PdtqCapacity,
    key: &(String, String),
    ues: u32,
    span: Span,
    except: Option<&str>,
) -> bool {
    let limit = cap.of(&key.1);
    let slot = cap.slot_seconds.max(1);
    slots(span, slot).all(|s| {
        let used: u32 = all
            .iter()
            .filter(|(id, h)| Some(id.as_str()) != except && &h.key == key)
            .filter_map(|(_, h)| h.span.map(|sp| (h.ues, sp)))
            .filter(|(_, sp)| slots(*sp, slot).contains(&s))
            .map(|(u, _)| u)
            .sum();
        used + ues <= limit
    })
}

/// The first window as long as `want`, at or after its start in whole slots, that fits;
/// `None` within the search horizon.
pub fn first_fit(
    all: &BTreeMap<String, Held>,
    cap: &PdtqCapacity,
    key: &(String, String),
    ues: u32,
    want: Span,
    except: Option<&str>,
) -> Option<Span> {
    let slot = cap.slot_seconds.max(1);
    let steps = cap.search_hours * 3600 / slot;
    (0..=steps)
        .map(|k| (want.0 + k * slot, want.1 + k * slot))
        .find(|sp| fits(all, cap, key, ues, *sp, except))
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
        let mut all = BTreeMap::new();
        all.insert("1".into(), held((0, 200), 1));
        all.insert("2".into(), held((100, 300), 1));
        assert!(fits(&all, &cap, &key, 1, (0, 100), None), "slot 0 holds one");
        assert!(!fits(&all, &cap, &key, 1, (150, 160), None), "slot 1 is full");
        assert!(fits(&all, &cap, &key, 1, (150, 160), Some("2")), "itself excepted");
        assert_eq!(
            first_fit(&all, &cap, &key, 1, (100, 200), None),
            Some((200, 300)),
            "the next slot with room"
        );
        let other = ("b".to_owned(), "q".to_owned());
        assert!(
            fits(&all, &cap, &other, 2, (100, 200), None),
            "another area has its own room"
        );
    }
}
