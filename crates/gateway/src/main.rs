//! `gateway [--config FILE] [--check]`: runs the QoS Booking gateway until SIGINT or SIGTERM
//! (`--check`: only validates the settings).
#![forbid(unsafe_code)]

use anyhow::Context;
use gateway::{Application, Settings, telemetry};
use std::path::PathBuf;

// A request allocates many small values; mimalloc serves them faster than the system
// allocator (measured in docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut config: Option<PathBuf> = None;
    let mut check = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => config = Some(args.next().context("--config needs a file")?.into()),
            "--check" => check = true,
            "--help" | "-h" => {
                println!(
                    "usage: gateway [--config FILE] [--check]\nSettings: config/default.yaml, then FILE, then QOSGW__* environment variables.\n--check: load and validate the settings, then exit (0: valid)."
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument '{other}' (try --help)"),
        }
    }
    // One TLS provider for the whole process (the API listener, rediss://, outgoing HTTPS):
    // rustls would otherwise have to guess it from its build features.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let settings = Settings::load(config.as_deref())?;
    if check {
        println!("configuration is valid");
        return Ok(());
    }
    let otel = telemetry::init(&settings.log.format, &settings.log.filter, &settings.telemetry)?;
    let app = Application::build(settings).await?;
    if let Some(token) = app.dev_token() {
        tracing::warn!("auth.mode is dev: tokens are signed by a key generated at start. DEVELOPMENT ONLY.");
        println!("\nDevelopment bearer token (all scopes, client dev-client):\n\nexport TOKEN={token}\n");
    }
    if let Some(token) = app.dev_operator_token() {
        println!(
            "Development operator token (the admin API on server.admin_listen):\n\nexport OPERATOR_TOKEN={token}\n"
        );
    }
    let ran = app.run_until_stopped(shutdown_signal()).await;
    // Spans and metrics still buffered leave before the process does.
    otel.shutdown().await;
    ran
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}
