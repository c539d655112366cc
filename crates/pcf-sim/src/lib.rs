//! A PCF simulator for N5 (TS 29.514 Npcf_PolicyAuthorization, Rel-17) as a trusted AF sees
//! it, HTTP/2 only like a real SBI producer (an HTTP/1.1 request is refused at the
//! connection, as Open5GS's nghttp2 does). It creates, reads and deletes (`POST .../delete`)
//! app sessions with the schema rules of the YAML and the strictness `pcf-southbound.md`
//! asks for, answers `303 See Other` to a create equivalent to an existing session, sends
//! `/notify` and `/terminate` callbacks over h2c (on command, or SUCCESSFUL_RESOURCES_ALLOCATION
//! after each create), answers "no PDU session" for configured UEs, injects faults, and
//! records every request (with its HTTP version and `User-Agent`) for tests. It also answers
//! as the NRF (discovery names it as the one PCF; access tokens, required on request) and the
//! BSF (it is every attached UE's PCF). It serves h2c, or h2 over TLS. The gateway's
//! quick start runs it in-process; `pcf-sim` runs it standalone.
#![forbid(unsafe_code)]

mod control;
mod discovery;
mod gate;
mod routes;
mod tokens;
mod validate;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const API_PREFIX: &str = "/npcf-policyauthorization/v1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every API answer.
    pub latency_ms: u64,
    /// The next API calls get these statuses, one each (a ProblemDetails body).
    pub next_statuses: VecDeque<u16>,
    /// The next N creates are carried out, but the connection is reset instead of the answer
    /// (the PCF acted; the AF never heard).
    pub act_then_drop: u32,
    /// Until then, every API call is answered 503 with `Retry-After: 1`.
    #[serde(skip)]
    pub unavailable_until: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Send SUCCESSFUL_RESOURCES_ALLOCATION to `{evSubsc.notifUri}/notify` after each create.
    pub notify_on_create: bool,
    /// Answer `303 See Other` to a create equivalent to an existing session (same UE address,
    /// `notifUri` and media components), as TS 29.514 allows.
    pub see_other_for_equivalent: bool,
    /// UE addresses with no PDU session: a create for them is refused as `no_session`.
    pub unattached: BTreeSet<String>,
    /// How "no PDU session" is answered: free5GC's 500 `PDU_SESSION_NOT_AVAILABLE` or
    /// Open5GS's 404.
    pub no_session: NoSession,
    pub faults: Faults,
    /// Require the NRF's access tokens (issued at `/oauth2/token`) on N5, NRF discovery and
    /// the BSF, each for its own service.
    pub access_tokens: bool,
    /// `expires_in` of the tokens issued.
    pub token_lifetime_s: u64,
    /// Serve h2 over TLS (ALPN `h2`) with this certificate chain and key (PEM), instead of
    /// h2c.
    pub tls: Option<SimTls>,
}

#[derive(Debug, Clone)]
pub struct SimTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Require a client certificate issued by this CA (PEM): mutual TLS, as SBI producers
    /// authenticate consumers.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            notify_on_create: false,
            see_other_for_equivalent: true,
            unattached: BTreeSet::new(),
            no_session: NoSession::Free5gc,
            faults: Faults::default(),
            access_tokens: false,
            token_lifetime_s: 3600,
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// 500 with cause `PDU_SESSION_NOT_AVAILABLE`.
    Free5gc,
    /// 404 "Not found".
    Open5gs,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u128,
    pub status: u16,
    /// `HTTP/2.0` for every request this server takes.
    pub version: String,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
}

/// An app session the simulator holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Its URI (the `Location` given out).
    pub uri: String,
    /// `ascReqData` as created.
    pub req: Value,
}

struct SimState {
    base_url: String,
    cfg: SimConfig,
    sessions: BTreeMap<u64, Session>,
    /// Session ids by UE address, for the equivalence check of a create.
    by_ue: HashMap<String, BTreeSet<u64>>,
    requests: Vec<Recorded>,
    next_id: u64,
    /// Access tokens issued: token -> its scopes.
    tokens: BTreeMap<String, String>,
    next_token: u64,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<SimState>>,
    /// Callbacks to the AF: HTTP/2 with prior knowledge, as an SBI producer sends them.
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator.
#[derive(Clone)]
pub struct PcfSim {
    shared: Shared,
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

/// A TS 29.571 `ProblemDetails` answer.
fn problem(status: StatusCode, cause: &str, detail: impl Into<String>) -> Response {
    let body = json!({
        "title": status.canonical_reason(),
        "status": status.as_u16(),
        "detail": detail.into(),
        "cause": cause,
    });
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl PcfSim {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves HTTP/2 (h2c with prior knowledge, or h2
    /// over TLS) until the runtime stops.
    pub async fn start(listen: &str, cfg: SimConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let tls = cfg.tls.as_ref().map(routes::acceptor).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let state = SimState {
            base_url: format!("{scheme}://{addr}"),
            cfg,
            sessions: BTreeMap::new(),
            by_ue: HashMap::new(),
            requests: Vec::new(),
            next_id: 0,
            tokens: BTreeMap::new(),
            next_token: 0,
        };
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .user_agent("PCF-pcf-sim")
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared {
            state: Arc::new(Mutex::new(state)),
            http,
        };
        tokio::spawn(routes::serve_h2(listener, tls, routes::router(shared.clone())));
        Ok(Self { shared })
    }

    /// `http://` or `https://` and the bound address.
    pub fn url(&self) -> String {
        self.shared.lock().base_url.clone()
    }
    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }
    /// The N5 requests with the given method, in order.
    pub fn requests_of(&self, method: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(API_PREFIX))
            .collect()
    }
    /// The app sessions that exist now.
    pub fn sessions(&self) -> Vec<Session> {
        self.shared.lock().sessions.values().cloned().collect()
    }
    pub fn set_faults(&self, f: Faults) {
        self.shared.lock().cfg.faults = f;
    }
    /// Every API call is answered 503 for `d` from now.
    pub fn unavailable_for(&self, d: Duration) {
        self.shared.lock().cfg.faults.unavailable_until = Some(Instant::now() + d);
    }
    /// Forgets every access token issued: the next call with one gets 401 `invalid_token`.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
    pub fn set_unattached(&self, ue: &str, unattached: bool) {
        let mut s = self.shared.lock();
        if unattached {
            s.cfg.unattached.insert(ue.to_owned());
        } else {
            s.cfg.unattached.remove(ue);
        }
    }

    /// The PCF ends `session`: `POST {notifUri}/terminate` with `TerminationInfo`. The AF's
    /// answer status.
    pub async fn terminate(&self, session: &str, cause: &str) -> Result<u16, String> {
        control::terminate(&self.shared, session, cause).await
    }

    /// The PCF reports `event` on `session`: `POST {evSubsc.notifUri}/notify` with an
    /// `EventsNotification` (`INACTIVE` resources for FAILED_RESOURCES_ALLOCATION).
    pub async fn notify(&self, session: &str, event: &str) -> Result<u16, String> {
        control::notify(&self.shared, session, event).await
    }
}
