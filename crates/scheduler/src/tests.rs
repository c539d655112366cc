//! The engine against the memory store and a fake NEF behind the `Southbound` port, in real
//! time (short leases). Assertions are about outcomes (what was activated, how often, how many
//! at once), never about how long a run took.

use super::*;
use async_trait::async_trait;
use booking::{
    Booking, BookingStatus, Catalog, Coverage, Device, NewBooking, Notifier, Owner, PhoneNumber, Policy, ProfileStatus,
    QosProfile, ServiceArea, Southbound, SouthboundError, SystemClock,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use store::MemoryStore;

struct Quiet;
impl Notifier for Quiet {
    fn wake(&self) {}
}

/// A NEF that holds subscriptions by marker, answers each booking after its own delay (so
/// answers come out of order), and counts how many calls run at once.
#[derive(Default)]
struct FakeNef {
    delay: Mutex<HashMap<BookingId, Duration>>,
    /// marker -> subscription ids created for it.
    created: Mutex<HashMap<String, Vec<String>>>,
    posts: AtomicUsize,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

#[async_trait]
impl Southbound for FakeNef {
    fn attempt_marker(&self, b: &Booking) -> Option<String> {
        Some(format!("m-{}", b.id))
    }
    async fn activate(&self, b: &Booking) -> Result<String, SouthboundError> {
        let marker = b.attempt_marker.clone().unwrap_or_default();
        if b.attempts > 1
            && let Some(found) = lock(&self.created).get(&marker).and_then(|v| v.first().cloned())
        {
            return Ok(found);
        }
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.posts.fetch_add(1, Ordering::SeqCst);
        // The NEF acts on the POST at once; its answer takes the booking's delay.
        let sub = format!("sub-{}", b.id);
        lock(&self.created).entry(marker).or_default().push(sub.clone());
        let delay = lock(&self.delay).get(&b.id).copied().unwrap_or_default();
        tokio::time::sleep(delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(sub)
    }
    async fn deactivate(&self, _s: &str) -> Result<(), SouthboundError> {
        Ok(())
    }
}

fn service(store: Arc<dyn BookingStore>, nef: Arc<FakeNef>, wake: Option<Arc<Wake>>) -> Arc<BookingService> {
    let catalog = Catalog::new(vec![QosProfile {
        name: "QOS_L".into(),
        status: ProfileStatus::Active,
        min_duration: 1,
        max_duration: 86_400,
        qos_reference: "QOS_L".into(),
        alt_qos_references: vec![],
        ..Default::default()
    }]);
    let policy = Policy {
        lease: time::Duration::seconds(1),
        ..Policy::default()
    };
    let mut s = BookingService::new(
        store,
        Arc::new(SystemClock),
        nef,
        Arc::new(Quiet),
        Arc::new(catalog),
        Coverage::default(),
        policy,
    );
    if let Some(w) = wake {
        s = s.with_timer_wake(w);
    }
    Arc::new(s)
}

fn settings(max_in_flight: usize) -> EngineSettings {
    EngineSettings {
        max_in_flight,
        claim_batch: 100,
        lease: Duration::from_secs(1),
        safety_poll: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(20),
    }
}

fn booking(i: usize, start: OffsetDateTime) -> Booking {
    let req = NewBooking::minimal("QOS_L", start, 600, ServiceArea::AreaName("x".into()));
    let device = PhoneNumber::parse(&format!("+4915{i:08}"))
        .map(Device::from_phone)
        .unwrap_or_default();
    let owner = Owner {
        client_id: "c".into(),
        subject: None,
    };
    Booking::schedule(BookingId::new(), owner, device, req, start - time::Duration::minutes(1))
}

fn now() -> OffsetDateTime {
    SystemClock.now()
}

/// Waits (bounded) until every booking is ACTIVATED; returns them.
async fn all_activated(store: &MemoryStore, ids: &[BookingId]) -> Vec<Booking> {
    for _ in 0..300 {
        let mut out = Vec::new();
        for id in ids {
            if let Some(b) = store.get(*id).await.unwrap()
                && b.status == BookingStatus::Activated
            {
                out.push(b);
            }
        }
        if out.len() == ids.len() {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not every booking was activated");
}

#[tokio::test]
async fn activations_run_concurrently_within_the_limit_and_answers_may_come_out_of_order() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(300);
    let mut ids = Vec::new();
    for i in 0..24 {
        let b = booking(i, start);
        // The first booking's answer comes last.
        lock(&nef.delay).insert(b.id, Duration::from_millis(20 * (24 - i as u64)));
        store.create(&b, Some(start), None).await.unwrap();
        ids.push(b.id);
    }
    let (stop_tx, stop) = watch::channel(false);
    let engine = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        settings(8),
        Wake::new(),
    );
    let run = tokio::spawn(engine.run(stop));
    let active = all_activated(&store, &ids).await;
    let _ = stop_tx.send(true);
    run.await.unwrap();
    assert_eq!(nef.posts.load(Ordering::SeqCst), 24, "one POST per booking");
    let most = nef.most_at_once.load(Ordering::SeqCst);
    assert!(most > 1, "activations ran one after another");
    assert!(most <= 8, "{most} activations at once, over max_in_flight 8");
    for b in active {
        assert!(b.started_at >= Some(start), "started before its start time");
    }
}

#[tokio::test]
async fn a_slow_activation_keeps_its_claim_while_another_replica_polls() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(200);
    let b = booking(1, start);
    // Three leases long: without renewals the other replica would take the timer over.
    lock(&nef.delay).insert(b.id, Duration::from_millis(3_000));
    store.create(&b, Some(start), None).await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let fast = EngineSettings {
        safety_poll: Duration::from_millis(100),
        ..settings(4)
    };
    let a = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        fast.clone(),
        Wake::new(),
    );
    let b2 = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        fast,
        Wake::new(),
    );
    let runs = [tokio::spawn(a.run(stop.clone())), tokio::spawn(b2.run(stop))];
    all_activated(&store, &[b.id]).await;
    let _ = stop_tx.send(true);
    for r in runs {
        r.await.unwrap();
    }
    assert_eq!(nef.posts.load(Ordering::SeqCst), 1, "the activation ran twice");
}

#[tokio::test]
async fn a_replica_that_dies_holding_claims_loses_them_and_the_subscription_is_adopted() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(200);
    let b = booking(1, start);
    // The NEF acts on the POST at once but the answer never comes back to replica A.
    lock(&nef.delay).insert(b.id, Duration::from_secs(3_600));
    store.create(&b, Some(start), None).await.unwrap();
    let (_keep, stop) = watch::channel(false);
    let a = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        settings(4),
        Wake::new(),
    );
    let dying = tokio::spawn(a.run(stop.clone()));
    for _ in 0..100 {
        if nef.posts.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(nef.posts.load(Ordering::SeqCst), 1);
    dying.abort(); // kill -9: no release, no more renewals
    let _ = dying.await;
    let b2 = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        EngineSettings {
            safety_poll: Duration::from_millis(100),
            ..settings(4)
        },
        Wake::new(),
    );
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(b2.run(stop));
    let active = all_activated(&store, &[b.id]).await;
    let _ = stop_tx.send(true);
    run.await.unwrap();
    assert_eq!(nef.posts.load(Ordering::SeqCst), 1, "a second subscription was created");
    assert_eq!(
        active[0].nef_subscription.as_deref(),
        Some(format!("sub-{}", b.id).as_str())
    );
    assert_eq!(lock(&nef.created).values().map(Vec::len).sum::<usize>(), 1);
}

#[tokio::test]
async fn a_sooner_timer_wakes_a_sleeping_engine() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let wake = Wake::new();
    let svc = service(store.clone(), nef.clone(), Some(wake.clone()));
    // A timer an hour away: the engine sleeps until then (its safety poll is a minute).
    let later = booking(1, now() + time::Duration::hours(1));
    store.create(&later, Some(later.start_time), None).await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(Engine::new(svc, Arc::new(SystemClock), settings(4), wake.clone()).run(stop));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let soon = booking(2, now() + time::Duration::milliseconds(300));
    store.create(&soon, Some(soon.start_time), None).await.unwrap();
    wake.at(soon.start_time);
    all_activated(&store, &[soon.id]).await;
    let _ = stop_tx.send(true);
    run.await.unwrap();
}

#[tokio::test]
async fn a_stop_lets_running_activations_finish_and_leaves_no_claim_behind() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(100);
    let b = booking(1, start);
    lock(&nef.delay).insert(b.id, Duration::from_millis(1_500));
    store.create(&b, Some(start), None).await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let engine = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        settings(4),
        Wake::new(),
    );
    let run = tokio::spawn(engine.run(stop));
    for _ in 0..100 {
        if nef.running.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(nef.running.load(Ordering::SeqCst), 1, "the activation did not start");
    let _ = stop_tx.send(true);
    run.await.unwrap();
    // The engine returned only after the NEF answered and the booking was stored ACTIVATED,
    // with its next timer at its end (not a claim).
    let stored = store.get(b.id).await.unwrap().unwrap();
    assert_eq!(stored.status, BookingStatus::Activated);
    let next = store.next_due().await.unwrap().unwrap();
    assert!(
        (next - stored.end_time()).abs() < time::Duration::milliseconds(1),
        "{next}"
    );
}

#[tokio::test]
async fn a_stop_cuts_off_what_outlasts_the_grace_and_gives_its_claim_back_at_once() {
    let store = Arc::new(MemoryStore::new());
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(100);
    let b = booking(1, start);
    lock(&nef.delay).insert(b.id, Duration::from_secs(60));
    store.create(&b, Some(start), None).await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let engine = Engine::new(
        service(store.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        EngineSettings {
            // A long lease: the claim must come back by being given back, not by expiring.
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_millis(200),
            ..settings(4)
        },
        Wake::new(),
    );
    let run = tokio::spawn(engine.run(stop));
    for _ in 0..100 {
        if nef.running.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(nef.running.load(Ordering::SeqCst), 1, "the activation did not start");
    let stopped = std::time::Instant::now();
    let _ = stop_tx.send(true);
    run.await.unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(5), "{:?}", stopped.elapsed());
    // The timer is due again now, for any replica: not 30 s from now.
    let claimed = store.claim_due(now(), 10, time::Duration::seconds(30)).await.unwrap();
    assert_eq!(claimed, vec![b.id]);
    // The attempt was recorded before the NEF call: the next replica adopts, never doubles.
    assert!(store.get(b.id).await.unwrap().unwrap().attempt_marker.is_some());
}

/// A transition the store failed (a primary failing over) runs again within its claim,
/// renewed, rather than waiting out the lease for a new claim: the timer is claimed once, and
/// the network sees one activation.
#[tokio::test]
async fn a_transition_the_store_failed_runs_again_within_its_claim() {
    let store = Arc::new(MemoryStore::new());
    let flaky = Arc::new(store::testing::Flaky::new(store.clone()));
    let nef = Arc::new(FakeNef::default());
    let start = now() + time::Duration::milliseconds(200);
    let b = booking(1, start);
    store.create(&b, Some(start), None).await.unwrap();
    // The activation's first two writes (its attempt's record) find the store away.
    flaky.fail("update", 2);
    let (stop_tx, stop) = watch::channel(false);
    let engine = Engine::new(
        service(flaky.clone(), nef.clone(), None),
        Arc::new(SystemClock),
        settings(4),
        Wake::new(),
    );
    let run = tokio::spawn(engine.run(stop));
    all_activated(&store, &[b.id]).await;
    let _ = stop_tx.send(true);
    run.await.unwrap();
    assert!(flaky.calls("update") >= 3, "the failed writes were not tried again");
    assert_eq!(
        flaky.claimed(),
        1,
        "the timer waited out its lease and was claimed again"
    );
    assert_eq!(nef.posts.load(Ordering::SeqCst), 1);
}
