//! Builds the gateway from settings and runs it: the HTTP server, the scheduler worker and
//! graceful shutdown.

use crate::settings::{AuthMode, CallbackAuthKind, NefAuthKind, Settings, SouthboundKind, StoreKind};
use anyhow::Context;
use axum::Router;
use booking::{
    BookingService, BookingStore, Catalog, Clock, Coverage, DeviceResolver, Policy, SinkPolicy, SinkResolver,
    SystemClock,
};
use camara_api::limits::{Rate, RateLimits};
use camara_api::{ApiState, AreaTypes, AuthSettings, DevIssuer, KeySource, KeyStore, ParseOptions, scopes};
use delivery::SystemResolver;
use delivery::{DeliverySettings, Outbox};
use nef::{NefAuth, NefClient, NefClientConfig, Snssai};
use nef_mapping::{CallbackAuth, MappingConfig};
use nef_sim::{Faults, NefSim, SimConfig};
use secrecy::SecretString;
use southbound::{NefSouthbound, StaticResolver};
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
    resolver: Option<Arc<StaticResolver>>,
    /// The inline entries and the file the lab resolver re-reads when it changes.
    device_file: Option<(Vec<southbound::DeviceEntry>, PathBuf)>,
    limits: Arc<RateLimits>,
    dev_issuer: Option<Arc<DevIssuer>>,
    dev_token: Option<String>,
    poll_interval: Duration,
    server_limits: crate::serve::ServerLimits,
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
        let s = &settings;
        let sink_policy = SinkPolicy {
            allow_insecure: s.notifications.allow_insecure_sinks,
            allow: s
                .notifications
                .sink_allow
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            deny_nets: s
                .notifications
                .sink_deny
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            deny_hosts: s
                .notifications
                .sink_deny
                .iter()
                .filter(|n| n.parse::<ipnet::IpNet>().is_err())
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            resolver: sink_resolver,
        };
        let store: Arc<dyn BookingStore> = match s.store.kind {
            StoreKind::Memory => Arc::new(store::MemoryStore::new()),
            StoreKind::Redis => Arc::new(connect_redis(&s.store.redis).await?),
        };
        let listener = TcpListener::bind(&s.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", s.server.listen))?;
        let port = listener.local_addr()?.port();
        let public_url = match s.server.public_url.trim_end_matches('/') {
            "" => {
                let local = listener.local_addr()?;
                if local.ip().is_unspecified() {
                    warn!(%local, "server.public_url is not set: NEF callbacks and event sources will name an address nobody can reach");
                }
                format!("http://{local}")
            }
            url => url.to_owned(),
        };
        let catalog = Arc::new(Catalog::new(s.profiles.clone()));
        let resolver = build_resolver(s)?;
        let (southbound, nef_sim, callback_auth) = build_southbound(
            s,
            &public_url,
            catalog.clone(),
            resolver.clone().map(|r| r as Arc<dyn DeviceResolver>),
        )
        .await?;

        let base_paths = s.base_paths();
        let outbox = Outbox::new(
            DeliverySettings {
                max_attempts: s.notifications.max_attempts.max(1),
                initial_backoff: Duration::from_millis(s.notifications.initial_backoff_ms),
                timeout: Duration::from_millis(s.notifications.timeout_ms),
                source_prefix: format!("{public_url}{}/device-qos-bookings/", base_paths[0]),
                poll_interval: Duration::from_millis(s.notifications.poll_interval_ms.max(10)),
                lease: time::Duration::seconds(s.notifications.lease_seconds),
                concurrency: s.notifications.concurrency,
            },
            store.clone(),
            clock.clone(),
            sink_policy.clone(),
        )
        .context("cannot build the event delivery client")?;
        let policy = Policy {
            min_lead: time::Duration::seconds(s.booking.min_lead_seconds),
            max_horizon: time::Duration::days(s.booking.max_horizon_days),
            retention: time::Duration::seconds(s.booking.retention_seconds),
            lease: time::Duration::seconds(s.scheduler.lease_seconds),
            retry_base: time::Duration::milliseconds(s.scheduler.retry_base_ms),
            retry_deadline: time::Duration::seconds(s.scheduler.retry_deadline_seconds),
            claim_batch: s.scheduler.claim_batch,
            max_retrieve: 100,
            max_live_per_client: s.limits.max_live_bookings_per_client,
        };
        let coverage = Coverage {
            regions: s.coverage.regions.clone(),
            uncovered_names: s.coverage.uncovered_area_names.clone(),
        };
        let mut service = BookingService::new(
            store.clone(),
            clock.clone(),
            Arc::new(southbound),
            Arc::new(outbox.waker()),
            catalog,
            coverage,
            policy,
        );
        if let Some(r) = &resolver {
            service = service.with_resolver(r.clone());
        }
        let service = Arc::new(service);

        let algorithms = s
            .auth
            .algorithms
            .iter()
            .filter_map(|a| a.parse::<jsonwebtoken::Algorithm>().ok())
            .collect::<Vec<_>>();
        let auth_settings = AuthSettings {
            issuer: s.auth.issuer.clone(),
            audience: s.auth.audience.clone(),
            client_id_claim: s.auth.client_id_claim.clone(),
            subject_claim: s.auth.subject_claim.clone(),
            phone_number_claim: (!s.auth.phone_number_claim.is_empty()).then(|| s.auth.phone_number_claim.clone()),
            leeway_seconds: s.auth.leeway_seconds,
            algorithms,
        };
        let (auth, dev_issuer, dev_token) = match s.auth.mode {
            AuthMode::Dev => {
                let issuer = DevIssuer::generate(auth_settings).map_err(anyhow::Error::msg)?;
                let token = issuer
                    .mint(&s.auth.dev_client_id, &scopes::ALL, None, s.auth.dev_token_ttl_seconds)
                    .map_err(anyhow::Error::msg)?;
                (
                    issuer.authenticator().map_err(anyhow::Error::msg)?,
                    Some(Arc::new(issuer)),
                    Some(token),
                )
            }
            AuthMode::Jwks => {
                let source = if !s.auth.jwks_url.is_empty() {
                    KeySource::JwksUrl(s.auth.jwks_url.clone())
                } else if !s.auth.discovery_url.is_empty() {
                    KeySource::Discovery(s.auth.discovery_url.clone())
                } else {
                    KeySource::File(PathBuf::from(&s.auth.jwks_file))
                };
                let keys = KeyStore::new(source, Duration::from_secs(s.auth.refetch_min_interval_seconds))
                    .map_err(anyhow::Error::msg)?;
                let auth = camara_api::Authenticator::new(auth_settings, keys);
                auth.warm_up().await;
                (auth, None, None)
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
            sink: sink_policy.clone(),
        };
        if s.notifications.allow_insecure_sinks {
            warn!("notifications.allow_insecure_sinks is on: http and private sinks are accepted (development only)");
        }
        let rate = |r: crate::settings::RateSetting| Rate {
            per_second: r.per_second,
            burst: r.burst,
        };
        let l = &s.limits;
        let limits = Arc::new(RateLimits::new(
            rate(l.create),
            rate(l.read),
            rate(l.delete),
            rate(l.retrieve),
        ));
        let api_state = ApiState {
            service: service.clone(),
            auth: Arc::new(auth),
            clock,
            parse: Arc::new(parse),
            body_limit: s.server.body_limit_bytes,
            limits: limits.clone(),
            request_timeout: Duration::from_millis(s.server.request_timeout_ms),
        };
        let router = camara_api::router(api_state, &base_paths)
            .merge(crate::health::router(store.clone(), dev_issuer.clone()))
            .merge(southbound::callbacks::router(service.clone(), callback_auth));

        Ok(Self {
            listener,
            port,
            router,
            service,
            store,
            outbox,
            nef_sim,
            resolver,
            device_file: (!s.southbound.device_file.is_empty())
                .then(|| (s.southbound.devices.clone(), PathBuf::from(&s.southbound.device_file))),
            limits,
            dev_issuer,
            dev_token,
            poll_interval: Duration::from_millis(s.scheduler.poll_interval_ms.max(10)),
            server_limits: crate::serve::ServerLimits {
                header_read_timeout: Duration::from_millis(s.server.header_read_timeout_ms),
                max_connections: s.server.max_connections,
                drain_timeout: Duration::from_millis(s.server.request_timeout_ms),
            },
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
    /// The in-process NEF simulator (southbound kind `nef-sim`).
    pub fn nef_sim(&self) -> Option<NefSim> {
        self.nef_sim.clone()
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

    /// Serves until `shutdown` completes, then stops the scheduler and drains requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let scheduler = tokio::spawn(run_scheduler(self.service.clone(), self.poll_interval, stop_rx.clone()));
        let delivery = tokio::spawn(self.outbox.clone().run(stop_rx.clone()));
        let mut chores = tokio::task::JoinSet::new();
        chores.spawn(shrink_rate_limits(self.limits.clone(), stop_rx.clone()));
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
        crate::serve::serve(self.listener, self.router, self.server_limits, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
        scheduler.await.context("scheduler task failed")?;
        delivery.await.context("event delivery task failed")?;
        while let Some(done) = chores.join_next().await {
            done.context("a background task failed")?;
        }
        // Let deliveries in flight finish; anything else stays in the outbox for later.
        for _ in 0..50 {
            if !self.outbox.busy() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        info!("gateway stopped");
        Ok(())
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

/// Fires due timers every `interval` until told to stop.
async fn run_scheduler(service: Arc<BookingService>, interval: Duration, mut stop: watch::Receiver<bool>) {
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

async fn connect_redis(r: &crate::settings::RedisStoreSettings) -> anyhow::Result<store::RedisStore> {
    let password = std::env::var(&r.password_env).ok().filter(|p| !p.is_empty());
    let urls = r
        .urls
        .iter()
        .map(|u| match (&password, url::Url::parse(u)) {
            (Some(p), Ok(mut parsed)) if parsed.scheme().starts_with("redis") => {
                parsed
                    .set_password(Some(p))
                    .map_err(|_| anyhow::anyhow!("cannot put the password into {u}"))?;
                Ok(parsed.to_string())
            }
            _ => Ok(u.clone()),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let key_secret = std::env::var(&r.key_secret_env).unwrap_or_else(|_| {
        warn!(var = %r.key_secret_env, "no secret for hashing device identifiers in Redis key names; using the built-in default");
        "qosgw-default-key-secret".to_owned()
    });
    let settings = store::RedisSettings {
        urls,
        cluster: r.cluster,
        prefix: r.prefix.clone(),
        shards: r.shards,
        command_timeout: Duration::from_millis(r.command_timeout_ms),
        connect_timeout: Duration::from_millis(r.connect_timeout_ms),
        key_secret,
    };
    let store = store::RedisStore::connect(settings)
        .await
        .context("cannot connect to Redis")?;
    info!(cluster = r.cluster, shards = r.shards, "Redis store connected");
    Ok(store)
}

fn secret_from_env(var: &str, what: &str) -> anyhow::Result<SecretString> {
    std::env::var(var)
        .map(SecretString::from)
        .with_context(|| format!("{what}: set the environment variable {var}"))
}

/// The lab resolver from `southbound.devices` and `southbound.device_file` (watched by
/// `run_until_stopped`).
fn build_resolver(s: &Settings) -> anyhow::Result<Option<Arc<StaticResolver>>> {
    let file = (!s.southbound.device_file.is_empty()).then(|| PathBuf::from(&s.southbound.device_file));
    Ok(StaticResolver::load(&s.southbound.devices, file.as_deref())?.map(Arc::new))
}

/// The NEF client (toward the in-process simulator or the real NEF) behind the southbound
/// port, and how callback URLs are protected.
async fn build_southbound(
    s: &Settings,
    public_url: &str,
    catalog: Arc<Catalog>,
    resolver: Option<Arc<dyn DeviceResolver>>,
) -> anyhow::Result<(NefSouthbound, Option<NefSim>, CallbackAuth)> {
    let sb = &s.southbound;
    let n = &sb.nef;
    let (api_root, auth, sim) = match sb.kind {
        SouthboundKind::NefSim => {
            let cfg = SimConfig {
                oauth: None,
                notify_on_create: sb.simulator.notify_on_create,
                faults: Faults {
                    latency_ms: sb.simulator.latency_ms,
                    error_status: 500,
                    ..Faults::default()
                },
                release: sb.release,
            };
            let sim = NefSim::start("127.0.0.1:0", cfg)
                .await
                .context("cannot start the NEF simulator")?;
            info!(nef.api_root = %sim.url(), "in-process NEF simulator started");
            (sim.url(), NefAuth::None, Some(sim))
        }
        SouthboundKind::Nef => {
            let auth = match n.auth {
                NefAuthKind::None => NefAuth::None,
                NefAuthKind::Basic => NefAuth::Basic {
                    username: n.username.clone(),
                    password: secret_from_env(&n.password_env, "NEF basic auth")?,
                },
                NefAuthKind::OAuth2 => NefAuth::OAuth2 {
                    token_url: n.token_url.clone(),
                    client_id: n.client_id.clone(),
                    client_secret: secret_from_env(&n.client_secret_env, "NEF OAuth2")?,
                    scope: (!n.scope.is_empty()).then(|| n.scope.clone()),
                },
            };
            (n.api_root.clone(), auth, None)
        }
    };
    let client = NefClient::new(NefClientConfig {
        api_root,
        scs_as_id: sb.scs_as_id.clone(),
        auth,
        connect_timeout: Duration::from_millis(n.connect_timeout_ms),
        request_timeout: Duration::from_millis(n.request_timeout_ms),
        max_retries: n.max_retries,
        retry_base: Duration::from_millis(n.retry_base_ms),
        max_retry_after: Duration::from_millis(n.max_retry_after_ms),
    })?;
    let callback_auth = match sb.callbacks.auth {
        CallbackAuthKind::Token => CallbackAuth::PerBookingToken,
        CallbackAuthKind::SharedSecret => {
            let secret = secret_from_env(&sb.callbacks.shared_secret_env, "NEF callback shared secret")?;
            CallbackAuth::SharedSecret(secrecy::ExposeSecret::expose_secret(&secret).to_owned())
        }
        CallbackAuthKind::None => CallbackAuth::None,
    };
    let m = &sb.mapping;
    let mapping = MappingConfig {
        callback_base: match sb.callbacks.base_url.trim_end_matches('/') {
            "" => public_url.to_owned(),
            b => b.to_owned(),
        },
        callback_auth: callback_auth.clone(),
        encoding: m.flow_encoding,
        protocol: m.protocol.clone(),
        address_preference: m.address_preference.clone(),
        dnn: (!m.dnn.is_empty()).then(|| m.dnn.clone()),
        snssai: u8::try_from(m.snssai_sst).ok().map(|sst| Snssai {
            sst,
            sd: (!m.snssai_sd.is_empty()).then(|| m.snssai_sd.clone()),
        }),
        supported_features: (!m.supported_features.is_empty()).then(|| m.supported_features.clone()),
        usage_threshold: m.usage_threshold,
        release: sb.release,
        max_flows: m.max_flows,
    };
    Ok((
        NefSouthbound::new(client, mapping, catalog, resolver),
        sim,
        callback_auth,
    ))
}
