//! The `BookingStore` contract as tests, written once and instantiated for every backend with
//! `store_suite!(<expression giving (store, guard)>)`.

use booking::{Booking, BookingId, BookingStatus, Device, NewBooking, Owner, PhoneNumber, ServiceArea};
use time::{OffsetDateTime, macros::datetime};

pub const T0: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

pub fn event(b: &Booking, status: BookingStatus, at: OffsetDateTime) -> booking::StatusEvent {
    booking::StatusEvent {
        id: BookingId::new().to_string(),
        booking_id: b.id,
        status,
        status_info: None,
        time: at,
        sink: "https://sink.example.com/cb".into(),
        credential: None,
        dialect: b.dialect,
    }
}

pub fn sample(client: &str, phone: &str, start: OffsetDateTime, duration: u32) -> Booking {
    let device = PhoneNumber::parse(phone).map(Device::from_phone).unwrap_or_default();
    let req = NewBooking::minimal("QOS_L", start, duration, ServiceArea::AreaName("x".into()));
    let owner = Owner {
        client_id: client.into(),
        subject: None,
    };
    let mut b = Booking::schedule(BookingId::new(), owner, device, req, T0);
    b.callback_token = "t".into();
    b
}

macro_rules! store_suite {
    ($make:expr) => {
        use crate::suite::T0;
        use booking::{Booking, BookingStatus, BookingStore, CreateOutcome, StatusInfo};
        use std::sync::Arc;
        use time::{Duration, OffsetDateTime};

        /// A booking with an id the store chose, as the service creates them.
        fn sample_for(
            store: &impl BookingStore,
            client: &str,
            phone: &str,
            start: OffsetDateTime,
            duration: u32,
        ) -> Booking {
            let mut b = crate::suite::sample(client, phone, start, duration);
            b.id = store.new_id(&b.owner, &b.device_keys);
            b
        }

        #[tokio::test]
        async fn create_then_get_returns_the_same_booking() {
            let (store, _guard) = $make;
            let b = sample_for(&store, "a", "+123456789", T0, 60);
            assert_eq!(
                store.create(&b, Some(T0), None).await.unwrap(),
                CreateOutcome::Created
            );
            assert_eq!(store.get(b.id).await.unwrap(), Some(b.clone()));
            assert_eq!(store.get(booking::BookingId::new()).await.unwrap(), None);
        }

        #[tokio::test]
        async fn overlapping_window_of_same_client_and_device_conflicts() {
            let (store, _guard) = $make;
            let first = sample_for(&store, "a", "+123456789", T0, 600);
            store.create(&first, Some(T0), None).await.unwrap();
            let overlap = sample_for(&store, "a", "+123456789", T0 + Duration::seconds(599), 60);
            assert_eq!(
                store.create(&overlap, None, None).await.unwrap(),
                CreateOutcome::Conflict(first.id)
            );
            // Back to back is not an overlap; another client or device is not a conflict.
            let after = sample_for(&store, "a", "+123456789", T0 + Duration::seconds(600), 60);
            assert_eq!(
                store.create(&after, None, None).await.unwrap(),
                CreateOutcome::Created
            );
            let other_client = sample_for(&store, "b", "+123456789", T0, 600);
            assert_eq!(
                store.create(&other_client, None, None).await.unwrap(),
                CreateOutcome::Created
            );
            let other_device = sample_for(&store, "a", "+123456780", T0, 600);
            assert_eq!(
                store.create(&other_device, None, None).await.unwrap(),
                CreateOutcome::Created
            );
            // A conflicting create stores nothing.
            assert_eq!(store.get(overlap.id).await.unwrap(), None);
        }

        /// The conflict rule (`booking::overlaps`) is stated once; every store applies it (the
        /// memory store by calling it, Redis in `lua/create.lua`). Each case has a device of
        /// its own, and the store's answer must equal both the table and the rule.
        #[tokio::test]
        async fn the_conflict_rule_is_the_same_on_every_store() {
            // (case, existing live?, candidate client, same device?, start offset s, duration s, conflict?)
            // The existing booking: client "a", the case's device, [T0, T0 + 600 s).
            let cases: &[(&str, bool, &str, bool, i64, u32, bool)] = &[
                ("same window", true, "a", true, 0, 600, true),
                ("inside", true, "a", true, 100, 10, true),
                ("covers", true, "a", true, -100, 1000, true),
                ("ends one second in", true, "a", true, -60, 61, true),
                ("starts in the last second", true, "a", true, 599, 60, true),
                ("back to back after", true, "a", true, 600, 60, false),
                ("back to back before", true, "a", true, -60, 60, false),
                ("long before", true, "a", true, -7200, 60, false),
                ("other client", true, "b", true, 0, 600, false),
                ("other device", true, "a", false, 0, 600, false),
                ("existing terminated", false, "a", true, 0, 600, false),
            ];
            let (store, _guard) = $make;
            for (i, &(case, live, client, same_device, offset, duration, conflict)) in cases.iter().enumerate() {
                let phone = format!("+4915100000{i:03}");
                let existing = sample_for(&store, "a", &phone, T0, 600);
                store.create(&existing, Some(T0), None).await.unwrap();
                let existing = if live {
                    existing
                } else {
                    let ended = existing.end(StatusInfo::DeleteRequested, T0).unwrap();
                    assert!(store.update(&ended, None, None).await.unwrap());
                    ended
                };
                let other = format!("+4915200000{i:03}");
                let device = if same_device { &phone } else { &other };
                let candidate = sample_for(&store, client, device, T0 + Duration::seconds(offset), duration);
                assert_eq!(
                    booking::overlaps(&existing, &candidate),
                    conflict,
                    "the rule disagrees with the table: {case}"
                );
                let want = if conflict {
                    CreateOutcome::Conflict(existing.id)
                } else {
                    CreateOutcome::Created
                };
                assert_eq!(
                    store.create(&candidate, None, None).await.unwrap(),
                    want,
                    "{case}"
                );
            }
        }

        #[tokio::test]
        async fn terminated_bookings_do_not_conflict() {
            let (store, _guard) = $make;
            let first = sample_for(&store, "a", "+123456789", T0, 600);
            store.create(&first, Some(T0), None).await.unwrap();
            let mut t = first.clone();
            t.version += 1;
            t.status = BookingStatus::Terminated;
            t.status_info = Some(StatusInfo::DeleteRequested);
            assert!(store.update(&t, None, None).await.unwrap());
            let again = sample_for(&store, "a", "+123456789", T0, 600);
            assert_eq!(
                store.create(&again, None, None).await.unwrap(),
                CreateOutcome::Created
            );
        }

        #[tokio::test]
        async fn by_device_finds_bookings_of_every_client_until_removed() {
            let (store, _guard) = $make;
            let a = sample_for(&store, "a", "+123456789", T0, 60);
            let b = sample_for(&store, "b", "+123456789", T0, 60);
            let c = sample_for(&store, "a", "+19999999", T0, 60);
            for x in [&a, &b, &c] {
                store.create(x, None, None).await.unwrap();
            }
            let mut found: Vec<_> = store
                .by_device(&a.device_keys)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect();
            found.sort();
            let mut want = vec![a.id, b.id];
            want.sort();
            assert_eq!(found, want);
            store.remove(a.id).await.unwrap();
            let found: Vec<_> = store
                .by_device(&a.device_keys)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect();
            assert_eq!(found, vec![b.id]);
            assert_eq!(store.get(a.id).await.unwrap(), None);
            assert!(
                store
                    .by_device(&["tel:+100000".to_string()])
                    .await
                    .unwrap()
                    .is_empty()
            );
        }

        #[tokio::test]
        async fn update_refuses_a_stale_version() {
            let (store, _guard) = $make;
            let b = sample_for(&store, "a", "+123456789", T0, 60);
            store.create(&b, Some(T0), None).await.unwrap();
            let mut v2 = b.clone();
            v2.version = 2;
            v2.status = BookingStatus::Activated;
            assert!(store.update(&v2, None, None).await.unwrap());
            let mut stale = b.clone();
            stale.version = 2;
            stale.status = BookingStatus::Terminated;
            assert!(!store.update(&stale, None, None).await.unwrap());
            assert_eq!(
                store.get(b.id).await.unwrap().unwrap().status,
                BookingStatus::Activated
            );
            let mut ghost = sample_for(&store, "a", "+123456789", T0, 60);
            ghost.version = 2;
            assert!(!store.update(&ghost, None, None).await.unwrap());
        }

        #[tokio::test]
        async fn timers_are_claimed_once_per_lease() {
            let (store, _guard) = $make;
            let early = sample_for(&store, "a", "+123456781", T0, 60);
            let late = sample_for(&store, "a", "+123456782", T0 + Duration::seconds(10), 60);
            store.create(&early, Some(T0), None).await.unwrap();
            store
                .create(&late, Some(T0 + Duration::seconds(10)), None)
                .await
                .unwrap();
            assert_eq!(store.next_due().await.unwrap(), Some(T0));
            let lease = Duration::seconds(30);
            assert!(
                store
                    .claim_due(T0 - Duration::seconds(1), 10, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(store.claim_due(T0, 10, lease).await.unwrap(), vec![early.id]);
            // Claimed: not handed out again within the lease...
            assert_eq!(
                store
                    .claim_due(T0 + Duration::seconds(10), 10, lease)
                    .await
                    .unwrap(),
                vec![late.id]
            );
            assert!(
                store
                    .claim_due(T0 + Duration::seconds(29), 10, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // ...but back once the lease ran out (the claimer died).
            assert_eq!(
                store
                    .claim_due(T0 + Duration::seconds(30), 10, lease)
                    .await
                    .unwrap(),
                vec![early.id]
            );
        }

        #[tokio::test]
        async fn renewed_claims_hold_and_given_back_claims_are_due_at_once() {
            let (store, _guard) = $make;
            let a = sample_for(&store, "a", "+123456781", T0, 60);
            let b = sample_for(&store, "a", "+123456782", T0, 60);
            let c = sample_for(&store, "a", "+123456783", T0, 60);
            for x in [&a, &b, &c] {
                store.create(x, Some(T0), None).await.unwrap();
            }
            let lease = Duration::seconds(3);
            let mut claimed = store.claim_due(T0, 10, lease).await.unwrap();
            claimed.sort();
            let mut all = vec![a.id, b.id, c.id];
            all.sort();
            assert_eq!(claimed, all);
            // c's transition was stored meanwhile (a new timer): its renewal must not move it.
            let mut c2 = c.clone();
            c2.version = 2;
            assert!(
                store
                    .update(&c2, Some(T0 + Duration::hours(1)), None)
                    .await
                    .unwrap()
            );
            let held: Vec<_> = all.iter().map(|id| (*id, T0 + lease)).collect();
            let mut moved = store.renew(&held, T0 + Duration::seconds(5)).await.unwrap();
            moved.sort();
            let mut want = vec![a.id, b.id];
            want.sort();
            assert_eq!(moved, want);
            // Renewed: not due when the first lease ends...
            assert!(store.claim_due(T0 + lease, 10, lease).await.unwrap().is_empty());
            // ...b is given back (its replica stops): due at once; a stays claimed.
            let back = store
                .renew(&[(b.id, T0 + Duration::seconds(5))], T0 + Duration::seconds(4))
                .await
                .unwrap();
            assert_eq!(back, vec![b.id]);
            assert_eq!(
                store
                    .claim_due(T0 + Duration::seconds(4), 10, lease)
                    .await
                    .unwrap(),
                vec![b.id]
            );
            // A stale claim (the time moved on) is not renewed.
            assert!(
                store
                    .renew(&[(a.id, T0 + lease)], T0 + Duration::seconds(9))
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(store.next_due().await.unwrap(), Some(T0 + Duration::seconds(5)));
        }

        #[tokio::test]
        async fn update_and_remove_move_the_timer() {
            let (store, _guard) = $make;
            let b = sample_for(&store, "a", "+123456789", T0, 60);
            store.create(&b, Some(T0), None).await.unwrap();
            let mut v2 = b.clone();
            v2.version = 2;
            assert!(
                store
                    .update(&v2, Some(T0 + Duration::seconds(60)), None)
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .claim_due(T0, 10, Duration::seconds(5))
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(store.next_due().await.unwrap(), Some(T0 + Duration::seconds(60)));
            let mut v3 = v2.clone();
            v3.version = 3;
            assert!(store.update(&v3, None, None).await.unwrap());
            assert_eq!(store.next_due().await.unwrap(), None);
            let c = sample_for(&store, "a", "+123456780", T0, 60);
            store.create(&c, Some(T0), None).await.unwrap();
            store.remove(c.id).await.unwrap();
            assert!(
                store
                    .claim_due(T0 + Duration::days(1), 10, Duration::seconds(5))
                    .await
                    .unwrap()
                    .is_empty()
            );
        }

        #[tokio::test]
        async fn claim_respects_the_limit() {
            let (store, _guard) = $make;
            let mut ids = Vec::new();
            for i in 0..5 {
                let b = sample_for(&store, "a", &format!("+12345678{i}"), T0, 60);
                store
                    .create(&b, Some(T0 + Duration::seconds(i)), None)
                    .await
                    .unwrap();
                ids.push(b.id);
            }
            // The limit holds; the rest comes with the next claim. (Order across shards is not
            // part of the contract: a sharded store drains shard by shard.)
            let lease = Duration::seconds(60);
            let got = store
                .claim_due(T0 + Duration::seconds(10), 3, lease)
                .await
                .unwrap();
            assert_eq!(got.len(), 3);
            let rest = store
                .claim_due(T0 + Duration::seconds(10), 3, lease)
                .await
                .unwrap();
            assert_eq!(rest.len(), 2);
            let mut all: Vec<_> = got.into_iter().chain(rest).collect();
            all.sort();
            ids.sort();
            assert_eq!(all, ids);
        }

        #[tokio::test]
        async fn events_are_stored_with_their_change_and_leave_only_when_acknowledged() {
            let (store, _guard) = $make;
            let lease = Duration::seconds(30);
            let b = sample_for(&store, "a", "+123456789", T0, 60);
            let e1 = crate::suite::event(&b, BookingStatus::Scheduled, T0);
            store.create(&b, Some(T0), Some(&e1)).await.unwrap();
            let mut v2 = b.clone();
            v2.version = 2;
            let e2 = crate::suite::event(&b, BookingStatus::Activated, T0);
            assert!(store.update(&v2, None, Some(&e2)).await.unwrap());
            // A refused (stale) write adds no event.
            let e_stale = crate::suite::event(&b, BookingStatus::Terminated, T0);
            assert!(!store.update(&v2, None, Some(&e_stale)).await.unwrap());

            let claimed = store.claim_events(T0, 10, lease).await.unwrap();
            assert_eq!(claimed, vec![(b.id, vec![e1.clone(), e2.clone()])]);
            // Held by the lease; a new event waits for the claimer (order is kept).
            assert!(store.claim_events(T0, 10, lease).await.unwrap().is_empty());
            let mut v3 = v2.clone();
            v3.version = 3;
            let e3 = crate::suite::event(&b, BookingStatus::Terminated, T0);
            assert!(store.update(&v3, None, Some(&e3)).await.unwrap());
            assert!(
                store
                    .claim_events(T0 + Duration::seconds(1), 10, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // The claimer acknowledges what it delivered and releases: the rest is due at once.
            store.ack_event(b.id, &e1.id, false).await.unwrap();
            store.ack_event(b.id, &e2.id, true).await.unwrap();
            let again = store
                .claim_events(T0 + Duration::seconds(1), 10, lease)
                .await
                .unwrap();
            assert_eq!(again, vec![(b.id, vec![e3.clone()])]);
            // A claimer that dies: its events come back after the lease.
            let back = store
                .claim_events(T0 + Duration::seconds(31), 10, lease)
                .await
                .unwrap();
            assert_eq!(back, vec![(b.id, vec![e3.clone()])]);
            store.ack_event(b.id, &e3.id, true).await.unwrap();
            assert!(
                store
                    .claim_events(T0 + Duration::days(1), 10, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // Removing a booking keeps its undelivered events.
            let c = sample_for(&store, "a", "+123456780", T0, 60);
            let ec = crate::suite::event(&c, BookingStatus::Scheduled, T0);
            store.create(&c, None, Some(&ec)).await.unwrap();
            store.remove(c.id).await.unwrap();
            assert_eq!(
                store.claim_events(T0, 10, lease).await.unwrap(),
                vec![(c.id, vec![ec])]
            );
        }

        /// The operator's client onboarding records, shared by every replica.
        #[tokio::test]
        async fn client_records_are_stored_replaced_and_removed() {
            let (store, _guard) = $make;
            assert!(store.clients().await.unwrap().is_empty());
            let mut a = booking::ClientRecord {
                client_id: "agg-app-1".into(),
                profiles: Some(vec!["QOS_S".into()]),
                max_live_bookings: Some(7),
                rates: booking::ClientRates {
                    read: Some(booking::ClientRate {
                        per_second: 3,
                        burst: 9,
                    }),
                    ..booking::ClientRates::default()
                },
                sinks: Some(vec!["https://app.example.com/".into()]),
                private_key_jwt: Some(booking::PrivateKeyJwt {
                    token_endpoint: "https://auth.example.com/token".into(),
                    client_id: "gw".into(),
                    key_file: "/keys/a.pem".into(),
                    algorithm: "ES256".into(),
                    key_id: Some("k1".into()),
                    scope: None,
                }),
            };
            let b = booking::ClientRecord {
                client_id: "agg-app-2".into(),
                ..booking::ClientRecord::default()
            };
            store.set_client(&a.client_id, Some(&a)).await.unwrap();
            store.set_client(&b.client_id, Some(&b)).await.unwrap();
            assert_eq!(store.clients().await.unwrap(), vec![a.clone(), b.clone()]);
            a.profiles = None;
            store.set_client(&a.client_id, Some(&a)).await.unwrap();
            store.set_client(&b.client_id, None).await.unwrap();
            assert_eq!(store.clients().await.unwrap(), vec![a]);
        }

        /// A QoS Booking and Assignment reservation takes as many places as its devices.
        #[tokio::test]
        async fn a_reservation_takes_as_many_places_as_its_devices() {
            use booking::capacity::PoolClaim;
            let (store, _guard) = $make;
            let claim = |units| PoolClaim {
                pool: "arena".into(),
                profile: "QOS_L".into(),
                limit: 10,
                deferred: false,
                periods: vec![],
                units,
            };
            let hour = Duration::hours(1);
            let (r, a, b) = (
                booking::BookingId::new(),
                booking::BookingId::new(),
                booking::BookingId::new(),
            );
            assert_eq!(
                store.reserve(&[claim(8)], r, T0, T0 + hour, T0).await.unwrap(),
                None
            );
            assert_eq!(
                store.reserve(&[claim(3)], a, T0, T0 + hour, T0).await.unwrap(),
                Some("arena".to_owned())
            );
            assert_eq!(
                store.reserve(&[claim(2)], a, T0, T0 + hour, T0).await.unwrap(),
                None
            );
            assert_eq!(
                store.reserve(&[claim(1)], b, T0, T0 + hour, T0).await.unwrap(),
                Some("arena".to_owned())
            );
            // After the reservation's window, the places are free.
            assert_eq!(
                store
                    .reserve(&[claim(8)], b, T0 + hour, T0 + hour * 2, T0)
                    .await
                    .unwrap(),
                None
            );
            store.release(&[claim(1).bucket()], r).await.unwrap();
            assert_eq!(
                store.reserve(&[claim(8)], r, T0, T0 + hour, T0).await.unwrap(),
                None
            );
        }

        /// Capacity admission: the peak over the window, all pools or none, given back on
        /// release, reservations of past windows no longer counted.
        #[tokio::test]
        async fn capacity_is_reserved_atomically_per_pool_and_given_back() {
            use booking::capacity::PoolClaim;
            let (store, _guard) = $make;
            let claim = |pool: &str, limit| PoolClaim {
                pool: pool.into(),
                profile: "QOS_L".into(),
                limit,
                deferred: false,
                periods: vec![],
                units: 1,
            };
            let hour = Duration::hours(1);
            let (a, b, c, d) = (
                booking::BookingId::new(),
                booking::BookingId::new(),
                booking::BookingId::new(),
                booking::BookingId::new(),
            );
            let two = [claim("stadium", 2)];
            assert_eq!(store.reserve(&two, a, T0, T0 + hour, T0).await.unwrap(), None);
            assert_eq!(
                store
                    .reserve(&two, b, T0 + Duration::minutes(30), T0 + hour * 2, T0)
                    .await
                    .unwrap(),
                None
            );
            // Overlaps both at T0+30m..T0+1h: full.
            assert_eq!(
                store
                    .reserve(&two, c, T0 + Duration::minutes(45), T0 + hour, T0)
                    .await
                    .unwrap(),
                Some("stadium".to_owned())
            );
            // Back to back with `a` and inside `b` only: one at a time besides it.
            assert_eq!(
                store
                    .reserve(&two, c, T0 + hour, T0 + hour * 2, T0)
                    .await
                    .unwrap(),
                None
            );
            // All or nothing: the second pool is full, so nothing is taken in the first.
            let both = [claim("harbour", 5), claim("stadium", 2)];
            assert_eq!(
                store
                    .reserve(&both, d, T0 + Duration::minutes(90), T0 + hour * 2, T0)
                    .await
                    .unwrap(),
                Some("stadium".to_owned())
            );
            store
                .release(&[booking::capacity::bucket("stadium", "QOS_L")], b)
                .await
                .unwrap();
            assert_eq!(
                store
                    .reserve(&both, d, T0 + Duration::minutes(90), T0 + hour * 2, T0)
                    .await
                    .unwrap(),
                None
            );
            // Later, windows that ended no longer count.
            let later = T0 + hour * 3;
            let e = booking::BookingId::new();
            let one = [claim("stadium", 1)];
            assert_eq!(
                store.reserve(&one, e, later, later + hour, later).await.unwrap(),
                None
            );
            // The operator's change wins over the configured capacity, on every replica.
            store.set_limit("stadium", "QOS_L", Some(2)).await.unwrap();
            assert_eq!(
                store.limits().await.unwrap(),
                vec![("stadium".to_owned(), "QOS_L".to_owned(), 2)]
            );
            let f = booking::BookingId::new();
            assert_eq!(
                store.reserve(&one, f, later, later + hour, later).await.unwrap(),
                None
            );
            store.set_limit("stadium", "QOS_L", None).await.unwrap();
            assert!(store.limits().await.unwrap().is_empty());
            let g = booking::BookingId::new();
            assert_eq!(
                store.reserve(&one, g, later, later + hour, later).await.unwrap(),
                Some("stadium".to_owned())
            );
            // A daily window with its own capacity: one at a time inside it, more outside.
            let evening = PoolClaim {
                pool: "harbour".into(),
                profile: "QOS_M".into(),
                limit: 5,
                deferred: false,
                units: 1,
                periods: vec![
                    booking::capacity::Period {
                        start: later,
                        end: later + hour,
                        limit: None,
                    },
                    booking::capacity::Period {
                        start: later + hour,
                        end: later + hour * 2,
                        limit: Some(1),
                    },
                ],
            };
            let inside = PoolClaim {
                periods: vec![booking::capacity::Period {
                    start: later + hour,
                    end: later + hour * 2,
                    limit: Some(1),
                }],
                ..evening.clone()
            };
            let outside = PoolClaim {
                periods: vec![booking::capacity::Period {
                    start: later,
                    end: later + hour,
                    limit: None,
                }],
                ..evening.clone()
            };
            let (h1, h2, h3) = (
                booking::BookingId::new(),
                booking::BookingId::new(),
                booking::BookingId::new(),
            );
            assert_eq!(
                store
                    .reserve(std::slice::from_ref(&evening), h1, later, later + hour * 2, later)
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(
                store
                    .reserve(&[inside], h2, later + hour, later + hour * 2, later)
                    .await
                    .unwrap(),
                Some("harbour".to_owned()),
                "the window's capacity of one is taken"
            );
            assert_eq!(
                store
                    .reserve(&[outside], h3, later, later + hour, later)
                    .await
                    .unwrap(),
                None
            );
        }

        /// The operator's listing: every booking with a timer, filtered, up to a limit.
        #[tokio::test]
        async fn bookings_are_listed_for_the_operator() {
            let (store, _guard) = $make;
            let a1 = sample_for(&store, "a", "+123456781", T0, 60);
            let a2 = sample_for(&store, "a", "+123456782", T0, 60);
            let b1 = sample_for(&store, "b", "+123456781", T0, 60);
            for x in [&a1, &a2, &b1] {
                store.create(x, Some(T0), None).await.unwrap();
            }
            let of_a = |b: &Booking| b.owner.client_id == "a";
            let mut found: Vec<_> = store
                .list(&of_a, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect();
            found.sort();
            let mut want = vec![a1.id, a2.id];
            want.sort();
            assert_eq!(found, want);
            let all = |_: &Booking| true;
            assert_eq!(store.list(&all, 2).await.unwrap().len(), 2);
            assert_eq!(store.list(&all, 10).await.unwrap().len(), 3);
        }

        /// Claims, deferrals and acknowledgements of more bookings than one store call takes
        /// (the Redis store's calls take 256): every booking is claimed once with all its
        /// events in order, none twice, and each acknowledgement applies to its own booking
        /// in the order given.
        #[tokio::test]
        async fn outbox_batches_larger_than_one_call_lose_nothing_and_double_nothing() {
            use std::collections::{HashMap, HashSet};
            let (store, _guard) = $make;
            let lease = Duration::seconds(30);
            let n = 600;
            // Every third booking has two events. Two thirds get ids of one owner and device,
            // which a sharded store puts in one shard: more there than one call takes.
            let mut want: HashMap<booking::BookingId, Vec<booking::StatusEvent>> = HashMap::new();
            let mut order = Vec::new();
            let first = crate::suite::sample("a", "+155500000", T0, 60);
            for i in 0..n {
                let mut b = sample_for(&store, "a", &format!("+1555{i:05}"), T0, 60);
                if i < 400 {
                    b.id = store.new_id(&first.owner, &first.device_keys);
                }
                let e1 = crate::suite::event(&b, BookingStatus::Scheduled, T0);
                store.create(&b, None, Some(&e1)).await.unwrap();
                let mut events = vec![e1];
                if i % 3 == 0 {
                    let mut v2 = b.clone();
                    v2.version = 2;
                    let e2 = crate::suite::event(&b, BookingStatus::Activated, T0);
                    assert!(store.update(&v2, None, Some(&e2)).await.unwrap());
                    events.push(e2);
                }
                want.insert(b.id, events);
                order.push(b.id);
            }
            let claim_all = |at: OffsetDateTime, limits: Vec<usize>| {
                let store = &store;
                async move {
                    let mut got = Vec::new();
                    for limit in limits {
                        let part = store.claim_events(at, limit, lease).await.unwrap();
                        assert!(
                            part.len() <= limit,
                            "{} claimed for a limit of {limit}",
                            part.len()
                        );
                        got.extend(part);
                    }
                    got
                }
            };
            let check_once = |got: &[(booking::BookingId, Vec<booking::StatusEvent>)],
                              expect: &HashMap<booking::BookingId, Vec<booking::StatusEvent>>| {
                let ids: HashSet<_> = got.iter().map(|(id, _)| *id).collect();
                assert_eq!(ids.len(), got.len(), "a booking claimed twice");
                assert_eq!(
                    got.len(),
                    expect.len(),
                    "claimed {} of {}",
                    got.len(),
                    expect.len()
                );
                for (id, events) in got {
                    assert_eq!(Some(events), expect.get(id), "the events of {id}, in order");
                }
            };
            // Claims of 300 (more than one call's worth) and the rest: all, each once.
            let got = claim_all(T0, vec![300, 300, 10]).await;
            check_once(&got, &want);
            assert!(
                store.claim_events(T0, n, lease).await.unwrap().is_empty(),
                "held by the lease"
            );
            // Given back all at once, due later: not before, then all again, each once.
            let later = T0 + Duration::seconds(5);
            let all: Vec<_> = order.iter().map(|id| (*id, later)).collect();
            store.defer_events(&all).await.unwrap();
            assert!(
                store
                    .claim_events(later - Duration::seconds(1), n, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let got = claim_all(later, vec![n + 10]).await;
            check_once(&got, &want);
            // One batch of acknowledgements: of the bookings with two events, half have both
            // acknowledged (in order, the claim released by the second), half only the first
            // (released: the second is due at once); every other booking its only one.
            let mut acks = Vec::new();
            let mut left = HashMap::new();
            for (i, id) in order.iter().enumerate() {
                let events = &want[id];
                let ack = |e: &booking::StatusEvent, release| booking::EventAck {
                    booking: *id,
                    event_id: e.id.clone(),
                    release,
                };
                match events.len() {
                    2 if i % 2 == 0 => {
                        acks.push(ack(&events[0], false));
                        acks.push(ack(&events[1], true));
                    }
                    2 => {
                        acks.push(ack(&events[0], true));
                        left.insert(*id, vec![events[1].clone()]);
                    }
                    _ => acks.push(ack(&events[0], true)),
                }
            }
            assert!(acks.len() > 512);
            assert_eq!(store.ack_events(&acks).await.unwrap(), vec![true; acks.len()]);
            assert_eq!(store.stats().await.unwrap().outbox_backlog, left.len() as u64);
            let got = claim_all(later, vec![n]).await;
            check_once(&got, &left);
            let last: Vec<_> = left
                .iter()
                .map(|(id, events)| booking::EventAck {
                    booking: *id,
                    event_id: events[0].id.clone(),
                    release: true,
                })
                .collect();
            assert_eq!(store.ack_events(&last).await.unwrap(), vec![true; last.len()]);
            assert_eq!(store.stats().await.unwrap().outbox_backlog, 0);
            assert!(
                store
                    .claim_events(T0 + Duration::days(1), n, lease)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }

        /// A replica that stops gives its claimed, undelivered events back at once.
        #[tokio::test]
        async fn a_claim_on_events_can_be_given_back_without_acknowledging() {
            let (store, _guard) = $make;
            let a = sample_for(&store, "a", "+123456781", T0, 60);
            let ev = crate::suite::event(&a, BookingStatus::Scheduled, T0);
            store.create(&a, None, Some(&ev)).await.unwrap();
            let lease = Duration::minutes(2);
            assert_eq!(store.claim_events(T0, 10, lease).await.unwrap().len(), 1);
            assert!(
                store.claim_events(T0, 10, lease).await.unwrap().is_empty(),
                "claimed"
            );
            store.ack_event(a.id, "", true).await.unwrap();
            assert_eq!(
                store.claim_events(T0, 10, lease).await.unwrap(),
                vec![(a.id, vec![ev])],
                "given back, the event still there"
            );
        }

        /// A claim deferred (its sink backing off) comes back at the time given, not before,
        /// and not at all once its events are gone.
        #[tokio::test]
        async fn deferred_events_are_claimed_again_from_the_time_given() {
            let (store, _guard) = $make;
            let a = sample_for(&store, "a", "+123456781", T0, 60);
            let ev = crate::suite::event(&a, BookingStatus::Scheduled, T0);
            store.create(&a, None, Some(&ev)).await.unwrap();
            let lease = Duration::minutes(2);
            assert_eq!(store.claim_events(T0, 10, lease).await.unwrap().len(), 1);
            store
                .defer_events(&[(a.id, T0 + Duration::seconds(5))])
                .await
                .unwrap();
            assert!(
                store
                    .claim_events(T0 + Duration::seconds(4), 10, lease)
                    .await
                    .unwrap()
                    .is_empty(),
                "not before the time given"
            );
            assert_eq!(
                store
                    .claim_events(T0 + Duration::seconds(5), 10, lease)
                    .await
                    .unwrap(),
                vec![(a.id, vec![ev.clone()])],
                "due again, the event still there"
            );
            store.ack_event(a.id, &ev.id, true).await.unwrap();
            store.defer_events(&[(a.id, T0)]).await.unwrap();
            assert!(
                store
                    .claim_events(T0 + Duration::days(1), 10, lease)
                    .await
                    .unwrap()
                    .is_empty(),
                "an empty outbox is not brought back"
            );
        }

        /// Metrics read bookings by status and the outbox backlog from the store, so that
        /// every replica reports the same figures.
        #[tokio::test]
        async fn bookings_are_counted_by_status_and_the_backlog_by_booking() {
            let (store, _guard) = $make;
            let stats = |s: [u64; 4], backlog| booking::StoreStats {
                by_status: s,
                outbox_backlog: backlog,
            };
            assert_eq!(store.stats().await.unwrap(), stats([0, 0, 0, 0], 0));
            let a = sample_for(&store, "a", "+123456781", T0, 60);
            // Created through another API shape: a record of layout 4, counted all the same.
            let mut b = sample_for(&store, "a", "+123456782", T0, 60);
            b.dialect = booking::Dialect(1);
            let ev = crate::suite::event(&a, BookingStatus::Scheduled, T0);
            store.create(&a, None, Some(&ev)).await.unwrap();
            store.create(&b, None, None).await.unwrap();
            assert_eq!(store.stats().await.unwrap(), stats([0, 2, 0, 0], 1));
            // A device booked by its address and resolved to a subscription: layout 5,
            // counted all the same.
            let mut c = sample_for(&store, "a", "+123456783", T0, 60);
            let device = c.device.as_mut().unwrap();
            device.phone_number = None;
            device.ipv4_address = Some(booking::DeviceIpv4 {
                public_address: std::net::Ipv4Addr::new(203, 0, 113, 83),
                private_address: Some(std::net::Ipv4Addr::new(10, 45, 0, 83)),
                public_port: None,
            });
            device.resolved = Some("tel:+123456783".into());
            c.device_keys = device.keys();
            store.create(&c, None, None).await.unwrap();
            assert_eq!(store.stats().await.unwrap(), stats([0, 3, 0, 0], 1));
            store.remove(c.id).await.unwrap();
            assert_eq!(store.stats().await.unwrap(), stats([0, 2, 0, 0], 1));
            let mut t = a.clone();
            t.version = 2;
            t.status = BookingStatus::Activated;
            assert!(store.update(&t, None, None).await.unwrap());
            // A stale write counts nothing.
            assert!(!store.update(&t, None, None).await.unwrap());
            assert_eq!(store.stats().await.unwrap(), stats([0, 1, 1, 0], 1));
            store.ack_event(a.id, &ev.id, true).await.unwrap();
            store.remove(t.id).await.unwrap();
            store.remove(t.id).await.unwrap();
            assert_eq!(store.stats().await.unwrap(), stats([0, 1, 0, 0], 0));
        }

        #[tokio::test]
        async fn live_bookings_are_counted_per_client() {
            let (store, _guard) = $make;
            let a1 = sample_for(&store, "a", "+123456781", T0, 60);
            let a2 = sample_for(&store, "a", "+123456782", T0, 60);
            let b1 = sample_for(&store, "b", "+123456781", T0, 60);
            for x in [&a1, &a2, &b1] {
                store.create(x, None, None).await.unwrap();
            }
            assert_eq!(store.count_live("a").await.unwrap(), 2);
            assert_eq!(store.count_live("b").await.unwrap(), 1);
            assert_eq!(store.count_live("c").await.unwrap(), 0);
            let mut t = a1.clone();
            t.version = 2;
            t.status = BookingStatus::Terminated;
            assert!(store.update(&t, None, None).await.unwrap());
            // A stale write changes nothing, the count included.
            assert!(!store.update(&t, None, None).await.unwrap());
            assert_eq!(store.count_live("a").await.unwrap(), 1);
            store.remove(a1.id).await.unwrap();
            store.remove(a2.id).await.unwrap();
            assert_eq!(store.count_live("a").await.unwrap(), 0);
            assert_eq!(store.count_live("b").await.unwrap(), 1);
        }

        #[tokio::test]
        async fn concurrent_overlapping_creates_store_exactly_one() {
            let (store, _guard) = $make;
            let store = Arc::new(store);
            let mut tasks = Vec::new();
            for _ in 0..16 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let b = sample_for(&*store, "a", "+123456789", T0, 600);
                    store.create(&b, Some(T0), None).await.unwrap()
                }));
            }
            let mut created = 0;
            for t in tasks {
                if t.await.unwrap() == CreateOutcome::Created {
                    created += 1;
                }
            }
            assert_eq!(created, 1);
        }

        crate::suite_ledger::ledger_suite!($make);
    };
}

pub(crate) use store_suite;
