//! Capacity-aware admission: the operator states how many bookings of a QoS profile an area
//! carries at once (a pool), and when it carries none (blackouts). A create whose window would
//! exceed a pool's capacity at any instant is declined; the store counts and reserves
//! atomically per pool (`BookingStore::reserve`).

use crate::area::{CoverageRegion, Point, ServiceArea};
use crate::booking::Booking;
use geo::{Destination, Haversine, Intersects};
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// A window during which a pool admits nothing (maintenance, events).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blackout {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

/// One area's capacity: bookings whose service area is one of `area_names` or overlaps one of
/// `regions` draw on it, per QoS profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub name: String,
    #[serde(default)]
    pub area_names: Vec<String>,
    #[serde(default)]
    pub regions: Vec<CoverageRegion>,
    /// Profile name -> bookings admitted at once.
    pub profiles: HashMap<String, u32>,
    #[serde(default)]
    pub blackouts: Vec<Blackout>,
    /// Times of day (UTC) when the pool carries another number of bookings for a profile
    /// (a profile a window does not list keeps the pool's capacity then).
    #[serde(default)]
    pub windows: Vec<DailyWindow>,
    /// Bookings drawing on this pool wait for the operator's decision: created REQUESTED
    /// (holding their capacity), then approved (SCHEDULED) or declined; still REQUESTED at
    /// their start, they are declined.
    #[serde(default)]
    pub deferred: bool,
}

/// Where the store keeps the reservations of one profile in one pool: a pool's capacity is
/// per profile, so each profile is counted on its own.
pub fn bucket(pool: &str, profile: &str) -> String {
    format!("{pool}/{profile}")
}

impl PoolClaim {
    /// This claim's reservation bucket.
    pub fn bucket(&self) -> String {
        bucket(&self.pool, &self.profile)
    }
}

/// A daily window: from `from` until `to` ("HH:MM", UTC; a `to` not after `from` ends the
/// next day), these capacities.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyWindow {
    pub from: String,
    pub to: String,
    pub profiles: HashMap<String, u32>,
}

/// Minutes after midnight of "HH:MM".
pub fn minutes_of(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// A part of a booking's window with its own capacity (`None`: the pool's, which the
/// operator may have changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub limit: Option<u32>,
}

/// A pool a booking draws on, with that pool's capacity for the booking's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolClaim {
    pub pool: String,
    /// The booking's QoS profile (a pool's capacity is per profile).
    pub profile: String,
    /// The configured capacity; an operator's change stored in the store wins over it.
    pub limit: u32,
    /// The pool waits for the operator's decision.
    pub deferred: bool,
    /// The booking's window cut where daily windows begin and end; each part is checked
    /// against its own capacity. One part with `None` when the pool has no windows.
    pub periods: Vec<Period>,
    /// The places the booking takes (a reservation for N devices takes N).
    pub units: u32,
}

/// Decides REQUESTED bookings of deferred pools (the operator's policy service). `None`: no
/// answer (unreachable, timed out, unreadable): the configured default applies.
#[async_trait::async_trait]
pub trait AdmissionDecider: Send + Sync + 'static {
    async fn decide(&self, booking: &Booking) -> Option<bool>;
}

/// Why a booking cannot be admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Blackout(String),
    Full(String),
}

#[derive(Debug, Clone, Default)]
pub struct CapacityPlan {
    pub pools: Vec<Pool>,
}

impl CapacityPlan {
    /// The pools `b` draws on (its area and profile), or why it cannot be admitted at all.
    pub fn claims_for(&self, b: &Booking) -> Result<Vec<PoolClaim>, Refusal> {
        let Some(area) = &b.service_area else {
            return Ok(Vec::new());
        };
        let units = b.capacity_units();
        if units == 0 {
            return Ok(Vec::new());
        }
        let end = b.end_time();
        let mut out = Vec::new();
        for pool in self.pools.iter().filter(|p| p.covers(area)) {
            let Some(&limit) = pool.profiles.get(&b.qos_profile) else {
                continue;
            };
            if pool.blackouts.iter().any(|w| w.start < end && b.start_time < w.end) {
                return Err(Refusal::Blackout(pool.name.clone()));
            }
            out.push(PoolClaim {
                pool: pool.name.clone(),
                profile: b.qos_profile.clone(),
                limit,
                deferred: pool.deferred,
                periods: pool.periods(&b.qos_profile, b.start_time, end),
                units,
            });
        }
        Ok(out)
    }

    /// The reservation buckets (see [`bucket`]) a booking may hold capacity in, whatever its
    /// window (to give it back).
    pub fn pools_of(&self, b: &Booking) -> Vec<String> {
        let Some(area) = &b.service_area else {
            return Vec::new();
        };
        if b.capacity_units() == 0 {
            return Vec::new();
        }
        self.pools
            .iter()
            .filter(|p| p.profiles.contains_key(&b.qos_profile) && p.covers(area))
            .map(|p| bucket(&p.name, &b.qos_profile))
            .collect()
    }
}

impl Pool {
    /// `[start, end)` cut at the edges of the daily windows that name `profile`, each part
    /// with the smallest capacity of the windows covering it (`None`: outside all windows).
    pub fn periods(&self, profile: &str, start: OffsetDateTime, end: OffsetDateTime) -> Vec<Period> {
        let mut spans: Vec<(OffsetDateTime, OffsetDateTime, u32)> = Vec::new();
        let day = time::Duration::days(1);
        let first = start.replace_time(time::Time::MIDNIGHT) - day;
        for w in &self.windows {
            let (Some(limit), Some(from), Some(to)) = (w.profiles.get(profile), minutes_of(&w.from), minutes_of(&w.to))
            else {
                continue;
            };
            let length = if to > from { to - from } else { to + 24 * 60 - from };
            let mut d = first;
            while d < end {
                let s = d + time::Duration::minutes(from);
                let e = s + time::Duration::minutes(length);
                if s < end && start < e {
                    spans.push((s.max(start), e.min(end), *limit));
                }
                d += day;
            }
        }
        let mut cuts: Vec<OffsetDateTime> = vec![start, end];
        for (s, e, _) in &spans {
            cuts.push(*s);
            cuts.push(*e);
        }
        cuts.sort();
        cuts.dedup();
        cuts.windows(2)
            .map(|c| Period {
                start: c[0],
                end: c[1],
                limit: spans
                    .iter()
                    .filter(|(s, e, _)| *s <= c[0] && c[1] <= *e)
                    .map(|x| x.2)
                    .min(),
            })
            .collect()
    }

    fn covers(&self, area: &ServiceArea) -> bool {
        match area {
            ServiceArea::AreaName(name) => self.area_names.contains(name),
            shape => {
                let a = polygon_of(shape);
                self.regions.iter().any(|r| a.intersects(&region_polygon(r)))
            }
        }
    }
}

/// A circle as a 32-gon (metre-scale radii: the difference is negligible here).
fn circle(center: Point, radius: f64) -> geo::Polygon<f64> {
    let c = geo::Point::new(center.longitude, center.latitude);
    let ring: Vec<geo::Coord<f64>> = (0..32)
        .map(|i| Haversine.destination(c, f64::from(i) * 11.25, radius).0)
        .collect();
    geo::Polygon::new(geo::LineString::from(ring), vec![])
}

fn points(points: impl Iterator<Item = (f64, f64)>) -> geo::Polygon<f64> {
    let ring: Vec<geo::Coord<f64>> = points.map(|(lat, lon)| geo::Coord { x: lon, y: lat }).collect();
    geo::Polygon::new(geo::LineString::from(ring), vec![])
}

fn polygon_of(area: &ServiceArea) -> geo::Polygon<f64> {
    match area {
        ServiceArea::Circle { center, radius } => circle(*center, *radius),
        ServiceArea::Polygon { boundary } => points(boundary.iter().map(|p| (p.latitude, p.longitude))),
        ServiceArea::AreaName(_) => geo::Polygon::new(geo::LineString::new(vec![]), vec![]),
    }
}

fn region_polygon(r: &CoverageRegion) -> geo::Polygon<f64> {
    match r {
        CoverageRegion::Circle {
            latitude,
            longitude,
            radius,
        } => circle(
            Point {
                latitude: *latitude,
                longitude: *longitude,
            },
            *radius,
        ),
        CoverageRegion::Polygon { points: p } => points(p.iter().map(|[lat, lon]| (*lat, *lon))),
    }
}

/// The most places that the reservations of `windows` (start, end, places; half-open) hold
/// at one instant of `[start, end)`: what admitting another in that window would add to.
pub fn peak(windows: &[(i64, i64, u32)], start: i64, end: i64) -> u32 {
    let mut edges: Vec<(i64, i64)> = Vec::new();
    for &(s, e, units) in windows {
        if s < end && start < e {
            edges.push((s.max(start), i64::from(units)));
            edges.push((e.min(end), -i64::from(units)));
        }
    }
    // Ends before starts at the same instant: back-to-back windows do not overlap.
    edges.sort_unstable();
    let (mut now, mut most) = (0i64, 0i64);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    u32::try_from(most).unwrap_or(u32::MAX)
}

/// Whether `units` more places fit under `limit` next to a peak of `held`.
pub fn fits(held: u32, units: u32, limit: u32) -> bool {
    u64::from(held) + u64::from(units) <= u64::from(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_counts_overlaps_at_one_instant_only() {
        // Two bookings that never overlap each other, both inside the window: peak 1.
        assert_eq!(peak(&[(0, 10, 1), (10, 20, 1)], 0, 20), 1);
        assert_eq!(peak(&[(0, 10, 1), (5, 15, 1), (8, 20, 1)], 0, 20), 3);
        assert_eq!(peak(&[(0, 10, 1), (5, 15, 1), (12, 20, 1)], 0, 20), 2);
        // A reservation for ten devices takes ten places.
        assert_eq!(peak(&[(0, 10, 10), (5, 15, 1)], 0, 20), 11);
        assert!(fits(9, 1, 10) && !fits(10, 1, 10) && !fits(0, 11, 10));
        // Outside the window: not counted; touching its edges: not counted.
        assert_eq!(peak(&[(0, 10, 1), (20, 30, 1)], 10, 20), 0);
        assert_eq!(peak(&[], 0, 1), 0);
    }

    #[test]
    fn a_window_cuts_the_booking_into_periods() {
        let pool = Pool {
            name: "p".into(),
            area_names: vec!["x".into()],
            regions: vec![],
            profiles: HashMap::from([("QOS_L".into(), 10)]),
            blackouts: vec![],
            windows: vec![DailyWindow {
                from: "18:00".into(),
                to: "02:00".into(),
                profiles: HashMap::from([("QOS_L".into(), 2)]),
            }],
            deferred: false,
        };
        let t = time::macros::datetime!(2030-01-01 17:00 UTC);
        let periods = pool.periods("QOS_L", t, t + time::Duration::hours(10));
        let hours = |p: &Period| ((p.start - t).whole_hours(), (p.end - t).whole_hours(), p.limit);
        assert_eq!(
            periods.iter().map(hours).collect::<Vec<_>>(),
            vec![(0, 1, None), (1, 9, Some(2)), (9, 10, None)]
        );
        assert_eq!(pool.periods("QOS_M", t, t + time::Duration::hours(1)).len(), 1);
        assert_eq!(minutes_of("25:00"), None);
        assert_eq!(minutes_of("07:30"), Some(450));
    }

    #[test]
    fn a_pool_covers_its_names_and_overlapping_shapes() {
        let pool = Pool {
            name: "stadium".into(),
            area_names: vec!["stadium-north".into()],
            regions: vec![CoverageRegion::Circle {
                latitude: 50.0,
                longitude: 8.0,
                radius: 1_000.0,
            }],
            profiles: HashMap::from([("QOS_L".into(), 2)]),
            blackouts: vec![],
            windows: vec![],
            deferred: false,
        };
        let near = ServiceArea::Circle {
            center: Point {
                latitude: 50.012,
                longitude: 8.0,
            },
            radius: 500.0,
        };
        let far = ServiceArea::Circle {
            center: Point {
                latitude: 50.1,
                longitude: 8.0,
            },
            radius: 500.0,
        };
        assert!(pool.covers(&ServiceArea::AreaName("stadium-north".into())));
        assert!(!pool.covers(&ServiceArea::AreaName("harbour".into())));
        assert!(pool.covers(&near), "1.33 km apart, radii 1 km + 0.5 km: they overlap");
        assert!(!pool.covers(&far));
    }
}
