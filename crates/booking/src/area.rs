//! Service areas (CIRCLE, POLYGON, AREANAME), their shape rules and the operator's coverage.

use geo::{Contains, Destination, Distance, Haversine, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

impl Point {
    /// Latitude within -90..=90 and longitude within -180..=180.
    pub fn in_range(&self) -> bool {
        (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude)
    }
    fn geo(self) -> geo::Point<f64> {
        geo::Point::new(self.longitude, self.latitude)
    }
}

pub type AreaName = String;

/// A validated service area: shape rules already hold.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceArea {
    Circle { center: Point, radius: f64 },
    Polygon { boundary: Vec<Point> },
    AreaName(AreaName),
}

impl ServiceArea {
    /// Checks the shape rules of CAMARA `Area`; the error is a message for INVALID_AREA.
    pub fn circle(center: Point, radius: f64) -> Result<Self, String> {
        if !center.in_range() {
            return Err("circle center latitude/longitude out of range".into());
        }
        if !(radius.is_finite() && radius >= 1.0) {
            return Err("circle radius must be at least 1 meter".into());
        }
        Ok(Self::Circle { center, radius })
    }

    pub fn polygon(boundary: Vec<Point>) -> Result<Self, String> {
        if !(3..=15).contains(&boundary.len()) {
            return Err(format!(
                "polygon boundary must have 3 to 15 points, got {}",
                boundary.len()
            ));
        }
        if boundary.iter().any(|p| !p.in_range()) {
            return Err("polygon point latitude/longitude out of range".into());
        }
        let poly = to_geo_polygon(&boundary);
        if let Err(e) = poly.check_validation() {
            return Err(format!("polygon is not simple: {e}"));
        }
        Ok(Self::Polygon { boundary })
    }
}

fn to_geo_polygon(points: &[Point]) -> geo::Polygon<f64> {
    let ring: Vec<geo::Coord<f64>> = points
        .iter()
        .map(|p| geo::Coord {
            x: p.longitude,
            y: p.latitude,
        })
        .collect();
    geo::Polygon::new(geo::LineString::from(ring), vec![])
}

/// One region the operator covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CoverageRegion {
    Circle { latitude: f64, longitude: f64, radius: f64 },
    Polygon { points: Vec<[f64; 2]> },
}

/// Where the operator can provide QoS. An empty list of regions covers everywhere.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub regions: Vec<CoverageRegion>,
    /// Area names that are valid but not covered (for AREANAME).
    pub uncovered_names: Vec<String>,
}

impl Coverage {
    /// True when the whole area lies inside one coverage region. A circle is tested by its
    /// center and 16 points on its edge, which is exact enough for metre-scale radii.
    pub fn covers(&self, area: &ServiceArea) -> bool {
        let sample: Vec<geo::Point<f64>> = match area {
            ServiceArea::AreaName(name) => return !self.uncovered_names.contains(name),
            ServiceArea::Polygon { boundary } => boundary.iter().map(|p| p.geo()).collect(),
            ServiceArea::Circle { center, radius } => {
                let c = center.geo();
                let mut pts = vec![c];
                pts.extend((0..16).map(|i| Haversine.destination(c, f64::from(i) * 22.5, *radius)));
                pts
            }
        };
        if self.regions.is_empty() {
            return true;
        }
        self.regions
            .iter()
            .any(|region| sample.iter().all(|p| region_contains(region, *p)))
    }
}

fn region_contains(region: &CoverageRegion, p: geo::Point<f64>) -> bool {
    match region {
        CoverageRegion::Circle {
            latitude,
            longitude,
            radius,
        } => Haversine.distance(geo::Point::new(*longitude, *latitude), p) <= *radius,
        CoverageRegion::Polygon { points } => {
            let pts: Vec<Point> = points
                .iter()
                .map(|[lat, lon]| Point {
                    latitude: *lat,
                    longitude: *lon,
                })
                .collect();
            to_geo_polygon(&pts).contains(&p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(latitude: f64, longitude: f64) -> Point {
        Point { latitude, longitude }
    }

    #[test]
    fn polygon_rules() {
        assert!(ServiceArea::polygon(vec![pt(0.0, 0.0), pt(0.0, 1.0)]).is_err());
        assert!(ServiceArea::polygon(vec![pt(0.0, 0.0), pt(0.0, 1.0), pt(1.0, 1.0)]).is_ok());
        // A bow tie crosses itself.
        let bow = vec![pt(0.0, 0.0), pt(1.0, 1.0), pt(0.0, 1.0), pt(1.0, 0.0)];
        assert!(ServiceArea::polygon(bow).is_err());
        assert!(ServiceArea::polygon(vec![pt(91.0, 0.0), pt(0.0, 1.0), pt(1.0, 1.0)]).is_err());
        assert!(ServiceArea::polygon(vec![pt(0.0, 0.0); 16]).is_err());
    }

    #[test]
    fn circle_rules() {
        assert!(ServiceArea::circle(pt(10.0, 10.0), 0.5).is_err());
        assert!(ServiceArea::circle(pt(10.0, 190.0), 5.0).is_err());
        assert!(ServiceArea::circle(pt(10.0, 10.0), 1.0).is_ok());
    }

    #[test]
    fn coverage_by_circle() {
        let cov = Coverage {
            regions: vec![CoverageRegion::Circle {
                latitude: 50.0,
                longitude: 8.0,
                radius: 10_000.0,
            }],
            uncovered_names: vec![],
        };
        assert!(cov.covers(&ServiceArea::Circle {
            center: pt(50.0, 8.0),
            radius: 5_000.0
        }));
        assert!(!cov.covers(&ServiceArea::Circle {
            center: pt(50.0, 8.0),
            radius: 20_000.0
        }));
        assert!(!cov.covers(&ServiceArea::Circle {
            center: pt(10.0, 8.0),
            radius: 10.0
        }));
    }
}
