//! CloudEvents delivery to booking sinks. Events of one booking are delivered in order, each
//! retried with backoff under the same event `id`; a 410 from a sink stops all delivery to it.

use booking::{BookingId, Notifier, StatusEvent};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;
use tracing::{info, warn};

pub const EVENT_TYPE: &str = "org.camaraproject.qos-booking.v0.status-changed";

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub timeout: Duration,
    /// Prefix of the CloudEvents `source`: `<public_url><base path>/device-qos-bookings/`.
    pub source_prefix: String,
}

struct Shared {
    client: reqwest::Client,
    settings: DeliverySettings,
    /// One queue per booking with events in flight; its task ends when the queue is empty.
    queues: Mutex<HashMap<BookingId, mpsc::UnboundedSender<StatusEvent>>>,
    gone: Mutex<HashSet<String>>,
}

#[derive(Clone)]
pub struct CloudEventNotifier {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

impl CloudEventNotifier {
    pub fn new(settings: DeliverySettings, runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect could lead to an address the sink check would have refused.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let shared = Shared {
            client,
            settings,
            queues: Mutex::default(),
            gone: Mutex::default(),
        };
        Ok(Self {
            shared: Arc::new(shared),
            runtime,
        })
    }

    /// True while events are queued or being delivered (tests and graceful shutdown wait on it).
    pub fn busy(&self) -> bool {
        !self.shared.queues.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

/// The CloudEvents JSON of a status change.
pub fn cloud_event(ev: &StatusEvent, id: &str, source_prefix: &str) -> Value {
    let mut data = json!({"bookingId": ev.booking_id.to_string(), "bookingStatus": ev.status.as_str()});
    if let Some(info) = ev.status_info {
        data["statusInfo"] = json!(info.as_str());
    }
    json!({
        "id": id,
        "source": format!("{source_prefix}{}", ev.booking_id),
        "type": EVENT_TYPE,
        "specversion": "1.0",
        "time": ev.time.format(&Rfc3339).unwrap_or_default(),
        "datacontenttype": "application/json",
        "data": data,
    })
}

impl Notifier for CloudEventNotifier {
    fn publish(&self, event: StatusEvent) {
        let mut queues = self.shared.queues.lock().unwrap_or_else(|p| p.into_inner());
        let id = event.booking_id;
        let event = match queues.get(&id) {
            Some(tx) => match tx.send(event) {
                Ok(()) => return,
                Err(mpsc::error::SendError(ev)) => ev,
            },
            None => event,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        // Cannot fail: we hold the receiver.
        let _ = tx.send(event);
        queues.insert(id, tx);
        let shared = self.shared.clone();
        self.runtime.spawn(drain(shared, id, rx));
    }
}

async fn drain(shared: Arc<Shared>, id: BookingId, mut rx: mpsc::UnboundedReceiver<StatusEvent>) {
    loop {
        let next = match rx.try_recv() {
            Ok(ev) => ev,
            Err(_) => {
                // Remove the queue under the lock that `publish` also takes, so no event can
                // slip in between the emptiness check and the removal.
                let mut queues = shared.queues.lock().unwrap_or_else(|p| p.into_inner());
                match rx.try_recv() {
                    Ok(ev) => ev,
                    Err(_) => {
                        queues.remove(&id);
                        return;
                    }
                }
            }
        };
        deliver(&shared, next).await;
    }
}

async fn deliver(shared: &Shared, ev: StatusEvent) {
    if shared.gone.lock().unwrap_or_else(|p| p.into_inner()).contains(&ev.sink) {
        return;
    }
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = cloud_event(&ev, &event_id, &shared.settings.source_prefix);
    let mut backoff = shared.settings.initial_backoff;
    for attempt in 1..=shared.settings.max_attempts {
        let mut req = shared
            .client
            .post(&ev.sink)
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json")
            .header("x-correlator", &event_id)
            .body(body.to_string());
        if let Some(cred) = &ev.credential {
            if cred.expires_at <= OffsetDateTime::now_utc() {
                warn!(booking.id = %ev.booking_id, "sink access token expired; event not delivered");
                return;
            }
            req = req.bearer_auth(&cred.access_token);
        }
        let retry = match req.send().await {
            Ok(res) if res.status().is_success() => {
                info!(booking.id = %ev.booking_id, event.id = %event_id, status = ev.status.as_str(), "event delivered");
                return;
            }
            Ok(res) if res.status() == reqwest::StatusCode::GONE => {
                warn!(booking.id = %ev.booking_id, sink = %ev.sink, "sink answered 410 Gone; no more events to it");
                shared
                    .gone
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(ev.sink.clone());
                return;
            }
            Ok(res) => {
                let s = res.status();
                let retryable = s.is_server_error()
                    || s == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || s == reqwest::StatusCode::REQUEST_TIMEOUT;
                warn!(booking.id = %ev.booking_id, event.id = %event_id, http.status = s.as_u16(), attempt, "sink refused the event");
                retryable
            }
            Err(e) => {
                warn!(booking.id = %ev.booking_id, event.id = %event_id, error = %e, attempt, "event delivery failed");
                true
            }
        };
        if !retry {
            return;
        }
        if attempt < shared.settings.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    warn!(booking.id = %ev.booking_id, event.id = %event_id, "event dropped after the last attempt");
}
