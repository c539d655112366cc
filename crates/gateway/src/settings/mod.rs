//! Typed configuration: `config/default.yaml` (built in), then `--config FILE`, then
//! `QOSGW__...` environment variables. Every value is parsed once, at load, into its type
//! (URLs, networks, algorithms, paths; `Option` for what may be unset), so a bad value fails
//! the start with the key's name; each section then converts itself into its library's
//! configuration (`settings/libs.rs`).

mod charging;
mod check;
mod effective;
mod libs;
mod pcf;
mod pdtq;
mod units;

pub use units::span;

pub use charging::{ChargingKind, ChargingSettings, DeviceIdentitySetting};
pub use libs::base;
pub use pcf::{PcfDiscovery, PcfSettings, PcfTls, SbiService};
pub use pdtq::{NetworkAdmissionKind, PdtqSettings};

use anyhow::Context;
use booking::{CoverageRegion, QosProfile};
use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use qos_mapping::{AddressKind, FlowEncoding};
use serde::Deserialize;
use southbound::DeviceEntry;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

pub const DEFAULT_YAML: &str = include_str!("../../../../config/default.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    pub store: Store,
    pub auth: Auth,
    pub api: Api,
    pub coverage: Coverage,
    pub limits: Limits,
    pub booking: BookingRules,
    pub scheduler: Scheduler,
    pub notifications: Notifications,
    pub southbound: Southbound,
    pub log: Log,
    pub telemetry: TelemetrySettings,
    pub capacity: CapacitySettings,
    pub charging: ChargingSettings,
    pub profiles: Vec<QosProfile>,
    /// The onboarding records of the API clients.
    pub clients: Vec<ClientSettings>,
    /// A YAML file with `profiles:`, `capacity: {pools:}` and/or `clients:`, replacing those of
    /// the configuration and re-read when it changes (no restart).
    pub catalog_file: Option<PathBuf>,
}

/// One API client's onboarding record (`booking::ClientRecord`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub client_id: String,
    #[serde(default)]
    pub profiles: Option<Vec<String>>,
    #[serde(default)]
    pub max_live_bookings: Option<u32>,
    #[serde(default)]
    pub limits: ClientLimits,
    #[serde(default)]
    pub sinks: Option<Vec<String>>,
    #[serde(default)]
    pub private_key_jwt: Option<PrivateKeyJwtSettings>,
}

/// A client's request rates, each overriding `limits.<operation>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLimits {
    #[serde(default)]
    pub create: Option<RateSetting>,
    #[serde(default)]
    pub read: Option<RateSetting>,
    #[serde(default)]
    pub delete: Option<RateSetting>,
    #[serde(default)]
    pub retrieve: Option<RateSetting>,
}

/// Where a client's PRIVATE_KEY_JWT sink tokens come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateKeyJwtSettings {
    pub token_endpoint: Url,
    /// The gateway's client id at that authorization server (`iss` and `sub` of the assertion).
    pub client_id: String,
    /// The PEM private key the assertion is signed with.
    pub key_file: PathBuf,
    #[serde(default = "default_pkjwt_algorithm")]
    pub algorithm: String,
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

fn default_pkjwt_algorithm() -> String {
    "RS256".into()
}

/// What a catalog file may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    profiles: Option<Vec<QosProfile>>,
    #[serde(default)]
    capacity: Option<CatalogCapacity>,
    #[serde(default)]
    clients: Option<Vec<ClientSettings>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogCapacity {
    pools: Vec<booking::capacity::Pool>,
}

/// The operator's capacity pools (`booking::capacity`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySettings {
    pub pools: Vec<booking::capacity::Pool>,
    pub decision_webhook: DecisionWebhook,
    /// Whether the network itself is asked before a booking is SCHEDULED.
    pub network_admission: NetworkAdmissionKind,
    pub pdtq: PdtqSettings,
}

/// The operator's policy service deciding REQUESTED bookings of deferred pools.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionWebhook {
    pub url: Option<Url>,
    #[serde(rename = "timeout_ms", deserialize_with = "units::ms")]
    pub timeout: Duration,
    /// `approve` or `decline` when it does not answer in time.
    pub default: DefaultDecision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultDecision {
    Approve,
    Decline,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: String,
    pub api_version: String,
    /// Also serve the r1.2 shape (qos-booking 0.1.0) under `/qos-booking/v0.1`.
    pub serve_v0_1: bool,
    /// Externally reachable base URL (NEF callbacks, CloudEvents `source`).
    pub public_url: Option<Url>,
    pub body_limit_bytes: usize,
    #[serde(rename = "request_timeout_ms", deserialize_with = "units::ms")]
    pub request_timeout: Duration,
    #[serde(rename = "header_read_timeout_ms", deserialize_with = "units::ms")]
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// The admin listener (`/livez`, `/readyz`, `/metrics`, the admin API and console);
    /// loopback port 9090 by default; unset: none.
    pub admin_listen: Option<String>,
    /// After SIGTERM: how long the replica keeps serving while it reports not ready (so the
    /// load balancer stops sending it requests first).
    #[serde(rename = "shutdown_delay_ms", deserialize_with = "units::ms")]
    pub shutdown_delay: Duration,
    /// Then: how long requests, timer transitions and deliveries in progress may take.
    #[serde(rename = "shutdown_grace_ms", deserialize_with = "units::ms")]
    pub shutdown_grace: Duration,
    /// A path prefix in front of every API path (e.g. `/camara`), as the API gateway in front
    /// routes it; empty: none.
    pub base_path: String,
    /// Peers whose `Forwarded` / `X-Forwarded-*` headers are believed (the proxies in front).
    pub trusted_proxies: Vec<IpNet>,
    pub tls: TlsSettings,
}

/// TLS on the API listener (rustls): both files set turn it on; they are re-read when they
/// change. With `client_ca_file`, clients must present a certificate signed by one of its CAs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
    #[serde(rename = "reload_interval_ms", deserialize_with = "units::ms")]
    pub reload_interval: Duration,
}

/// OpenTelemetry export over OTLP/HTTP (protobuf). Off unless an endpoint is configured here
/// or in the standard `OTEL_EXPORTER_OTLP_*ENDPOINT` variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub otlp_endpoint: Option<Url>,
    pub service_name: String,
    pub traces: bool,
    pub metrics: bool,
    #[serde(rename = "metrics_interval_ms", deserialize_with = "units::ms")]
    pub metrics_interval: Duration,
}

/// A form of 3-legged subject (CAMARA's `login_hint` forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectForm {
    /// `tel:+<E.164>`
    Tel,
    /// `ipport:<IPv4>[:port]`, `ipport:[<IPv6>][:port]`
    Ipport,
    /// `operatortoken:<GSMA TS.43 token>`, turned into a device by the device resolver.
    Operatortoken,
}

/// How a client's delete of an ACTIVATED booking is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMode {
    /// 204 once the NEF subscription is removed.
    Sync,
    /// 202 at once (DELETE_REQUESTED), the removal in the background.
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub kind: StoreKind,
    pub redis: RedisStoreSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStoreSettings {
    pub urls: Vec<String>,
    pub cluster: bool,
    /// PEM file of the CAs Redis's TLS certificate chains to (`rediss://` with a private CA).
    pub tls_ca_file: Option<PathBuf>,
    pub password_env: String,
    pub prefix: String,
    pub shards: u16,
    #[serde(rename = "command_timeout_ms", deserialize_with = "units::ms")]
    pub command_timeout: Duration,
    #[serde(rename = "connect_timeout_ms", deserialize_with = "units::ms")]
    pub connect_timeout: Duration,
    pub key_secret_env: String,
    pub sentinel: SentinelStoreSettings,
    /// Opt-in durability: a create is acknowledged once this many replicas have it (0: off).
    pub wait_replicas: u32,
    #[serde(rename = "wait_timeout_ms", deserialize_with = "units::ms")]
    pub wait_timeout: Duration,
}

/// Redis behind Sentinel (`master_name` set): the primary is asked of the sentinels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelStoreSettings {
    pub master_name: Option<String>,
    /// `host:port` of each sentinel.
    pub addresses: Vec<String>,
    /// AUTH to the sentinels: username (if ACLs are used) and the variable holding the password.
    pub username: Option<String>,
    pub password_env: String,
    /// Username of the Redis nodes (their password: `store.redis.password_env`).
    pub node_username: Option<String>,
    pub db: i64,
    /// TLS to the sentinels and the nodes (public roots, or `store.redis.tls_ca_file`).
    pub tls: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Dev,
    Jwks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub mode: AuthMode,
    pub jwks_url: Option<Url>,
    pub discovery_url: Option<Url>,
    pub jwks_file: Option<PathBuf>,
    #[serde(rename = "refetch_min_interval_seconds", deserialize_with = "units::secs")]
    pub refetch_min_interval: Duration,
    pub algorithms: Vec<Algorithm>,
    pub phone_number_claim: Option<String>,
    pub allow_dev_with_redis: bool,
    pub issuer: String,
    pub audience: String,
    pub client_id_claim: String,
    pub subject_claim: String,
    /// The subject forms that make a token 3-legged.
    pub subject_forms: Vec<SubjectForm>,
    #[serde(rename = "leeway_seconds", deserialize_with = "units::secs")]
    pub leeway: Duration,
    pub dev_client_id: String,
    #[serde(rename = "dev_token_ttl_seconds", deserialize_with = "units::secs")]
    pub dev_token_ttl: Duration,
    /// The operator's tokens (the admin API): this audience and scope, same issuer and keys.
    pub operator_audience: String,
    pub operator_scope: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaTypes {
    pub circle: bool,
    pub polygon: bool,
    pub area_name: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub strict_properties: bool,
    pub null_as_absent: bool,
    pub delete_mode: DeleteMode,
    pub area_types: AreaTypes,
    pub area_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub regions: Vec<CoverageRegion>,
    pub uncovered_area_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSetting {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub create: RateSetting,
    pub read: RateSetting,
    pub delete: RateSetting,
    pub retrieve: RateSetting,
    pub max_live_bookings_per_client: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingRules {
    #[serde(rename = "min_lead_seconds", deserialize_with = "units::secs")]
    pub min_lead: Duration,
    pub max_horizon_days: i64,
    #[serde(rename = "retention_seconds", deserialize_with = "units::secs")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduler {
    #[serde(rename = "poll_interval_ms", deserialize_with = "units::ms")]
    pub poll_interval: Duration,
    #[serde(rename = "lease_seconds", deserialize_with = "units::secs")]
    pub lease: Duration,
    pub claim_batch: usize,
    #[serde(rename = "retry_base_ms", deserialize_with = "units::ms")]
    pub retry_base: Duration,
    #[serde(rename = "retry_deadline_seconds", deserialize_with = "units::secs")]
    pub retry_deadline: Duration,
    pub max_in_flight: usize,
    #[serde(rename = "activation_lead_ms", deserialize_with = "units::ms")]
    pub activation_lead: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    pub allow_insecure_sinks: bool,
    pub sink_allow: Vec<IpNet>,
    pub sink_deny: Vec<SinkDeny>,
    #[serde(rename = "poll_interval_ms", deserialize_with = "units::ms")]
    pub poll_interval: Duration,
    #[serde(rename = "lease_seconds", deserialize_with = "units::secs")]
    pub lease: Duration,
    pub concurrency: usize,
    pub per_sink_concurrency: usize,
    #[serde(rename = "give_up_after_seconds", deserialize_with = "units::secs")]
    pub give_up_after: Duration,
    pub max_attempts: u32,
    #[serde(rename = "initial_backoff_ms", deserialize_with = "units::ms")]
    pub initial_backoff: Duration,
    #[serde(rename = "timeout_ms", deserialize_with = "units::ms")]
    pub timeout: Duration,
}

/// A `notifications.sink_deny` entry: a network (CIDR) or a host name (and its subdomains).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum SinkDeny {
    Net(IpNet),
    Host(String),
}

impl From<String> for SinkDeny {
    fn from(s: String) -> Self {
        match s.parse() {
            Ok(net) => Self::Net(net),
            Err(_) => Self::Host(s.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl std::str::FromStr for SinkDeny {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.to_owned().into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SouthboundKind {
    NefSim,
    Nef,
    /// N5 to the operator's PCF, the gateway as a trusted AF (`southbound.pcf`).
    Pcf,
    /// The in-process PCF simulator (HTTP/2, h2c).
    PcfSim,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Southbound {
    pub kind: SouthboundKind,
    pub release: u8,
    pub scs_as_id: String,
    pub nef: NefSettings,
    pub pcf: PcfSettings,
    pub simulator: SimulatorSettings,
    pub mapping: MappingSettings,
    pub callbacks: CallbackSettings,
    pub devices: Vec<DeviceEntry>,
    pub device_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NefAuthKind {
    None,
    Basic,
    OAuth2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NefSettings {
    pub api_root: Option<Url>,
    pub auth: NefAuthKind,
    pub username: String,
    pub password_env: String,
    pub token_url: Option<Url>,
    pub client_id: String,
    pub client_secret_env: String,
    pub scope: Option<String>,
    #[serde(rename = "connect_timeout_ms", deserialize_with = "units::ms")]
    pub connect_timeout: Duration,
    #[serde(rename = "request_timeout_ms", deserialize_with = "units::ms")]
    pub request_timeout: Duration,
    pub max_retries: u32,
    /// Most requests per second toward the NEF from this replica; 0: no limit.
    pub max_requests_per_second: u32,
    #[serde(rename = "retry_base_ms", deserialize_with = "units::ms")]
    pub retry_base: Duration,
    #[serde(rename = "max_retry_after_ms", deserialize_with = "units::ms")]
    pub max_retry_after: Duration,
    /// `/readyz` also requires the NEF (its token endpoint, else its API root) to answer.
    pub readiness_check: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorSettings {
    pub notify_on_create: bool,
    #[serde(rename = "latency_ms", deserialize_with = "units::ms")]
    pub latency: Duration,
    /// UEs the simulator's PDTQ negotiation admits per QoS reference, area and slot.
    pub pdtq_ues: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSettings {
    pub flow_encoding: FlowEncoding,
    pub protocol: String,
    pub address_preference: Vec<AddressKind>,
    pub dnn: Option<String>,
    pub snssai_sst: i32,
    pub snssai_sd: Option<String>,
    pub supported_features: Option<String>,
    pub usage_threshold: bool,
    pub max_flows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackAuthKind {
    Token,
    SharedSecret,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    pub base_url: Option<Url>,
    pub auth: CallbackAuthKind,
    pub shared_secret_env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: String,
    pub filter: String,
}

/// `QOSGW__SECTION__KEY` variables; list settings take comma-separated values.
fn environment() -> config::Environment {
    config::Environment::with_prefix("QOSGW")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("store.redis.urls")
        .with_list_parse_key("store.redis.sentinel.addresses")
        .with_list_parse_key("api.area_names")
        .with_list_parse_key("notifications.sink_allow")
        .with_list_parse_key("notifications.sink_deny")
        .with_list_parse_key("auth.algorithms")
        .with_list_parse_key("server.trusted_proxies")
        .with_list_parse_key("charging.kind")
}

/// The configuration's layers in order: the built-in defaults, `file`, then `env`.
fn layered(file: Option<&Path>, env: config::Environment) -> anyhow::Result<config::Config> {
    let mut b = config::Config::builder().add_source(config::File::from_str(DEFAULT_YAML, config::FileFormat::Yaml));
    if let Some(f) = file {
        b = b.add_source(config::File::from(f).format(config::FileFormat::Yaml).required(true));
    }
    b.add_source(env).build().context("could not read the configuration")
}

impl Settings {
    /// Defaults, then the optional file, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(file, environment())
    }

    /// The built-in defaults only (tests start from here and adjust fields).
    pub fn defaults() -> anyhow::Result<Self> {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_YAML, config::FileFormat::Yaml))
            .build()?
            .try_deserialize()
            .context("the built-in default configuration is invalid")
    }

    fn load_from(file: Option<&Path>, env: config::Environment) -> anyhow::Result<Self> {
        let settings: Self = layered(file, env)?.try_deserialize().context("invalid configuration")?;
        settings.check()?;
        settings.with_catalog_file()
    }

    /// These settings with the catalog file's profiles and pools in place of the configured
    /// ones, checked as at start (a bad file is an error; the caller keeps what it had).
    pub fn with_catalog_file(&self) -> anyhow::Result<Self> {
        let Some(file) = &self.catalog_file else {
            return Ok(self.clone());
        };
        let catalog: CatalogFile = config::Config::builder()
            .add_source(
                config::File::from(file.as_path())
                    .format(config::FileFormat::Yaml)
                    .required(true),
            )
            .build()
            .with_context(|| format!("cannot read the catalog file {}", file.display()))?
            .try_deserialize()
            .with_context(|| format!("invalid catalog file {}", file.display()))?;
        let mut s = self.clone();
        if let Some(profiles) = catalog.profiles {
            s.profiles = profiles;
        }
        if let Some(capacity) = catalog.capacity {
            s.capacity.pools = capacity.pools;
        }
        if let Some(clients) = catalog.clients {
            s.clients = clients;
        }
        s.check()?;
        Ok(s)
    }

    /// The base paths of the QoS Booking and Assignment API, each with its shape: `api_version`
    /// and `vwip` (the current one), and `v0.1` (0.1.0, r1.2) with `serve_v0_1`.
    pub fn assignment_base_paths(&self) -> Vec<(String, camara_api::Version)> {
        use camara_api::Version;
        let prefix = &self.server.base_path;
        let mut v = vec![(
            format!("{prefix}/qos-booking-and-assignment/{}", self.server.api_version),
            Version::V0_2,
        )];
        if self.server.api_version != "vwip" {
            v.push((format!("{prefix}/qos-booking-and-assignment/vwip"), Version::V0_2));
        }
        if self.server.serve_v0_1 {
            v.push((format!("{prefix}/qos-booking-and-assignment/v0.1"), Version::V0_1));
        }
        v
    }

    /// The base path of the QoS Profiles API (its own version, `vwip`).
    pub fn profile_base_paths(&self) -> Vec<String> {
        vec![format!("{}/qos-profiles/vwip", self.server.base_path)]
    }

    /// The base paths the API is served under, each with the version it answers in: the
    /// current shape under `api_version` and `vwip`, r1.2 under `v0.1` when `serve_v0_1`.
    pub fn base_paths(&self) -> Vec<(String, camara_api::Version)> {
        use camara_api::Version;
        let prefix = &self.server.base_path;
        let mut v = vec![(
            format!("{prefix}/qos-booking/{}", self.server.api_version),
            Version::V0_2,
        )];
        if self.server.api_version != "vwip" {
            v.push((format!("{prefix}/qos-booking/vwip"), Version::V0_2));
        }
        if self.server.serve_v0_1 {
            v.push((format!("{prefix}/qos-booking/v0.1"), Version::V0_1));
        }
        v
    }
}

#[cfg(test)]
mod tests;
