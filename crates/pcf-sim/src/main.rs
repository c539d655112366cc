//! `pcf-sim`: the PCF simulator (N5, HTTP/2 only) as a standalone server.
//!
//! ```text
//! pcf-sim [--listen 127.0.0.1:9191] [--notify-on-create] [--latency-ms N]
//!         [--no-see-other] [--unattached UE_ADDRESS]... [--no-session free5gc|open5gs]
//!         [--access-tokens] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
//! ```
//! `--access-tokens`: N5, NRF discovery and the BSF require the NRF's tokens
//! (`POST /oauth2/token`). `--tls-*`: h2 over TLS (ALPN h2), with mTLS given a client CA.
//! Control endpoints (HTTP/2 too): `GET /sim/requests`, `GET /sim/sessions`,
//! `POST /sim/terminate {"session": URI, "cause": "PDU_SESSION_TERMINATION"}`,
//! `POST /sim/notify {"session": URI, "event": "FAILED_RESOURCES_ALLOCATION"}`.
#![forbid(unsafe_code)]

use pcf_sim::{NoSession, PcfSim, SimConfig, SimTls};

const USAGE: &str = "usage: pcf-sim [--listen ADDR] [--notify-on-create] [--latency-ms N] [--no-see-other] [--unattached UE]... [--no-session free5gc|open5gs] [--access-tokens] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut listen = "127.0.0.1:9191".to_owned();
    let mut cfg = SimConfig::default();
    let (mut cert, mut key, mut client_ca) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => listen = val()?,
            "--notify-on-create" => cfg.notify_on_create = true,
            "--latency-ms" => cfg.faults.latency_ms = val()?.parse()?,
            "--no-see-other" => cfg.see_other_for_equivalent = false,
            "--unattached" => {
                cfg.unattached.insert(val()?);
            }
            "--no-session" => {
                cfg.no_session = match val()?.as_str() {
                    "free5gc" => NoSession::Free5gc,
                    "open5gs" => NoSession::Open5gs,
                    other => return Err(format!("--no-session: free5gc or open5gs, not {other}").into()),
                }
            }
            "--access-tokens" => cfg.access_tokens = true,
            "--tls-cert" => cert = Some(std::fs::read(val()?)?),
            "--tls-key" => key = Some(std::fs::read(val()?)?),
            "--tls-client-ca" => client_ca = Some(std::fs::read(val()?)?),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    cfg.tls = match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => Some(SimTls {
            cert_pem,
            key_pem,
            client_ca_pem: client_ca,
        }),
        (None, None) if client_ca.is_none() => None,
        _ => return Err(format!("--tls-cert and --tls-key go together\n{USAGE}").into()),
    };
    let sim = PcfSim::start(&listen, cfg).await?;
    println!("pcf-sim listening on {listen} (HTTP/2 only; apiRoot {})", sim.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
