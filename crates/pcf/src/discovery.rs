//! Finding the PCF: NRF discovery (TS 29.510 Nnrf_NFDiscovery) of PCFs that offer
//! `npcf-policyauthorization` to an AF, and the BSF's binding of a UE address to its PCF
//! (TS 29.521 Nbsf_Management). The answers are read leniently: producers omit fields.

use reqwest::{Method, StatusCode};
use sbi::{SbiError, Snssai, Transport, null_as_empty};
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// `IpEndPoint` (TS 29.510).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpEndPoint {
    #[serde(default)]
    pub ipv4_address: Option<String>,
    #[serde(default)]
    pub ipv6_address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

/// `NFService`: what a discovered profile says of one of its services.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NfService {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub fqdn: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ip_end_points: Vec<IpEndPoint>,
    #[serde(default)]
    pub api_prefix: Option<String>,
    #[serde(default)]
    pub nf_service_status: Option<String>,
}

/// `NFProfile`, the parts that locate a service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NfProfile {
    #[serde(default)]
    pub nf_instance_id: String,
    #[serde(default)]
    pub nf_status: Option<String>,
    #[serde(default)]
    pub fqdn: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ipv4_addresses: Vec<String>,
    #[serde(default)]
    pub priority: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub nf_services: Vec<NfService>,
}

/// `SearchResult`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// Seconds the result may be cached.
    #[serde(default)]
    pub validity_period: Option<u64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub nf_instances: Vec<NfProfile>,
}

/// `PcfBinding` (TS 29.521), the parts that locate the PCF.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PcfBinding {
    #[serde(default)]
    pub pcf_fqdn: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub pcf_ip_end_points: Vec<IpEndPoint>,
    #[serde(default)]
    pub pcf_id: Option<String>,
}

pub const POLICY_AUTHORIZATION: &str = "npcf-policyauthorization";

fn host_port(host: &str, port: Option<u16>) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

fn endpoint(e: &IpEndPoint) -> Option<String> {
    let host = e.ipv4_address.as_deref().or(e.ipv6_address.as_deref())?;
    Some(host_port(host, e.port))
}

/// The `{apiRoot}` of `service` in `profile`: its scheme, then its FQDN, its first IP end
/// point, or the profile's FQDN or first address, then its `apiPrefix`.
pub fn api_root(profile: &NfProfile, service: &NfService) -> Option<String> {
    let scheme = service.scheme.as_deref().unwrap_or("https");
    let authority = service
        .fqdn
        .clone()
        .or_else(|| service.ip_end_points.iter().find_map(endpoint))
        .or_else(|| profile.fqdn.clone())
        .or_else(|| profile.ipv4_addresses.first().cloned())?;
    let prefix = service.api_prefix.as_deref().unwrap_or("").trim_end_matches('/');
    Some(format!("{scheme}://{authority}{prefix}"))
}

/// The PCFs' `{apiRoot}`s of a search result, best first (registered ones, by priority).
pub fn pcf_roots(result: &SearchResult) -> Vec<String> {
    let mut found: Vec<(u32, String)> = result
        .nf_instances
        .iter()
        .filter(|p| p.nf_status.as_deref().is_none_or(|s| s == "REGISTERED"))
        .flat_map(|p| {
            p.nf_services
                .iter()
                .filter(|s| s.service_name == POLICY_AUTHORIZATION)
                .filter(|s| s.nf_service_status.as_deref().is_none_or(|st| st == "REGISTERED"))
                .filter_map(move |s| api_root(p, s).map(|r| (p.priority.unwrap_or(u32::MAX), r)))
        })
        .collect();
    found.sort_by_key(|(prio, _)| *prio);
    found.into_iter().map(|(_, r)| r).collect()
}

/// Asks an NRF for the PCFs that serve `dnn`/`snssai`; their roots (best first) and how long
/// the answer may be kept.
pub async fn discover_pcfs(
    nrf: &Transport,
    nrf_root: &str,
    requester: Option<&str>,
    dnn: Option<&str>,
    snssai: Option<&Snssai>,
) -> Result<(Vec<String>, Option<Duration>), SbiError> {
    let mut url = url::Url::parse(&format!("{}/nnrf-disc/v1/nf-instances", nrf_root.trim_end_matches('/')))
        .map_err(|e| SbiError::unavailable("bad NRF api root", e))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("target-nf-type", "PCF")
            .append_pair("requester-nf-type", "AF")
            .append_pair("service-names", POLICY_AUTHORIZATION);
        if let Some(id) = requester {
            q.append_pair("requester-nf-instance-id", id);
        }
        if let Some(d) = dnn {
            q.append_pair("dnn", d);
        }
        if let Some(s) = snssai {
            let json = serde_json::to_string(&[s]).map_err(|e| SbiError::unavailable("cannot encode snssais", e))?;
            q.append_pair("snssais", &json);
        }
    }
    let (res, _) = nrf.send(Method::GET, url.to_string(), None, true).await?;
    let result: SearchResult = res
        .json()
        .await
        .map_err(|e| SbiError::unavailable("bad NRF discovery answer", e))?;
    Ok((pcf_roots(&result), result.validity_period.map(Duration::from_secs)))
}

/// Asks a BSF which PCF holds the PDU session of `ue`; `None` when there is no binding (204,
/// or Open5GS's 404). A binding names the PCF by FQDN or IP end point, without a scheme:
/// `scheme` is the deployment's.
pub async fn pcf_binding(
    bsf: &Transport,
    bsf_root: &str,
    ue: IpAddr,
    dnn: Option<&str>,
    scheme: &str,
) -> Result<Option<String>, SbiError> {
    let mut url = url::Url::parse(&format!(
        "{}/nbsf-management/v1/pcfBindings",
        bsf_root.trim_end_matches('/')
    ))
    .map_err(|e| SbiError::unavailable("bad BSF api root", e))?;
    {
        let mut q = url.query_pairs_mut();
        match ue {
            IpAddr::V4(a) => q.append_pair("ipv4Addr", &a.to_string()),
            // Open5GS matches IPv6 only as the exact /128.
            IpAddr::V6(a) => q.append_pair("ipv6Prefix", &format!("{a}/128")),
        };
        if let Some(d) = dnn {
            q.append_pair("dnn", d);
        }
    }
    let res = match bsf.send(Method::GET, url.to_string(), None, true).await {
        Ok((res, _)) => res,
        Err(SbiError::Rejected { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    if res.status() == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    let b: PcfBinding = res
        .json()
        .await
        .map_err(|e| SbiError::unavailable("bad BSF binding", e))?;
    let authority = b.pcf_fqdn.or_else(|| b.pcf_ip_end_points.iter().find_map(endpoint));
    Ok(authority.map(|a| format!("{scheme}://{a}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_root_from_each_way_a_profile_names_its_service() {
        let r: SearchResult = serde_json::from_value(serde_json::json!({
            "validityPeriod": 60,
            "nfInstances": [
                {"nfInstanceId": "b", "nfStatus": "REGISTERED", "priority": 2, "fqdn": "pcf-b.5gc",
                 "nfServices": [{"serviceName": "npcf-policyauthorization", "scheme": "https"}]},
                {"nfInstanceId": "a", "nfStatus": "REGISTERED", "priority": 1,
                 "nfServices": [{"serviceName": "npcf-policyauthorization", "scheme": "http",
                    "ipEndPoints": [{"ipv4Address": "10.0.0.7", "port": 7777}], "apiPrefix": "/root/"},
                    {"serviceName": "npcf-smpolicycontrol", "scheme": "http", "fqdn": "wrong"}]},
                {"nfInstanceId": "c", "nfStatus": "SUSPENDED", "fqdn": "down",
                 "nfServices": [{"serviceName": "npcf-policyauthorization"}]},
                {"nfInstanceId": "d", "ipv4Addresses": ["10.0.0.9"],
                 "nfServices": [{"serviceName": "npcf-policyauthorization", "ipEndPoints": [{"ipv6Address": "2001:db8::9", "port": 80}]}]}
            ]
        }))
        .unwrap();
        assert_eq!(
            pcf_roots(&r),
            [
                "http://10.0.0.7:7777/root",
                "https://pcf-b.5gc",
                "https://[2001:db8::9]:80"
            ]
        );
    }
}
