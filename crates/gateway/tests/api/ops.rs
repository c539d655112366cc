//! What an operator runs the gateway with: the admin listener (`/livez`, `/readyz`,
//! `/metrics`) and the shutdown sequence (not ready at once, still serving during the delay).

use crate::helpers::*;
use booking::ManualClock;
use gateway::Application;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn the_admin_listener_serves_probes_and_request_metrics_by_route_template() {
    let app = spawn_app_with(|s| {
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.limits.max_live_bookings_per_client = 1;
        s.limits.read.per_second = 1;
        s.limits.read.burst = 2;
    })
    .await;
    let admin = app.admin.clone().expect("no admin listener");
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{admin}/livez")).send().await.unwrap().status(), 204);
    assert_eq!(http.get(format!("{admin}/readyz")).send().await.unwrap().status(), 200);
    let sink = Sink::start().await;
    // The sink refuses the first attempt: one retry, then two deliveries.
    sink.answer_next_with(&[503]);
    let mut body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    body["sink"] = sink.url.clone().into();
    let created = app.create(body).await;
    assert_eq!(created.status, 201);
    let id = created.body["bookingId"].as_str().unwrap().to_owned();
    // Over the quota (one live booking per client) and over the read rate (burst 2).
    app.create(booking_body(&app, "+123456780", Duration::minutes(10), 600))
        .await
        .assert_error(429, "QUOTA_EXCEEDED");
    assert_eq!(app.get(&id).await.status, 200);
    assert_eq!(app.get(&id).await.status, 200);
    app.get(&id).await.assert_error(429, "TOO_MANY_REQUESTS");
    app.get_as("not-a-token", &id)
        .await
        .assert_error(401, "UNAUTHENTICATED");
    app.advance(Duration::minutes(10)).await;
    sink.wait_for(3).await;
    // Deliveries are counted when done with; give the worker its moment after the sink.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let text = http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |route: &str, method: &str, status: u16| {
        format!(
            "http_server_request_duration_seconds_count{{http_request_method=\"{method}\",http_route=\"{route}\",http_response_status_code=\"{status}\"}}"
        )
    };
    let value = |needle: String| {
        text.lines()
            .find(|l| l.starts_with(&needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    assert_eq!(
        value(line("/qos-booking/v0.2/device-qos-bookings", "POST", 201)),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(line("/qos-booking/v0.2/device-qos-bookings/{bookingId}", "GET", 200)),
        Some(2),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_timer_lag_seconds_count{transition="start"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_network_call_duration_seconds_count{operation="activate",outcome="ok"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_token_rejections_total{reason="malformed"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_refusals_total{reason="quota"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_refusals_total{reason="rate_limit"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_event_deliveries_total{outcome="delivered"}"#.into()),
        Some(2),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_event_deliveries_total{outcome="retried"}"#.into()),
        Some(1),
        "{text}"
    );
    // From the store: the one booking is ACTIVATED, nothing waits in the outbox.
    assert_eq!(
        value(r#"qos_booking_bookings{status="ACTIVATED"}"#.into()),
        Some(1),
        "{text}"
    );
    assert_eq!(
        value(r#"qos_booking_bookings{status="SCHEDULED"}"#.into()),
        Some(0),
        "{text}"
    );
    assert_eq!(value("qos_booking_outbox_backlog ".into()), Some(0), "{text}");
    assert!(
        value(r#"db_client_operation_duration_seconds_count{db_system_name="memory",db_operation_name="create",error_type=""}"#.into())
            .is_some_and(|n| n >= 1),
        "{text}"
    );
    assert!(!text.contains(&id), "a booking id in the metrics");
    assert!(!text.contains("123456789"), "a phone number in the metrics");
    // The API listener does not serve the admin endpoints.
    assert_eq!(
        http.get(format!("{}/metrics", app.addr)).send().await.unwrap().status(),
        404
    );
    app.finish().await;
}

#[tokio::test]
async fn on_shutdown_the_replica_reports_not_ready_at_once_and_serves_through_the_delay() {
    let mut s = test_settings();
    s.server.shutdown_delay = std::time::Duration::from_millis(1_500);
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let app = Application::build_with_clock(s, clock).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/health/ready")).send().await.unwrap().status(),
        200
    );
    let _ = stop.send(());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Draining: not ready, but still answering.
    let ready = http.get(format!("{base}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        http.get(format!("{base}/health/live")).send().await.unwrap().status(),
        204
    );
    // After the delay the listener closes and the app returns.
    tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("the app did not stop")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/health/live"))
            .send()
            .await
            .is_err()
    );
}

/// Every test's log output in this binary, as JSON lines (one subscriber for the process).
fn captured_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_has_one_log_line_without_personal_data() {
    let logs = captured_logs();
    let app = spawn_app().await;
    let body = booking_body(&app, "+123456789", Duration::minutes(10), 600);
    let created = app
        .send(
            reqwest::Method::POST,
            "/qos-booking/v0.2/device-qos-bookings",
            Some(&app.token),
            Some("ops-log-1"),
            Some(body),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["bookingId"].as_str().unwrap().to_owned();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.contains("ops-log-1"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let f = &lines[0]["fields"];
    assert_eq!(f["message"], "request");
    assert_eq!(f["http.route"], "/qos-booking/v0.2/device-qos-bookings");
    assert_eq!(f["http.request.method"], "POST");
    assert_eq!(f["http.response.status_code"], 201);
    assert_eq!(f["client.id"], "dev-client");
    assert!(f["duration_ms"].as_f64().unwrap() > 0.0);
    let line = serde_json::to_string(&lines[0]).unwrap();
    assert!(!line.contains("123456789") && !line.contains(&id), "{line}");
    app.finish().await;
}

#[tokio::test]
async fn readiness_can_require_the_nef_to_answer() {
    let sim = nef_sim::NefSim::start("127.0.0.1:0", nef_sim::SimConfig::default())
        .await
        .unwrap();
    // Port 1 refuses connections: no NEF there.
    for (root, want) in [("http://127.0.0.1:1".to_owned(), 503), (sim.url(), 200)] {
        let mut s = test_settings();
        s.server.admin_listen = Some("127.0.0.1:0".into());
        s.southbound.kind = gateway::settings::SouthboundKind::Nef;
        s.southbound.nef.api_root = Some(root.parse().unwrap());
        s.southbound.nef.readiness_check = true;
        let app = Application::build(s).await.unwrap();
        let admin = format!("http://127.0.0.1:{}", app.admin_port().unwrap());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let res = reqwest::get(format!("{admin}/readyz")).await.unwrap();
        assert_eq!(res.status().as_u16(), want, "NEF at {root}");
        if want == 503 {
            assert!(res.text().await.unwrap().contains("nef"));
        }
    }
}
