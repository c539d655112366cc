//! `southbound.pcf`: the gateway as a trusted AF toward the operator's PCF over N5 (with
//! `southbound.kind: pcf`, or `pcf-sim` for the in-process simulator).

use super::units;
use anyhow::Context;
use qos_mapping::n5::{N5Config, N5Profile};
use sbi::{Auth, TransportConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// How the PCF is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PcfDiscovery {
    /// `api_root`.
    Static,
    /// NRF discovery at `nrf_api_root`.
    Nrf,
    /// The UE's PCF binding at the BSF, `bsf_api_root`.
    Bsf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcfSettings {
    pub discovery: PcfDiscovery,
    /// `{apiRoot}` of the PCF (static discovery).
    pub api_root: Option<Url>,
    pub nrf_api_root: Option<Url>,
    pub bsf_api_root: Option<Url>,
    /// The scheme of the PCF a BSF binding names (a binding has an FQDN or an IP end point,
    /// no scheme).
    pub bsf_pcf_scheme: String,
    /// `afAppId` as the operator registered the gateway at the PCF.
    pub af_app_id: Option<String>,
    /// The gateway's NF instance id (a UUID): in its `User-Agent` (`AF-<id>`).
    pub nf_instance_id: String,
    #[serde(rename = "connect_timeout_ms", deserialize_with = "units::ms")]
    pub connect_timeout: Duration,
    #[serde(rename = "request_timeout_ms", deserialize_with = "units::ms")]
    pub request_timeout: Duration,
    pub max_retries: u32,
    #[serde(rename = "retry_base_ms", deserialize_with = "units::ms")]
    pub retry_base: Duration,
    #[serde(rename = "max_retry_after_ms", deserialize_with = "units::ms")]
    pub max_retry_after: Duration,
    /// Most requests per second toward the PCF from this replica; 0: no limit.
    pub max_requests_per_second: u32,
    pub tls: PcfTls,
    /// The N5 form of each profile (by name); a profile not listed sends its `qosReference`.
    pub profiles: HashMap<String, N5Profile>,
}

/// TLS toward the PCF (`https://` api roots): extra trusted roots, and a client certificate
/// for mutual TLS (SBI producers usually authenticate consumers by it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcfTls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl PcfSettings {
    /// The HTTP/2-only transport toward the PCF.
    pub fn transport(&self) -> anyhow::Result<TransportConfig> {
        let read = |p: &PathBuf, what: &str| {
            std::fs::read(p).with_context(|| format!("southbound.pcf.tls.{what}: cannot read {}", p.display()))
        };
        let client_identity = match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(c), Some(k)) => {
                let mut pem = read(c, "cert_file")?;
                pem.extend(read(k, "key_file")?);
                Some(pem)
            }
            (None, None) => None,
            _ => anyhow::bail!("southbound.pcf.tls: cert_file and key_file go together"),
        };
        Ok(TransportConfig {
            auth: Auth::None,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_retries: self.max_retries,
            retry_base: self.retry_base,
            max_retry_after: self.max_retry_after,
            max_requests_per_second: self.max_requests_per_second,
            http2_only: true,
            user_agent: Some(format!("AF-{}", self.nf_instance_id)),
            client_identity,
            root_certificates: self.tls.ca_file.as_ref().map(|p| read(p, "ca_file")).transpose()?,
        })
    }

    pub fn n5(&self) -> N5Config {
        N5Config {
            af_app_id: self.af_app_id.clone(),
            profiles: self.profiles.clone(),
        }
    }
}
