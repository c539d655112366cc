//! `pcf-sim`: the PCF simulator (N5, HTTP/2 only) as a standalone server. `pcf-sim --help`
//! lists every option.
//!
//! Control endpoints (HTTP/2 too): `GET /sim/requests`, `GET /sim/sessions`,
//! `POST /sim/terminate {"session": URI, "cause": "PDU_SESSION_TERMINATION"}`,
//! `POST /sim/notify {"session": URI, "event": "FAILED_RESOURCES_ALLOCATION"}`.
#![forbid(unsafe_code)]

use clap::{Parser, ValueEnum};
use pcf_sim::{NoSession, PcfSim, SimConfig, SimTls};
use std::path::PathBuf;

/// A PCF simulator for N5 (TS 29.514 Npcf_PolicyAuthorization), HTTP/2 only, with the NRF
/// (discovery, access tokens) and the BSF.
///
/// Control endpoints (HTTP/2): GET /sim/requests, GET /sim/sessions, POST /sim/terminate,
/// POST /sim/notify.
#[derive(Parser)]
#[command(name = "pcf-sim", version, about, long_about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9191", value_name = "ADDR")]
    listen: String,
    /// Send SUCCESSFUL_RESOURCES_ALLOCATION after each create.
    #[arg(long)]
    notify_on_create: bool,
    /// Delay before every API answer.
    #[arg(long, default_value_t = 0, value_name = "N")]
    latency_ms: u64,
    /// Answer 201 to a create equivalent to an existing session, instead of 303.
    #[arg(long)]
    no_see_other: bool,
    /// A UE address with no PDU session (repeatable).
    #[arg(long, value_name = "UE_ADDRESS")]
    unattached: Vec<String>,
    /// How "no PDU session" is answered.
    #[arg(long, value_enum, default_value_t = Dialect::Free5gc)]
    no_session: Dialect,
    /// Require the NRF's access tokens (POST /oauth2/token) on N5, discovery and the BSF.
    #[arg(long)]
    access_tokens: bool,
    /// Serve h2 over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dialect {
    /// 500 with cause PDU_SESSION_NOT_AVAILABLE.
    Free5gc,
    /// 404 "Not found".
    Open5gs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(SimTls {
            cert_pem: std::fs::read(cert)?,
            key_pem: std::fs::read(key)?,
            client_ca_pem: cli.tls_client_ca.as_ref().map(std::fs::read).transpose()?,
        }),
        _ => None,
    };
    let mut cfg = SimConfig {
        notify_on_create: cli.notify_on_create,
        see_other_for_equivalent: !cli.no_see_other,
        unattached: cli.unattached.into_iter().collect(),
        no_session: match cli.no_session {
            Dialect::Free5gc => NoSession::Free5gc,
            Dialect::Open5gs => NoSession::Open5gs,
        },
        access_tokens: cli.access_tokens,
        tls,
        ..SimConfig::default()
    };
    cfg.faults.latency_ms = cli.latency_ms;
    let sim = PcfSim::start(&cli.listen, cfg).await?;
    println!(
        "pcf-sim listening on {} (HTTP/2 only; apiRoot {})",
        cli.listen,
        sim.url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
