//! Health endpoints (`/health/live`, `/health/ready`: the store answers and the replica is not
//! draining) on the API listener; `/livez`, `/readyz` and `/metrics` on the admin listener;
//! in development mode, the JWKS of the generated signing key.

use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use booking::BookingStore;
use camara_api::DevIssuer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

#[derive(Clone)]
struct OpsState {
    store: Arc<dyn BookingStore>,
    dev_issuer: Option<Arc<DevIssuer>>,
    lifecycle: Arc<Lifecycle>,
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
        })
}

/// The admin listener: liveness, readiness and metrics, apart from the API.
pub fn admin_router(store: Arc<dyn BookingStore>, lifecycle: Arc<Lifecycle>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/livez", get(|| async { StatusCode::NO_CONTENT }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(move || async move {
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
        })
}

async fn ready(State(st): State<OpsState>) -> impl IntoResponse {
    if st.lifecycle.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "draining"})),
        );
    }
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "store": e.to_string()})),
        ),
    }
}

async fn jwks(State(st): State<OpsState>) -> impl IntoResponse {
    match st.dev_issuer {
        Some(i) => Json(i.jwks()).into_response(),
        None => camara_api::ApiError::not_found("No such resource").into_response(),
    }
}
