//! Wake-ups across replicas: `create.lua` publishes the due time of every new timer on the
//! channel `<prefix>:due`; each replica listens and tells its scheduler, which wakes when the
//! time is sooner than the one it sleeps until. A lost message costs at most the scheduler's
//! safety poll.

use super::RedisStore;
use futures_util::StreamExt;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::{debug, warn};

impl RedisStore {
    /// Calls `on_due` with the due time of every timer a create sets, on any replica, until
    /// `stop` turns true; reconnects (to the next configured node) after a failure.
    pub async fn watch_due(&self, on_due: impl Fn(OffsetDateTime) + Send + 'static, mut stop: watch::Receiver<bool>) {
        let channel = self.wake_channel();
        let mut node = 0;
        loop {
            if *stop.borrow() {
                return;
            }
            // A cluster forwards PUBLISH to every node, so any one node will do; behind
            // Sentinel, the primary of now (asked again after each failure).
            let url = self.settings.urls.get(node % self.settings.urls.len().max(1)).cloned();
            if url.is_none() && self.settings.sentinel.is_none() {
                return;
            }
            node += 1;
            let listen = async {
                let client = match (&self.conn, url) {
                    (super::Conn::Sentinel(s), _) => s.primary_client().await?,
                    (_, Some(url)) => redis::Client::open(url.as_str())?,
                    (_, None) => return Ok(()),
                };
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                debug!(%channel, "listening for new timers");
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    let due = msg
                        .get_payload::<String>()
                        .ok()
                        .and_then(|ms| ms.parse::<i128>().ok())
                        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok());
                    if let Some(due) = due {
                        on_due(due);
                    }
                }
                Ok::<(), redis::RedisError>(())
            };
            tokio::select! {
                r = listen => {
                    if let Err(e) = r {
                        warn!(error = %e, "listening for new timers failed; the safety poll covers the gap");
                    }
                }
                _ = stop.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
