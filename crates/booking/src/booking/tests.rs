//! The lifecycle's invariants under random sequences of events, with a store that refuses
//! stale writes (as every real store does) and replicas that may act on stale copies or crash
//! between reading and writing.

use super::*;
use crate::device::PhoneNumber;
use proptest::prelude::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

fn new_booking() -> Booking {
    let device = Device::from_phone(PhoneNumber::parse("+123456789").unwrap());
    let req = NewBooking::minimal("QOS_L", T0, 60, ServiceArea::AreaName("x".into()));
    let owner = Owner {
        client_id: "c".into(),
        subject: None,
    };
    Booking::schedule(BookingId::new(), owner, device, req, T0 - Duration::hours(1))
}

/// What can happen to a booking, from any replica.
#[derive(Debug, Clone)]
enum Event {
    /// The start timer fires: an attempt is recorded, then the NEF answers or does not.
    Start { answer: Answer },
    /// The end timer fires: the removal works or fails transiently.
    End { removal_ok: bool },
    /// The network ends the QoS (a NEF callback).
    NetworkEnded,
    /// The client deletes the booking.
    Delete,
    /// The purge timer fires after the retention.
    Purge,
    /// A replica read the booking earlier and writes from that stale copy now.
    StaleReplica { steps_back: usize, then: Box<Event> },
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Created,
    Unavailable,
    /// The replica dies after recording its attempt and before the NEF answers.
    Crash,
}

fn event() -> impl Strategy<Value = Event> {
    let leaf = prop_oneof![
        prop_oneof![Just(Answer::Created), Just(Answer::Unavailable), Just(Answer::Crash)]
            .prop_map(|answer| Event::Start { answer }),
        any::<bool>().prop_map(|removal_ok| Event::End { removal_ok }),
        Just(Event::NetworkEnded),
        Just(Event::Delete),
        Just(Event::Purge),
    ];
    leaf.prop_recursive(1, 2, 1, |inner| {
        (1usize..4, inner).prop_map(|(steps_back, then)| Event::StaleReplica {
            steps_back,
            then: Box::new(then),
        })
    })
}

/// A store with the one rule every store keeps: a write must be based on the stored version.
struct World {
    history: Vec<Booking>,
    purged: bool,
    /// Subscriptions at the NEF (each created subscription's URI).
    nef: Vec<String>,
    created: usize,
}

impl World {
    fn stored(&self) -> &Booking {
        &self.history[self.history.len() - 1]
    }

    fn write(&mut self, b: Booking) -> bool {
        if self.purged || b.version != self.stored().version + 1 {
            return false;
        }
        self.history.push(b);
        true
    }

    fn apply(&mut self, base: Booking, ev: &Event, now: OffsetDateTime) {
        match ev {
            Event::Start { answer } => {
                let Ok(intent) = base.begin_attempt(None) else { return };
                if !self.write(intent.clone()) {
                    return;
                }
                match answer {
                    Answer::Created => {
                        self.created += 1;
                        let sub = format!("sub-{}", self.created);
                        self.nef.push(sub.clone());
                        let Ok(active) = intent.activated(sub.clone(), now) else {
                            return;
                        };
                        if !self.write(active) {
                            self.nef.retain(|s| *s != sub); // the orphan is removed
                        }
                    }
                    Answer::Unavailable => {
                        if let Ok(r) = intent.retry(now + Duration::seconds(1)) {
                            self.write(r);
                        }
                    }
                    Answer::Crash => {}
                }
            }
            Event::End { removal_ok } => {
                if base.status != BookingStatus::Activated {
                    return;
                }
                if !removal_ok {
                    if let Ok(r) = base.retry(now + Duration::seconds(1)) {
                        self.write(r);
                    }
                    return;
                }
                let sub = base.nef_subscription.clone();
                if let Ok(ended) = base.end(StatusInfo::DurationExpired, now)
                    && self.write(ended)
                {
                    self.nef.retain(|s| Some(s) != sub.as_ref());
                }
            }
            Event::NetworkEnded | Event::Delete => {
                let reason = match ev {
                    Event::Delete => StatusInfo::DeleteRequested,
                    _ => StatusInfo::NetworkTerminated,
                };
                let sub = base.nef_subscription.clone();
                if let Ok(ended) = base.end(reason, now)
                    && self.write(ended)
                {
                    self.nef.retain(|s| Some(s) != sub.as_ref());
                }
            }
            Event::Purge => {
                if !self.purged && self.stored().purgeable(now, Duration::seconds(360)).is_ok() {
                    self.purged = true;
                }
            }
            Event::StaleReplica { steps_back, then } => {
                let i = self.history.len().saturating_sub(1 + steps_back);
                let stale = self.history[i].clone();
                self.apply(stale, then, now);
            }
        }
    }
}

proptest! {
    #[test]
    fn the_lifecycle_keeps_its_invariants(events in proptest::collection::vec(event(), 1..30)) {
        let mut w = World { history: vec![new_booking()], purged: false, nef: vec![], created: 0 };
        let mut now = T0;
        for ev in &events {
            now += Duration::minutes(10);
            let before = w.stored().clone();
            let base = before.clone();
            w.apply(base, ev, now);
            let after = w.stored();
            // Versions only grow, one step per stored change.
            for pair in w.history.windows(2) {
                prop_assert_eq!(pair[1].version, pair[0].version + 1);
            }
            // No ACTIVATED without startedAt.
            prop_assert!(after.status != BookingStatus::Activated || after.started_at.is_some());
            // Nothing leaves TERMINATED.
            if before.status == BookingStatus::Terminated {
                prop_assert_eq!(after.status, BookingStatus::Terminated);
                prop_assert_eq!(after.status_info, before.status_info);
            }
            // A TERMINATED booking holds no subscription, and the NEF keeps none of it once the
            // removal succeeded (only a crashed attempt's may remain: `has_unconfirmed_attempts`).
            if after.status == BookingStatus::Terminated {
                prop_assert!(after.nef_subscription.is_none());
                prop_assert!(after.started_at.is_some() || after.status_info.is_some());
            }
            // The NEF holds at most the subscription the booking knows of.
            prop_assert!(w.nef.len() <= 1, "{:?}", w.nef);
            if let Some(s) = w.nef.first() {
                prop_assert_eq!(after.nef_subscription.as_ref(), Some(s));
            }
        }
    }
}

#[test]
fn transitions_from_terminated_are_refused() {
    let b = new_booking().end(StatusInfo::DeleteRequested, T0).unwrap();
    assert!(b.begin_attempt(None).is_err());
    assert!(b.activated("s".into(), T0).is_err());
    assert!(b.retry(T0).is_err());
    assert!(b.end(StatusInfo::NetworkTerminated, T0).is_err());
    assert!(b.purgeable(T0, Duration::seconds(360)).is_err());
    assert!(b.purgeable(T0 + Duration::seconds(360), Duration::seconds(360)).is_ok());
}

#[test]
fn attempts_are_counted_once_per_activation_and_reset_when_active() {
    let b = new_booking();
    let i = b.begin_attempt(None).unwrap();
    assert_eq!((i.attempts, i.version), (1, 2));
    let r = i.retry(T0).unwrap();
    assert_eq!((r.attempts, r.retry_at), (1, Some(T0)));
    let a = r.begin_attempt(None).unwrap().activated("s".into(), T0).unwrap();
    assert_eq!((a.attempts, a.retry_at, a.version), (0, None, 5));
    assert_eq!(a.retry(T0).unwrap().attempts, 1, "a removal retry counts its attempt");
}
