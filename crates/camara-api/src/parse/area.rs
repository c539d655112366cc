//! `serviceArea`: its shape rules and the operator's area types (refusals are 422
//! `INVALID_AREA`, unlike the other body refusals).

use super::*;

pub(super) fn number(v: &Value, path: &str) -> Result<f64, Rejection> {
    v.as_f64()
        .ok_or_else(|| Rejection::new(RejectionKind::InvalidArea, format!("'{path}' must be a number")))
}

pub(super) fn area_point(v: &Value, path: &str, opts: &ParseOptions) -> Result<Point, Rejection> {
    let bad = |m: String| Rejection::new(RejectionKind::InvalidArea, m);
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("'{path}' must be an object with latitude and longitude")))?;
    check_keys(o, &["latitude", "longitude"], path, opts)?;
    let lat = o
        .get("latitude")
        .ok_or_else(|| bad(format!("'{path}.latitude' is missing")))?;
    let lon = o
        .get("longitude")
        .ok_or_else(|| bad(format!("'{path}.longitude' is missing")))?;
    Ok(Point {
        latitude: number(lat, &format!("{path}.latitude"))?,
        longitude: number(lon, &format!("{path}.longitude"))?,
    })
}

pub(super) fn service_area(v: &Value, opts: &ParseOptions) -> Result<ServiceArea, Rejection> {
    let o = object(v, "serviceArea")?;
    let ty = required(o, "areaType", "serviceArea")?;
    let (enabled, keys): (bool, &[&str]) = match ty.as_str() {
        Some("CIRCLE") => (opts.area_types.circle, &["areaType", "center", "radius"]),
        Some("POLYGON") => (opts.area_types.polygon, &["areaType", "boundary"]),
        Some("AREANAME") => (opts.area_types.area_name, &["areaType", "areaName"]),
        _ => {
            return Err(invalid("'serviceArea.areaType' must be CIRCLE, POLYGON or AREANAME"));
        }
    };
    if !enabled {
        return Err(Rejection::new(
            RejectionKind::NotManagedAreaType,
            format!(
                "areaType {} is not supported by this operator",
                ty.as_str().unwrap_or_default()
            ),
        ));
    }
    check_keys(o, keys, "serviceArea", opts)?;
    let bad = |m: String| Rejection::new(RejectionKind::InvalidArea, m);
    match ty.as_str() {
        Some("CIRCLE") => {
            let center = area_point(
                o.get("center")
                    .ok_or_else(|| bad("'serviceArea.center' is missing".into()))?,
                "serviceArea.center",
                opts,
            )?;
            let radius = number(
                o.get("radius")
                    .ok_or_else(|| bad("'serviceArea.radius' is missing".into()))?,
                "serviceArea.radius",
            )?;
            ServiceArea::circle(center, radius).map_err(bad)
        }
        Some("POLYGON") => {
            let arr = o
                .get("boundary")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("'serviceArea.boundary' must be an array of points".into()))?;
            if !(3..=15).contains(&arr.len()) {
                return Err(bad(format!(
                    "polygon boundary must have 3 to 15 points, got {}",
                    arr.len()
                )));
            }
            let points = arr
                .iter()
                .enumerate()
                .map(|(i, p)| area_point(p, &format!("serviceArea.boundary[{i}]"), opts))
                .collect::<Result<Vec<_>, _>>()?;
            ServiceArea::polygon(points).map_err(bad)
        }
        _ => {
            let name = o
                .get("areaName")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("'serviceArea.areaName' must be a string".into()))?;
            if name.is_empty() || name.len() > 256 || !opts.area_names.iter().any(|n| n == name) {
                return Err(bad(format!("'{name}' is not a known area name")));
            }
            Ok(ServiceArea::AreaName(name.to_owned()))
        }
    }
}
