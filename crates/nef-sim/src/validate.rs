//! The schema rules of `AsSessionWithQoSSubscription` that a real NEF enforces, as
//! `invalidParams` (JSON pointers) for a 400 `ProblemDetails`.

use nef::InvalidParam;
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr};

fn bad(param: &str, reason: impl Into<String>) -> InvalidParam {
    InvalidParam {
        param: param.to_owned(),
        reason: Some(reason.into()),
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Returns every violation found (empty: valid). `release` 17 refuses the Rel-18 fields.
pub fn subscription(v: &Value, release: u8) -> Vec<InvalidParam> {
    let mut errs = Vec::new();
    let Some(o) = v.as_object() else {
        return vec![bad("/", "body must be a JSON object")];
    };
    match o.get("notificationDestination").and_then(Value::as_str) {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
        _ => errs.push(bad("/notificationDestination", "required, an http(s) URI")),
    }
    let ids = ["ueIpv4Addr", "ueIpv6Addr", "macAddr"]
        .iter()
        .filter(|k| o.contains_key(**k))
        .count();
    let gpsi = o.contains_key("gpsi");
    if ids > 1 || (ids == 0 && !gpsi) {
        errs.push(bad(
            "/ueIpv4Addr",
            "exactly one of ueIpv4Addr, ueIpv6Addr, macAddr is required",
        ));
    }
    if let Some(a) = o.get("ueIpv4Addr")
        && a.as_str().and_then(|s| s.parse::<Ipv4Addr>().ok()).is_none()
    {
        errs.push(bad("/ueIpv4Addr", "not an IPv4 address"));
    }
    if let Some(a) = o.get("ueIpv6Addr")
        && a.as_str().and_then(|s| s.parse::<Ipv6Addr>().ok()).is_none()
    {
        errs.push(bad("/ueIpv6Addr", "not an IPv6 address"));
    }
    if o.get("ipDomain").is_some() && !o.contains_key("ueIpv4Addr") {
        errs.push(bad("/ipDomain", "only with ueIpv4Addr"));
    }
    if release < 18 {
        for k in ["gpsi", "qosDuration", "qosInactInt", "listUeAddrs"] {
            if o.contains_key(k) {
                errs.push(bad(&format!("/{k}"), "not a Rel-17 attribute"));
            }
        }
    }
    match o.get("qosReference") {
        Some(Value::String(s)) if !s.is_empty() => {}
        None if o.contains_key("tscQosReq") => {}
        _ => errs.push(bad("/qosReference", "required, a non-empty string")),
    }
    if let Some(alt) = o.get("altQoSReferences")
        && !alt
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    {
        errs.push(bad("/altQoSReferences", "a non-empty array of strings"));
    }
    match o.get("flowInfo") {
        None if o.contains_key("exterAppId") => {}
        Some(Value::Array(flows)) if !flows.is_empty() => {
            let mut seen = Vec::new();
            for (i, f) in flows.iter().enumerate() {
                let at = format!("/flowInfo/{i}");
                match f.get("flowId").and_then(Value::as_i64) {
                    Some(id) if !seen.contains(&id) => seen.push(id),
                    Some(_) => errs.push(bad(&format!("{at}/flowId"), "duplicate flowId")),
                    None => errs.push(bad(&format!("{at}/flowId"), "required integer")),
                }
                match f.get("flowDescriptions") {
                    None => {}
                    Some(Value::Array(d)) if (1..=2).contains(&d.len()) => {
                        let mut dirs = Vec::new();
                        for (j, rule) in d.iter().enumerate() {
                            let p = format!("{at}/flowDescriptions/{j}");
                            match rule.as_str().map(nef::filter_rule::parse) {
                                Some(Ok(r)) => dirs.push(r.direction),
                                Some(Err(e)) => errs.push(bad(&p, format!("not an IPFilterRule: {e}"))),
                                None => errs.push(bad(&p, "must be a string")),
                            }
                        }
                        if dirs.len() == 2 && dirs[0] == dirs[1] {
                            errs.push(bad(
                                &format!("{at}/flowDescriptions"),
                                "at most one uplink and one downlink rule",
                            ));
                        }
                    }
                    Some(_) => errs.push(bad(&format!("{at}/flowDescriptions"), "an array of 1 or 2 rules")),
                }
            }
        }
        _ => errs.push(bad("/flowInfo", "required, a non-empty array (or exterAppId)")),
    }
    if let Some(f) = o.get("supportedFeatures")
        && !f.as_str().is_some_and(is_hex)
    {
        errs.push(bad("/supportedFeatures", "hexadecimal string"));
    }
    if let Some(s) = o.get("snssai") {
        let sst_ok = s.get("sst").and_then(Value::as_u64).is_some_and(|n| n <= 255);
        let sd_ok = s
            .get("sd")
            .is_none_or(|sd| sd.as_str().is_some_and(|x| x.len() == 6 && is_hex(x)));
        if !sst_ok || !sd_ok {
            errs.push(bad("/snssai", "sst 0..255 and optional sd of 6 hex digits"));
        }
    }
    if let Some(u) = o.get("usageThreshold") {
        let ok = u.as_object().is_some_and(|m| m.values().all(|v| v.as_u64().is_some()));
        if !ok {
            errs.push(bad("/usageThreshold", "non-negative integers"));
        }
    }
    if let Some(e) = o.get("events")
        && !e.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        errs.push(bad("/events", "an array of UserPlaneEvent strings"));
    }
    errs
}
