//! Health endpoints (`/health/live`, `/health/ready`: the store answers and the replica is not
//! draining) on the API listener; `/livez`, `/readyz` (also the NEF, where
//! `southbound.nef.readiness_check` asks for it) and `/metrics` on the admin listener; in
//! development mode, the JWKS of the generated signing key.

use crate::metrics::Metrics;
use crate::settings::{NefAuthKind, SouthboundKind};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use booking::BookingStore;
use camara_api::DevIssuer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether this replica is shutting down: from SIGTERM on it reports not ready, so the load
/// balancer stops sending it requests while it still serves those that arrive.
#[derive(Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// Whether the NEF answers: any HTTP status from its token endpoint (OAuth2) or API root
/// counts; only no answer within the timeout does not. Remembered for a few seconds, so
/// probes of many replicas do not hammer it.
pub struct NefProbe {
    url: String,
    http: reqwest::Client,
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl NefProbe {
    pub fn from_settings(sb: &crate::settings::Southbound) -> anyhow::Result<Option<Arc<Self>>> {
        if sb.kind != SouthboundKind::Nef || !sb.nef.readiness_check {
            return Ok(None);
        }
        let url = match (&sb.nef.auth, &sb.nef.token_url) {
            (NefAuthKind::OAuth2, Some(t)) => t.clone(),
            _ => match &sb.nef.api_root {
                Some(root) => root.clone(),
                None => return Ok(None),
            },
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Arc::new(Self {
            url: url.to_string(),
            http,
            last: tokio::sync::Mutex::new(None),
        })))
    }

    async fn check(&self) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, r)) = &*last
            && at.elapsed() < Duration::from_secs(5)
        {
            return r.clone();
        }
        let r = match self.http.get(&self.url).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("NEF does not answer: {e}")),
        };
        *last = Some((Instant::now(), r.clone()));
        r
    }
}

#[derive(Clone)]
struct OpsState {
    store: Arc<dyn BookingStore>,
    dev_issuer: Option<Arc<DevIssuer>>,
    lifecycle: Arc<Lifecycle>,
    nef: Option<Arc<NefProbe>>,
}

/// Health endpoints and, in development mode, the JWKS of the generated key.
pub fn router(store: Arc<dyn BookingStore>, dev_issuer: Option<Arc<DevIssuer>>, lifecycle: Arc<Lifecycle>) -> Router {
    Router::new()
        .route("/health/live", get(|| async { StatusCode::NO_CONTENT }))
        .route("/health/ready", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(OpsState {
            store,
            dev_issuer,
            lifecycle,
            nef: None,
        })
}

/// The admin listener: liveness, readiness and metrics, apart from the API.
pub fn admin_router(
    store: Arc<dyn BookingStore>,
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
    nef: Option<Arc<NefProbe>>,
) -> Router {
    let counted = store.clone();
    Router::new()
        .route("/livez", get(|| async { StatusCode::NO_CONTENT }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(move || async move {
                // Bookings by status and the backlog, fresh from the store at each scrape (a
                // few commands per shard); on failure the last figures stay.
                if let Ok(Ok(stats)) = tokio::time::timeout(Duration::from_secs(2), counted.stats()).await {
                    metrics.set_store_stats(stats);
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }),
        )
        .with_state(OpsState {
            store,
            dev_issuer: None,
            lifecycle,
            nef,
        })
}

async fn ready(State(st): State<OpsState>) -> impl IntoResponse {
    if st.lifecycle.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "draining"})),
        );
    }
    if let Err(e) = st.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "store": e.to_string()})),
        );
    }
    if let Some(nef) = &st.nef
        && let Err(e) = nef.check().await
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "nef": e})),
        );
    }
    (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
}

async fn jwks(State(st): State<OpsState>) -> impl IntoResponse {
    match st.dev_issuer {
        Some(i) => Json(i.jwks()).into_response(),
        None => camara_api::ApiError::not_found("No such resource").into_response(),
    }
}
