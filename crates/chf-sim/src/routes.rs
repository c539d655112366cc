//! The simulator's HTTP surface: the three charging-data operations, each recorded, delayed,
//! refused or cut as the faults say, validated, then acted on; and `/sim/*` for people
//! running it standalone.

use crate::{API_PREFIX, Recorded, Session, Shared, validate};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route(&format!("{API_PREFIX}/chargingdata"), post(create))
        .route(&format!("{API_PREFIX}/chargingdata/{{reference}}/update"), post(update))
        .route(
            &format!("{API_PREFIX}/chargingdata/{{reference}}/release"),
            post(release),
        )
        .route("/sim/sessions", get(sessions))
        .route("/sim/requests", get(requests))
        .with_state(shared)
}

fn problem(status: StatusCode, cause: &str, detail: impl Into<String>) -> Response {
    let body = json!({"status": status.as_u16(), "cause": cause, "detail": detail.into()});
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

enum Op {
    Create,
    Update(String),
    Release(String),
}

/// Records the request and applies the faults that stop it before it is acted on; else its
/// body and the index of its record.
async fn admit(sh: &Shared, path: String, version: Version, bytes: &Bytes) -> Result<(Value, usize), Response> {
    let body: Option<Value> = serde_json::from_slice(bytes).ok();
    let (latency, idx) = {
        let mut s = sh.lock();
        s.requests.push(Recorded {
            method: Method::POST.to_string(),
            path,
            body: body.clone(),
            status: 0,
            version: format!("{version:?}"),
        });
        (s.faults.latency_ms, s.requests.len() - 1)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let refused = {
        let mut s = sh.lock();
        if s.faults.unavailable_until.is_some_and(|t| Instant::now() < t) {
            let mut r = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "NF_CONGESTION",
                "the CHF is overloaded",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Some(r)
        } else {
            s.faults.next_statuses.pop_front().map(|st| {
                let st = StatusCode::from_u16(st).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                problem(st, "SIMULATED", "injected fault")
            })
        }
    };
    let checked = match (refused, body) {
        (Some(r), _) => Err(r),
        (None, None) => Err(problem(
            StatusCode::BAD_REQUEST,
            "INVALID_MSG_FORMAT",
            "the body is not JSON",
        )),
        (None, Some(b)) => match validate::request(&b) {
            Some(why) => Err(problem(StatusCode::BAD_REQUEST, "MANDATORY_IE_INCORRECT", why)),
            None => Ok((b, idx)),
        },
    };
    if let Err(r) = &checked {
        set_status(sh, idx, r.status().as_u16());
    }
    checked
}

fn set_status(sh: &Shared, idx: usize, status: u16) {
    if let Some(r) = sh.lock().requests.get_mut(idx) {
        r.status = status;
    }
}

fn seq_of(body: &Value) -> u32 {
    body["invocationSequenceNumber"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

fn answer_body(body: &Value) -> Value {
    json!({
        "invocationTimeStamp": body["invocationTimeStamp"],
        "invocationSequenceNumber": body["invocationSequenceNumber"],
    })
}

/// Acts on an admitted request: the answer (a retransmission gets the first one's again).
fn act(sh: &Shared, op: &Op, body: &Value) -> Response {
    let mut s = sh.lock();
    let seq = seq_of(body);
    let used = validate::used_seconds(body);
    match op {
        Op::Create => {
            let api_reference = body["nEFChargingInformation"]["aPIReference"]
                .as_str()
                .map(str::to_owned);
            let consumer = body["nfConsumerIdentification"]["nFName"].as_str().map(str::to_owned);
            // The same initial request again (its answer was lost): the same resource.
            let existing = s
                .sessions
                .values()
                .find(|x| {
                    api_reference.is_some()
                        && x.api_reference == api_reference
                        && x.consumer == consumer
                        && x.reports.contains_key(&seq)
                })
                .map(|x| x.reference.clone());
            let reference = match existing {
                Some(r) => r,
                None => {
                    s.next_id += 1;
                    let reference = format!("cdr-{}", s.next_id);
                    let rating_group = body["multipleUnitUsage"][0]["ratingGroup"]
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok());
                    s.sessions.insert(
                        reference.clone(),
                        Session {
                            reference: reference.clone(),
                            api_reference,
                            consumer,
                            reports: BTreeMap::from([(seq, used)]),
                            released: false,
                            rating_group,
                        },
                    );
                    reference
                }
            };
            let mut res = (StatusCode::CREATED, Json(answer_body(body))).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{API_PREFIX}/chargingdata/{reference}")) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        Op::Update(reference) | Op::Release(reference) => {
            let release = matches!(op, Op::Release(_));
            let Some(x) = s.sessions.get_mut(reference) else {
                return problem(
                    StatusCode::NOT_FOUND,
                    "CHARGING_NOT_APPLICABLE",
                    "no such charging data resource",
                );
            };
            let replay = x.reports.contains_key(&seq);
            if !replay {
                if x.released {
                    return problem(
                        StatusCode::NOT_FOUND,
                        "CHARGING_NOT_APPLICABLE",
                        "the resource was released",
                    );
                }
                if x.reports.keys().next_back().is_some_and(|last| seq <= *last) {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "MANDATORY_IE_INCORRECT",
                        format!("invocationSequenceNumber {seq} is not after the last one"),
                    );
                }
                x.reports.insert(seq, used);
                x.released |= release;
            }
            if release {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (StatusCode::OK, Json(answer_body(body))).into_response()
            }
        }
    }
}

async fn handle(sh: Shared, op: Op, path: String, version: Version, bytes: Bytes) -> Response {
    let (body, idx) = match admit(&sh, path, version, &bytes).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let res = act(&sh, &op, &body);
    set_status(&sh, idx, res.status().as_u16());
    let drop_it = {
        let mut s = sh.lock();
        let d = s.faults.drop_after_acting > 0;
        if d {
            s.faults.drop_after_acting -= 1;
        }
        d
    };
    if drop_it {
        // Unwinding the connection task makes hyper close it unanswered: the CHF acted, the
        // client never learns.
        std::panic::resume_unwind(Box::new("chf-sim: answer dropped on purpose"));
    }
    res
}

async fn create(State(sh): State<Shared>, version: Version, bytes: Bytes) -> Response {
    handle(sh, Op::Create, format!("{API_PREFIX}/chargingdata"), version, bytes).await
}

async fn update(State(sh): State<Shared>, Path(reference): Path<String>, version: Version, bytes: Bytes) -> Response {
    let path = format!("{API_PREFIX}/chargingdata/{reference}/update");
    handle(sh, Op::Update(reference), path, version, bytes).await
}

async fn release(State(sh): State<Shared>, Path(reference): Path<String>, version: Version, bytes: Bytes) -> Response {
    let path = format!("{API_PREFIX}/chargingdata/{reference}/release");
    handle(sh, Op::Release(reference), path, version, bytes).await
}

async fn sessions(State(sh): State<Shared>) -> Json<Vec<Session>> {
    Json(sh.lock().sessions.values().cloned().collect())
}

async fn requests(State(sh): State<Shared>) -> Json<Vec<Recorded>> {
    Json(sh.lock().requests.clone())
}
