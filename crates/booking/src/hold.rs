//! The values network-confirmed admission trades (`crate::admission`): windows, the
//! candidates a network offers, which one covers a booking, and what the network holds for a
//! booking (kept in the booking record). They know nothing of bookings.

use time::OffsetDateTime;

/// A time window as the network states it: `[start, stop]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: OffsetDateTime,
    pub stop: OffsetDateTime,
}

impl Window {
    /// Whether this window holds all of `[start, stop]`.
    pub fn covers(&self, start: OffsetDateTime, stop: OffsetDateTime) -> bool {
        self.start <= start && stop <= self.stop
    }
}

/// A policy the network offers: its id (to select it) and the window it can honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub window: Window,
}

/// The first of `candidates` (the network's order of preference) that covers `[start, stop]`.
pub fn covering(candidates: &[Candidate], start: OffsetDateTime, stop: OffsetDateTime) -> Option<Candidate> {
    candidates.iter().copied().find(|c| c.window.covers(start, stop))
}

/// The words of a network's refusal for `devices` devices, with the window it offered
/// instead: what a declined booking's `message` says (CAMARA has no field for the window).
pub fn refusal_message(devices: u32, offered: Option<Window>) -> String {
    use time::format_description::well_known::Rfc3339;
    let what = if devices == 1 {
        "this QoS".to_owned()
    } else {
        format!("this QoS for {devices} devices")
    };
    let mut m = format!("The network cannot carry {what} over the requested window");
    if let Some(w) = offered
        && let (Ok(a), Ok(b)) = (w.start.format(&Rfc3339), w.stop.format(&Rfc3339))
    {
        m.push_str(&format!("; it offered {a} to {b} instead"));
    }
    m
}

/// What the network holds for a booking, kept with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkHold {
    /// The negotiation's resource at the network (its URI). `None`: asked, no answer received
    /// (a later try looks for it by the booking's notification URL before asking again).
    pub subscription: Option<String>,
    /// The network's reference of the agreed policy (`referenceId`).
    pub reference_id: Option<String>,
    /// The selected policy. `None`: not agreed (yet).
    pub policy: Option<i64>,
    /// What the network offered instead when no candidate covered the window (kept for the
    /// client's answer).
    pub offered: Option<Window>,
    /// The network refused the booking (no candidate covered it, or it refused the question).
    pub refused: bool,
    /// An ask went unanswered: a negotiation it created may exist beside the known one, so
    /// the release looks for every negotiation with the booking's callback URL.
    pub unanswered: bool,
}

impl NetworkHold {
    /// Whether the network agreed to the booking's window.
    pub fn agreed(&self) -> bool {
        self.policy.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_candidate_covers_only_the_whole_window() {
        let w = |a, b| Window { start: a, stop: b };
        let cands = [
            Candidate {
                id: 1,
                window: w(datetime!(2027-01-01 10:00 UTC), datetime!(2027-01-01 10:30 UTC)),
            },
            Candidate {
                id: 2,
                window: w(datetime!(2027-01-01 09:00 UTC), datetime!(2027-01-01 11:00 UTC)),
            },
            Candidate {
                id: 3,
                window: w(datetime!(2027-01-01 10:00 UTC), datetime!(2027-01-01 11:00 UTC)),
            },
        ];
        let (start, stop) = (datetime!(2027-01-01 10:00 UTC), datetime!(2027-01-01 11:00 UTC));
        assert_eq!(
            covering(&cands, start, stop).map(|c| c.id),
            Some(2),
            "the first that covers"
        );
        assert_eq!(
            covering(&cands[..1], start, stop),
            None,
            "a shorter window does not cover"
        );
        assert!(w(start, stop).covers(start, stop), "the same window covers");
    }
}
