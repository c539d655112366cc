//! Builds the gateway from settings and runs it: the HTTP server, the scheduler worker and
//! graceful shutdown.

use crate::notifier::{CloudEventNotifier, DeliverySettings};
use crate::settings::{AuthMode, Settings, SouthboundKind, StoreKind};
use crate::simulator::SimulatedNef;
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use booking::{
    BookingService, BookingStore, Catalog, Clock, Coverage, Policy, Southbound, SystemClock,
};
use camara_api::{ApiState, AreaTypes, AuthSettings, DevIssuer, ParseOptions, SinkPolicy, scopes};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    service: Arc<BookingService>,
    store: Arc<dyn BookingStore>,
    notifier: CloudEventNotifier,
    simulator: Option<Arc<SimulatedNef>>,
    dev_issuer: Option<Arc<DevIssuer>>,
    dev_token: Option<String>,
    poll_interval: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests drive time with `booking::ManualClock`).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let s = &settings;
        let store: Arc<dyn BookingStore> = match s.store.kind {
            StoreKind::Memory => Arc::new(store::MemoryStore::new()),
        };
        let (southbound, simulator): (Arc<dyn Southbound>, _) = match s.southbound.kind {
            SouthboundKind::Simulator => {
                let sim = Arc::new(SimulatedNef::new());
                (sim.clone(), Some(sim))
            }
        };
        let base_paths = s.base_paths();
        let notifier = CloudEventNotifier::new(
            DeliverySettings {
                max_attempts: s.notifications.max_attempts.max(1),
                initial_backoff: Duration::from_millis(s.notifications.initial_backoff_ms),
                timeout: Duration::from_millis(s.notifications.timeout_ms),
                source_prefix: format!(
                    "{}{}/device-qos-bookings/",
                    s.server.public_url.trim_end_matches('/'),
                    base_paths[0]
                ),
            },
            tokio::runtime::Handle::current(),
        )?;
        let policy = Policy {
            min_lead: time::Duration::seconds(s.booking.min_lead_seconds),
            max_horizon: time::Duration::days(s.booking.max_horizon_days),
            retention: time::Duration::seconds(s.booking.retention_seconds),
            lease: time::Duration::seconds(s.scheduler.lease_seconds),
            retry_base: time::Duration::milliseconds(s.scheduler.retry_base_ms),
            retry_deadline: time::Duration::seconds(s.scheduler.retry_deadline_seconds),
            claim_batch: s.scheduler.claim_batch,
            max_retrieve: 100,
        };
        let coverage = Coverage {
            regions: s.coverage.regions.clone(),
            uncovered_names: s.coverage.uncovered_area_names.clone(),
        };
        let service = Arc::new(BookingService::new(
            store.clone(),
            clock.clone(),
            southbound,
            Arc::new(notifier.clone()),
            Arc::new(Catalog::new(s.profiles.clone())),
            coverage,
            policy,
        ));

        let auth_settings = AuthSettings {
            issuer: s.auth.issuer.clone(),
            audience: s.auth.audience.clone(),
            client_id_claim: s.auth.client_id_claim.clone(),
            subject_claim: s.auth.subject_claim.clone(),
            leeway_seconds: s.auth.leeway_seconds,
        };
        let (auth, dev_issuer, dev_token) = match s.auth.mode {
            AuthMode::Dev => {
                let issuer = DevIssuer::generate(auth_settings).map_err(anyhow::Error::msg)?;
                let token = issuer
                    .mint(
                        &s.auth.dev_client_id,
                        &scopes::ALL,
                        None,
                        s.auth.dev_token_ttl_seconds,
                    )
                    .map_err(anyhow::Error::msg)?;
                (
                    issuer.authenticator().map_err(anyhow::Error::msg)?,
                    Some(Arc::new(issuer)),
                    Some(token),
                )
            }
        };
        let parse = ParseOptions {
            strict: s.api.strict_properties,
            area_types: AreaTypes {
                circle: s.api.area_types.circle,
                polygon: s.api.area_types.polygon,
                area_name: s.api.area_types.area_name,
            },
            area_names: s.api.area_names.clone(),
            sink: SinkPolicy {
                allow_insecure: s.notifications.allow_insecure_sinks,
            },
        };
        if s.notifications.allow_insecure_sinks {
            warn!(
                "notifications.allow_insecure_sinks is on: http and private sinks are accepted (development only)"
            );
        }
        let api_state = ApiState {
            service: service.clone(),
            auth: Arc::new(auth),
            clock,
            parse: Arc::new(parse),
            body_limit: s.server.body_limit_bytes,
        };
        let mut router = camara_api::router(api_state, &base_paths)
            .merge(ops_router(store.clone(), dev_issuer.clone()));
        router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_millis(s.server.request_timeout_ms),
        ));

        let listener = TcpListener::bind(&s.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", s.server.listen))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            router,
            service,
            store,
            notifier,
            simulator,
            dev_issuer,
            dev_token,
            poll_interval: Duration::from_millis(s.scheduler.poll_interval_ms.max(10)),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn service(&self) -> Arc<BookingService> {
        self.service.clone()
    }
    pub fn store(&self) -> Arc<dyn BookingStore> {
        self.store.clone()
    }
    pub fn simulator(&self) -> Option<Arc<SimulatedNef>> {
        self.simulator.clone()
    }
    pub fn notifier(&self) -> CloudEventNotifier {
        self.notifier.clone()
    }
    /// The development token issuer (auth mode `dev` only).
    pub fn dev_issuer(&self) -> Option<Arc<DevIssuer>> {
        self.dev_issuer.clone()
    }
    /// A bearer token with all scopes for the configured development client (mode `dev`).
    pub fn dev_token(&self) -> Option<&str> {
        self.dev_token.as_deref()
    }

    /// Serves until `shutdown` completes, then stops the scheduler and drains requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let scheduler = tokio::spawn(run_scheduler(
            self.service.clone(),
            self.poll_interval,
            stop_rx.clone(),
        ));
        info!(
            port = self.port,
            "QoS Booking gateway listening on {}",
            self.listener.local_addr()?
        );
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        server.await.context("HTTP server failed")?;
        scheduler.await.context("scheduler task failed")?;
        // Give queued notifications a moment to go out.
        for _ in 0..50 {
            if !self.notifier.busy() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        info!("gateway stopped");
        Ok(())
    }
}

/// Fires due timers every `interval` until told to stop.
async fn run_scheduler(
    service: Arc<BookingService>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let batch = service.policy().claim_batch;
    loop {
        // Keep going while whole batches come back: a backlog (after downtime) drains fast.
        loop {
            match service.run_due().await {
                Ok(n) if n >= batch => continue,
                Ok(_) => break,
                Err(e) => {
                    warn!(error = %e, "scheduler pass failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[derive(Clone)]
struct OpsState {
    store: Arc<dyn BookingStore>,
    dev_issuer: Option<Arc<DevIssuer>>,
}

/// Health endpoints and, in development mode, the JWKS of the generated key.
fn ops_router(store: Arc<dyn BookingStore>, dev_issuer: Option<Arc<DevIssuer>>) -> Router {
    Router::new()
        .route("/health/live", get(|| async { StatusCode::NO_CONTENT }))
        .route("/health/ready", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(OpsState { store, dev_issuer })
}

async fn ready(State(st): State<OpsState>) -> impl IntoResponse {
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
