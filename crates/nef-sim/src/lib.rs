//! A NEF simulator for the 3GPP AsSessionWithQoS API (TS 29.122 Rel-17): create, read, list
//! and delete subscriptions with the schema rules a real NEF enforces, notifications to
//! `notificationDestination` (on command, or SUCCESSFUL_RESOURCES_ALLOCATION after each create),
//! optional OAuth2 client credentials with its own token endpoint, fault injection, and a
//! record of every request so tests can assert on exact bodies. The gateway's quick start
//! runs it in-process; `nef-sim` runs it standalone.
#![forbid(unsafe_code)]

pub mod pdtq;
mod routes;
mod validate;

use routes::router;

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
    /// Delay after a PDTQ create has been acted on, before its answer: a client that gives up
    /// waiting leaves the negotiation made (what a slow real NEF does).
    pub latency_after_ms: u64,
    /// Share (0..1) of API calls answered with `error_status`.
    pub error_rate: f64,
    pub error_status: u16,
    /// The next API calls get these statuses, one each (a ProblemDetails body).
    pub next_statuses: VecDeque<u16>,
    /// The next N API calls have their connection dropped without an answer.
    pub drop_next: u32,
    /// Until then, every API call is answered 503 with `Retry-After: 1` (an overloaded or
    /// restarting NEF).
    #[serde(skip)]
    pub unavailable_until: Option<Instant>,
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
    /// The capacity PDTQ negotiations are decided by.
    pub pdtq: pdtq::model::PdtqCapacity,
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
    /// The W3C `traceparent` the request carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

struct SimState {
    base_url: String,
    cfg: SimConfig,
    subs: BTreeMap<String, (String, Value)>,
    requests: Vec<Recorded>,
    /// Requests taken off the front of `requests` (`DELETE /sim/requests`): a request's
    /// absolute index minus this is its place in `requests`.
    taken: usize,
    next_id: u64,
    tokens: HashMap<String, Instant>,
    rng: u64,
    pdtq: pdtq::PdtqState,
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
        let pdtq = pdtq::PdtqState::new(cfg.pdtq.clone());
        let state = SimState {
            base_url: format!("http://{addr}"),
            cfg,
            subs: BTreeMap::new(),
            requests: Vec::new(),
            taken: 0,
            next_id: 0,
            tokens: HashMap::new(),
            rng: seed,
            pdtq,
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
    /// The PDTQ subscriptions: URI -> body (with `self`, candidates and selection).
    pub fn pdtq_subscriptions(&self) -> BTreeMap<String, Value> {
        self.shared.lock().pdtq.bodies()
    }
    /// Sets the PDTQ capacity; selected policies that no longer fit are warned.
    pub async fn set_pdtq_capacity(&self, cap: pdtq::model::PdtqCapacity) -> Value {
        pdtq::apply_capacity(&self.shared, cap).await
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
    /// Every API call answers 503 with `Retry-After: 1` for `d` from now.
    pub fn unavailable_for(&self, d: std::time::Duration) {
        self.shared.lock().cfg.faults.unavailable_until = Some(Instant::now() + d);
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
    post_json(shared, &dest, &body).await
}

/// POSTs `body` to a subscriber; its HTTP status.
async fn post_json(shared: &Shared, dest: &str, body: &Value) -> Result<u16, String> {
    let res = shared
        .http
        .post(dest)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

/// 400 for a body that is not JSON.
fn not_json(e: &serde_json::Error) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "INVALID_MSG_FORMAT",
        format!("body is not JSON: {e}"),
        vec![],
    )
}

/// 400 for `what` breaking the schema's rules, each in `invalidParams`.
fn invalid(what: &str, errs: Vec<InvalidParam>) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "INVALID_MSG_FORMAT",
        format!("{what} is not valid"),
        errs,
    )
}
