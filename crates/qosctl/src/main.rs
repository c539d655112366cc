//! `qosctl`: the operator's command line for the gateway's admin API (the admin listener,
//! `server.admin_listen`). Bookings across clients (list, show, revoke, approve, decline), the
//! capacity of the pools and their calendar, the API clients' onboarding records, and usage
//! reports (a month per client in one command). Tables
//! for people, `--json` for scripts (the admin API's own JSON, unchanged). The operator token
//! comes from the environment or a file, never from an argument: arguments end up in shell
//! history and in `ps`.
#![forbid(unsafe_code)]

mod api;
mod render;

use anyhow::Context;
use api::Admin;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "qosctl",
    version,
    about = "Operate a QoS Booking gateway through its admin API"
)]
struct Cli {
    /// The admin listener's base URL.
    #[arg(long, env = "QOSCTL_URL", default_value = "http://127.0.0.1:9090", global = true)]
    url: url::Url,
    /// A file holding the operator token (else QOSCTL_TOKEN, else OPERATOR_TOKEN, as the
    /// gateway prints it in development).
    #[arg(long, env = "QOSCTL_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// Print the admin API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Give up on a call after this many seconds.
    #[arg(long, default_value_t = 30, global = true)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bookings of every client.
    #[command(subcommand)]
    Bookings(Bookings),
    /// The capacity of each pool and QoS profile.
    #[command(subcommand)]
    Capacity(Capacity),
    /// Booked against available over time, for one pool and profile.
    Calendar(CalendarArgs),
    /// API clients' onboarding records.
    #[command(subcommand)]
    Clients(Clients),
    /// Usage of bookings that ended in a period: by outcome, hours of QoS in place, devices.
    Usage(UsageArgs),
    /// Prints a shell completion script (e.g. `qosctl completions bash > /etc/bash_completion.d/qosctl`).
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum Bookings {
    /// Bookings matching every filter given.
    List(ListArgs),
    /// One booking, with its client and reservation.
    Show { id: String },
    /// Ends a booking at once (its client is told: TERMINATED).
    Revoke { id: String },
    /// Approves a booking waiting for the operator (REQUESTED).
    Approve { id: String },
    /// Declines a booking waiting for the operator (REQUESTED).
    Decline { id: String },
}

#[derive(Args)]
struct ListArgs {
    #[arg(long)]
    client: Option<String>,
    /// REQUESTED, SCHEDULED, ACTIVATED or TERMINATED.
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    profile: Option<String>,
    #[arg(long)]
    pool: Option<String>,
    /// Bookings ending after this RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Bookings starting before this RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
    /// At most this many (1-1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(Subcommand)]
enum Capacity {
    /// Configured and effective capacity of every pool and profile.
    Show,
    /// Sets the capacity of a pool for a profile (bookings beyond it are revoked, latest first).
    Set {
        pool: String,
        profile: String,
        /// The new capacity.
        #[arg(required_unless_present = "clear")]
        capacity: Option<u32>,
        /// Back to the configured capacity.
        #[arg(long, conflicts_with = "capacity")]
        clear: bool,
    },
}

#[derive(Args)]
struct CalendarArgs {
    #[arg(long)]
    pool: String,
    #[arg(long)]
    profile: String,
    /// RFC 3339; default now.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339; default a day after `from`.
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    step_minutes: Option<i64>,
}

#[derive(Args)]
struct UsageArgs {
    #[arg(long)]
    client: Option<String>,
    #[arg(long)]
    profile: Option<String>,
    /// A calendar month in UTC (`2026-11`): sets --from and --to to its bounds.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// Bookings that ended at or after this RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Bookings that ended before this RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
    /// client, profile or day.
    #[arg(long, default_value = "client")]
    group_by: String,
    /// Print CSV (for spreadsheets and billing systems) instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

/// The first instants of `month` (`YYYY-MM`) and of the month after, in RFC 3339 (UTC).
fn month_bounds(month: &str) -> anyhow::Result<(String, String)> {
    let (y, m) = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u8>().ok()?)))
        .filter(|(_, m)| (1..=12).contains(m))
        .with_context(|| format!("--month must be YYYY-MM, not {month:?}"))?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Ok((
        format!("{y:04}-{m:02}-01T00:00:00Z"),
        format!("{ny:04}-{nm:02}-01T00:00:00Z"),
    ))
}

#[derive(Subcommand)]
enum Clients {
    /// Every client in force (configured and stored).
    List,
    /// One client's record.
    Get { id: String },
    /// Stores a client's record (JSON, from a file or `-` for stdin); it wins over a configured one.
    Put {
        id: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Removes a stored record (a configured one comes back into force).
    Delete { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "qosctl", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let token = api::operator_token(cli.token_file.as_deref())?;
    let admin = Admin::new(cli.url, token, std::time::Duration::from_secs(cli.timeout))?;
    let json = cli.json;
    match cli.command {
        Command::Bookings(b) => match b {
            Bookings::List(a) => {
                let query = [
                    ("clientId", a.client),
                    ("status", a.status),
                    ("qosProfile", a.profile),
                    ("pool", a.pool),
                    ("from", a.from),
                    ("to", a.to),
                    ("limit", Some(a.limit.to_string())),
                ];
                let query: Vec<(&str, String)> = query.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
                let spinner = render::spinner("listing bookings");
                let found = admin.get(&["admin", "bookings"], &query).await;
                spinner.finish_and_clear();
                render::bookings(&found?, json);
            }
            Bookings::Show { id } => render::booking(&admin.get(&["admin", "bookings", &id], &[]).await?, json),
            Bookings::Revoke { id } => render::booking(&admin.post(&["admin", "bookings", &id, "revoke"]).await?, json),
            Bookings::Approve { id } => {
                render::booking(&admin.post(&["admin", "bookings", &id, "approve"]).await?, json);
            }
            Bookings::Decline { id } => {
                render::booking(&admin.post(&["admin", "bookings", &id, "decline"]).await?, json);
            }
        },
        Command::Capacity(Capacity::Show) => render::capacities(&admin.get(&["admin", "capacity"], &[]).await?, json),
        Command::Capacity(Capacity::Set {
            pool,
            profile,
            capacity,
            clear,
        }) => {
            let body = serde_json::json!({ "capacity": if clear { None } else { capacity } });
            let out = admin.put(&["admin", "capacity", &pool, &profile], &body).await?;
            render::capacity_set(&out, json);
        }
        Command::Calendar(a) => {
            let query = [
                ("pool", Some(a.pool)),
                ("qosProfile", Some(a.profile)),
                ("from", a.from),
                ("to", a.to),
                ("stepMinutes", a.step_minutes.map(|s| s.to_string())),
            ];
            let query: Vec<(&str, String)> = query.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
            render::calendar(&admin.get(&["admin", "calendar"], &query).await?, json);
        }
        Command::Clients(c) => match c {
            Clients::List => render::clients(&admin.get(&["admin", "clients"], &[]).await?, json),
            Clients::Get { id } => render::client(&admin.get(&["admin", "clients", &id], &[]).await?, json),
            Clients::Put { id, file } => {
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("cannot read the record from stdin")?
                } else {
                    std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
                };
                let body: serde_json::Value =
                    serde_json::from_str(&text).context("the client record must be a JSON object")?;
                render::client(&admin.put(&["admin", "clients", &id], &body).await?, json);
            }
            Clients::Delete { id } => {
                admin.delete(&["admin", "clients", &id]).await?;
                if !json {
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stdout(), "client {id}: stored record removed");
                }
            }
        },
        Command::Usage(a) => {
            let (from, to) = match &a.month {
                Some(m) => {
                    let (f, t) = month_bounds(m)?;
                    (Some(f), Some(t))
                }
                None => (a.from, a.to),
            };
            let query = [
                ("clientId", a.client),
                ("qosProfile", a.profile),
                ("from", from),
                ("to", to),
                ("groupBy", Some(a.group_by)),
            ];
            let mut query: Vec<(&str, String)> = query.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
            let spinner = render::spinner("summing usage");
            if a.csv {
                query.push(("format", "csv".into()));
                let csv = admin.get_text(&["admin", "usage"], &query).await;
                spinner.finish_and_clear();
                render::raw(&csv?);
            } else {
                let report = admin.get(&["admin", "usage"], &query).await;
                spinner.finish_and_clear();
                render::usage(&report?, json);
            }
        }
        Command::Completions { .. } => {}
    }
    Ok(())
}
