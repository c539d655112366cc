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
    /// Access tokens from the NRF, one per service.
    pub access_tokens: bool,
    /// The NRF's token endpoint (default `{nrf_api_root}/oauth2/token`).
    pub token_url: Option<Url>,
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

impl PcfTls {
    /// The client certificate and key as one PEM, for mutual TLS; `section` names the keys in
    /// errors (`southbound.pcf.tls`).
    pub fn client_identity(&self, section: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => {
                let mut pem = read(c, section, "cert_file")?;
                pem.extend(read(k, section, "key_file")?);
                Ok(Some(pem))
            }
            (None, None) => Ok(None),
            _ => anyhow::bail!("{section}: cert_file and key_file go together"),
        }
    }

    /// The extra roots to trust (PEM), if any.
    pub fn roots(&self, section: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.ca_file.as_ref().map(|p| read(p, section, "ca_file")).transpose()
    }
}

fn read(p: &PathBuf, section: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("{section}.{what}: cannot read {}", p.display()))
}

/// The services the gateway calls as an AF, the NF type that offers each (the token's
/// `targetNfType`) and its scope.
#[derive(Debug, Clone, Copy)]
pub enum SbiService {
    PolicyAuthorization,
    Discovery,
    Binding,
}

impl SbiService {
    fn target_and_scope(self) -> (&'static str, &'static str) {
        match self {
            Self::PolicyAuthorization => ("PCF", "npcf-policyauthorization"),
            Self::Discovery => ("NRF", "nnrf-disc"),
            Self::Binding => ("BSF", "nbsf-management"),
        }
    }
}

impl PcfSettings {
    /// The NRF's token endpoint: `token_url`, else under the NRF's root (`nrf_root`, the
    /// configured one or the simulator's).
    pub fn token_endpoint(&self, nrf_root: Option<&str>) -> anyhow::Result<String> {
        match (&self.token_url, nrf_root) {
            (Some(u), _) => Ok(u.to_string()),
            (None, Some(root)) => Ok(format!("{}/oauth2/token", root.trim_end_matches('/'))),
            (None, None) => anyhow::bail!("southbound.pcf.access_tokens needs token_url or nrf_api_root"),
        }
    }

    /// The HTTP/2-only transport toward the producer of `service`, with an NRF token for it
    /// when `access_tokens` is on (`token_url` from [`Self::token_endpoint`]).
    pub fn transport(&self, service: SbiService, token_url: Option<&str>) -> anyhow::Result<TransportConfig> {
        let auth = match (self.access_tokens, token_url) {
            (true, Some(url)) => {
                let (target, scope) = service.target_and_scope();
                Auth::Nrf {
                    token_url: url.to_owned(),
                    nf_instance_id: self.nf_instance_id.clone(),
                    nf_type: "AF".into(),
                    target_nf_type: target.into(),
                    scope: scope.into(),
                }
            }
            (true, None) => anyhow::bail!("southbound.pcf.access_tokens needs token_url or nrf_api_root"),
            (false, _) => Auth::None,
        };
        let client_identity = self.tls.client_identity("southbound.pcf.tls")?;
        Ok(TransportConfig {
            auth,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_retries: self.max_retries,
            retry_base: self.retry_base,
            max_retry_after: self.max_retry_after,
            max_requests_per_second: self.max_requests_per_second,
            http2_only: true,
            user_agent: Some(format!("AF-{}", self.nf_instance_id)),
            client_identity,
            root_certificates: self.tls.roots("southbound.pcf.tls")?,
        })
    }

    pub fn n5(&self) -> N5Config {
        N5Config {
            af_app_id: self.af_app_id.clone(),
            profiles: self.profiles.clone(),
        }
    }
}
