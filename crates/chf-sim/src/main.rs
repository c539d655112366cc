//! `chf-sim`: the CHF simulator standalone (`chf-sim --listen 127.0.0.1:8095`).
#![forbid(unsafe_code)]

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "chf-sim",
    version,
    about = "A CHF simulator for Nchf_ConvergedCharging (TS 32.291)"
)]
struct Cli {
    /// Where to listen (HTTP/1.1 and h2c).
    #[arg(long, default_value = "127.0.0.1:8095")]
    listen: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let cli = Cli::parse();
    let sim = chf_sim::ChfSim::start(&cli.listen).await?;
    println!("chf-sim listening: apiRoot {}", sim.url());
    tokio::signal::ctrl_c().await
}
