//! The simulator as the NRF (discovery names it as the one PCF offering N5 to an AF) and as
//! the BSF (it is every attached UE's PCF), behind the same fault gate as N5.

use super::*;
use crate::gate::{answer, gate};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri, Version};
use std::collections::HashMap;

/// This PCF's IPv4 address and port, as its profile and bindings name them.
fn end_point(sh: &Shared) -> Value {
    let base = sh.lock().base_url.clone();
    let authority = base.split_once("://").map_or(base.as_str(), |(_, a)| a);
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    json!({"ipv4Address": host, "port": port.parse::<u16>().unwrap_or(80)})
}

/// `http` (h2c) or `https`.
fn scheme(sh: &Shared) -> String {
    let base = sh.lock().base_url.clone();
    base.split_once("://").map_or("http", |(s, _)| s).to_owned()
}

/// NRF discovery (TS 29.510): this simulator as the one PCF offering N5 to an AF.
pub(crate) async fn nrf_discover(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let idx = match gate(&sh, &method, &uri, version, &headers, None).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let res = match (q.get("target-nf-type").map(String::as_str), q.get("requester-nf-type")) {
        (Some("PCF"), Some(_)) => {
            let body = json!({"validityPeriod": 30, "nfInstances": [{
                "nfInstanceId": "6e1f5a3c-0d2b-4c9e-8a7f-3b2d1c0e9f8a", "nfType": "PCF", "nfStatus": "REGISTERED",
                "priority": 1, "allowedNfTypes": ["AF", "NEF", "SMF"],
                "nfServices": [{"serviceInstanceId": "1", "serviceName": "npcf-policyauthorization",
                    "versions": [{"apiVersionInUri": "v1", "apiFullVersion": "1.2.3"}], "scheme": scheme(&sh),
                    "nfServiceStatus": "REGISTERED", "ipEndPoints": [end_point(&sh)]}]}]});
            (StatusCode::OK, Json(body)).into_response()
        }
        (Some(_), Some(_)) => (StatusCode::OK, Json(json!({"nfInstances": []}))).into_response(),
        _ => problem(
            StatusCode::BAD_REQUEST,
            "MANDATORY_QUERY_PARAM_MISSING",
            "target-nf-type and requester-nf-type are required",
        ),
    };
    answer(&sh, idx, res)
}

/// BSF binding lookup (TS 29.521): this PCF for every attached UE.
pub(crate) async fn bsf_binding(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let idx = match gate(&sh, &method, &uri, version, &headers, None).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ue = q
        .get("ipv4Addr")
        .cloned()
        .or_else(|| q.get("ipv6Prefix").map(|p| p.trim_end_matches("/128").to_owned()));
    let res = match ue {
        None => problem(
            StatusCode::BAD_REQUEST,
            "MANDATORY_QUERY_PARAM_MISSING",
            "one of ipv4Addr, ipv6Prefix, macAddr48 is required",
        ),
        Some(ue) => {
            let (unbound, dialect) = {
                let s = sh.lock();
                (s.cfg.unattached.contains(&ue), s.cfg.no_session)
            };
            match (unbound, dialect) {
                (true, NoSession::Free5gc) => StatusCode::NO_CONTENT.into_response(),
                (true, NoSession::Open5gs) => problem(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found"),
                (false, _) => {
                    let key = if q.contains_key("ipv4Addr") {
                        "ipv4Addr"
                    } else {
                        "ipv6Prefix"
                    };
                    let body = json!({key: q.get(key), "dnn": q.get("dnn").cloned().unwrap_or_else(|| "internet".into()),
                        "snssai": {"sst": 1}, "pcfIpEndPoints": [end_point(&sh)],
                        "pcfId": "6e1f5a3c-0d2b-4c9e-8a7f-3b2d1c0e9f8a"});
                    (StatusCode::OK, Json(body)).into_response()
                }
            }
        }
    };
    answer(&sh, idx, res)
}
