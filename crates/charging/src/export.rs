//! The export loop, the same for every destination: one replica at a time holds the
//! exporter's lease; it reads each shard's ledger after the exporter's marker, hands the
//! entries to the [`Sink`] in order, and moves the marker once the sink has them durably. A
//! replica that dies between the two leaves entries the sink may already hold: the sink's own
//! [`Sink::resume_point`] then says where it really got to, so nothing is skipped or repeated.

use async_trait::async_trait;
use booking::usage::{LeaseGrant, LedgerEntry, LedgerPosition};
use booking::{BookingStore, Chain, Clock, StoreError};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use tokio::sync::watch;
use tracing::{debug, warn};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The destination did not take the entries; they are offered again later.
    #[error("the usage destination failed: {0}")]
    Destination(String),
}

/// Where usage goes.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The exporter's name: its lease and markers in the store.
    fn name(&self) -> &str;
    /// This replica (re)gained the lease: another may have written since (a shared
    /// directory), so what the sink remembers must be read again.
    async fn taken_over(&self) -> Result<(), ExportError> {
        Ok(())
    }
    /// How far the destination durably holds `shard`'s entries, if it can tell (a file's
    /// last line); the export goes on after the later of this and the store's marker.
    async fn resume_point(&self, _shard: u16) -> Result<Option<LedgerPosition>, ExportError> {
        Ok(None)
    }
    /// Takes `entries` of one shard, in ledger order; returns once they are durable there.
    async fn put(&self, shard: u16, entries: &[LedgerEntry], now: OffsetDateTime) -> Result<(), ExportError>;
    /// At the end of each complete pass, under the lease: time-driven work (closing a file
    /// at its rotation time, a CHF's interim reports).
    async fn tick(&self, _now: OffsetDateTime) -> Result<(), ExportError> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Who this replica is (its lease).
    pub holder: String,
    pub lease: Duration,
    /// Between passes when there is nothing new.
    pub poll: std::time::Duration,
    /// Entries per read.
    pub batch: usize,
}

pub struct Exporter {
    store: Arc<dyn BookingStore>,
    sink: Arc<dyn Sink>,
    clock: Arc<dyn Clock>,
    settings: ExportSettings,
}

impl Exporter {
    pub fn new(
        store: Arc<dyn BookingStore>,
        sink: Arc<dyn Sink>,
        clock: Arc<dyn Clock>,
        settings: ExportSettings,
    ) -> Self {
        Self {
            store,
            sink,
            clock,
            settings,
        }
    }

    /// One pass over every shard while this replica holds the lease: returns the entries
    /// handed to the sink (0 without the lease).
    pub async fn pass(&self) -> Result<usize, ExportError> {
        let name = self.sink.name().to_owned();
        let holder = &self.settings.holder;
        match self.store.lease(&name, holder, self.settings.lease).await? {
            LeaseGrant::Refused => return Ok(0),
            // Lapsed in between (even if nobody else took it): read the destination again.
            LeaseGrant::Taken => self.sink.taken_over().await?,
            LeaseGrant::Renewed => {}
        }
        let mut handed = 0;
        for shard in 0..self.store.ledger_shards() {
            let marked = self.store.ledger_marker(&name, shard).await?;
            let mut at = match self.sink.resume_point(shard).await? {
                Some(p) if p > marked => p,
                _ => marked,
            };
            loop {
                let entries = self.store.ledger(shard, at, self.settings.batch).await?;
                let Some(last) = entries.last().map(|e| e.position) else {
                    break;
                };
                self.sink.put(shard, &entries, self.clock.now()).await?;
                handed += entries.len();
                if !self.store.set_ledger_marker(&name, holder, shard, last).await? {
                    // The lease lapsed during the put: another replica goes on from its marker.
                    warn!(exporter = %name, shard, "usage export lease lost; stopping this pass");
                    return Ok(handed);
                }
                at = last;
                if entries.len() < self.settings.batch {
                    break;
                }
                // Renew between batches: a long catch-up must not outlive the lease.
                if self.store.lease(&name, holder, self.settings.lease).await? != LeaseGrant::Renewed {
                    return Ok(handed); // lapsed meanwhile: the next pass starts over
                }
            }
        }
        // Time-driven work last, when every marker is up to date (a file is closed only
        // once all it holds is marked), by the lease holder only.
        self.sink.tick(self.clock.now()).await?;
        Ok(handed)
    }

    /// Renews the lease every third of its time; returns when it is no longer renewed.
    async fn keep_lease(&self) {
        let every = std::time::Duration::try_from(self.settings.lease / 3).unwrap_or(std::time::Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            match self
                .store
                .lease(self.sink.name(), &self.settings.holder, self.settings.lease)
                .await
            {
                Ok(LeaseGrant::Renewed) => {}
                _ => return,
            }
        }
    }

    /// [`Self::pass`], stopped if the lease cannot be renewed while it runs (a long pass
    /// toward a slow destination must not go on after another replica took over).
    async fn guarded_pass(&self) -> Result<usize, ExportError> {
        tokio::select! {
            r = self.pass() => r,
            () = self.keep_lease() => {
                warn!(exporter = self.sink.name(), "usage export lease lost during a pass; stopped");
                Ok(0)
            }
        }
    }

    /// Passes until `stop`, a failed pass retried after the poll interval.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.guarded_pass().await {
                Ok(0) => {}
                Ok(n) => {
                    debug!(exporter = self.sink.name(), entries = n, "usage exported");
                    continue;
                }
                Err(e) => warn!(exporter = self.sink.name(), error = %Chain(&e), "usage export failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
