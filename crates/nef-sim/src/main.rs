//! `nef-sim`: the NEF simulator (AsSessionWithQoS, Rel-17 or Rel-18) as a standalone server.
//! `nef-sim --help` lists every option.
//!
//! Control endpoints: `GET /sim/requests` (`DELETE` takes the answered ones off the log and
//! returns them), `GET /sim/subscriptions`, `POST /sim/faults`,
//! `POST /sim/notify {"subscription": URI, "event": "SESSION_TERMINATION"}`,
//! `POST /sim/tokens/expire`; PDTQ: `GET /sim/pdtq`, `POST /sim/pdtq/capacity` (warns what no
//! longer fits), `POST /sim/pdtq/notify`.
#![forbid(unsafe_code)]

use clap::Parser;
use nef_sim::{Faults, NefSim, OAuthConfig, SimConfig};

/// A NEF simulator for AsSessionWithQoS (TS 29.122) and PDTQ (TS 29.522), over real HTTP.
///
/// Control endpoints: GET/DELETE /sim/requests, GET /sim/subscriptions, POST /sim/faults,
/// POST /sim/notify, POST /sim/tokens/expire.
#[derive(Parser)]
#[command(name = "nef-sim", version, about, long_about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    listen: String,
    /// 3GPP release of the API (17 or 18).
    #[arg(long, default_value_t = 17, value_parser = clap::value_parser!(u8).range(17..=18))]
    release: u8,
    /// Send a notification after each create.
    #[arg(long)]
    notify_on_create: bool,
    /// Require OAuth2 client credentials with this client id and secret.
    #[arg(long, value_name = "CLIENT_ID:CLIENT_SECRET")]
    oauth: Option<String>,
    /// Lifetime of the tokens issued (with --oauth).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    token_ttl: u64,
    /// Delay before every API answer.
    #[arg(long, default_value_t = 0, value_name = "N")]
    latency_ms: u64,
    /// Share of API calls answered with --error-status (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    error_rate: f64,
    /// The status of the injected errors.
    #[arg(long, default_value_t = 503, value_name = "STATUS")]
    error_status: u16,
    /// PDTQ: UEs the network carries per QoS reference, area and time slot.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pdtq_ues: u32,
    /// PDTQ: the length of a time slot.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pdtq_slot_seconds: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let oauth = match &cli.oauth {
        Some(v) => {
            let (id, secret) = v.split_once(':').ok_or("--oauth takes CLIENT_ID:CLIENT_SECRET")?;
            Some(OAuthConfig {
                client_id: id.into(),
                client_secret: secret.into(),
                token_ttl_seconds: cli.token_ttl,
            })
        }
        None => None,
    };
    let cfg = SimConfig {
        release: cli.release,
        notify_on_create: cli.notify_on_create,
        oauth,
        faults: Faults {
            latency_ms: cli.latency_ms,
            error_rate: cli.error_rate,
            error_status: cli.error_status,
            ..Faults::default()
        },
        pdtq: nef_sim::pdtq::model::PdtqCapacity {
            ues: cli.pdtq_ues,
            slot_seconds: cli.pdtq_slot_seconds,
            ..Default::default()
        },
    };
    let sim = NefSim::start(&cli.listen, cfg).await?;
    println!("nef-sim listening on {} (apiRoot {})", cli.listen, sim.url());
    tracing::info!("nef-sim apiRoot {}", sim.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
