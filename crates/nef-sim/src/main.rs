//! `nef-sim`: the NEF simulator as a standalone server.
//!
//! ```text
//! nef-sim [--listen 127.0.0.1:9090] [--release 17|18] [--notify-on-create]
//!         [--oauth CLIENT_ID:CLIENT_SECRET] [--token-ttl SECONDS]
//!         [--latency-ms N] [--error-rate 0.1] [--error-status 503]
//! ```
//! Control endpoints: `GET /sim/requests` (`DELETE` takes the answered ones off the log and
//! returns them), `GET /sim/subscriptions`, `POST /sim/faults`,
//! `POST /sim/notify {"subscription": URI, "event": "SESSION_TERMINATION"}`,
//! `POST /sim/tokens/expire`.
#![forbid(unsafe_code)]

use nef_sim::{Faults, NefSim, OAuthConfig, SimConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut listen = "127.0.0.1:9090".to_owned();
    let mut cfg = SimConfig {
        release: 17,
        faults: Faults {
            error_status: 503,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let mut ttl = 300;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => listen = val()?,
            "--release" => cfg.release = val()?.parse()?,
            "--notify-on-create" => cfg.notify_on_create = true,
            "--oauth" => {
                let v = val()?;
                let (id, secret) = v.split_once(':').ok_or("--oauth takes CLIENT_ID:CLIENT_SECRET")?;
                cfg.oauth = Some(OAuthConfig {
                    client_id: id.into(),
                    client_secret: secret.into(),
                    token_ttl_seconds: ttl,
                });
            }
            "--token-ttl" => ttl = val()?.parse()?,
            "--latency-ms" => cfg.faults.latency_ms = val()?.parse()?,
            "--error-rate" => cfg.faults.error_rate = val()?.parse()?,
            "--error-status" => cfg.faults.error_status = val()?.parse()?,
            "--help" | "-h" => {
                println!("see the crate documentation of nef-sim (src/main.rs) for the options");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if let Some(o) = cfg.oauth.as_mut() {
        o.token_ttl_seconds = ttl;
    }
    let sim = NefSim::start(&listen, cfg).await?;
    println!("nef-sim listening on {} (apiRoot {})", listen, sim.url());
    tracing::info!("nef-sim apiRoot {}", sim.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
