use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use booking::{BookingService, ManualClock};
use camara_api::{DevIssuer, scopes};
use gateway::{Application, Settings};
use nef_sim::NefSim;
use serde_json::{Value, json};
use southbound::DeviceEntry;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const BASE: &str = "/qos-booking/v0.2";

pub struct TestApp {
    pub addr: String,
    pub clock: Arc<ManualClock>,
    pub service: Arc<BookingService>,
    pub sim: NefSim,
    /// The in-process PCF simulator, with `southbound.kind: pcf-sim` (then `sim` is an idle
    /// NEF simulator of its own).
    pub pcf: Option<pcf_sim::PcfSim>,
    pub resolver: Option<Arc<southbound::StaticResolver>>,
    /// The development token issuer (auth mode dev; `None` with an identity provider).
    pub issuer: Option<Arc<DevIssuer>>,
    pub token: String,
    pub client: reqwest::Client,
    /// The test's own redis-server when the app runs on the Redis store.
    pub redis: Option<store::testing::RedisServer>,
    /// `http://127.0.0.1:<port>` of the admin listener, when `server.admin_listen` is set.
    pub admin: Option<String>,
    /// The in-process CHF simulator, with `charging.kind: chf-sim`.
    pub chf: Option<chf_sim::ChfSim>,
}

pub fn test_settings() -> Settings {
    let mut s = Settings::defaults().unwrap();
    s.server.listen = "127.0.0.1:0".into();
    // Tests run side by side: an admin listener only where a test asks for one.
    s.server.admin_listen = None;
    s.notifications.allow_insecure_sinks = true;
    s.notifications.initial_backoff = Duration::from_millis(20);
    s.notifications.max_attempts = 3;
    // Tests jump the manual clock by minutes or days: a delivery in flight must not look like
    // a dead replica's (lease over) and be sent twice. Production time does not jump.
    s.notifications.lease = Duration::from_secs(3 * 86_400);
    // Tests fire timers themselves (`run_due`) after moving the manual clock.
    s.scheduler.poll_interval = Duration::from_secs(3_600);
    s.southbound.nef.retry_base = Duration::from_millis(10);
    s.southbound.devices = test_devices();
    s
}

/// The phone numbers the tests book for, each with a private IPv4 address; `+4915100000000`
/// is known but not eligible.
pub fn test_devices() -> Vec<DeviceEntry> {
    let phones = [
        "+123456789",
        "+123456780",
        "+123456781",
        "+123456782",
        "+123456783",
        "+199999999",
        "+100000000",
        "+111111111",
        "+222222222",
    ];
    let mut v: Vec<DeviceEntry> = phones
        .iter()
        .zip(10u8..)
        .map(|(p, i)| DeviceEntry {
            phone_number: (*p).to_owned(),
            ipv4_private: Some(std::net::Ipv4Addr::new(10, 45, 0, i)),
            ipv4_public: None,
            ipv6: None,
            eligible: true,
            // A GSMA TS.43 operator token for each (3-legged `operatortoken:` subjects).
            operator_token: Some(format!("ts43-{}", &p[1..])),
        })
        .collect();
    v.push(DeviceEntry {
        phone_number: "+4915100000000".into(),
        ipv4_private: None,
        ipv4_public: None,
        ipv6: None,
        eligible: false,
        operator_token: None,
    });
    v
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_resolver(adjust, Arc::new(delivery::SystemResolver)).await
}

/// The app with a given resolver for sink host names.
pub async fn spawn_app_with_resolver(
    adjust: impl FnOnce(&mut Settings),
    resolver: Arc<dyn booking::SinkResolver>,
) -> TestApp {
    let mut s = test_settings();
    adjust(&mut s);
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let app = Application::build_with(s, clock.clone(), resolver).await.unwrap();
    let sim = match app.nef_sim() {
        Some(sim) => sim,
        None => NefSim::start("127.0.0.1:0", nef_sim::SimConfig::default())
            .await
            .unwrap(),
    };
    let t = TestApp {
        addr: format!("http://127.0.0.1:{}", app.port()),
        clock,
        service: app.service(),
        sim,
        pcf: app.pcf_sim(),
        resolver: app.resolver(),
        issuer: app.dev_issuer(),
        token: app.dev_token().unwrap_or_default().to_owned(),
        client: reqwest::Client::new(),
        redis: None,
        admin: app.admin_port().map(|p| format!("http://127.0.0.1:{p}")),
        chf: app.chf_sim(),
    };
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    t
}

/// The app on the Redis store, with its own redis-server on a unix socket.
pub async fn spawn_redis_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let redis = store::testing::RedisServer::start();
    let url = redis.url();
    let mut app = spawn_app_with(|s| {
        s.store.kind = gateway::settings::StoreKind::Redis;
        s.store.redis.urls = vec![url];
        s.store.redis.shards = 4;
        // Generous for a loaded two-core test machine, still far below the client's patience.
        s.store.redis.command_timeout = Duration::from_millis(1500);
        s.store.redis.connect_timeout = Duration::from_millis(1000);
        s.auth.allow_dev_with_redis = true;
        adjust(s);
    })
    .await;
    app.redis = Some(redis);
    app
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// A valid create body for `phone`, starting `start_in` after the test clock's now.
pub fn booking_body(app: &TestApp, phone: &str, start_in: time::Duration, duration: u32) -> Value {
    json!({
        "qosProfile": "QOS_L",
        "device": {"phoneNumber": phone},
        "applicationServer": {"ipv4Address": "198.51.100.0/24"},
        "devicePorts": {"ranges": [{"from": 5010, "to": 5020}], "ports": [5060, 5070]},
        "startTime": rfc3339(app.clock_now() + start_in),
        "duration": duration,
        "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.110924, "longitude": 8.682127}, "radius": 500}
    })
}

pub struct Resp {
    pub status: u16,
    pub correlator: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["status"], json!(status), "body: {}", self.body);
        assert_eq!(self.body["code"], json!(code), "body: {}", self.body);
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {}",
            self.body
        );
    }
}

impl TestApp {
    pub fn clock_now(&self) -> OffsetDateTime {
        use booking::Clock;
        self.clock.now()
    }

    pub fn token_for(&self, client: &str, scopes: &[&str], subject: Option<&str>) -> String {
        self.issuer
            .as_ref()
            .expect("auth mode dev")
            .mint(client, scopes, subject, 3600)
            .unwrap()
    }

    /// `POST /admin/bookings/{id}/{what}` (approve, decline, revoke) with an operator token,
    /// on the admin listener the test asked for.
    pub async fn decide(&self, id: &str, what: &str) -> reqwest::Response {
        let admin = self.admin.as_deref().expect("an admin listener (server.admin_listen)");
        self.client
            .post(format!("{admin}/admin/bookings/{id}/{what}"))
            .bearer_auth(self.operator_token("qos-booking:operator"))
            .send()
            .await
            .unwrap()
    }

    /// A token for the operator's admin API (its own audience) with `scope`.
    pub fn operator_token(&self, scope: &str) -> String {
        self.issuer
            .as_ref()
            .expect("auth mode dev")
            .sign(
                json!({"aud": "qos-booking-operator", "client_id": "ops", "sub": "ops", "scope": scope}),
                3600,
            )
            .unwrap()
    }

    pub fn all_scopes(&self, client: &str) -> String {
        self.token_for(client, &scopes::ALL, None)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        corr: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.addr, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = corr {
            req = req.header("x-correlator", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let correlator = res
            .headers()
            .get("x-correlator")
            .map(|v| v.to_str().unwrap().to_owned());
        let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Resp {
            status,
            correlator,
            retry_after,
            body,
        }
    }

    pub async fn create_as(&self, token: &str, body: Value) -> Resp {
        self.send(
            reqwest::Method::POST,
            &format!("{BASE}/device-qos-bookings"),
            Some(token),
            Some("test-corr"),
            Some(body),
        )
        .await
    }
    pub async fn create(&self, body: Value) -> Resp {
        self.create_as(&self.token, body).await
    }
    pub async fn get_as(&self, token: &str, id: &str) -> Resp {
        self.send(
            reqwest::Method::GET,
            &format!("{BASE}/device-qos-bookings/{id}"),
            Some(token),
            Some("test-corr"),
            None,
        )
        .await
    }
    pub async fn get(&self, id: &str) -> Resp {
        self.get_as(&self.token, id).await
    }
    pub async fn delete_as(&self, token: &str, id: &str) -> Resp {
        self.send(
            reqwest::Method::DELETE,
            &format!("{BASE}/device-qos-bookings/{id}"),
            Some(token),
            Some("test-corr"),
            None,
        )
        .await
    }
    pub async fn delete(&self, id: &str) -> Resp {
        self.delete_as(&self.token, id).await
    }
    pub async fn retrieve_as(&self, token: &str, body: Value) -> Resp {
        self.send(
            reqwest::Method::POST,
            &format!("{BASE}/retrieve-device-qos-bookings"),
            Some(token),
            Some("test-corr"),
            Some(body),
        )
        .await
    }

    /// Ends the test: runs the clock two days on, so every booking starts, ends and is purged,
    /// then asserts that no subscription is left at the NEF and nothing in the store.
    pub async fn finish(self) {
        self.sim.set_faults(nef_sim::Faults::default());
        for _ in 0..4 {
            self.clock.advance(time::Duration::hours(12));
            while self.service.run_due().await.unwrap() > 0 {}
        }
        assert!(
            self.sim.subscriptions().is_empty(),
            "left at the NEF: {:?}",
            self.sim.subscriptions()
        );
        assert!(
            self.sim.pdtq_subscriptions().is_empty(),
            "PDTQ negotiations left at the NEF: {:?}",
            self.sim.pdtq_subscriptions()
        );
        assert_eq!(
            self.service.store().next_due().await.unwrap(),
            None,
            "bookings left in the store"
        );
    }

    /// Moves the clock and fires every timer now due.
    pub async fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
        self.service.run_due().await.unwrap();
    }
}

/// A real HTTP listener receiving CloudEvents; answers with the queued statuses, then 204.
#[derive(Clone)]
pub struct Sink {
    pub url: String,
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

impl Sink {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let state = (received.clone(), answers.clone());
        let app = axum::Router::new()
            .route("/events", post(sink_handler))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/events", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received, answers }
    }

    pub fn answer_next_with(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend_from_slice(statuses);
    }

    pub fn events(&self) -> Vec<(HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` events arrived (deliveries are asynchronous) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Value)> {
        for _ in 0..200 {
            let ev = self.events();
            if ev.len() >= n {
                return ev;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} events, got {:?}", self.events());
    }
}

type SinkState = (Arc<Mutex<Vec<(HeaderMap, Value)>>>, Arc<Mutex<Vec<u16>>>);

async fn sink_handler(State((received, answers)): State<SinkState>, headers: HeaderMap, body: String) -> StatusCode {
    received
        .lock()
        .unwrap()
        .push((headers, serde_json::from_str(&body).unwrap_or(Value::Null)));
    let mut a = answers.lock().unwrap();
    if a.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::from_u16(a.remove(0)).unwrap()
    }
}

/// Asserts that `GET <path>` serves the released CAMARA file whose SHA-256 is `sha256`, and,
/// beside a checkout of the shared material, the file `published-r1.2/<name>` itself.
pub async fn assert_serves_published(app: &TestApp, path: &str, sha256: &str, name: &str) {
    let served = app
        .client
        .get(format!("{}{path}", app.addr))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &served);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, sha256, "{path} is not the published {name}");
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/camara/published-r1.2")
        .join(name);
    if let Ok(published) = std::fs::read(&shared) {
        assert_eq!(&served[..], &published[..]);
    }
}
