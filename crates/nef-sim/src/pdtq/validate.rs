//! The schema rules of `Pdtq` and `PdtqPatch` (TS 29.522 Rel-18) a NEF enforces, as
//! `invalidParams` for a 400 `ProblemDetails`: the required fields, `qosReference` xor
//! `qosParamSet`, time windows, a positive number of UEs, and the GAD shapes of
//! `locationArea5G`.

use nef::InvalidParam;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn bad(param: &str, reason: impl Into<String>) -> InvalidParam {
    InvalidParam {
        param: param.to_owned(),
        reason: Some(reason.into()),
    }
}

fn time(v: &Value) -> Option<OffsetDateTime> {
    v.as_str().and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// A `GeographicalCoordinates`.
fn coordinates(v: &Value, at: &str, errs: &mut Vec<InvalidParam>) {
    let ok = |k: &str, max: f64| v[k].as_f64().is_some_and(|x| (-max..=max).contains(&x));
    if !ok("lat", 90.0) || !ok("lon", 180.0) {
        errs.push(bad(at, "lat (-90..90) and lon (-180..180) are required numbers"));
    }
}

fn geographic_area(v: &Value, at: &str, errs: &mut Vec<InvalidParam>) {
    match v["shape"].as_str() {
        Some("POINT_UNCERTAINTY_CIRCLE") => {
            coordinates(&v["point"], &format!("{at}/point"), errs);
            if !v["uncertainty"].as_f64().is_some_and(|u| u >= 0.0) {
                errs.push(bad(&format!("{at}/uncertainty"), "required, a number >= 0"));
            }
        }
        Some("POLYGON") => match v["pointList"].as_array() {
            Some(points) if (3..=15).contains(&points.len()) => {
                for (i, p) in points.iter().enumerate() {
                    coordinates(p, &format!("{at}/pointList/{i}"), errs);
                }
            }
            _ => errs.push(bad(&format!("{at}/pointList"), "required, 3 to 15 points")),
        },
        Some("POINT") => coordinates(&v["point"], &format!("{at}/point"), errs),
        Some(other) => errs.push(bad(&format!("{at}/shape"), format!("shape {other} is not simulated"))),
        None => errs.push(bad(&format!("{at}/shape"), "required")),
    }
}

fn location_area(o: &Map<String, Value>, errs: &mut Vec<InvalidParam>) {
    let Some(area) = o.get("locationArea5G") else { return };
    let Some(a) = area.as_object() else {
        errs.push(bad("/locationArea5G", "an object"));
        return;
    };
    if let Some(g) = a.get("geographicAreas") {
        match g.as_array() {
            Some(list) => {
                for (i, x) in list.iter().enumerate() {
                    geographic_area(x, &format!("/locationArea5G/geographicAreas/{i}"), errs);
                }
            }
            None => errs.push(bad("/locationArea5G/geographicAreas", "an array")),
        }
    }
    if a.get("civicAddresses").is_some_and(|c| !c.is_array()) {
        errs.push(bad("/locationArea5G/civicAddresses", "an array"));
    }
    if a.get("nwAreaInfo").is_some_and(|c| !c.is_object()) {
        errs.push(bad("/locationArea5G/nwAreaInfo", "an object"));
    }
    if a.is_empty() {
        errs.push(bad("/locationArea5G", "names no area"));
    }
}

/// Every violation of a `Pdtq` create (empty: valid).
pub fn pdtq(v: &Value) -> Vec<InvalidParam> {
    let mut errs = Vec::new();
    let Some(o) = v.as_object() else {
        return vec![bad("/", "body must be a JSON object")];
    };
    if o.get("aspId").and_then(Value::as_str).is_none_or(str::is_empty) {
        errs.push(bad("/aspId", "required, a string"));
    }
    if o.get("numberOfUEs").and_then(Value::as_u64).is_none_or(|n| n < 1) {
        errs.push(bad("/numberOfUEs", "required, an integer >= 1"));
    }
    match (o.get("qosReference"), o.get("qosParamSet")) {
        (Some(r), None) if r.as_str().is_some_and(|s| !s.is_empty()) => {}
        (None, Some(p)) if p.is_object() => {}
        _ => errs.push(bad("/qosReference", "exactly one of qosReference and qosParamSet")),
    }
    match o.get("desTimeInts").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (i, w) in list.iter().enumerate() {
                match (time(&w["startTime"]), time(&w["stopTime"])) {
                    // A bound of the simulation's (it counts slot by slot), far past any booking.
                    (Some(a), Some(b)) if a < b && b - a <= time::Duration::days(400) => {}
                    _ => errs.push(bad(
                        &format!("/desTimeInts/{i}"),
                        "startTime and stopTime are RFC 3339 date-times, start before stop",
                    )),
                }
            }
        }
        _ => errs.push(bad("/desTimeInts", "required, at least one TimeWindow")),
    }
    if let Some(d) = o.get("notificationDestination")
        && !d
            .as_str()
            .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
    {
        errs.push(bad("/notificationDestination", "an http(s) URI"));
    }
    for k in ["selectedPolicy", "pdtqPolicies", "referenceId"] {
        if o.contains_key(k) {
            errs.push(bad(&format!("/{k}"), "not in an initial request"));
        }
    }
    if o.get("warnNotifEnabled").is_some_and(|w| !w.is_boolean()) {
        errs.push(bad("/warnNotifEnabled", "a boolean"));
    }
    location_area(o, &mut errs);
    errs
}

/// Every violation of a `PdtqPatch`.
pub fn patch(v: &Value) -> Vec<InvalidParam> {
    let Some(o) = v.as_object() else {
        return vec![bad("/", "body must be a JSON object")];
    };
    let mut errs = Vec::new();
    for k in o.keys() {
        if !["selectedPolicy", "warnNotifEnabled", "notificationDestination"].contains(&k.as_str()) {
            errs.push(bad(&format!("/{k}"), "not a PdtqPatch attribute"));
        }
    }
    if o.get("selectedPolicy").is_some_and(|p| !p.is_i64()) {
        errs.push(bad("/selectedPolicy", "an integer"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "aspId": "asp", "numberOfUEs": 1, "qosReference": "q",
            "desTimeInts": [{"startTime": "2027-01-01T10:00:00Z", "stopTime": "2027-01-01T11:00:00Z"}],
            "locationArea5G": {"geographicAreas": [{"shape": "POINT_UNCERTAINTY_CIRCLE", "point": {"lat": 1.0, "lon": 2.0}, "uncertainty": 100.0}]},
            "notificationDestination": "http://gw/cb",
        })
    }

    #[test]
    fn the_rules_of_a_pdtq_create() {
        assert!(pdtq(&good()).is_empty());
        let broken = |f: fn(&mut Value)| {
            let mut v = good();
            f(&mut v);
            pdtq(&v)
        };
        assert!(!broken(|v| v["numberOfUEs"] = json!(0)).is_empty());
        assert!(!broken(|v| v["qosParamSet"] = json!({})).is_empty(), "both QoS forms");
        assert!(!broken(|v| v["desTimeInts"][0]["stopTime"] = json!("2027-01-01T09:00:00Z")).is_empty());
        assert!(!broken(|v| v["locationArea5G"]["geographicAreas"][0]["shape"] = json!("POLYGON")).is_empty());
        assert!(!broken(|v| v["selectedPolicy"] = json!(1)).is_empty());
        assert!(
            !broken(|v| {
                v.as_object_mut().unwrap().remove("aspId");
            })
            .is_empty()
        );
    }
}
