//! What the simulator refuses, as a real PCF would or should: the TS 29.514 schema of
//! `AppSessionContext` (required fields, `oneOf` UE address, map keys equal to `medCompN` and
//! `fNum`, at most two `fDescs`, `BitRate` with its unit, hex `suppFeat`), the IPFilterRule
//! form of TS 29.214 §5.3.8 with the UE on the right side, feature bits that the request
//! must back (17 for `qosReference`, 1 only with `afRoutReq`), and the SBI headers
//! (`User-Agent` starting with the NF type, the media type).

use super::problem;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use pcf::is_bit_rate;
use sbi::filter_rule::{self, Direction};
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a request is refused: its status, `ProblemDetails.cause` and detail.
pub(crate) struct Refusal {
    status: StatusCode,
    cause: &'static str,
    detail: String,
}

impl Refusal {
    pub(crate) fn response(self) -> Response {
        problem(self.status, self.cause, self.detail)
    }
}

fn invalid(detail: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        cause: "INVALID_MSG_FORMAT",
        detail: detail.into(),
    }
}

/// `User-Agent` names the consumer's NF type (TS 29.500 §5.2.2; Open5GS refuses a request
/// without one), and the body has the operation's media type.
pub(crate) fn headers(h: &HeaderMap, media_type: &str) -> Result<(), Refusal> {
    let ua = h.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ua.starts_with("AF") {
        return Err(invalid(format!(
            "User-Agent must start with the NF type AF, not '{ua}'"
        )));
    }
    let ct = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.split(';').next().map(str::trim) != Some(media_type) {
        return Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            cause: "UNSUPPORTED_MEDIA_TYPE",
            detail: format!("expected {media_type}, got '{ct}'"),
        });
    }
    Ok(())
}

/// Whether feature `n` (1-based) is set in the hex `suppFeat`.
fn has_feature(supp_feat: &str, n: usize) -> bool {
    let (digit, bit) = ((n - 1) / 4, (n - 1) % 4);
    supp_feat
        .chars()
        .rev()
        .nth(digit)
        .and_then(|c| c.to_digit(16))
        .is_some_and(|d| d & (1 << bit) != 0)
}

pub(crate) fn app_session_context(ctx: &Value) -> Result<(), Refusal> {
    let req = ctx
        .get("ascReqData")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("ascReqData is required"))?;
    match req.get("notifUri").and_then(Value::as_str) {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
        _ => return Err(invalid("ascReqData.notifUri is required (a URI)")),
    }
    let feat = req
        .get("suppFeat")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ascReqData.suppFeat is required"))?;
    if !feat.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("suppFeat '{feat}' is not hex")));
    }
    let ue = ue_address(req)?;
    if has_feature(feat, 1) && !req.contains_key("afRoutReq") {
        return Err(invalid(
            "feature 1 (InfluenceOnTrafficRouting) claimed without afRoutReq",
        ));
    }
    if let Some(d) = req.get("dnn")
        && d.as_str().is_none_or(str::is_empty)
    {
        return Err(invalid("dnn must be a non-empty string"));
    }
    if let Some(s) = req.get("sliceInfo")
        && s.get("sst").and_then(Value::as_u64).is_none_or(|sst| sst > 255)
    {
        return Err(invalid("sliceInfo.sst is required (0-255)"));
    }
    if let Some(comps) = req.get("medComponents") {
        let comps = comps
            .as_object()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("medComponents must be a non-empty map"))?;
        for (key, c) in comps {
            media_component(key, c, feat, ue)?;
        }
    }
    if let Some(ev) = req.get("evSubsc") {
        let events = ev
            .get("events")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("evSubsc.events is required (at least one)"))?;
        if events.iter().any(|e| e.get("event").and_then(Value::as_str).is_none()) {
            return Err(invalid("every evSubsc.events entry needs an event"));
        }
        if let Some(u) = ev.get("notifUri")
            && u.as_str().is_none_or(|u| !u.starts_with("http"))
        {
            return Err(invalid("evSubsc.notifUri must be a URI"));
        }
    }
    Ok(())
}

/// Exactly one of `ueIpv4`, `ueIpv6`, `ueMac`, well formed (IPv6 in RFC 5952 form).
fn ue_address(req: &Map<String, Value>) -> Result<Option<IpAddr>, Refusal> {
    let given: Vec<&str> = ["ueIpv4", "ueIpv6", "ueMac"]
        .into_iter()
        .filter(|k| req.contains_key(*k))
        .collect();
    if given.len() != 1 {
        return Err(invalid(format!(
            "exactly one of ueIpv4, ueIpv6, ueMac is required (got {given:?})"
        )));
    }
    let text = req[given[0]].as_str().unwrap_or("");
    match given[0] {
        "ueIpv4" => text
            .parse::<Ipv4Addr>()
            .map(|a| Some(IpAddr::V4(a)))
            .map_err(|_| invalid(format!("ueIpv4 '{text}' is not an IPv4 address"))),
        "ueIpv6" => match text.parse::<Ipv6Addr>() {
            Ok(a) if a.to_string() == text => Ok(Some(IpAddr::V6(a))),
            _ => Err(invalid(format!(
                "ueIpv6 '{text}' is not an IPv6 address in RFC 5952 form"
            ))),
        },
        _ => Ok(None),
    }
}

fn media_component(key: &str, c: &Value, feat: &str, ue: Option<IpAddr>) -> Result<(), Refusal> {
    let n = c.get("medCompN").and_then(Value::as_u64);
    if n.map(|n| n.to_string()).as_deref() != Some(key) {
        return Err(invalid(format!(
            "medComponents key '{key}' is not its medCompN ({n:?})"
        )));
    }
    if c.get("qosReference").is_some() && !has_feature(feat, 17) {
        return Err(invalid(
            "qosReference needs feature 17 (AuthorizationWithRequiredQoS) in suppFeat",
        ));
    }
    for k in ["marBwDl", "marBwUl", "mirBwDl", "mirBwUl"] {
        if let Some(v) = c.get(k)
            && !v.as_str().is_some_and(is_bit_rate)
        {
            return Err(invalid(format!("{k} {v} is not a BitRate (e.g. \"10 Mbps\")")));
        }
    }
    let Some(subs) = c.get("medSubComps") else {
        return Ok(());
    };
    let subs = subs
        .as_object()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("medSubComps must be a non-empty map"))?;
    for (fkey, s) in subs {
        let f = s.get("fNum").and_then(Value::as_u64);
        if f.map(|f| f.to_string()).as_deref() != Some(fkey) {
            return Err(invalid(format!("medSubComps key '{fkey}' is not its fNum ({f:?})")));
        }
        let descs = s
            .get("fDescs")
            .and_then(Value::as_array)
            .filter(|d| (1..=2).contains(&d.len()))
            .ok_or_else(|| invalid(format!("medSubComps {fkey}: fDescs must hold 1 or 2 rules")))?;
        for d in descs {
            let text = d.as_str().unwrap_or("");
            let rule = filter_rule::parse(text).map_err(|e| invalid(format!("fDescs '{text}': {e}")))?;
            // TS 29.214: `in` is from the UE, `out` is to the UE.
            let ue_side = match rule.direction {
                Direction::In => &rule.from,
                Direction::Out => &rule.to,
            };
            if let (Some(ue), Some((addr, _))) = (ue, ue_side.address)
                && addr != ue
            {
                return Err(invalid(format!(
                    "fDescs '{text}': the UE's side does not name the UE {ue}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_bits_count_from_one() {
        assert!(has_feature("10000", 17));
        assert!(!has_feature("10000", 16));
        assert!(has_feature("1", 1));
        assert!(!has_feature("", 17));
    }
}
