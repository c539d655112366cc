//! Where the onboarding records in force come from: the configuration (or the catalog file,
//! re-read when it changes) and the records the operator stored through the admin API, kept
//! in the store so that every replica applies them (re-read every few seconds). A stored
//! record wins over a configured one of the same client.

use booking::{BookingStore, Chain, ClientBook, ClientRecord};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tracing::warn;

pub struct ClientSources {
    book: Arc<ClientBook>,
    configured: Mutex<Vec<ClientRecord>>,
    stored: Mutex<Vec<ClientRecord>>,
}

/// Where a record in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Configuration,
    Store,
}

impl ClientSources {
    pub fn new(book: Arc<ClientBook>, configured: Vec<ClientRecord>) -> Self {
        let s = Self {
            book,
            configured: Mutex::new(configured),
            stored: Mutex::default(),
        };
        s.apply();
        s
    }

    pub fn book(&self) -> &Arc<ClientBook> {
        &self.book
    }

    /// The configuration's records changed (the catalog file was re-read).
    pub fn set_configured(&self, records: Vec<ClientRecord>) {
        *self.configured.lock().unwrap_or_else(|p| p.into_inner()) = records;
        self.apply();
    }

    /// The store's records, as just read.
    pub fn set_stored(&self, records: Vec<ClientRecord>) {
        *self.stored.lock().unwrap_or_else(|p| p.into_inner()) = records;
        self.apply();
    }

    /// Every record in force with its source, by client id.
    pub fn in_force(&self) -> Vec<(ClientRecord, Source)> {
        let mut all: BTreeMap<String, (ClientRecord, Source)> = BTreeMap::new();
        for r in self.configured.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            all.insert(r.client_id.clone(), (r.clone(), Source::Configuration));
        }
        for r in self.stored.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            all.insert(r.client_id.clone(), (r.clone(), Source::Store));
        }
        all.into_values().collect()
    }

    fn apply(&self) {
        self.book.replace(self.in_force().into_iter().map(|(r, _)| r).collect());
    }

    /// Re-reads the store's records now.
    pub async fn refresh(&self, store: &dyn BookingStore) {
        match store.clients().await {
            Ok(records) => self.set_stored(records),
            Err(e) => warn!(error = %Chain(&e), "cannot read the stored client records; keeping the last ones"),
        }
    }
}

/// Re-reads the store's records every `every` until told to stop.
pub async fn watch_stored(
    sources: Arc<ClientSources>,
    store: Arc<dyn BookingStore>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        sources.refresh(&*store).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_record_wins_over_the_configured_one_of_its_client() {
        let rec = |id: &str, quota| ClientRecord {
            client_id: id.into(),
            max_live_bookings: Some(quota),
            ..ClientRecord::default()
        };
        let sources = ClientSources::new(Arc::new(ClientBook::default()), vec![rec("a", 1), rec("b", 2)]);
        sources.set_stored(vec![rec("b", 20), rec("c", 30)]);
        let quota = |id: &str| sources.book().get(id).and_then(|r| r.max_live_bookings);
        assert_eq!((quota("a"), quota("b"), quota("c")), (Some(1), Some(20), Some(30)));
        sources.set_configured(vec![]);
        sources.set_stored(vec![]);
        assert!(sources.book().get("b").is_none());
    }
}
