//! The usage ledger's part of the `BookingStore` contract, instantiated with the rest of the
//! suite for every backend (`store_suite!` calls `ledger_suite!`).

macro_rules! ledger_suite {
    ($make:expr) => {
        use booking::usage::{EntryKind, LedgerEntry, LedgerPosition};

        /// Every entry of every shard's ledger, in each shard's order.
        async fn whole_ledger(store: &impl BookingStore) -> Vec<LedgerEntry> {
            let mut all = Vec::new();
            for shard in 0..store.ledger_shards() {
                all.extend(
                    store
                        .ledger(shard, LedgerPosition::default(), 10_000)
                        .await
                        .unwrap(),
                );
            }
            all
        }

        #[tokio::test]
        async fn the_ledger_holds_one_entry_when_the_qos_goes_into_place_and_one_at_the_end() {
            let (store, _guard) = $make;
            let mut b = sample_for(&store, "a", "+123456789", T0, 600);
            b.sink_credential = Some(booking::SinkCredential::PrivateKeyJwt {
                client_id: "a".into(),
            });
            store.create(&b, Some(T0), None).await.unwrap();
            let tried = b.begin_attempt(Some("marker".into())).unwrap();
            assert!(store.update(&tried, Some(T0), None).await.unwrap());
            assert!(
                whole_ledger(&store).await.is_empty(),
                "nothing is billed before the QoS is in place"
            );

            let active = tried.activated("sub".into(), T0).unwrap();
            assert!(
                store
                    .update(&active, Some(T0 + Duration::minutes(10)), None)
                    .await
                    .unwrap()
            );
            // Stored again unchanged (a timer claimed early): no second entry.
            let again = active.touched();
            assert!(
                store
                    .update(&again, Some(T0 + Duration::minutes(10)), None)
                    .await
                    .unwrap()
            );
            let ended = again
                .end(StatusInfo::DurationExpired, T0 + Duration::minutes(10))
                .unwrap();
            assert!(store.update(&ended, None, None).await.unwrap());
            assert!(store.update(&ended.touched(), None, None).await.unwrap());
            // A stale write stores nothing, so it adds no entry either.
            assert!(!store.update(&active.touched(), None, None).await.unwrap());

            let ledger = whole_ledger(&store).await;
            let kinds: Vec<_> = ledger.iter().map(|e| (e.booking.id, e.kind())).collect();
            assert_eq!(kinds, vec![(b.id, EntryKind::Started), (b.id, EntryKind::Closed)]);
            assert!(ledger[0].position < ledger[1].position);
            assert_eq!(ledger[1].booking.terminated_at, Some(T0 + Duration::minutes(10)));
            assert_eq!(ledger[1].booking.started_at, Some(T0));
            for e in &ledger {
                assert!(e.booking.sink_credential.is_none() && e.booking.callback_token.is_empty());
                assert!(e.booking.attempt_marker.is_none());
            }
        }

        #[tokio::test]
        async fn a_booking_declined_at_its_create_has_its_final_entry() {
            let (store, _guard) = $make;
            let b = sample_for(&store, "a", "+123456789", T0, 600);
            let declined = b
                .end(StatusInfo::BookingDeclined, T0 - Duration::hours(1))
                .unwrap();
            store.create(&declined, None, None).await.unwrap();
            let ledger = whole_ledger(&store).await;
            assert_eq!(ledger.len(), 1);
            assert_eq!(ledger[0].kind(), EntryKind::Closed);
            assert_eq!(ledger[0].booking.status_info, Some(StatusInfo::BookingDeclined));
        }

        #[tokio::test]
        async fn the_ledger_is_read_from_a_position_in_pages() {
            let (store, _guard) = $make;
            for i in 0..5 {
                let b = sample_for(&store, "a", &format!("+12345678{i}"), T0, 600);
                let declined = b.end(StatusInfo::BookingDeclined, T0).unwrap();
                store.create(&declined, None, None).await.unwrap();
            }
            let mut read = Vec::new();
            for shard in 0..store.ledger_shards() {
                let mut at = LedgerPosition::default();
                loop {
                    let page = store.ledger(shard, at, 2).await.unwrap();
                    assert!(page.len() <= 2);
                    let Some(last) = page.last() else { break };
                    at = last.position;
                    read.extend(page);
                }
            }
            assert_eq!(read.len(), 5, "every entry once, none twice");
            let ids: std::collections::BTreeSet<_> = read.iter().map(|e| e.booking.id).collect();
            assert_eq!(ids.len(), 5);
        }

        #[tokio::test]
        async fn a_marker_moves_only_forward_and_only_for_its_lease_holder() {
            let (store, _guard) = $make;
            let ttl = Duration::seconds(30);
            use booking::usage::LeaseGrant;
            assert_eq!(
                store.lease("file", "replica-a", ttl).await.unwrap(),
                LeaseGrant::Taken
            );
            assert_eq!(
                store.lease("file", "replica-b", ttl).await.unwrap(),
                LeaseGrant::Refused,
                "held by another"
            );
            assert_eq!(
                store.lease("file", "replica-a", ttl).await.unwrap(),
                LeaseGrant::Renewed,
                "renewed by its holder"
            );
            assert!(
                store.lease("chf", "replica-b", ttl).await.unwrap().held(),
                "leases are per exporter"
            );

            let p = LedgerPosition { ms: 1_000, seq: 2 };
            assert_eq!(
                store.ledger_marker("file", 0).await.unwrap(),
                LedgerPosition::default()
            );
            assert!(!store.set_ledger_marker("file", "replica-b", 0, p).await.unwrap());
            assert!(store.set_ledger_marker("file", "replica-a", 0, p).await.unwrap());
            assert_eq!(store.ledger_marker("file", 0).await.unwrap(), p);
            let back = LedgerPosition { ms: 1_000, seq: 1 };
            assert!(
                !store
                    .set_ledger_marker("file", "replica-a", 0, back)
                    .await
                    .unwrap()
            );
            assert_eq!(store.ledger_marker("file", 0).await.unwrap(), p);
            assert_eq!(
                store.ledger_marker("file", 1).await.unwrap(),
                LedgerPosition::default()
            );

            // A lapsed lease goes to whoever asks next.
            assert!(
                store
                    .lease("short", "replica-a", Duration::milliseconds(50))
                    .await
                    .unwrap()
                    .held()
            );
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
            assert_eq!(
                store.lease("short", "replica-b", ttl).await.unwrap(),
                LeaseGrant::Taken
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            // Its own lapsed lease is taken anew, not renewed: another may have held it.
            assert!(
                store
                    .lease("short2", "replica-a", Duration::milliseconds(50))
                    .await
                    .unwrap()
                    .held()
            );
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
            assert_eq!(
                store.lease("short2", "replica-a", ttl).await.unwrap(),
                LeaseGrant::Taken
            );
            assert!(!store.set_ledger_marker("short", "replica-a", 0, p).await.unwrap());
        }

        #[tokio::test]
        async fn an_exporters_state_of_a_booking_is_kept_listed_and_removed() {
            let (store, _guard) = $make;
            let a = sample_for(&store, "a", "+123456789", T0, 600);
            let b = sample_for(&store, "a", "+123456780", T0, 600);
            assert_eq!(store.export_state("chf", a.id).await.unwrap(), None);
            store.set_export_state("chf", a.id, Some(b"one")).await.unwrap();
            store.set_export_state("chf", b.id, Some(b"two")).await.unwrap();
            store.set_export_state("chf", a.id, Some(b"three")).await.unwrap();
            store.set_export_state("other", a.id, Some(b"x")).await.unwrap();
            assert_eq!(
                store.export_state("chf", a.id).await.unwrap(),
                Some(b"three".to_vec())
            );
            let mut all = store.export_states("chf").await.unwrap();
            all.sort();
            let mut want = vec![(a.id, b"three".to_vec()), (b.id, b"two".to_vec())];
            want.sort();
            assert_eq!(all, want);
            store.set_export_state("chf", a.id, None).await.unwrap();
            assert_eq!(store.export_state("chf", a.id).await.unwrap(), None);
            assert_eq!(store.export_states("chf").await.unwrap().len(), 1);
        }

        #[tokio::test]
        async fn ledger_entries_past_their_retention_are_trimmed() {
            let (store, _guard) = $make;
            let b = sample_for(&store, "a", "+123456789", T0, 600);
            store
                .create(&b.end(StatusInfo::BookingDeclined, T0).unwrap(), None, None)
                .await
                .unwrap();
            assert_eq!(whole_ledger(&store).await.len(), 1);
            // Entries are timed by the store (Redis: its clock; memory: the transition), so
            // a bound far behind both keeps everything, one far ahead removes everything.
            for shard in 0..store.ledger_shards() {
                store.trim_ledger(shard, 1_000).await.unwrap();
            }
            assert_eq!(whole_ledger(&store).await.len(), 1);
            let far = u64::try_from((T0 + Duration::days(36_500)).unix_timestamp() * 1000).unwrap();
            for shard in 0..store.ledger_shards() {
                store.trim_ledger(shard, far).await.unwrap();
            }
            assert!(whole_ledger(&store).await.is_empty());
        }
    };
}

pub(crate) use ledger_suite;
