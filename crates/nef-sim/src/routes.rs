//! The simulator's HTTP surface: the 3GPP AsSessionWithQoS and OAuth endpoints (behind the
//! fault gate) and the control endpoints tests drive it with.

use super::*;

pub(crate) fn router(shared: Shared) -> Router {
    let collection = format!("{API_PREFIX}/{{scsAsId}}/subscriptions");
    let item = format!("{API_PREFIX}/{{scsAsId}}/subscriptions/{{subscriptionId}}");
    let pdtq_collection = format!("{}/{{afId}}/subscriptions", pdtq::PDTQ_PREFIX);
    let pdtq_item = format!("{}/{{afId}}/subscriptions/{{subscriptionId}}", pdtq::PDTQ_PREFIX);
    Router::new()
        .route(&pdtq_collection, post(pdtq::create).get(pdtq::list))
        .route(&pdtq_item, get(pdtq::read).patch(pdtq::patch).delete(pdtq::remove))
        .route("/sim/pdtq", get(pdtq::control_list))
        .route("/sim/pdtq/capacity", post(pdtq::control_capacity))
        .route("/sim/pdtq/notify", post(pdtq::control_notify))
        .route(&collection, post(create).get(list))
        .route(&item, get(read).delete(remove).put(not_supported).patch(not_supported))
        .route("/oauth2/token", post(token))
        .route("/sim/requests", get(control_requests).delete(take_requests))
        .route("/sim/subscriptions", get(control_subscriptions))
        .route("/sim/faults", post(control_faults))
        .route("/sim/notify", post(control_notify))
        .route("/sim/tokens/expire", post(control_expire))
        .with_state(shared)
}

/// Records the call, then applies auth and faults. `Err` is the answer to give instead.
pub(crate) async fn gate(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Result<usize, Response> {
    let (latency, idx) = {
        let mut s = shared.lock();
        s.requests.push(Recorded {
            method: method.into(),
            path: path.into(),
            body,
            at_ms: now_ms(),
            status: 0,
            traceparent: headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        (s.cfg.faults.latency_ms, s.taken + s.requests.len() - 1)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let verdict = {
        let mut s = shared.lock();
        if s.cfg.faults.drop_next > 0 {
            s.cfg.faults.drop_next -= 1;
            None
        } else {
            Some(check(&mut s, headers))
        }
    };
    match verdict {
        // Unwinding the connection task makes hyper close the socket with no answer, which
        // is what a crashed or unreachable NEF looks like to the client.
        None => std::panic::resume_unwind(Box::new("nef-sim: connection dropped on purpose")),
        Some(Some(res)) => {
            set_status(shared, idx, res.status().as_u16());
            Err(res)
        }
        Some(None) => Ok(idx),
    }
}

pub(crate) fn set_status(shared: &Shared, idx: usize, status: u16) {
    let mut s = shared.lock();
    let Some(i) = idx.checked_sub(s.taken) else { return };
    if let Some(r) = s.requests.get_mut(i) {
        r.status = status;
    }
}

/// The answer auth or an injected fault imposes instead of the real one, if any.
fn check(s: &mut SimState, headers: &HeaderMap) -> Option<Response> {
    if s.cfg.oauth.is_some() {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = token
            .and_then(|t| s.tokens.get(t))
            .is_some_and(|exp| Instant::now() < *exp);
        if !valid {
            return Some(problem(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing, unknown or expired access token",
                vec![],
            ));
        }
    }
    if s.cfg.faults.unavailable_until.is_some_and(|u| Instant::now() < u) {
        let mut res = problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "NF_CONGESTION",
            "fault injection: unavailable for a while",
            vec![],
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Some(res);
    }
    if let Some(status) = s.cfg.faults.next_statuses.pop_front() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = problem(code, "INJECTED_FAULT", format!("fault injection: {status}"), vec![]);
        if status == 429 || status == 503 {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
        }
        return Some(res);
    }
    if s.cfg.faults.error_rate > 0.0 {
        // xorshift: good enough to spread injected errors, no extra dependency.
        s.rng ^= s.rng << 13;
        s.rng ^= s.rng >> 7;
        s.rng ^= s.rng << 17;
        if (s.rng % 10_000) as f64 / 10_000.0 < s.cfg.faults.error_rate {
            let code = StatusCode::from_u16(s.cfg.faults.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Some(problem(code, "INJECTED_FAULT", "random fault injection", vec![]));
        }
    }
    None
}

async fn create(State(sh): State<Shared>, Path(scs): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let path = format!("{API_PREFIX}/{scs}/subscriptions");
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let idx = match gate(&sh, "POST", &path, &headers, parsed.as_ref().ok().cloned()).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let res = match parsed {
        Err(e) => not_json(&e),
        Ok(mut v) => {
            let release = sh.lock().cfg.release;
            let errs = validate::subscription(&v, release);
            if !errs.is_empty() {
                invalid("the subscription", errs)
            } else {
                let (location, notify) = {
                    let mut s = sh.lock();
                    s.next_id += 1;
                    let id = format!("sub-{}", s.next_id);
                    let location = format!("{}{path}/{id}", s.base_url);
                    v["self"] = json!(location);
                    s.subs.insert(id, (location.clone(), v.clone()));
                    (location, s.cfg.notify_on_create)
                };
                if notify {
                    let sh2 = sh.clone();
                    let loc = location.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        if let Err(e) = send_notification(&sh2, &loc, "SUCCESSFUL_RESOURCES_ALLOCATION").await {
                            tracing::warn!(error = %e, "nef-sim: notification failed");
                        }
                    });
                }
                tracing::info!(subscription = %location, "nef-sim: subscription created");
                let mut res = (StatusCode::CREATED, Json(v)).into_response();
                if let Ok(h) = HeaderValue::from_str(&location) {
                    res.headers_mut().insert(header::LOCATION, h);
                }
                res
            }
        }
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}

async fn list(State(sh): State<Shared>, Path(scs): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("{API_PREFIX}/{scs}/subscriptions");
    list_at(&sh, &path, &headers, |s, prefix| {
        s.subs
            .values()
            .filter(|(loc, _)| loc.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect()
    })
    .await
}

/// A GET of the collection at `path`: the bodies `pick` finds under its URI prefix.
pub(crate) async fn list_at(
    sh: &Shared,
    path: &str,
    headers: &HeaderMap,
    pick: impl FnOnce(&SimState, &str) -> Vec<Value>,
) -> Response {
    let idx = match gate(sh, "GET", path, headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let all = {
        let s = sh.lock();
        let prefix = format!("{}{path}/", s.base_url);
        pick(&s, &prefix)
    };
    set_status(sh, idx, 200);
    Json(all).into_response()
}

fn unknown_subscription(id: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "SUBSCRIPTION_NOT_FOUND",
        format!("no subscription {id}"),
        vec![],
    )
}

async fn read(State(sh): State<Shared>, Path((scs, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let path = format!("{API_PREFIX}/{scs}/subscriptions/{id}");
    let idx = match gate(&sh, "GET", &path, &headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let found = sh.lock().subs.get(&id).map(|(_, v)| v.clone());
    let res = match found {
        Some(v) => Json(v).into_response(),
        None => unknown_subscription(&id),
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}

async fn remove(State(sh): State<Shared>, Path((scs, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let path = format!("{API_PREFIX}/{scs}/subscriptions/{id}");
    let idx = match gate(&sh, "DELETE", &path, &headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let res = match sh.lock().subs.remove(&id) {
        Some((loc, _)) => {
            tracing::info!(subscription = %loc, "nef-sim: subscription deleted");
            StatusCode::NO_CONTENT.into_response()
        }
        None => unknown_subscription(&id),
    };
    set_status(&sh, idx, res.status().as_u16());
    res
}

async fn not_supported() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "OPERATION_NOT_SUPPORTED",
        "PUT and PATCH are not simulated",
        vec![],
    )
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(State(sh): State<Shared>, headers: HeaderMap, axum::Form(form): axum::Form<TokenForm>) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let creds = basic.or_else(|| form.client_id.clone().zip(form.client_secret.clone()));
    let mut s = sh.lock();
    s.requests.push(Recorded {
        method: "POST".into(),
        path: "/oauth2/token".into(),
        body: None,
        at_ms: now_ms(),
        status: 0,
        traceparent: None,
    });
    let Some(oauth) = s.cfg.oauth.clone() else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "oauth not enabled"}))).into_response();
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if creds != Some((oauth.client_id.clone(), oauth.client_secret.clone())) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let t = uuid::Uuid::new_v4().simple().to_string();
    s.tokens
        .insert(t.clone(), Instant::now() + Duration::from_secs(oauth.token_ttl_seconds));
    Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": oauth.token_ttl_seconds})).into_response()
}

async fn control_requests(State(sh): State<Shared>) -> Json<Vec<Recorded>> {
    Json(sh.lock().requests.clone())
}

/// Takes the answered requests off the log and returns them, oldest first: what a long run
/// reads now and then, so the log does not grow without end. It stops at the first request
/// still being answered (one unanswered for 30 s, e.g. a dropped connection, is taken too).
async fn take_requests(State(sh): State<Shared>) -> Json<Vec<Recorded>> {
    let mut s = sh.lock();
    let stale = now_ms().saturating_sub(30_000);
    let k = s
        .requests
        .iter()
        .position(|r| r.status == 0 && r.at_ms > stale)
        .unwrap_or(s.requests.len());
    s.taken += k;
    Json(s.requests.drain(..k).collect())
}

async fn control_subscriptions(State(sh): State<Shared>) -> Json<BTreeMap<String, Value>> {
    Json(sh.lock().subs.values().map(|(l, v)| (l.clone(), v.clone())).collect())
}

async fn control_faults(State(sh): State<Shared>, Json(f): Json<Faults>) -> StatusCode {
    sh.lock().cfg.faults = f;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NotifyCmd {
    subscription: String,
    event: String,
}

async fn control_notify(State(sh): State<Shared>, Json(c): Json<NotifyCmd>) -> Response {
    match send_notification(&sh, &c.subscription, &c.event).await {
        Ok(status) => Json(json!({"subscriberStatus": status})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

async fn control_expire(State(sh): State<Shared>) -> StatusCode {
    sh.lock().tokens.clear();
    StatusCode::NO_CONTENT
}
