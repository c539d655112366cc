//! Usage reports: the final records of a period summed per client, per QoS profile or per day
//! (UTC) of their end, as the operator's admin API and `qosctl usage` show them. A booking
//! counts in the period in which it ended, with all its time in place.

use crate::record::{Renderer, UsageRecord};
use booking::usage::{LedgerPosition, Outcome};
use booking::{BookingStore, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// How far a ledger entry's position (the store's clock when written) may be from the
/// booking's end time (the gateway's clock): entries are looked for this much beyond the
/// period on both sides, then chosen by their end time.
const CLOCK_SLACK: Duration = Duration::hours(1);

/// Entries read per store round trip.
const PAGE: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    Client,
    Profile,
    Day,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "profile" => Some(Self::Profile),
            "day" => Some(Self::Day),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    pub client_id: Option<String>,
    pub qos_profile: Option<String>,
    /// Records of bookings that ended at or after `from` and before `to`.
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub group_by: GroupBy,
}

impl ReportQuery {
    fn keeps(&self, r: &UsageRecord) -> bool {
        self.client_id.as_ref().is_none_or(|c| *c == r.client_id)
            && self.qos_profile.as_ref().is_none_or(|p| *p == r.qos_profile)
            && self.from.is_none_or(|f| r.ended_at >= f)
            && self.to.is_none_or(|t| r.ended_at < t)
    }

    fn key(&self, r: &UsageRecord) -> String {
        match self.group_by {
            GroupBy::Client => r.client_id.clone(),
            GroupBy::Profile => r.qos_profile.clone(),
            GroupBy::Day => r.ended_at.to_offset(time::UtcOffset::UTC).date().to_string(),
        }
    }
}

/// One group's sums.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub group: String,
    pub bookings: u64,
    /// Bookings per outcome (every outcome listed, zero included).
    pub outcomes: BTreeMap<&'static str, u64>,
    pub seconds_in_place: u64,
    pub hours_in_place: f64,
    /// QoS Booking and Assignment: places reserved (the reservations' capacity) and devices
    /// that had a booking of their own in a reservation.
    pub reserved_devices: u64,
    pub assigned_devices: u64,
}

impl Row {
    fn new(group: String) -> Self {
        Self {
            group,
            outcomes: Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect(),
            ..Self::default()
        }
    }

    fn add(&mut self, r: &UsageRecord) {
        let is_reservation = r.device.is_none();
        if is_reservation {
            self.reserved_devices += u64::from(r.devices);
        } else {
            self.bookings += 1;
            if let Some(n) = Outcome::parse(&r.outcome).and_then(|o| self.outcomes.get_mut(o.as_str())) {
                *n += 1;
            }
        }
        if r.reservation_id.is_some() {
            self.assigned_devices += 1;
        }
        self.seconds_in_place += r.in_place_seconds;
        #[allow(clippy::cast_precision_loss, reason = "hours for reading; the seconds are exact")]
        let hours = self.seconds_in_place as f64 / 3600.0;
        self.hours_in_place = (hours * 1000.0).round() / 1000.0;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub rows: Vec<Row>,
    pub total: Row,
}

impl Report {
    /// Sums `records` kept by `q`. (Reservations are not counted as bookings: their devices
    /// are, each with its own record.)
    pub fn of<'a>(q: &ReportQuery, records: impl IntoIterator<Item = &'a UsageRecord>) -> Self {
        let mut groups: BTreeMap<String, Row> = BTreeMap::new();
        let mut total = Row::new("total".into());
        for r in records.into_iter().filter(|r| q.keeps(r)) {
            let key = q.key(r);
            groups.entry(key.clone()).or_insert_with(|| Row::new(key)).add(r);
            total.add(r);
        }
        Self {
            rows: groups.into_values().collect(),
            total,
        }
    }

    /// The report as CSV: a header, one line per group, then the total.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["group".to_owned(), "bookings".to_owned()];
        header.extend(Outcome::ALL.iter().map(|o| o.as_str().to_owned()));
        header.extend(["secondsInPlace", "hoursInPlace", "reservedDevices", "assignedDevices"].map(str::to_owned));
        w.write_record(&header)?;
        for row in self.rows.iter().chain(std::iter::once(&self.total)) {
            let mut line = vec![row.group.clone(), row.bookings.to_string()];
            line.extend(
                Outcome::ALL
                    .iter()
                    .map(|o| row.outcomes.get(o.as_str()).copied().unwrap_or(0).to_string()),
            );
            line.push(row.seconds_in_place.to_string());
            line.push(row.hours_in_place.to_string());
            line.push(row.reserved_devices.to_string());
            line.push(row.assigned_devices.to_string());
            w.write_record(&line)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The final records in the store's ledgers that can fall in `q`'s period.
pub async fn records(
    store: &dyn BookingStore,
    renderer: &Renderer,
    q: &ReportQuery,
) -> Result<Vec<UsageRecord>, StoreError> {
    let ms = |t: OffsetDateTime| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let start = q.from.map(|f| ms(f - CLOCK_SLACK)).unwrap_or(0);
    let stop = q.to.map(|t| ms(t + CLOCK_SLACK)).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    for shard in 0..store.ledger_shards() {
        let mut at = LedgerPosition {
            ms: start.saturating_sub(1),
            seq: u64::MAX,
        };
        'shard: loop {
            let page = store.ledger(shard, at, PAGE).await?;
            let Some(last) = page.last() else { break };
            at = last.position;
            for e in &page {
                if e.position.ms > stop {
                    break 'shard;
                }
                out.extend(renderer.record(e).filter(|r| q.keeps(r)));
            }
            if page.len() < PAGE {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{DeviceIdentity, Renderer};
    use crate::testing::{T0, TestFront, served};
    use booking::StatusInfo;
    use booking::usage::LedgerEntry;

    fn record(client: &str, n: u32, seconds: i64, reason: StatusInfo) -> UsageRecord {
        let (_, ended) = served(client, n, seconds, reason);
        let e = LedgerEntry {
            shard: 0,
            position: Default::default(),
            booking: ended,
        };
        Renderer::new(TestFront, DeviceIdentity::Clear).record(&e).unwrap()
    }

    #[test]
    fn a_report_sums_per_group_and_in_total_within_the_period() {
        let records = vec![
            record("a", 1, 3600, StatusInfo::DurationExpired),
            record("a", 2, 1800, StatusInfo::NetworkTerminated),
            record("b", 3, 900, StatusInfo::DeleteRequested),
        ];
        let q = ReportQuery::default();
        let r = Report::of(&q, &records);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(
            (r.rows[0].group.as_str(), r.rows[0].bookings, r.rows[0].seconds_in_place),
            ("a", 2, 5400)
        );
        assert_eq!(r.rows[0].outcomes["SERVED"], 1);
        assert_eq!(r.rows[0].outcomes["NETWORK_TERMINATED"], 1);
        assert_eq!(r.rows[0].hours_in_place, 1.5);
        assert_eq!(r.total.seconds_in_place, 6300);
        assert_eq!(r.total.outcomes["DELETED"], 1);

        let only_b = ReportQuery {
            client_id: Some("b".into()),
            ..ReportQuery::default()
        };
        assert_eq!(Report::of(&only_b, &records).total.bookings, 1);
        // Ended at T0 + 15 min to T0 + 1 h: a period ending before the first end is empty.
        let before = ReportQuery {
            to: Some(T0 + time::Duration::minutes(15)),
            ..ReportQuery::default()
        };
        assert_eq!(Report::of(&before, &records).total.bookings, 0);
        let by_day = ReportQuery {
            group_by: GroupBy::Day,
            ..ReportQuery::default()
        };
        assert_eq!(Report::of(&by_day, &records).rows[0].group, "2030-01-01");
    }

    #[test]
    fn the_csv_has_a_header_a_line_per_group_and_the_total() {
        let records = vec![record("a", 1, 7200, StatusInfo::DurationExpired)];
        let csv = Report::of(&ReportQuery::default(), &records).to_csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("group,bookings,SERVED,DECLINED,REVOKED,NETWORK_TERMINATED,DELETED,FAILED_TO_ACTIVATE,secondsInPlace,hoursInPlace"));
        assert_eq!(lines[1], "a,1,1,0,0,0,0,0,7200,2,0,0");
        assert!(lines[2].starts_with("total,1,"));
    }
}
