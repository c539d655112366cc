//! Usage and charging wiring: the API front's names for usage records (`Front`), the
//! configured export (`charging.kind`: files, or the CHF or its in-process simulator), the ledger's retention, and the operator's usage
//! report on the admin API (`GET /admin/usage`, JSON or CSV).

use crate::admin::{AdminState, Operator};
use crate::settings::{ChargingKind, DeviceIdentitySetting, Settings};
use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use booking::{Booking, BookingStore, Clock, Group, ServiceArea};
use camara_api::{ApiError, Version};
use charging::chf::{ChfSettings, ChfSink, RequestSettings};
use charging::export::{ExportSettings, Exporter};
use charging::file::{FileSettings, FileSink};
use charging::{ApiFront, ApiNames, DeviceIdentity, GroupBy, Renderer, Report, ReportQuery};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// Names as the gateway serves them: its base path and version segment, and what a delete
/// answers in each API version.
struct Front {
    base_path: String,
    api_version: String,
    async_delete: bool,
}

impl ApiFront for Front {
    fn names(&self, b: &Booking) -> ApiNames {
        let assignment = b.group.is_some();
        let dialect = b.dialect;
        let v0_1 = dialect == Version::ASSIGNMENT_V0_1 || Version::of(dialect) == Version::V0_1 && !assignment;
        let version = if v0_1 {
            "v0.1".to_owned()
        } else {
            self.api_version.clone()
        };
        let (api, collection) = if assignment {
            ("qos-booking-and-assignment", "qos-bookings")
        } else {
            ("qos-booking", "device-qos-bookings")
        };
        // A reservation's device is billed under its reservation's resource, named by its own
        // booking (B&A has no resource per device; the CHF needs one per session).
        let resource = match &b.group {
            Some(Group::Member { of }) => format!("{of}/devices/{}", b.id),
            _ => b.id.to_string(),
        };
        let delete = if self.async_delete && b.started_at.is_some() {
            202 // accepted at once, the QoS removed in the background
        } else if assignment && v0_1 {
            200 // B&A 0.1.0 answers a delete with the booking
        } else {
            204
        };
        ApiNames {
            api,
            resource: format!("{}/{api}/{version}/{collection}/{resource}", self.base_path),
            version,
            create: ("createBooking", 201),
            delete: ("deleteBooking", delete),
        }
    }

    fn area(&self, a: &ServiceArea) -> serde_json::Value {
        camara_api::render_area(a)
    }
}

/// The record renderer of these settings.
pub fn renderer(s: &Settings) -> Renderer {
    let c = &s.charging;
    let identity = match c.device_identity {
        DeviceIdentitySetting::Clear => DeviceIdentity::Clear,
        DeviceIdentitySetting::Pseudonymous => {
            let secret = std::env::var(&c.pseudonym_secret_env).unwrap_or_else(|_| {
                if !c.kind.is_empty() {
                    warn!(var = %c.pseudonym_secret_env, "no secret for device pseudonyms in usage records; using the built-in default");
                }
                "qosgw-default-pseudonym-secret".to_owned()
            });
            DeviceIdentity::pseudonymous(&secret)
        }
    };
    Renderer::new(
        Front {
            base_path: s.server.base_path.clone(),
            api_version: s.server.api_version.clone(),
            async_delete: s.api.delete_mode == crate::settings::DeleteMode::Async,
        },
        identity,
    )
}

/// The configured exports (`charging.kind`), and the in-process CHF simulator (`chf-sim`).
pub async fn exporters(
    s: &Settings,
    store: Arc<dyn BookingStore>,
    clock: Arc<dyn Clock>,
    renderer: Arc<Renderer>,
    public_url: &str,
) -> anyhow::Result<(Vec<Exporter>, Option<chf_sim::ChfSim>)> {
    let c = &s.charging;
    let mut sim = None;
    let mut out = Vec::new();
    // One holder name per replica and run: a restarted replica waits for its old lease.
    let holder = format!("{}-{}", hostname(), booking::BookingId::new());
    for kind in &c.kind {
        let sink: Arc<dyn charging::Sink> = match kind {
            ChargingKind::None => continue,
            ChargingKind::File => Arc::new(FileSink::new(
                renderer.clone(),
                FileSettings {
                    dir: c.file.dir.clone(),
                    rotate_every: crate::settings::span(c.file.rotate_every),
                    max_bytes: c.file.max_bytes,
                },
            )),
            ChargingKind::Chf | ChargingKind::ChfSim => {
                let api_root = match (&c.chf.api_root, kind) {
                    (Some(u), _) => u.to_string(),
                    (None, ChargingKind::ChfSim) => {
                        let started = chf_sim::ChfSim::start("127.0.0.1:0")
                            .await
                            .context("cannot start the CHF simulator")?;
                        let url = started.url();
                        sim = Some(started);
                        url
                    }
                    (None, _) => anyhow::bail!("charging.kind chf needs charging.chf.api_root"),
                };
                let client = chf::ChfClient::new(c.chf.transport()?, &api_root).context("charging.chf")?;
                Arc::new(ChfSink::new(
                    client,
                    renderer.clone(),
                    store.clone(),
                    ChfSettings {
                        requests: RequestSettings {
                            nf_instance_id: c.chf.nf_instance_id.clone(),
                            public_url: public_url.to_owned(),
                            rating_groups: c.chf.rating_groups.clone(),
                            default_rating_group: c.chf.default_rating_group,
                        },
                        interim: crate::settings::span(c.chf.interim),
                        concurrency: c.chf.concurrency,
                    },
                ))
            }
        };
        info!(kind = ?kind, "usage export on");
        out.push(Exporter::new(
            store.clone(),
            sink,
            clock.clone(),
            ExportSettings {
                holder: holder.clone(),
                lease: crate::settings::span(c.lease),
                poll: c.poll,
                batch: c.batch.max(1),
            },
        ));
    }
    Ok((out, sim))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into())
}

/// The names of the exporters `kinds` configure (their leases and markers in the store).
pub fn exporter_names(kinds: &[ChargingKind]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = kinds
        .iter()
        .filter_map(|k| match k {
            ChargingKind::None => None,
            ChargingKind::File => Some("file"),
            ChargingKind::Chf | ChargingKind::ChfSim => Some("chf"),
        })
        .collect();
    names.dedup();
    names
}

/// Hourly, on every replica (trimming is idempotent): drops each shard's ledger entries past
/// `days`, but never one a configured exporter has not passed yet (a long CHF outage
/// delays the trim instead of losing usage).
pub async fn keep_retention(
    store: Arc<dyn BookingStore>,
    clock: Arc<dyn Clock>,
    days: u32,
    exporters: Vec<&'static str>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let before = clock.now() - time::Duration::days(i64::from(days));
        let before_ms = u64::try_from(before.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        for shard in 0..store.ledger_shards() {
            let mut bound = before_ms;
            for name in &exporters {
                match store.ledger_marker(name, shard).await {
                    Ok(m) => bound = bound.min(m.ms),
                    Err(_) => bound = 0,
                }
            }
            if bound == 0 {
                continue;
            }
            if let Err(e) = store.trim_ledger(shard, bound).await {
                warn!(shard, error = %booking::Chain(&e), "could not trim the usage ledger");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The usage report on the admin listener, with the admin API's state and operator check.
pub fn router(state: AdminState) -> axum::Router {
    axum::Router::new()
        .route("/admin/usage", axum::routing::get(report))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageQuery {
    client_id: Option<String>,
    qos_profile: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
}

/// `GET /admin/usage`: bookings that ended in `[from, to)`, by outcome, hours in place and
/// B&A devices, per client, profile or day. CSV with `format=csv` or `Accept: text/csv`.
async fn report(
    State(st): State<AdminState>,
    Operator(who): Operator,
    headers: HeaderMap,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid_argument(e.body_text()))?;
    let group_by = match q.group_by.as_deref() {
        None => GroupBy::Client,
        Some(g) => {
            GroupBy::parse(g).ok_or_else(|| ApiError::invalid_argument("'groupBy' must be client, profile or day"))?
        }
    };
    let query = ReportQuery {
        client_id: q.client_id,
        qos_profile: q.qos_profile,
        from: crate::admin::time_param(q.from.as_ref(), "from")?,
        to: crate::admin::time_param(q.to.as_ref(), "to")?,
        group_by,
    };
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(ApiError::invalid_argument("'format' must be json or csv")),
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    let records = charging::report::records(&*st.store, &st.usage, &query)
        .await
        .map_err(|e| unavailable(format!("The usage ledger cannot be read now: {e}")))?;
    let report = Report::of(&query, &records);
    info!(target: "audit", operator = %who, action = "usage-report", records = records.len(), "usage report");
    if csv {
        let body = report
            .to_csv()
            .map_err(|e| unavailable(format!("The report could not be written: {e}")))?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(axum::Json(report).into_response())
}

fn unavailable(message: String) -> ApiError {
    booking::Rejection::new(booking::RejectionKind::Unavailable, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::usage::LedgerPosition;

    #[tokio::test]
    async fn retention_never_trims_what_an_export_has_not_passed() {
        let store: Arc<dyn BookingStore> = Arc::new(store::MemoryStore::new());
        let clock = Arc::new(booking::ManualClock::new(time::macros::datetime!(2031-01-01 00:00 UTC)));
        // Three ended bookings, a year before "now" (the memory ledger times entries by the
        // transition).
        let mut positions = Vec::new();
        for i in 0..3 {
            let device = booking::Device::from_phone(booking::PhoneNumber::parse(&format!("+3460000000{i}")).unwrap());
            let req = booking::NewBooking::minimal(
                "QOS_L",
                time::macros::datetime!(2030-01-01 12:00 UTC) + time::Duration::hours(i),
                60,
                ServiceArea::AreaName("x".into()),
            );
            let owner = booking::Owner {
                client_id: "c".into(),
                subject: None,
            };
            let b = Booking::schedule(booking::BookingId::new(), owner, device, req, clock.now());
            let declined = b.end(booking::StatusInfo::BookingDeclined, b.start_time).unwrap();
            store.create(&declined, None, None).await.unwrap();
        }
        for e in store.ledger(0, LedgerPosition::default(), 10).await.unwrap() {
            positions.push(e.position);
        }
        // The file export is done with the first entry only.
        assert!(
            store
                .lease("file", "me", time::Duration::seconds(30))
                .await
                .unwrap()
                .held()
        );
        assert!(store.set_ledger_marker("file", "me", 0, positions[0]).await.unwrap());
        let (tx, rx) = watch::channel(false);
        tx.send(true).unwrap();
        keep_retention(store.clone(), clock, 30, exporter_names(&[ChargingKind::File]), rx).await;
        let left: Vec<_> = store
            .ledger(0, LedgerPosition::default(), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(
            left, positions,
            "the marker's own entry stays: trimmed strictly before it"
        );
        assert!(store.set_ledger_marker("file", "me", 0, positions[2]).await.unwrap());
        let (tx, rx) = watch::channel(false);
        tx.send(true).unwrap();
        let clock = Arc::new(booking::ManualClock::new(time::macros::datetime!(2031-01-01 00:00 UTC)));
        keep_retention(store.clone(), clock, 30, exporter_names(&[ChargingKind::File]), rx).await;
        let left = store.ledger(0, LedgerPosition::default(), 10).await.unwrap();
        assert_eq!(left.len(), 1, "past retention and exported: gone, but the marker's own");
    }
}
