//! `gateway`: runs the QoS Booking gateway until SIGINT or SIGTERM (`serve`, the default), or
//! checks a configuration and prints it as it takes effect (`check-config`). `--help` lists
//! everything; `--version` names the version, the git revision and the build date.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use gateway::{Application, Settings, telemetry};
use std::path::PathBuf;

// A request allocates many small values; mimalloc serves them faster than the system
// allocator (measured in docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("QOSGW_GIT_REV"),
    ", built ",
    env!("QOSGW_BUILD_DATE"),
    ")"
);

/// The CAMARA QoS Booking gateway.
///
/// Settings: the built-in defaults (config/default.yaml), then FILE, then QOSGW__SECTION__KEY
/// environment variables.
#[derive(Parser)]
#[command(name = "gateway", version = VERSION, about, long_about)]
struct Cli {
    /// A YAML configuration file laid over the built-in defaults.
    #[arg(short, long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The same as `check-config`, without printing (kept for scripts).
    #[arg(long, hide = true)]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGINT or SIGTERM (the default).
    Serve,
    /// Load and check the configuration as at start, and print it as it takes effect (JSON,
    /// secrets redacted). Exits non-zero, naming the key, when it would not start.
    CheckConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config;
    // One TLS provider for the whole process (the API listener, rediss://, outgoing HTTPS):
    // rustls would otherwise have to guess it from its build features.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match cli.command {
        Some(Command::CheckConfig) => {
            let effective = Settings::effective(config.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&effective)?);
            eprintln!("configuration is valid");
            return Ok(());
        }
        None if cli.check => {
            Settings::load(config.as_deref())?;
            println!("configuration is valid");
            return Ok(());
        }
        Some(Command::Serve) | None => {}
    }
    let settings = Settings::load(config.as_deref())?;
    let otel = telemetry::init(&settings.log.format, &settings.log.filter, &settings.telemetry)?;
    let app = Application::build(settings).await?;
    if let Some(token) = app.dev_token() {
        tracing::warn!("auth.mode is dev: tokens are signed by a key generated at start. DEVELOPMENT ONLY.");
        println!("\nDevelopment bearer token (all scopes, client dev-client):\n\nexport TOKEN={token}\n");
    }
    if let Some(token) = app.dev_operator_token() {
        println!(
            "Development operator token (the admin API, for qosctl and the console):\n\nexport OPERATOR_TOKEN={token}\n"
        );
    }
    if let Some(admin) = app.admin_url() {
        println!(
            "Operator side (server.admin_listen):\n\n  console   {admin}/admin/console\n  metrics   {admin}/metrics\n  \
             health    {admin}/livez  {admin}/readyz\n  qosctl    export QOSCTL_URL={admin}; qosctl bookings list\n"
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
