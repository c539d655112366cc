//! `charging`: what is done with the store's usage ledger (every booking's usage is kept
//! there whatever is chosen; reports read it).

use super::units;
use sbi::{Auth, TransportConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChargingKind {
    /// Kept for reports only.
    None,
    /// JSON Lines files in `file.dir`.
    File,
    /// Charging sessions at the operator's CHF (`chf`).
    Chf,
    /// The same toward a CHF simulator inside this process (development, tests).
    #[serde(rename = "chf-sim")]
    ChfSim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceIdentitySetting {
    Pseudonymous,
    Clear,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingSettings {
    /// Where usage goes: one kind, or a list (`[chf, file]`: both, each exactly once).
    #[serde(deserialize_with = "one_or_many")]
    pub kind: Vec<ChargingKind>,
    /// How IP addresses appear in records (phone numbers always as the GPSI).
    pub device_identity: DeviceIdentitySetting,
    /// The variable holding the pseudonyms' secret (the same on every replica).
    pub pseudonym_secret_env: String,
    /// Ledger entries older than this are dropped (reports look back this far).
    pub retention_days: u32,
    #[serde(rename = "lease_seconds", deserialize_with = "units::secs")]
    pub lease: Duration,
    #[serde(rename = "poll_ms", deserialize_with = "units::ms")]
    pub poll: Duration,
    pub batch: usize,
    pub file: ChargingFile,
    pub chf: ChargingChf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingFile {
    pub dir: PathBuf,
    #[serde(rename = "rotate_every_seconds", deserialize_with = "units::secs")]
    pub rotate_every: Duration,
    pub max_bytes: u64,
}

/// The CHF (`Nchf_ConvergedCharging`, TS 32.291) and how to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingChf {
    /// `{apiRoot}` of the CHF (with `chf-sim`: unset, the simulator's).
    pub api_root: Option<Url>,
    /// This gateway's NF instance id (UUID): `nFName` and its `User-Agent` (`NEF-<id>`).
    pub nf_instance_id: String,
    /// The rating group of each QoS profile; others get `default_rating_group`.
    pub rating_groups: HashMap<String, u32>,
    pub default_rating_group: u32,
    #[serde(rename = "interim_seconds", deserialize_with = "units::secs")]
    pub interim: Duration,
    /// Bookings whose requests are in flight at once (each booking's in order).
    pub concurrency: usize,
    #[serde(rename = "connect_timeout_ms", deserialize_with = "units::ms")]
    pub connect_timeout: Duration,
    #[serde(rename = "request_timeout_ms", deserialize_with = "units::ms")]
    pub request_timeout: Duration,
    pub max_retries: u32,
    #[serde(rename = "retry_base_ms", deserialize_with = "units::ms")]
    pub retry_base: Duration,
    #[serde(rename = "max_retry_after_ms", deserialize_with = "units::ms")]
    pub max_retry_after: Duration,
    /// HTTP/2 only (TS 29.500): h2c with prior knowledge on `http://`, ALPN on `https://`.
    pub http2: bool,
    /// An NRF access token for `nchf-convergedcharging` (`token_url`), as for the PCF.
    pub access_tokens: bool,
    pub token_url: Option<Url>,
    pub tls: super::PcfTls,
}

impl ChargingChf {
    pub fn transport(&self) -> anyhow::Result<TransportConfig> {
        let auth = match (self.access_tokens, &self.token_url) {
            (true, Some(url)) => Auth::Nrf {
                token_url: url.to_string(),
                nf_instance_id: self.nf_instance_id.clone(),
                nf_type: "NEF".into(),
                target_nf_type: "CHF".into(),
                scope: "nchf-convergedcharging".into(),
            },
            (true, None) => anyhow::bail!("charging.chf.access_tokens needs token_url"),
            (false, _) => Auth::None,
        };
        let client_identity = self.tls.client_identity("charging.chf.tls")?;
        Ok(TransportConfig {
            auth,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_retries: self.max_retries,
            retry_base: self.retry_base,
            max_retry_after: self.max_retry_after,
            max_requests_per_second: 0,
            http2_only: self.http2,
            user_agent: Some(format!("NEF-{}", self.nf_instance_id)),
            client_identity,
            root_certificates: self.tls.roots("charging.chf.tls")?,
        })
    }
}

/// `kind: file` or `kind: [chf, file]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ChargingKind>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(ChargingKind),
        Many(Vec<ChargingKind>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(k) => vec![k],
        OneOrMany::Many(v) => v,
    }
    .into_iter()
    .filter(|k| *k != ChargingKind::None)
    // Named twice is one export, not two.
    .fold(Vec::new(), |mut v, k| {
        if !v.contains(&k) {
            v.push(k);
        }
        v
    }))
}
