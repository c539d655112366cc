//! `charging.kind: chf`: session-based (offline) charging of each booking at the operator's
//! CHF. The QoS going into place opens a charging data resource (initial request, the
//! window as requested time); while it lasts an interim report goes every `interim`; its end
//! releases the resource with the time left. The session (resource, last sequence number,
//! time reported) is kept in the store beside the booking, so any replica that takes the
//! lease over goes on where the last one stopped. Every request is numbered: one resent
//! after an unknown outcome has the same `invocationSequenceNumber` and
//! `retransmissionIndicator`, so the CHF counts it once. A CHF outage holds the ledger's
//! entries back (nothing lost, order kept per booking); a refusal (4xx) of one request is
//! logged and skipped, so one bad session never stops the rest.

mod request;

pub use request::RequestSettings;

use crate::export::{ExportError, Sink};
use crate::record::Renderer;
use async_trait::async_trait;
use booking::usage::{EntryKind, LedgerEntry};
use booking::{Booking, BookingId, BookingStatus, BookingStore};
use chf::ChfClient;
use futures_util::StreamExt;
use request::{Requests, seconds};
use sbi::SbiError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use tracing::{error, info, warn};

/// The exporter's name (its lease, markers and sessions in the store).
const NAME: &str = "chf";

#[derive(Debug, Clone)]
pub struct ChfSettings {
    pub requests: RequestSettings,
    /// Between interim reports of a session.
    pub interim: Duration,
    /// Bookings whose requests are sent at once (each booking's in order).
    pub concurrency: usize,
}

/// One booking's charging session, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    /// The charging data resource's URI (empty when the CHF refused to open one).
    resource: String,
    /// The last sequence number the CHF acknowledged.
    seq: u32,
    /// Up to when the used time has been reported.
    #[serde(with = "time::serde::rfc3339")]
    reported_until: OffsetDateTime,
    /// A report sent whose answer is not known: resent exactly as it was (same sequence
    /// number, same time) before anything else is sent.
    #[serde(default)]
    pending: Option<Pending>,
    /// Released, or dropped after a refusal: kept, so that ledger entries read again (a batch
    /// that failed part-way) open nothing and report nothing twice.
    #[serde(default)]
    closed: bool,
    /// The ledger entry (shard, position) that closed it: the state is forgotten once the
    /// export's marker has passed it.
    #[serde(default)]
    closed_by: Option<(u16, u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    seq: u32,
    #[serde(with = "time::serde::rfc3339")]
    until: OffsetDateTime,
    last: bool,
}

/// Interim reports stop this far before now: a booking's end time is taken before the
/// network's removal answers, so a report up to `now` could count time past an end not yet
/// stored.
const INTERIM_MARGIN: Duration = Duration::seconds(30);

pub struct ChfSink {
    client: ChfClient,
    renderer: Arc<Renderer>,
    store: Arc<dyn BookingStore>,
    settings: ChfSettings,
    /// Initial requests sent before without a known outcome: sent again as retransmissions
    /// (reports keep theirs in the stored session).
    tried: Mutex<HashSet<(BookingId, u32)>>,
}

fn chf_error(what: &str, e: &SbiError) -> ExportError {
    ExportError::Destination(format!("{what}: {e}"))
}

impl ChfSink {
    pub fn new(
        client: ChfClient,
        renderer: Arc<Renderer>,
        store: Arc<dyn BookingStore>,
        settings: ChfSettings,
    ) -> Self {
        Self {
            client,
            renderer,
            store,
            settings,
            tried: Mutex::new(HashSet::new()),
        }
    }

    fn requests(&self) -> Requests<'_> {
        Requests {
            settings: &self.settings.requests,
            renderer: &self.renderer,
        }
    }

    /// Whether the request was sent before (and notes that it is being sent now).
    fn retransmission(&self, id: BookingId, seq: u32) -> bool {
        let mut tried = self.tried.lock().unwrap_or_else(|p| p.into_inner());
        !tried.insert((id, seq))
    }

    fn done(&self, id: BookingId, seq: u32) {
        self.tried.lock().unwrap_or_else(|p| p.into_inner()).remove(&(id, seq));
    }

    async fn session(&self, id: BookingId) -> Result<Option<Session>, ExportError> {
        let Some(bytes) = self.store.export_state(NAME, id).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ExportError::Destination(format!("unreadable charging session of {id}: {e}")))
    }

    async fn keep(&self, id: BookingId, s: Option<&Session>) -> Result<(), ExportError> {
        let bytes = s
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ExportError::Destination(e.to_string()))?;
        self.store.set_export_state(NAME, id, bytes.as_deref()).await?;
        Ok(())
    }

    /// The QoS went into place: open the session (once).
    async fn start(&self, b: &Booking, now: OffsetDateTime, entry: (u16, u64, u64)) -> Result<(), ExportError> {
        if self.session(b.id).await?.is_some() {
            return Ok(());
        }
        let Some(from) = b.started_at else { return Ok(()) };
        let again = self.retransmission(b.id, 0);
        let req = self.requests().initial(b, now, again);
        match self.client.create(&req).await {
            Ok(resource) => {
                self.done(b.id, 0);
                let s = Session {
                    resource,
                    seq: 0,
                    reported_until: from,
                    pending: None,
                    closed: false,
                    closed_by: None,
                };
                self.keep(b.id, Some(&s)).await?;
                info!(booking.id = %b.id, chf.resource = %s.resource, "charging session opened");
                Ok(())
            }
            Err(SbiError::Rejected { status, message, .. }) => {
                self.done(b.id, 0);
                error!(booking.id = %b.id, status, %message, "the CHF refused the charging session; this booking is not charged there");
                let refused = Session {
                    resource: String::new(),
                    seq: 0,
                    reported_until: from,
                    pending: None,
                    closed: true,
                    closed_by: Some(entry),
                };
                self.keep(b.id, Some(&refused)).await
            }
            Err(e) => Err(chf_error("the CHF could not open a charging session", &e)),
        }
    }

    /// Reports the time used up to `until`; `last` releases the session. A report whose
    /// answer was lost is resent first, as it was.
    async fn report(
        &self,
        b: &Booking,
        mut s: Session,
        until: OffsetDateTime,
        now: OffsetDateTime,
        last: bool,
        entry: Option<(u16, u64, u64)>,
    ) -> Result<(), ExportError> {
        if let Some(p) = s.pending.clone() {
            s = self.send(b, s, p, now, true, entry).await?;
        }
        if s.closed {
            return Ok(());
        }
        let p = Pending {
            seq: s.seq + 1,
            until: until.max(s.reported_until),
            last,
        };
        s.pending = Some(p.clone());
        self.keep(b.id, Some(&s)).await?;
        self.send(b, s, p, now, false, entry).await.map(|_| ())
    }

    /// Sends the stored report `p` of `s`: the session afterwards (stored).
    async fn send(
        &self,
        b: &Booking,
        mut s: Session,
        p: Pending,
        now: OffsetDateTime,
        again: bool,
        entry: Option<(u16, u64, u64)>,
    ) -> Result<Session, ExportError> {
        // Whole seconds reported, the fraction carried to the next report: the reports add
        // up to the record's `inPlaceSeconds` exactly.
        let used = seconds(s.reported_until, p.until);
        let req = self.requests().report(b, p.seq, used, now, p.last, again);
        let sent = if p.last {
            self.client.release(&s.resource, &req).await
        } else {
            self.client.update(&s.resource, &req).await.map(|_| ())
        };
        match sent {
            Ok(()) => {
                s.seq = p.seq;
                s.reported_until += Duration::seconds(i64::from(used));
                s.pending = None;
                if p.last {
                    s.closed = true;
                    s.closed_by = entry;
                }
            }
            Err(SbiError::Rejected { status, message, .. }) => {
                // 404: the CHF no longer has the session; any 4xx: resending will not help.
                error!(booking.id = %b.id, status, %message, last = p.last, "the CHF refused a charging report; the session is dropped");
                s.pending = None;
                s.closed = true;
                s.closed_by = entry;
            }
            Err(e) => return Err(chf_error("the CHF could not take a charging report", &e)),
        }
        self.keep(b.id, Some(&s)).await?;
        Ok(s)
    }

    /// One booking's entries of a batch, in order.
    async fn booking_entries(&self, entries: Vec<LedgerEntry>, now: OffsetDateTime) -> Result<(), ExportError> {
        for e in &entries {
            let b = &e.booking;
            if b.is_reservation() {
                continue; // its devices are charged, each in its own session
            }
            let at = (e.shard, e.position.ms, e.position.seq);
            match e.kind() {
                EntryKind::Started => self.start(b, now, at).await?,
                EntryKind::Closed => match (self.session(b.id).await?, b.terminated_at) {
                    (Some(mut s), _) if s.closed && s.closed_by.is_none() => {
                        // Dropped by an interim refusal: forgotten once this end is past.
                        s.closed_by = Some(at);
                        self.keep(b.id, Some(&s)).await?;
                    }
                    (Some(s), _) if s.closed => {}
                    (Some(s), Some(until)) => self.report(b, s, until, now, true, Some(at)).await?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for ChfSink {
    fn name(&self) -> &str {
        NAME
    }

    async fn put(&self, _shard: u16, entries: &[LedgerEntry], now: OffsetDateTime) -> Result<(), ExportError> {
        // Grouped by booking (each group in ledger order), groups at once.
        // Owned, so that the futures borrow nothing of the caller's slice.
        let mut groups: Vec<Vec<LedgerEntry>> = Vec::new();
        let mut group_of: std::collections::HashMap<BookingId, usize> = std::collections::HashMap::new();
        for e in entries {
            let i = *group_of.entry(e.booking.id).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[i].push(e.clone());
        }
        let results: Vec<Result<(), ExportError>> = futures_util::stream::iter(groups)
            .map(|g| self.booking_entries(g, now))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Interim reports of the sessions due one, for bookings still in place (an ended one
    /// gets its final report from its ledger entry, with the exact end), up to
    /// `INTERIM_MARGIN` (30 s) before now; and closed sessions forgotten once the export's marker
    /// has passed the entry that closed them.
    async fn tick(&self, now: OffsetDateTime) -> Result<(), ExportError> {
        let mut markers = std::collections::HashMap::new();
        for (id, bytes) in self.store.export_states(NAME).await? {
            let Ok(s) = serde_json::from_slice::<Session>(&bytes) else {
                continue;
            };
            if s.closed {
                if let Some((shard, ms, seq)) = s.closed_by {
                    let marker = match markers.get(&shard) {
                        Some(m) => *m,
                        None => {
                            let m = self.store.ledger_marker(NAME, shard).await?;
                            markers.insert(shard, m);
                            m
                        }
                    };
                    if marker >= (booking::usage::LedgerPosition { ms, seq }) {
                        self.keep(id, None).await?;
                    }
                }
                continue;
            }
            let until = now - INTERIM_MARGIN;
            if until - s.reported_until < self.settings.interim && s.pending.is_none() {
                continue;
            }
            match self.store.get(id).await? {
                Some(b) if b.status == BookingStatus::Activated => {
                    if let Err(e) = self.report(&b, s, until, now, false, None).await {
                        warn!(booking.id = %id, error = %booking::Chain(&e), "interim charging report failed; the next one carries its time");
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
