//! A NEF simulator for the 3GPP AsSessionWithQoS API (TS 29.122 Rel-17): create, read, list
//! and delete subscriptions with the schema rules a real NEF enforces, notifications to
//! `notificationDestination` (on command, or SUCCESSFUL_RESOURCES_ALLOCATION after each create),
//! optional OAuth2 client credentials with its own token endpoint, fault injection, and a
//! record of every request so tests can assert on exact bodies. The gateway's quick start
//! runs it in-process; `nef-sim` runs it standalone.
#![forbid(unsafe_code)]

mod validate;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use nef::{InvalidParam, ProblemDetails};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const API_PREFIX: &str = "/3gpp-as-session-with-qos/v1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every API answer.
    pub latency_ms: u64,
    /// Share (0..1) of API calls answered with `error_status`.
    pub error_rate: f64,
    pub error_status: u16,
    /// The next API calls get these statuses, one each (a ProblemDetails body).
    pub next_statuses: VecDeque<u16>,
    /// The next N API calls have their connection dropped without an answer.
    pub drop_next: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl_seconds: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    pub oauth: Option<OAuthConfig>,
    /// Send SUCCESSFUL_RESOURCES_ALLOCATION to the subscriber right after each create.
    pub notify_on_create: bool,
    pub faults: Faults,
    /// 17 refuses the Rel-18 attributes (`gpsi`, `qosDuration`); 18 accepts them.
    pub release: u8,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u128,
    pub status: u16,
}

struct SimState {
    base_url: String,
    cfg: SimConfig,
    subs: BTreeMap<String, (String, Value)>,
    requests: Vec<Recorded>,
    next_id: u64,
    tokens: HashMap<String, Instant>,
    rng: u64,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator.
#[derive(Clone)]
pub struct NefSim {
    shared: Shared,
    addr: SocketAddr,
}

#[allow(
    clippy::disallowed_methods,
    reason = "the simulator stamps what it receives with real time"
)]
fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn problem(status: StatusCode, cause: &str, detail: impl Into<String>, invalid: Vec<InvalidParam>) -> Response {
    let p = ProblemDetails {
        title: status.canonical_reason().map(str::to_owned),
        status: Some(status.as_u16()),
        detail: Some(detail.into()),
        cause: Some(cause.to_owned()),
        invalid_params: invalid,
        ..Default::default()
    };
    let mut res = (status, Json(p)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl NefSim {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves until the runtime stops.
    pub async fn start(listen: &str, cfg: SimConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let seed = now_ms() as u64 | 1;
        let state = SimState {
            base_url: format!("http://{addr}"),
            cfg,
            subs: BTreeMap::new(),
            requests: Vec::new(),
            next_id: 0,
            tokens: HashMap::new(),
            rng: seed,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared {
            state: Arc::new(Mutex::new(state)),
            http,
        };
        let app = router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "nef-sim server stopped");
            }
        });
        Ok(Self { shared, addr })
    }

    /// The `{apiRoot}` to configure in the gateway.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.url())
    }
    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }
    /// The API requests with the given method (POST, GET, DELETE), in order.
    pub fn requests_of(&self, method: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(API_PREFIX))
            .collect()
    }
    /// Existing subscriptions: URI -> body (with `self`).
    pub fn subscriptions(&self) -> BTreeMap<String, Value> {
        self.shared
            .lock()
            .subs
            .values()
            .map(|(loc, v)| (loc.clone(), v.clone()))
            .collect()
    }
    pub fn set_faults(&self, f: Faults) {
        self.shared.lock().cfg.faults = f;
    }
    /// The next `n` API calls answer `status`.
    pub fn fail_next(&self, status: u16, n: usize) {
        self.shared
            .lock()
            .cfg
            .faults
            .next_statuses
            .extend(std::iter::repeat_n(status, n));
    }
    /// Invalidates every issued access token (the next call gets 401).
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
    /// POSTs a `UserPlaneNotificationData` with `event` for the subscription at `location`;
    /// returns the subscriber's HTTP status.
    pub async fn notify(&self, location: &str, event: &str) -> Result<u16, String> {
        send_notification(&self.shared, location, event).await
    }
}

async fn send_notification(shared: &Shared, location: &str, event: &str) -> Result<u16, String> {
    let dest = {
        let s = shared.lock();
        s.subs
            .values()
            .find(|(loc, _)| loc == location)
            .and_then(|(_, v)| v["notificationDestination"].as_str().map(str::to_owned))
            .ok_or_else(|| format!("no subscription {location}"))?
    };
    let body = json!({"transaction": location, "eventReports": [{"event": event}]});
    let res = shared
        .http
        .post(&dest)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

fn router(shared: Shared) -> Router {
    let collection = format!("{API_PREFIX}/{{scsAsId}}/subscriptions");
    let item = format!("{API_PREFIX}/{{scsAsId}}/subscriptions/{{subscriptionId}}");
    Router::new()
        .route(&collection, post(create).get(list))
        .route(&item, get(read).delete(remove).put(not_supported).patch(not_supported))
        .route("/oauth2/token", post(token))
        .route("/sim/requests", get(control_requests))
        .route("/sim/subscriptions", get(control_subscriptions))
        .route("/sim/faults", post(control_faults))
        .route("/sim/notify", post(control_notify))
        .route("/sim/tokens/expire", post(control_expire))
        .with_state(shared)
}

/// Records the call, then applies auth and faults. `Err` is the answer to give instead.
async fn gate(
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
        });
        (s.cfg.faults.latency_ms, s.requests.len() - 1)
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

fn set_status(shared: &Shared, idx: usize, status: u16) {
    if let Some(r) = shared.lock().requests.get_mut(idx) {
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
        Err(e) => problem(
            StatusCode::BAD_REQUEST,
            "INVALID_MSG_FORMAT",
            format!("body is not JSON: {e}"),
            vec![],
        ),
        Ok(mut v) => {
            let release = sh.lock().cfg.release;
            let errs = validate::subscription(&v, release);
            if !errs.is_empty() {
                problem(
                    StatusCode::BAD_REQUEST,
                    "INVALID_MSG_FORMAT",
                    "the subscription is not valid",
                    errs,
                )
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
    let idx = match gate(&sh, "GET", &path, &headers, None).await {
        Ok(i) => i,
        Err(res) => return res,
    };
    let prefix = format!("{}{path}/", sh.lock().base_url);
    let all: Vec<Value> = sh
        .lock()
        .subs
        .values()
        .filter(|(loc, _)| loc.starts_with(&prefix))
        .map(|(_, v)| v.clone())
        .collect();
    set_status(&sh, idx, 200);
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
