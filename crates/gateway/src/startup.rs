//! Builds the gateway from settings and runs it: the HTTP server, the scheduler worker and
//! graceful shutdown.

use crate::settings::{AuthMode, ClientSettings, Settings, StoreKind, base};
use anyhow::Context;
use axum::Router;
use booking::{BookingService, BookingStore, Catalog, ClientBook, Clock, DeviceResolver, SinkResolver, SystemClock};
use camara_api::limits::RateLimits;
use camara_api::{ApiState, DevIssuer, KeyStore, scopes};
use delivery::{Outbox, SystemResolver};
use nef_sim::NefSim;
use pcf_sim::PcfSim;
use southbound::StaticResolver;
use std::future::Future;
use std::path::PathBuf;
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
    outbox: Outbox,
    nef_sim: Option<NefSim>,
    pcf_sim: Option<PcfSim>,
    resolver: Option<Arc<StaticResolver>>,
    /// The settings, for re-reading the catalog file.
    settings: Settings,
    catalog: Arc<Catalog>,
    clients: Arc<crate::clients::ClientSources>,
    /// The inline entries and the file the lab resolver re-reads when it changes.
    device_file: Option<(Vec<southbound::DeviceEntry>, PathBuf)>,
    limits: Arc<RateLimits>,
    dev_issuer: Option<Arc<DevIssuer>>,
    dev_token: Option<String>,
    dev_operator_token: Option<String>,
    engine: scheduler::EngineSettings,
    wake: Arc<scheduler::Wake>,
    clock: Arc<dyn Clock>,
    /// The Redis store, whose notifications of new timers wake this replica's scheduler.
    redis: Option<Arc<store::RedisStore>>,
    lifecycle: Arc<crate::health::Lifecycle>,
    admin: Option<(TcpListener, Router)>,
    tls: Option<Arc<crate::tls::Tls>>,
    tls_reload: Duration,
    metrics: Arc<crate::metrics::Metrics>,
    /// How often the store's figures are read for OTLP export (`/metrics` reads them itself).
    stats_every: Option<Duration>,
    shutdown_delay: Duration,
    shutdown_grace: Duration,
    server_limits: crate::serve::ServerLimits,
    /// The configured usage exports (`charging.kind`), each run by one replica at a time.
    usage_export: Vec<charging::Exporter>,
    chf_sim: Option<chf_sim::ChfSim>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests drive time with `booking::ManualClock`).
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_with(settings, clock, Arc::new(SystemResolver)).await
    }

    /// Builds with the given clock and sink-name resolver (tests use fixed names).
    pub async fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        sink_resolver: Arc<dyn SinkResolver>,
    ) -> anyhow::Result<Self> {
        // The catalog file, if any, in place of the configured profiles and pools.
        let settings = settings.with_catalog_file()?;
        let s = &settings;
        let sink_policy = s.notifications.sink_policy(sink_resolver);
        let metrics = crate::metrics::Metrics::new(&crate::telemetry::exports());
        let mut redis = None;
        let store: Arc<dyn BookingStore> = match s.store.kind {
            StoreKind::Memory => Arc::new(crate::observed::ObservedStore::new(
                Arc::new(store::MemoryStore::new()),
                metrics.clone(),
                "memory",
            )),
            StoreKind::Redis => {
                let store = store::RedisStore::connect(s.store.redis.store_settings()?)
                    .await
                    .context("cannot connect to Redis")?;
                info!(
                    cluster = s.store.redis.cluster,
                    shards = s.store.redis.shards,
                    "Redis store connected"
                );
                let store = Arc::new(store);
                redis = Some(store.clone());
                Arc::new(crate::observed::ObservedStore::new(store, metrics.clone(), "redis"))
            }
        };
        let tls = crate::tls::Tls::load(&s.server.tls).context("server.tls")?;
        let listener = TcpListener::bind(&s.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", s.server.listen))?;
        let port = listener.local_addr()?.port();
        let public_url = match &s.server.public_url {
            Some(url) => base(url),
            None => {
                let local = listener.local_addr()?;
                if local.ip().is_unspecified() {
                    warn!(%local, "server.public_url is not set: NEF callbacks and event sources will name an address nobody can reach");
                }
                let scheme = if tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{local}")
            }
        };
        let catalog = Arc::new(Catalog::new(s.profiles.clone()));
        let sources = Arc::new(crate::clients::ClientSources::new(
            Arc::new(ClientBook::default()),
            s.clients.iter().map(ClientSettings::record).collect(),
        ));
        let clients = sources.book().clone();
        metrics.set_clients(clients.clone());
        let resolver = build_resolver(s)?;
        let network = crate::network::Network::build(
            s,
            &public_url,
            catalog.clone(),
            resolver.clone().map(|r| r as Arc<dyn DeviceResolver>),
            metrics.traces(),
        )
        .await?;

        let base_paths = s.base_paths();
        let events = camara_api::CloudEvents::new(
            format!("{public_url}{}", base_paths[0].0),
            format!("{public_url}{}/qos-booking/v0.1", s.server.base_path),
            format!("{public_url}{}", s.assignment_base_paths()[0].0),
            format!("{public_url}{}/qos-booking-and-assignment/v0.1", s.server.base_path),
        );
        let outbox = Outbox::new(
            s.notifications.delivery(),
            store.clone(),
            clock.clone(),
            sink_policy.clone(),
            Arc::new(Events(events)),
        )
        .context("cannot build the event delivery client")?
        .with_tokens(Arc::new(
            delivery::PrivateKeyJwtTokens::new(clients.clone(), clock.clone(), s.notifications.timeout)
                .context("cannot build the sink token client")?,
        ))
        .with_telemetry(metrics.clone());
        let mut service = BookingService::new(
            store.clone(),
            clock.clone(),
            network.southbound.clone(),
            Arc::new(outbox.waker()),
            catalog.clone(),
            s.coverage(),
            s.policy(),
        );
        if let Some(r) = &resolver {
            service = service.with_resolver(r.clone());
        }
        if let Some(a) = &network.admission {
            service = service.with_network_admission(a.clone());
        }
        let wake = scheduler::Wake::new();
        service = service
            .with_timer_wake(wake.clone())
            .with_telemetry(metrics.clone())
            .with_capacity(booking::capacity::CapacityPlan {
                pools: s.capacity.pools.clone(),
            })
            .with_clients(clients.clone());
        let webhook = &s.capacity.decision_webhook;
        if let Some(url) = &webhook.url {
            service = service.with_decider(
                Arc::new(crate::decider::WebhookDecider::new(url.clone(), webhook.timeout)?),
                webhook.default == crate::settings::DefaultDecision::Approve,
            );
        }
        let service = Arc::new(service);

        let auth_settings = s.auth.authenticator_settings();
        let (auth, operator_auth, dev_issuer, dev_token, dev_operator_token) = match s.auth.mode {
            AuthMode::Dev => {
                let issuer = DevIssuer::generate(auth_settings).map_err(anyhow::Error::msg)?;
                let ttl = s.auth.dev_token_ttl.as_secs();
                let token = issuer
                    .mint(&s.auth.dev_client_id, &scopes::ALL, None, ttl)
                    .map_err(anyhow::Error::msg)?;
                let operator = issuer
                    .sign(
                        serde_json::json!({
                            "aud": s.auth.operator_audience,
                            "client_id": "dev-operator",
                            "sub": "dev-operator",
                            "scope": s.auth.operator_scope,
                        }),
                        ttl,
                    )
                    .map_err(anyhow::Error::msg)?;
                (
                    issuer.authenticator().map_err(anyhow::Error::msg)?,
                    issuer
                        .authenticator_for(&s.auth.operator_audience)
                        .map_err(anyhow::Error::msg)?,
                    Some(Arc::new(issuer)),
                    Some(token),
                    Some(operator),
                )
            }
            AuthMode::Jwks => {
                let keys =
                    KeyStore::new(s.auth.key_source()?, s.auth.refetch_min_interval).map_err(anyhow::Error::msg)?;
                let operator_keys =
                    KeyStore::new(s.auth.key_source()?, s.auth.refetch_min_interval).map_err(anyhow::Error::msg)?;
                let operator_settings = camara_api::AuthSettings {
                    audience: s.auth.operator_audience.clone(),
                    ..auth_settings.clone()
                };
                let auth = camara_api::Authenticator::new(auth_settings, keys);
                auth.warm_up().await;
                (
                    auth,
                    camara_api::Authenticator::new(operator_settings, operator_keys),
                    None,
                    None,
                    None,
                )
            }
        };
        let parse = s.api.parse_options(sink_policy);
        if s.notifications.allow_insecure_sinks {
            warn!("notifications.allow_insecure_sinks is on: http and private sinks are accepted (development only)");
        }
        let limits = Arc::new(s.limits.rate_limits().with_clients(clients.clone()));
        let counted = metrics.clone();
        let mut auth = auth.with_rejections(Arc::new(move |reason| counted.token_rejected(reason)));
        if let Some(r) = &resolver {
            auth = auth.with_resolver(r.clone());
        }
        let api_state = ApiState::new(camara_api::ApiParts {
            service: service.clone(),
            auth: Arc::new(auth),
            clock: clock.clone(),
            parse: Arc::new(parse),
            body_limit: s.server.body_limit_bytes,
            limits: limits.clone(),
            request_timeout: s.server.request_timeout,
            version: camara_api::Version::V0_2,
        });
        let usage = Arc::new(crate::usage::renderer(s));
        let (usage_export, chf_sim) =
            crate::usage::exporters(s, store.clone(), clock.clone(), usage.clone(), &public_url).await?;
        let lifecycle = Arc::new(crate::health::Lifecycle::default());
        let admin_state = crate::admin::AdminState {
            service: service.clone(),
            auth: Arc::new(operator_auth),
            scope: s.auth.operator_scope.clone(),
            clock: clock.clone(),
            clients: sources.clone(),
            store: store.clone(),
            insecure: s.notifications.allow_insecure_sinks,
            usage: usage.clone(),
        };
        let admin = match &s.server.admin_listen {
            Some(addr) => Some((
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (server.admin_listen)"))?,
                crate::health::admin_router(
                    store.clone(),
                    lifecycle.clone(),
                    metrics.clone(),
                    crate::health::NefProbe::from_settings(&s.southbound)?,
                )
                .merge(crate::admin::router(admin_state.clone()))
                .merge(crate::usage::router(admin_state)),
            )),
            None => None,
        };
        let router = camara_api::router(
            api_state,
            &base_paths,
            &s.profile_base_paths(),
            &s.assignment_base_paths(),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::track,
        ))
        .merge(crate::health::router(
            store.clone(),
            dev_issuer.clone(),
            lifecycle.clone(),
        ))
        .merge(network.callback_routes(service.clone(), &s.server.base_path))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(s.server.trusted_proxies.clone()),
            crate::forwarded::origin,
        ));

        Ok(Self {
            listener,
            port,
            router,
            service,
            store,
            outbox,
            clients: sources,
            nef_sim: network.nef_sim,
            pcf_sim: network.pcf_sim,
            resolver,
            device_file: s
                .southbound
                .device_file
                .clone()
                .map(|f| (s.southbound.devices.clone(), f)),
            limits,
            dev_issuer,
            dev_token,
            dev_operator_token,
            engine: s.engine(),
            wake,
            clock,
            redis,
            lifecycle,
            admin,
            settings: settings.clone(),
            catalog: catalog.clone(),
            tls,
            tls_reload: s.server.tls.reload_interval,
            stats_every: metrics.exported().then_some(s.telemetry.metrics_interval),
            metrics,
            shutdown_delay: s.server.shutdown_delay,
            shutdown_grace: s.server.shutdown_grace,
            server_limits: crate::serve::ServerLimits {
                header_read_timeout: s.server.header_read_timeout,
                max_connections: s.server.max_connections,
                drain_timeout: s.server.shutdown_grace,
            },
            usage_export,
            chf_sim,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    /// The admin listener's port, when `server.admin_listen` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.port())
    }
    /// `http://host:port` of the admin listener, as a local browser or `qosctl` reaches it (an
    /// unspecified bind address shown as loopback).
    pub fn admin_url(&self) -> Option<String> {
        let mut addr = self.admin.as_ref().and_then(|(l, _)| l.local_addr().ok())?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Some(format!("http://{addr}"))
    }
    pub fn service(&self) -> Arc<BookingService> {
        self.service.clone()
    }
    pub fn store(&self) -> Arc<dyn BookingStore> {
        self.store.clone()
    }
    /// The in-process NEF simulator (southbound kind `nef-sim`).
    pub fn nef_sim(&self) -> Option<NefSim> {
        self.nef_sim.clone()
    }
    /// The in-process PCF simulator (southbound kind `pcf-sim`).
    pub fn pcf_sim(&self) -> Option<PcfSim> {
        self.pcf_sim.clone()
    }
    /// The in-process CHF simulator (`charging.kind: chf-sim`).
    pub fn chf_sim(&self) -> Option<chf_sim::ChfSim> {
        self.chf_sim.clone()
    }
    /// The lab device resolver, when devices are configured.
    pub fn resolver(&self) -> Option<Arc<StaticResolver>> {
        self.resolver.clone()
    }
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }
    /// The development token issuer (auth mode `dev` only).
    pub fn dev_issuer(&self) -> Option<Arc<DevIssuer>> {
        self.dev_issuer.clone()
    }
    /// A bearer token with all scopes for the configured development client (mode `dev`).
    pub fn dev_token(&self) -> Option<&str> {
        self.dev_token.as_deref()
    }

    /// A token for the operator's admin API (mode `dev`).
    pub fn dev_operator_token(&self) -> Option<&str> {
        self.dev_operator_token.as_deref()
    }

    /// Serves until `shutdown` completes, then stops the scheduler and drains requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let engine = scheduler::Engine::new(self.service.clone(), self.clock.clone(), self.engine, self.wake.clone());
        let scheduler = tokio::spawn(engine.run(stop_rx.clone()));
        let delivery = tokio::spawn(self.outbox.clone().run(stop_rx.clone()));
        let mut chores = tokio::task::JoinSet::new();
        chores.spawn(shrink_rate_limits(self.limits.clone(), stop_rx.clone()));
        chores.spawn(crate::usage::keep_retention(
            self.store.clone(),
            self.clock.clone(),
            self.settings.charging.retention_days,
            crate::usage::exporter_names(&self.settings.charging.kind),
            stop_rx.clone(),
        ));
        for export in self.usage_export {
            chores.spawn(export.run(stop_rx.clone()));
        }
        if let Some(redis) = self.redis.clone() {
            let wake = self.wake.clone();
            let stop = stop_rx.clone();
            chores.spawn(async move { redis.watch_due(move |due| wake.at(due), stop).await });
        }
        if let Some(tls) = &self.tls {
            chores.spawn(tls.clone().watch(self.tls_reload, stop_rx.clone()));
        }
        chores.spawn(crate::clients::watch_stored(
            self.clients.clone(),
            self.store.clone(),
            Duration::from_secs(2),
            stop_rx.clone(),
        ));
        if self.settings.catalog_file.is_some() {
            chores.spawn(watch_catalog(
                self.settings.clone(),
                self.catalog.clone(),
                self.clients.clone(),
                self.service.clone(),
                stop_rx.clone(),
            ));
        }
        if let Some(every) = self.stats_every {
            chores.spawn(read_store_stats(
                self.store.clone(),
                self.metrics.clone(),
                every,
                stop_rx.clone(),
            ));
        }
        if let (Some(resolver), Some((inline, file))) = (&self.resolver, self.device_file.clone()) {
            chores.spawn(
                resolver
                    .clone()
                    .watch(inline, file, Duration::from_secs(2), stop_rx.clone()),
            );
        }
        info!(
            port = self.port,
            "QoS Booking gateway listening on {}",
            self.listener.local_addr()?
        );
        let admin = self.admin.map(|(listener, router)| {
            let mut stop = stop_rx.clone();
            let limits = self.server_limits;
            tokio::spawn(crate::serve::serve(listener, router, limits, async move {
                let _ = stop.wait_for(|s| *s).await;
            }))
        });
        let (lifecycle, delay) = (self.lifecycle.clone(), self.shutdown_delay);
        // When the grace period began (the listener stopped): every wait below ends by then.
        let stopped_at = Arc::new(std::sync::OnceLock::new());
        let stop_time = stopped_at.clone();
        crate::serve::serve_tls(
            self.listener,
            self.router,
            self.server_limits,
            self.tls.clone(),
            async move {
                shutdown.await;
                // Not ready at once; keep serving while the load balancer takes us out.
                lifecycle.drain();
                info!(delay_ms = delay.as_millis(), "draining: reporting not ready");
                tokio::time::sleep(delay).await;
                let _ = stop_time.set(tokio::time::Instant::now());
                let _ = stop_tx.send(true);
            },
        )
        .await;
        // Timer transitions in progress get the grace period (the engine bounds it, cuts off
        // the rest and gives their claims back to the other replicas at once).
        match tokio::time::timeout(self.shutdown_grace + Duration::from_secs(5), scheduler).await {
            Ok(done) => done.context("scheduler task failed")?,
            Err(_) => warn!("shutdown: the scheduler did not stop in time"),
        }
        delivery.await.context("event delivery task failed")?;
        while let Some(done) = chores.join_next().await {
            done.context("a background task failed")?;
        }
        if let Some(admin) = admin {
            admin.await.context("admin listener failed")?;
        }
        // Let deliveries in flight finish within the grace; the claims of the rest go back to
        // the other replicas, which deliver them (same event ids) at once.
        let deadline = stopped_at.get().copied().unwrap_or_else(tokio::time::Instant::now) + self.shutdown_grace;
        while self.outbox.busy() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.outbox.give_back().await;
        info!("gateway stopped");
        Ok(())
    }
}

/// Re-reads the catalog file when it changes (modification time or size) and puts its
/// profiles, pools and client records in force; a file that fails the checks is logged and ignored.
async fn watch_catalog(
    settings: Settings,
    catalog: Arc<Catalog>,
    clients: Arc<crate::clients::ClientSources>,
    service: Arc<BookingService>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(file) = settings.catalog_file.clone() else {
        return;
    };
    let stamp = |f: &std::path::Path| std::fs::metadata(f).ok().map(|m| (m.modified().ok(), m.len()));
    let mut seen = stamp(&file);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
        let now = stamp(&file);
        if now == seen {
            continue;
        }
        seen = now;
        match settings.with_catalog_file() {
            Ok(s) => {
                catalog.replace(s.profiles.clone());
                clients.set_configured(s.clients.iter().map(ClientSettings::record).collect());
                service.replace_capacity(booking::capacity::CapacityPlan {
                    pools: s.capacity.pools.clone(),
                });
                info!(file = %file.display(), profiles = s.profiles.len(), pools = s.capacity.pools.len(), clients = s.clients.len(), "catalog reloaded");
            }
            Err(e) => {
                warn!(file = %file.display(), error = format!("{e:#}"), "catalog file changed but is not valid; keeping the previous catalog")
            }
        }
    }
}

/// Reads bookings by status and the outbox backlog from the store for the OTLP gauges.
async fn read_store_stats(
    store: Arc<dyn BookingStore>,
    metrics: Arc<crate::metrics::Metrics>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Ok(stats) = store.stats().await {
            metrics.set_store_stats(stats);
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Forgets idle clients of the rate limiter every minute, until told to stop.
async fn shrink_rate_limits(limits: Arc<RateLimits>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => limits.shrink(),
            _ = stop.changed() => return,
        }
    }
}

/// The lab resolver from `southbound.devices` and `southbound.device_file` (watched by
/// `run_until_stopped`).
fn build_resolver(s: &Settings) -> anyhow::Result<Option<Arc<StaticResolver>>> {
    Ok(StaticResolver::load(&s.southbound.devices, s.southbound.device_file.as_deref())?.map(Arc::new))
}

/// The API crate's CloudEvents, as the event delivery sends them. QoS Booking and
/// Assignment's tell of the booking as it is when sent, so they read it (and a device's
/// reservation) from the store.
struct Events(camara_api::CloudEvents);

#[async_trait::async_trait]
impl delivery::EventFormat for Events {
    async fn render(&self, ev: &booking::StatusEvent, store: &dyn BookingStore) -> delivery::Rendered {
        use delivery::Rendered;
        if !camara_api::CloudEvents::is_assignment(ev) {
            return Rendered::Send(self.0.render(ev).to_string());
        }
        let read = |id| async move {
            store.get(id).await.map_err(|e| {
                warn!(booking.id = %id, error = %booking::Chain(&e), "cannot read the booking of an event; it goes later");
            })
        };
        // Gone (purged): nothing to tell any more. Unreadable: later.
        let booking = match read(ev.booking_id).await {
            Ok(Some(b)) => b,
            Ok(None) => return Rendered::Skip,
            Err(()) => return Rendered::Later,
        };
        let reservation = match booking.group {
            Some(booking::Group::Member { of }) => match read(of).await {
                Ok(Some(r)) => r,
                Ok(None) => return Rendered::Skip,
                Err(()) => return Rendered::Later,
            },
            _ => booking.clone(),
        };
        match self.0.render_assignment(ev, &booking, &reservation) {
            Some(v) => Rendered::Send(v.to_string()),
            None => Rendered::Skip,
        }
    }
}
