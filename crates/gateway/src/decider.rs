//! The operator's policy service as the domain's `AdmissionDecider`: one JSON POST per
//! REQUESTED booking, answered `{"decision": "approve"|"decline"}` within a timeout.

use async_trait::async_trait;
use booking::Booking;
use booking::capacity::AdmissionDecider;
use serde_json::{Value, json};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use tracing::warn;

pub struct WebhookDecider {
    http: reqwest::Client,
    url: url::Url,
}

impl WebhookDecider {
    pub fn new(url: url::Url, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, url })
    }
}

#[async_trait]
impl AdmissionDecider for WebhookDecider {
    async fn decide(&self, b: &Booking) -> Option<bool> {
        let body = json!({
            "bookingId": b.id.to_string(),
            "clientId": b.owner.client_id,
            "qosProfile": b.qos_profile,
            "startTime": b.start_time.format(&Rfc3339).ok(),
            "duration": b.duration,
        });
        let answer = match self.http.post(self.url.clone()).json(&body).send().await {
            Ok(res) if res.status().is_success() => res.json::<Value>().await.ok(),
            Ok(res) => {
                warn!(booking.id = %b.id, http.status = res.status().as_u16(), "decision webhook refused; the default applies");
                None
            }
            Err(e) => {
                warn!(booking.id = %b.id, error = %e, "decision webhook did not answer; the default applies");
                None
            }
        };
        match answer.as_ref().and_then(|v| v["decision"].as_str()) {
            Some("approve") => Some(true),
            Some("decline") => Some(false),
            _ => None,
        }
    }
}
