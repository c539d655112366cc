//! A CHF simulator for `Nchf_ConvergedCharging` (TS 32.291 v3) as an exposure function uses
//! it: charging data resources created, updated and released, each request checked against
//! the YAML's rules (`validate.rs`), retransmissions told apart from new requests by their
//! `invocationSequenceNumber` (a resent request is answered again, never counted twice),
//! faults (latency, statuses, 503 for a while, acting then dropping the answer) and a record
//! of every request with its HTTP version. HTTP/1.1 and h2c on one port. Tests sum the time
//! it was told of; `chf-sim` runs it standalone.
#![forbid(unsafe_code)]

mod routes;
mod validate;

use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const API_PREFIX: &str = "/nchf-convergedcharging/v3";

/// Injected faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Delay before every answer.
    pub latency_ms: u64,
    /// The next requests get these statuses, one each, without being acted on.
    pub next_statuses: VecDeque<u16>,
    /// The next N requests are acted on, then their connection is dropped unanswered.
    pub drop_after_acting: u32,
    /// Until then every request is answered 503 with `Retry-After: 1`.
    pub unavailable_until: Option<Instant>,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
}

/// A charging data resource as the CHF keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub reference: String,
    /// `nEFChargingInformation.aPIReference` of the initial request.
    pub api_reference: Option<String>,
    pub consumer: Option<String>,
    /// Every sequence number accepted, with the time (s) its request reported as used.
    pub reports: BTreeMap<u32, u64>,
    pub released: bool,
    /// Rating group of the initial request.
    pub rating_group: Option<u32>,
}

impl Session {
    /// Seconds reported as used over the session's life, each report counted once.
    pub fn used_seconds(&self) -> u64 {
        self.reports.values().sum()
    }
}

struct SimState {
    sessions: BTreeMap<String, Session>,
    requests: Vec<Recorded>,
    faults: Faults,
    next_id: u64,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<SimState>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator.
#[derive(Clone)]
pub struct ChfSim {
    shared: Shared,
    addr: SocketAddr,
}

impl ChfSim {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves until the runtime stops.
    pub async fn start(listen: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Shared(Arc::new(Mutex::new(SimState {
            sessions: BTreeMap::new(),
            requests: Vec::new(),
            faults: Faults::default(),
            next_id: 0,
        })));
        let app = routes::router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "chf-sim server stopped");
            }
        });
        Ok(Self { shared, addr })
    }

    /// The `{apiRoot}` to configure in the gateway.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }
    pub fn sessions(&self) -> Vec<Session> {
        self.shared.lock().sessions.values().cloned().collect()
    }
    pub fn set_faults(&self, f: Faults) {
        self.shared.lock().faults = f;
    }
    /// Every request answers 503 for `d` from now.
    pub fn unavailable_for(&self, d: Duration) {
        self.shared.lock().faults.unavailable_until = Some(Instant::now() + d);
    }
}
