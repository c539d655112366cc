//! PDTQ policy negotiation (TS 29.522 Rel-18 `3gpp-pdtq-policy-negotiation`): create, read,
//! list, select (merge PATCH of `selectedPolicy`) and delete, decided by the capacity model
//! ([`model`]); warnings (`Notification` with new candidates) when the capacity shrinks under
//! selected policies, or on command; answers deferred to a notification on request.

mod control;
pub mod model;
mod validate;

pub(crate) use control::{apply_capacity, control_capacity, control_list, control_notify};

use crate::routes::{gate, list_at, set_status};
use crate::{Shared, invalid, not_json, post_json, problem};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::{Held, Holdings, PdtqCapacity, Span};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const PDTQ_PREFIX: &str = "/3gpp-pdtq-policy-negotiation/v1";

/// One PDTQ subscription.
#[derive(Debug, Clone)]
pub(crate) struct PdtqSub {
    location: String,
    /// The body as created, with what the NEF adds (`self`, policies, selection).
    body: Value,
    /// The desired window.
    want: Span,
    /// Candidates offered: id and window.
    candidates: Vec<(i64, Span)>,
    selected: Option<i64>,
    reference_id: String,
    destination: String,
    /// Creation order ("latest first" when capacity shrinks).
    seq: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PdtqState {
    capacity: PdtqCapacity,
    subs: BTreeMap<String, PdtqSub>,
    held: Holdings,
    next: u64,
}

fn secs(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Whole seconds at or after `s` (a window's stop, so that the whole seconds cover it).
fn secs_up(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some(t.unix_timestamp() + i64::from(t.nanosecond() > 0))
}

fn text(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn policies(candidates: &[(i64, Span)]) -> Value {
    Value::Array(
        candidates
            .iter()
            .map(
                |(id, (a, b))| json!({"pdtqPolicyId": id, "recTimeInt": {"startTime": text(*a), "stopTime": text(*b)}}),
            )
            .collect(),
    )
}

impl PdtqState {
    pub(crate) fn new(capacity: PdtqCapacity) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// Offers candidates for `id`'s desired window: the window itself when it fits (held
    /// from now on, for the selection to come), else the first later one that fits (held by
    /// nobody until selected).
    fn offer(&mut self, id: &str) {
        let Some(sub) = self.subs.get(id) else { return };
        let Some(h) = self.held.get(id) else { return };
        let (key, ues, want) = (h.key.clone(), h.ues, sub.want);
        let (cands, span) = if self.held.fits(&self.capacity, &key, ues, want, Some(id)) {
            (vec![(1, want)], Some(want))
        } else {
            let alt = self.held.first_fit(&self.capacity, &key, ues, want, Some(id));
            (alt.map(|a| vec![(1, a)]).unwrap_or_default(), None)
        };
        self.held.hold(id, span, &self.capacity);
        if let Some(sub) = self.subs.get_mut(id) {
            sub.candidates = cands;
            sub.selected = None;
            sub.body["pdtqPolicies"] = policies(&sub.candidates);
            if sub.candidates.is_empty()
                && let Some(o) = sub.body.as_object_mut()
            {
                o.remove("pdtqPolicies");
            }
            if let Some(o) = sub.body.as_object_mut() {
                o.remove("selectedPolicy");
            }
        }
    }

    /// The selected subscriptions that no longer fit (latest first until the rest do): each
    /// loses its hold and is offered anew. Returns their ids.
    fn squeeze(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut ids: Vec<(u64, String)> = self.subs.iter().map(|(id, s)| (s.seq, id.clone())).collect();
        ids.sort_unstable_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        let ids: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
        for id in ids {
            let Some(h) = self.held.get(&id).cloned() else { continue };
            let Some(span) = h.span else { continue };
            // Over capacity in some slot it touches: with it, a slot exceeds the limit.
            if !self.held.fits(&self.capacity, &h.key, h.ues, span, Some(&id)) {
                self.held.hold(&id, None, &self.capacity);
                out.push(id);
            }
        }
        for id in &out {
            self.offer(id);
        }
        out
    }
}

/// `POST {prefix}/{afId}/subscriptions`.
pub(crate) async fn create(
    State(sh): State<Shared>,
    Path(af): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{PDTQ_PREFIX}/{af}/subscriptions");
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let idx = match gate(&sh, "POST", &path, &headers, parsed.as_ref().ok().cloned()).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let res = match parsed {
        Err(e) => not_json(&e),
        Ok(v) => {
            let errs = validate::pdtq(&v);
            if errs.is_empty() {
                let res = created(&sh, &path, v);
                let after = sh.lock().cfg.faults.latency_after_ms;
                if after > 0 {
                    tokio::time::sleep(Duration::from_millis(after)).await;
                }
                res
            } else {
                invalid("the PDTQ subscription", errs)
            }
        }
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}

fn created(sh: &Shared, path: &str, mut v: Value) -> Response {
    let window = &v["desTimeInts"][0];
    let want = (
        window["startTime"].as_str().and_then(secs).unwrap_or(0),
        window["stopTime"].as_str().and_then(secs_up).unwrap_or(0),
    );
    let area = v["locationArea5G"].to_string();
    let qos = v["qosReference"].as_str().unwrap_or("").to_owned();
    let ues = u32::try_from(v["numberOfUEs"].as_u64().unwrap_or(1)).unwrap_or(u32::MAX);
    let destination = v["notificationDestination"].as_str().unwrap_or("").to_owned();
    let (id, defer, answer) = {
        let mut s = sh.lock();
        let base = s.base_url.clone();
        let p = &mut s.pdtq;
        p.next += 1;
        let id = format!("pdtq-{}", p.next);
        let location = format!("{base}{path}/{id}");
        let reference_id = format!("ref-{}", p.next);
        v["self"] = json!(location);
        v["referenceId"] = json!(reference_id);
        let held = Held {
            key: (area, qos),
            ues,
            span: None,
        };
        p.held.insert(&id, held, &p.capacity);
        p.subs.insert(
            id.clone(),
            PdtqSub {
                location: location.clone(),
                body: v,
                want,
                candidates: Vec::new(),
                selected: None,
                reference_id,
                destination,
                seq: p.next,
            },
        );
        let defer = p.capacity.defer_answers_ms;
        p.offer(&id);
        let mut answer = p.subs.get(&id).map(|s| s.body.clone()).unwrap_or_default();
        if defer > 0
            && let Some(o) = answer.as_object_mut()
        {
            o.remove("pdtqPolicies");
        }
        (id, defer, answer)
    };
    if defer > 0 {
        let sh2 = sh.clone();
        let id = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(defer)).await;
            if let Err(e) = notify(&sh2, &id, None).await {
                tracing::warn!(error = %e, "nef-sim: deferred PDTQ answer not delivered");
            }
        });
    }
    let loc = answer["self"].as_str().unwrap_or_default().to_owned();
    tracing::info!(subscription = %loc, "nef-sim: PDTQ subscription created");
    let mut res = (StatusCode::CREATED, Json(answer)).into_response();
    if let Ok(h) = HeaderValue::from_str(&loc) {
        res.headers_mut().insert(header::LOCATION, h);
    }
    res
}

/// Sends `id`'s candidates (or `candidates`, recorded as its offer) to its subscriber.
async fn notify(sh: &Shared, id: &str, candidates: Option<Vec<(i64, Span)>>) -> Result<u16, String> {
    let (dest, body) = {
        let mut s = sh.lock();
        let sub = s
            .pdtq
            .subs
            .get_mut(id)
            .ok_or_else(|| format!("no PDTQ subscription {id}"))?;
        if let Some(c) = candidates {
            sub.candidates = c;
            sub.body["pdtqPolicies"] = policies(&sub.candidates);
        }
        if sub.candidates.is_empty() {
            return Err(format!("PDTQ subscription {id} has no candidates to send"));
        }
        let body = json!({"pdtqRefId": sub.reference_id, "candPolicies": policies(&sub.candidates)});
        (sub.destination.clone(), body)
    };
    post_json(sh, &dest, &body).await
}

fn unknown(id: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "SUBSCRIPTION_NOT_FOUND",
        format!("no PDTQ subscription {id}"),
        vec![],
    )
}

pub(crate) async fn list(State(sh): State<Shared>, Path(af): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("{PDTQ_PREFIX}/{af}/subscriptions");
    list_at(&sh, &path, &headers, |s, prefix| {
        s.pdtq
            .subs
            .values()
            .filter(|sub| sub.location.starts_with(prefix))
            .map(|sub| sub.body.clone())
            .collect()
    })
    .await
}

pub(crate) async fn read(
    State(sh): State<Shared>,
    Path((af, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("{PDTQ_PREFIX}/{af}/subscriptions/{id}");
    let idx = match gate(&sh, "GET", &path, &headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let found = sh.lock().pdtq.subs.get(&id).map(|s| s.body.clone());
    let res = found.map_or_else(|| unknown(&id), |v| Json(v).into_response());
    set_status(&sh, idx, res.status().as_u16());
    res
}

pub(crate) async fn patch(
    State(sh): State<Shared>,
    Path((af, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{PDTQ_PREFIX}/{af}/subscriptions/{id}");
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let idx = match gate(&sh, "PATCH", &path, &headers, parsed.as_ref().ok().cloned()).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let merge = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/merge-patch+json"));
    let res = match parsed {
        _ if !merge => problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "a PdtqPatch is application/merge-patch+json",
            vec![],
        ),
        Err(e) => not_json(&e),
        Ok(v) => {
            let errs = validate::patch(&v);
            if errs.is_empty() {
                select(&sh, &id, v["selectedPolicy"].as_i64())
            } else {
                invalid("the PdtqPatch", errs)
            }
        }
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}

/// Selects `policy` of `id`: it must be on offer and still fit.
fn select(sh: &Shared, id: &str, policy: Option<i64>) -> Response {
    let mut s = sh.lock();
    let p = &mut s.pdtq;
    let Some(sub) = p.subs.get(id) else { return unknown(id) };
    let Some(policy) = policy else {
        return Json(sub.body.clone()).into_response();
    };
    let Some((_, span)) = sub.candidates.iter().find(|(c, _)| *c == policy).copied() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "INVALID_MSG_FORMAT",
            format!("no candidate policy {policy}"),
            vec![],
        );
    };
    let Some(h) = p.held.get(id).cloned() else {
        return unknown(id);
    };
    if h.span != Some(span) && !p.held.fits(&p.capacity, &h.key, h.ues, span, Some(id)) {
        return problem(
            StatusCode::FORBIDDEN,
            "PDTQ_POLICY_NOT_AVAILABLE",
            format!("policy {policy} can no longer be honoured"),
            vec![],
        );
    }
    p.held.hold(id, Some(span), &p.capacity);
    let Some(sub) = p.subs.get_mut(id) else {
        return unknown(id);
    };
    sub.selected = Some(policy);
    sub.body["selectedPolicy"] = json!(policy);
    tracing::info!(subscription = %sub.location, policy, "nef-sim: PDTQ policy selected");
    Json(sub.body.clone()).into_response()
}

pub(crate) async fn remove(
    State(sh): State<Shared>,
    Path((af, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("{PDTQ_PREFIX}/{af}/subscriptions/{id}");
    let idx = match gate(&sh, "DELETE", &path, &headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let res = {
        let mut s = sh.lock();
        let cap = s.pdtq.capacity.clone();
        s.pdtq.held.remove(&id, &cap);
        match s.pdtq.subs.remove(&id) {
            Some(sub) => {
                tracing::info!(subscription = %sub.location, "nef-sim: PDTQ subscription deleted");
                StatusCode::NO_CONTENT.into_response()
            }
            None => unknown(&id),
        }
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}
