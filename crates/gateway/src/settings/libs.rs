//! Each settings section converts itself into the configuration of the library it drives, so
//! that `startup` only assembles parts.

use super::units::span;
use super::{
    Api, Auth, CallbackAuthKind, CallbackSettings, Limits, MappingSettings, NefAuthKind, NefSettings, Notifications,
    RedisStoreSettings, Settings, SinkDeny,
};
use anyhow::Context;
use booking::{Coverage, Policy, SinkPolicy, SinkResolver};
use camara_api::limits::{Rate, RateLimits};
use camara_api::{AreaTypes, AuthSettings, KeySource, ParseOptions};
use delivery::DeliverySettings;
use nef::{NefAuth, NefClientConfig, Snssai};
use qos_mapping::{CallbackAuth, MappingConfig};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;
use url::Url;

fn secret_from_env(var: &str, what: &str) -> anyhow::Result<SecretString> {
    std::env::var(var)
        .map(SecretString::from)
        .with_context(|| format!("{what}: set the environment variable {var}"))
}

/// A URL as a base to append paths to: no trailing slash.
pub fn base(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

impl Notifications {
    pub fn sink_policy(&self, resolver: Arc<dyn SinkResolver>) -> SinkPolicy {
        let (mut deny_nets, mut deny_hosts) = (Vec::new(), Vec::new());
        for d in &self.sink_deny {
            match d {
                SinkDeny::Net(n) => deny_nets.push(*n),
                SinkDeny::Host(h) => deny_hosts.push(h.clone()),
            }
        }
        SinkPolicy {
            allow_insecure: self.allow_insecure_sinks,
            allow: self.sink_allow.clone(),
            deny_nets,
            deny_hosts,
            resolver,
        }
    }

    pub fn delivery(&self) -> DeliverySettings {
        DeliverySettings {
            max_attempts: self.max_attempts.max(1),
            initial_backoff: self.initial_backoff,
            timeout: self.timeout,
            poll_interval: self.poll_interval.max(Duration::from_millis(10)),
            lease: span(self.lease),
            concurrency: self.concurrency,
            per_sink: self.per_sink_concurrency,
            give_up_after: span(self.give_up_after),
        }
    }
}

impl Settings {
    /// How this replica's timer engine runs.
    pub fn engine(&self) -> scheduler::EngineSettings {
        scheduler::EngineSettings {
            max_in_flight: self.scheduler.max_in_flight,
            claim_batch: self.scheduler.claim_batch,
            lease: self.scheduler.lease,
            safety_poll: self.scheduler.poll_interval.max(Duration::from_millis(10)),
            shutdown_grace: self.server.shutdown_grace,
        }
    }

    /// The booking service's time and quota rules.
    pub fn policy(&self) -> Policy {
        Policy {
            min_lead: span(self.booking.min_lead),
            max_horizon: time::Duration::days(self.booking.max_horizon_days),
            retention: span(self.booking.retention),
            lease: span(self.scheduler.lease),
            activation_lead: span(self.scheduler.activation_lead),
            retry_base: span(self.scheduler.retry_base),
            retry_deadline: span(self.scheduler.retry_deadline),
            claim_batch: self.scheduler.claim_batch,
            max_retrieve: 100,
            max_live_per_client: self.limits.max_live_bookings_per_client,
            async_delete: self.api.delete_mode == crate::settings::DeleteMode::Async,
        }
    }

    pub fn coverage(&self) -> Coverage {
        Coverage {
            regions: self.coverage.regions.clone(),
            uncovered_names: self.coverage.uncovered_area_names.clone(),
        }
    }
}

impl Api {
    pub fn parse_options(&self, sink: SinkPolicy) -> ParseOptions {
        ParseOptions {
            strict: self.strict_properties,
            area_types: AreaTypes {
                circle: self.area_types.circle,
                polygon: self.area_types.polygon,
                area_name: self.area_types.area_name,
            },
            area_names: self.area_names.clone(),
            sink,
            null_as_absent: self.null_as_absent,
        }
    }
}

impl super::ClientSettings {
    /// The domain's record of this client.
    pub fn record(&self) -> booking::ClientRecord {
        let rate = |r: Option<super::RateSetting>| {
            r.map(|r| booking::ClientRate {
                per_second: r.per_second,
                burst: r.burst,
            })
        };
        booking::ClientRecord {
            client_id: self.client_id.clone(),
            profiles: self.profiles.clone(),
            max_live_bookings: self.max_live_bookings,
            rates: booking::ClientRates {
                create: rate(self.limits.create),
                read: rate(self.limits.read),
                delete: rate(self.limits.delete),
                retrieve: rate(self.limits.retrieve),
            },
            sinks: self.sinks.clone(),
            private_key_jwt: self.private_key_jwt.as_ref().map(|p| booking::PrivateKeyJwt {
                token_endpoint: p.token_endpoint.to_string(),
                client_id: p.client_id.clone(),
                key_file: p.key_file.display().to_string(),
                algorithm: p.algorithm.clone(),
                key_id: p.key_id.clone(),
                scope: p.scope.clone(),
            }),
        }
    }
}

impl Limits {
    pub fn rate_limits(&self) -> RateLimits {
        let rate = |r: super::RateSetting| Rate {
            per_second: r.per_second,
            burst: r.burst,
        };
        RateLimits::new(
            rate(self.create),
            rate(self.read),
            rate(self.delete),
            rate(self.retrieve),
        )
    }
}

impl Auth {
    pub fn authenticator_settings(&self) -> AuthSettings {
        AuthSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            client_id_claim: self.client_id_claim.clone(),
            subject_claim: self.subject_claim.clone(),
            phone_number_claim: self.phone_number_claim.clone(),
            subject_forms: camara_api::SubjectForms {
                tel: self.subject_forms.contains(&super::SubjectForm::Tel),
                ipport: self.subject_forms.contains(&super::SubjectForm::Ipport),
                operator_token: self.subject_forms.contains(&super::SubjectForm::Operatortoken),
            },
            leeway_seconds: self.leeway.as_secs(),
            algorithms: self.algorithms.clone(),
        }
    }

    /// Where the identity provider's keys come from (checked at load: exactly one is set).
    pub fn key_source(&self) -> anyhow::Result<KeySource> {
        match (&self.jwks_url, &self.discovery_url, &self.jwks_file) {
            (Some(u), _, _) => Ok(KeySource::JwksUrl(u.to_string())),
            (_, Some(u), _) => Ok(KeySource::Discovery(u.to_string())),
            (_, _, Some(f)) => Ok(KeySource::File(f.clone())),
            _ => anyhow::bail!("auth.mode jwks needs auth.jwks_url, auth.discovery_url or auth.jwks_file"),
        }
    }
}

impl RedisStoreSettings {
    /// The store's settings, with the password and the key secret read from the environment.
    pub fn store_settings(&self) -> anyhow::Result<store::RedisSettings> {
        let password = std::env::var(&self.password_env).ok().filter(|p| !p.is_empty());
        let urls = self
            .urls
            .iter()
            .map(|u| match (&password, Url::parse(u)) {
                (Some(p), Ok(mut parsed)) if parsed.scheme().starts_with("redis") => {
                    parsed
                        .set_password(Some(p))
                        .map_err(|_| anyhow::anyhow!("store.redis.urls: cannot put the password into {u}"))?;
                    Ok(parsed.to_string())
                }
                _ => Ok(u.clone()),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let key_secret = std::env::var(&self.key_secret_env).unwrap_or_else(|_| {
            warn!(var = %self.key_secret_env, "no secret for hashing device identifiers in Redis key names; using the built-in default");
            "qosgw-default-key-secret".to_owned()
        });
        Ok(store::RedisSettings {
            urls,
            cluster: self.cluster,
            prefix: self.prefix.clone(),
            shards: self.shards,
            command_timeout: self.command_timeout,
            connect_timeout: self.connect_timeout,
            key_secret,
            tls_root_cert: self
                .tls_ca_file
                .as_ref()
                .map(|f| {
                    std::fs::read(f).with_context(|| format!("store.redis.tls_ca_file: cannot read {}", f.display()))
                })
                .transpose()?,
            sentinel: self.sentinel.master_name.as_ref().map(|name| store::SentinelSettings {
                master_name: name.clone(),
                addresses: self.sentinel.addresses.clone(),
                sentinel_username: self.sentinel.username.clone(),
                sentinel_password: std::env::var(&self.sentinel.password_env)
                    .ok()
                    .filter(|p| !p.is_empty()),
                username: self.sentinel.node_username.clone(),
                password,
                db: self.sentinel.db,
                tls: self.sentinel.tls,
            }),
            wait: (self.wait_replicas > 0).then_some(store::WaitReplicas {
                replicas: self.wait_replicas,
                timeout: self.wait_timeout,
            }),
        })
    }
}

impl NefSettings {
    /// How the gateway authenticates to the NEF (secrets from the environment).
    pub fn nef_auth(&self) -> anyhow::Result<NefAuth> {
        Ok(match self.auth {
            NefAuthKind::None => NefAuth::None,
            NefAuthKind::Basic => NefAuth::Basic {
                username: self.username.clone(),
                password: secret_from_env(&self.password_env, "NEF basic auth")?,
            },
            NefAuthKind::OAuth2 => NefAuth::OAuth2 {
                token_url: self
                    .token_url
                    .as_ref()
                    .map(Url::to_string)
                    .context("southbound.nef.token_url is required with auth oauth2")?,
                client_id: self.client_id.clone(),
                client_secret: secret_from_env(&self.client_secret_env, "NEF OAuth2")?,
                scope: self.scope.clone(),
            },
        })
    }

    pub fn client_config(&self, api_root: String, scs_as_id: String, auth: NefAuth) -> NefClientConfig {
        NefClientConfig {
            api_root,
            scs_as_id,
            transport: sbi::TransportConfig {
                auth,
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                max_retries: self.max_retries,
                retry_base: self.retry_base,
                max_retry_after: self.max_retry_after,
                max_requests_per_second: self.max_requests_per_second,
                http2_only: false,
                user_agent: None,
                client_identity: None,
                root_certificates: None,
            },
        }
    }
}

impl CallbackSettings {
    pub fn callback_auth(&self) -> anyhow::Result<CallbackAuth> {
        Ok(match self.auth {
            CallbackAuthKind::Token => CallbackAuth::PerBookingToken,
            CallbackAuthKind::SharedSecret => {
                let secret = secret_from_env(&self.shared_secret_env, "NEF callback shared secret")?;
                CallbackAuth::SharedSecret(secret.expose_secret().to_owned())
            }
            CallbackAuthKind::None => CallbackAuth::None,
        })
    }
}

impl MappingSettings {
    pub fn mapping_config(&self, callback_base: String, callback_auth: CallbackAuth, release: u8) -> MappingConfig {
        MappingConfig {
            callback_base,
            callback_auth,
            encoding: self.flow_encoding,
            protocol: self.protocol.clone(),
            address_preference: self.address_preference.clone(),
            dnn: self.dnn.clone(),
            snssai: u8::try_from(self.snssai_sst).ok().map(|sst| Snssai {
                sst,
                sd: self.snssai_sd.clone(),
            }),
            supported_features: self.supported_features.clone(),
            usage_threshold: self.usage_threshold,
            release,
            max_flows: self.max_flows,
        }
    }
}
