//! Charging sessions at a real CHF simulator over h2c, on the memory store: one session per
//! booking in place, its time reported once whatever is lost or resent, nothing for bookings
//! never in place, nothing lost while the CHF is away.

use super::*;
use crate::export::{ExportSettings, Exporter};
use crate::record::DeviceIdentity;
use crate::testing::{T0, TestFront, phone, scheduled, served};
use booking::{ManualClock, StatusInfo};
use chf_sim::{ChfSim, Faults};
use std::collections::HashMap;
use store::MemoryStore;

struct Fixture {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    sim: ChfSim,
    sink: Arc<ChfSink>,
    exporter: Exporter,
}

async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(T0));
    let sim = ChfSim::start("127.0.0.1:0").await.unwrap();
    let transport = sbi::TransportConfig {
        auth: sbi::Auth::None,
        connect_timeout: std::time::Duration::from_secs(1),
        request_timeout: std::time::Duration::from_secs(2),
        max_retries: 0,
        retry_base: std::time::Duration::from_millis(10),
        max_retry_after: std::time::Duration::ZERO,
        max_requests_per_second: 0,
        http2_only: true,
        user_agent: Some("NEF-test".into()),
        client_identity: None,
        root_certificates: None,
    };
    let renderer = Arc::new(Renderer::new(TestFront, DeviceIdentity::Clear));
    let sink = Arc::new(ChfSink::new(
        ChfClient::new(transport, &sim.url()).unwrap(),
        renderer,
        store.clone(),
        ChfSettings {
            requests: RequestSettings {
                nf_instance_id: "8a1f6a0e-1f33-4c7e-9d1c-3c2b6f0b2a11".into(),
                public_url: "https://api.example.com".into(),
                rating_groups: HashMap::from([("QOS_L".into(), 100)]),
                default_rating_group: 1,
            },
            interim: Duration::minutes(15),
            concurrency: 8,
        },
    ));
    let exporter = Exporter::new(
        store.clone(),
        sink.clone(),
        clock.clone(),
        ExportSettings {
            holder: "replica-a".into(),
            lease: Duration::seconds(30),
            poll: std::time::Duration::from_millis(10),
            batch: 100,
        },
    );
    Fixture {
        store,
        clock,
        sim,
        sink,
        exporter,
    }
}

impl Fixture {
    /// Stores the booking's life up to `active` (in place).
    async fn start(&self, active: &Booking) {
        let mut s = active.clone();
        s.status = BookingStatus::Scheduled;
        s.started_at = None;
        s.version = active.version - 1;
        self.store.create(&s, None, None).await.unwrap();
        assert!(self.store.update(active, None, None).await.unwrap());
    }
    async fn end(&self, ended: &Booking) {
        assert!(self.store.update(ended, None, None).await.unwrap());
    }
    fn used_by_reference(&self) -> HashMap<String, (u64, bool)> {
        self.sim
            .sessions()
            .into_iter()
            .map(|s| {
                (
                    s.api_reference.clone().unwrap_or_default(),
                    (s.used_seconds(), s.released),
                )
            })
            .collect()
    }
}

fn reference(b: &Booking) -> String {
    format!("https://api.example.com/qos-booking/v0.2/device-qos-bookings/{}", b.id)
}

#[tokio::test]
async fn a_life_opens_one_session_reports_in_between_and_releases_it_with_the_rest() {
    let f = fixture().await;
    let (active, ended) = served("c1", 1, 2400, StatusInfo::DurationExpired);
    f.start(&active).await;
    f.exporter.pass().await.unwrap();
    f.clock.set(T0 + Duration::minutes(16));
    f.exporter.pass().await.unwrap(); // interim: 960 s
    f.clock.set(T0 + Duration::minutes(40));
    f.end(&ended).await;
    f.exporter.pass().await.unwrap(); // release: 1440 s
    f.exporter.pass().await.unwrap(); // nothing more

    let sessions = f.sim.sessions();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.api_reference.as_deref(), Some(reference(&ended).as_str()));
    assert_eq!(s.rating_group, Some(100));
    assert!(s.released);
    assert_eq!(s.reports.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(s.used_seconds(), 2400, "the whole interval, once");
    let requests = f.sim.requests();
    assert!(requests.iter().all(|r| r.status / 100 == 2), "{requests:#?}");
    assert!(requests.iter().all(|r| r.version == "HTTP/2.0"));
    let initial = &requests[0].body.as_ref().unwrap();
    assert_eq!(initial["nfConsumerIdentification"]["nodeFunctionality"], "NEF");
    assert_eq!(
        initial["nEFChargingInformation"]["externalIndividualIdentifier"],
        "msisdn-34600000001"
    );
    assert_eq!(initial["nEFChargingInformation"]["aPIResultCode"], 201);
    assert_eq!(initial["multipleUnitUsage"][0]["requestedUnit"]["time"], 3600);
    assert!(
        f.store.export_states("chf").await.unwrap().is_empty(),
        "the session is forgotten once released"
    );
}

#[tokio::test]
async fn a_lost_answer_is_resent_as_a_retransmission_and_counted_once() {
    let f = fixture().await;
    let (active, ended) = served("c1", 2, 600, StatusInfo::DeleteRequested);
    f.start(&active).await;
    // The CHF opens the session but the answer never arrives.
    f.sim.set_faults(Faults {
        drop_after_acting: 1,
        ..Faults::default()
    });
    assert!(f.exporter.pass().await.is_err());
    f.exporter.pass().await.unwrap();
    f.end(&ended).await;
    f.sim.set_faults(Faults {
        drop_after_acting: 1,
        ..Faults::default()
    });
    assert!(f.exporter.pass().await.is_err());
    f.exporter.pass().await.unwrap();

    let sessions = f.sim.sessions();
    assert_eq!(sessions.len(), 1, "the resent initial request opened no second session");
    assert_eq!((sessions[0].used_seconds(), sessions[0].released), (600, true));
    let resent: Vec<_> = f
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.body.as_ref().is_some_and(|b| b["retransmissionIndicator"] == true))
        .collect();
    assert_eq!(resent.len(), 2, "the initial and the release, each resent once");
    let release = f.sim.requests().last().cloned().unwrap();
    assert_eq!(
        release.body.unwrap()["nEFChargingInformation"]["aPIResultCode"],
        204,
        "the delete's"
    );
}

#[tokio::test]
async fn while_the_chf_is_away_nothing_is_lost_and_each_booking_keeps_its_order() {
    let f = fixture().await;
    let mut lives = Vec::new();
    for i in 0..20 {
        let (active, ended) = served("c1", 10 + i, 60 * i64::from(i + 1), StatusInfo::DurationExpired);
        f.start(&active).await;
        lives.push(ended);
    }
    f.sim.unavailable_for(std::time::Duration::from_millis(300));
    assert!(f.exporter.pass().await.is_err());
    for ended in &lives {
        f.end(ended).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    f.exporter.pass().await.unwrap();
    let used = f.used_by_reference();
    assert_eq!(used.len(), 20);
    for (i, ended) in lives.iter().enumerate() {
        assert_eq!(used[&reference(ended)], (60 * (i as u64 + 1), true), "booking {i}");
    }
}

#[tokio::test]
async fn a_refused_session_does_not_stop_the_others_and_unserved_bookings_open_none() {
    let f = fixture().await;
    let (a, a_end) = served("c1", 30, 100, StatusInfo::DurationExpired);
    let (b, b_end) = served("c1", 31, 200, StatusInfo::DurationExpired);
    f.start(&a).await;
    f.sim.set_faults(Faults {
        next_statuses: [400].into(),
        ..Faults::default()
    });
    f.exporter.pass().await.unwrap();
    f.start(&b).await;
    let declined = scheduled("c1", phone(32), T0, 600)
        .end(StatusInfo::BookingDeclined, T0)
        .unwrap();
    f.store.create(&declined, None, None).await.unwrap();
    f.end(&a_end).await;
    f.end(&b_end).await;
    f.exporter.pass().await.unwrap();
    let used = f.used_by_reference();
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[&reference(&b_end)], (200, true));
}

#[tokio::test]
async fn entries_read_again_after_a_failed_batch_bill_nothing_twice() {
    let f = fixture().await;
    let (active, ended) = served("c1", 40, 300, StatusInfo::DurationExpired);
    f.start(&active).await;
    f.end(&ended).await;
    let entries = f.store.ledger(0, Default::default(), 10).await.unwrap();
    // The batch went through, but its marker never moved (another booking of it failed, or
    // the replica died): the same entries come again.
    f.sink.put(0, &entries, T0).await.unwrap();
    f.sink.put(0, &entries, T0).await.unwrap();
    let sessions = f.sim.sessions();
    assert_eq!(sessions.len(), 1, "no second session");
    assert_eq!((sessions[0].used_seconds(), sessions[0].released), (300, true));
    assert_eq!(f.sim.requests().len(), 2, "one initial, one release");
}

#[tokio::test]
async fn a_lost_interim_answer_is_resent_as_it_was_before_the_release() {
    let f = fixture().await;
    let (active, ended) = served("c1", 41, 2400, StatusInfo::DurationExpired);
    f.start(&active).await;
    f.exporter.pass().await.unwrap();
    f.clock.set(T0 + Duration::minutes(16));
    f.sim.set_faults(Faults {
        drop_after_acting: 1,
        ..Faults::default()
    });
    f.exporter.pass().await.unwrap(); // the interim report is counted, its answer lost
    f.clock.set(T0 + Duration::minutes(40));
    f.end(&ended).await;
    f.exporter.pass().await.unwrap();
    let s = &f.sim.sessions()[0];
    assert_eq!(s.reports.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(
        (s.used_seconds(), s.released),
        (2400, true),
        "the resent report counted once, the release has the rest"
    );
    let resent: Vec<_> = f
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.body.as_ref().is_some_and(|b| b["retransmissionIndicator"] == true))
        .collect();
    assert_eq!(resent.len(), 1);
    assert_eq!(
        resent[0].body.as_ref().unwrap()["invocationSequenceNumber"],
        1,
        "the same request"
    );
}
