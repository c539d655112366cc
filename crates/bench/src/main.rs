//! The benchmark suite, one command:
//!
//! ```text
//! cargo build --release -p gateway -p nef-sim -p pcf-sim -p bench
//! target/release/bench all      # or: api, timers, delivery, cluster, memory, lifecycle, startup
//! target/release/bench soak --minutes 30   # not part of `all`; fails on errors or growth
//! ```
//!
//! It starts what each scenario needs (the baseline server, `redis-server`, `nef-sim`,
//! `pcf-sim`, gateway replicas: the release binaries), drives load on loopback only, bounded in time and
//! count, and prints a report. `all` also writes it into `docs/BENCHMARKS.md`, between the
//! markers of the generated section, with the machine, the date and the command; every API
//! figure is also a ratio to the baseline measured in the same run.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

mod api;
mod baseline;
mod cluster;
mod delivery;
mod lifecycle;
mod load;
mod memory;
mod procs;
mod sinks;
mod soak;
mod timers;

use std::fmt::Write as _;
use std::time::Duration;
use timers::{Lag, Scenario, Southbound};

const BEGIN: &str = "<!-- bench:begin (written by `target/release/bench all`; edits here are lost) -->";
const END: &str = "<!-- bench:end -->";

/// The benchmark suite: starts what each scenario needs (release binaries, redis-server),
/// drives load on loopback and prints a report; `all` also writes it into docs/BENCHMARKS.md.
#[derive(Parser)]
#[command(name = "bench", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    what: Option<What>,
}

#[derive(Subcommand)]
enum What {
    /// Every section below but the soak, written into docs/BENCHMARKS.md (the default).
    All,
    /// The API against the baseline server.
    Api {
        /// Only the baseline and the store or option this names: `memory`, `redis`, `wait`
        /// or `pdtq`.
        only: Option<String>,
    },
    /// The timer scenarios (NEF and PCF).
    Timers {
        /// Only the scenarios whose name contains this.
        only: Option<String>,
    },
    /// Event delivery per sink kind.
    Delivery {
        /// Only the rows whose name contains this.
        only: Option<String>,
    },
    /// The cluster shape: a six-node Redis Cluster, four replicas, `--live` bookings stored
    /// first; GET, create, a stream, bursts and kills.
    Cluster {
        /// Only the timer scenarios whose name contains this.
        only: Option<String>,
        /// Live bookings stored before the scenarios.
        #[arg(long, default_value_t = 1_000_000)]
        live: usize,
        /// The Redis nodes' `cluster-node-timeout`: how long a primary may be silent before
        /// its replica is promoted.
        #[arg(long, default_value_t = store::testing::NODE_TIMEOUT_MS)]
        node_timeout_ms: u64,
    },
    /// Memory per booking.
    Memory,
    /// Start-up time.
    Startup,
    /// The Redis commands and bytes of one booking's whole life (for docs/SCALING.md).
    Lifecycle,
    /// Mixed load at half its peak on two replicas and Redis; fails on any error, early timer,
    /// duplicate or memory growth.
    Soak {
        #[arg(long, default_value_t = 30)]
        minutes: u64,
    },
    /// The baseline server alone (what the API figures are ratios to).
    Baseline {
        #[arg(default_value_t = 18_099)]
        port: u16,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut shape = cluster::Shape {
        live: 1_000_000,
        node_timeout_ms: store::testing::NODE_TIMEOUT_MS,
    };
    let what = match cli.what {
        None | Some(What::All) => "all",
        Some(What::Api { .. }) => "api",
        // The filter is read where the section runs (the second argument).
        Some(What::Timers { .. }) => "timers",
        Some(What::Delivery { .. }) => "delivery",
        Some(What::Cluster {
            live, node_timeout_ms, ..
        }) => {
            shape = cluster::Shape { live, node_timeout_ms };
            "cluster"
        }
        Some(What::Memory) => "memory",
        Some(What::Startup) => "startup",
        Some(What::Lifecycle) => "lifecycle",
        Some(What::Baseline { port }) => return baseline::serve(port),
        Some(What::Soak { minutes }) => return soak_command(minutes),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(run(what, shape))?;
    println!("{report}");
    if what == "all" {
        write_doc(&report)?;
    }
    Ok(())
}

fn soak_command(minutes: u64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let soak = rt.block_on(soak::run(minutes))?;
    println!(
        "{}\n{}",
        machine(&format!("soak --minutes {minutes}")),
        soak.report(minutes)
    );
    soak.verdict().map_err(|e| anyhow::anyhow!("the soak failed: {e}"))
}

async fn run(what: &str, shape: cluster::Shape) -> anyhow::Result<String> {
    let all = what == "all";
    let mut out = String::new();
    writeln!(out, "{}", machine(what))?;
    if all || what == "api" {
        section(&mut out, api_report().await?);
    }
    if all || what == "timers" {
        section(&mut out, timers_report().await?);
    }
    if all || what == "delivery" {
        section(&mut out, delivery_report().await?);
    }
    if all || what == "cluster" {
        section(&mut out, cluster_report(shape).await?);
    }
    if all || what == "memory" {
        section(&mut out, memory_report().await?);
    }
    if all || what == "lifecycle" {
        section(&mut out, lifecycle_report().await?);
    }
    if all || what == "startup" {
        let (mem, red) = memory::startup(5).await?;
        section(
            &mut out,
            format!(
                "### Start-up to ready (median of 5, `/health/ready` answering)\n\n| store | time |\n|---|---|\n| memory | {} ms |\n| Redis (empty) | {} ms |\n",
                mem.as_millis(),
                red.as_millis()
            ),
        );
    }
    Ok(out)
}

async fn lifecycle_report() -> anyhow::Result<String> {
    let f = lifecycle::run(2_000).await?;
    let mut s = format!(
        "### Redis per booking lifecycle (one gateway, one Redis; {} bookings created with a keep-alive sink, activated, ended after 5 s, {:.1} events each delivered; an idle replica's {:.0} commands/s taken off; no GET, no purge)\n\n| per booking | value |\n|---|---|\n| commands (all) | {:.1} |\n| script calls (`EVALSHA`) | {:.1} |\n| bytes into Redis | {:.0} |\n| bytes out of Redis | {:.0} |\n",
        f.bookings, f.events_per_booking, f.idle_per_second, f.commands, f.scripts, f.bytes_in, f.bytes_out
    );
    s.push_str("\n| command | calls per booking |\n|---|---|\n");
    for (name, per) in &f.top {
        writeln!(s, "| {name} | {per:.2} |")?;
    }
    Ok(s)
}

fn section(out: &mut String, s: String) {
    out.push('\n');
    out.push_str(&s);
}

#[allow(clippy::disallowed_methods, reason = "the report's date")]
fn machine(command: &str) -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_kb: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "Generated {date} by `cargo build --release -p gateway -p nef-sim -p pcf-sim -p bench && target/release/bench {command}` on {cores} cores ({cpu}), {} GiB; {redis}. The load generator, the servers and Redis share these cores.",
        mem_kb / 1024 / 1024
    )
}

fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}x", x / base)
    } else {
        "-".into()
    }
}

async fn api_report() -> anyhow::Result<String> {
    // `bench api WORD` runs the baseline and only that part.
    let only = std::env::args().nth(2).unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only == part;
    let b = api::baseline().await?;
    let (bget, bpost) = (b.get.clone(), b.post.clone());
    let mut rows = vec![
        ("baseline GET (minimal axum, same JSON)".to_owned(), bget.clone()),
        ("baseline POST (minimal axum, body parsed)".to_owned(), bpost.clone()),
        (
            "baseline GET with a bearer header of the gateway token's length (ignored)".to_owned(),
            b.get_token.clone(),
        ),
    ];
    if runs("memory") {
        rows.extend(api::on_store(false).await?.rows);
    }
    if runs("redis") {
        rows.extend(api::on_store(true).await?.rows);
    }
    if runs("wait") {
        rows.extend(api::wait_cost().await?);
    }
    if runs("pdtq") {
        rows.extend(api::pdtq_cost().await?);
    }
    let mut s = String::from(
        "### API (16 keep-alive connections, 8 s each, every request with an ES256 bearer token verified)\n\n| scenario | requests | requests/s | vs baseline | p50 | p90 | p99 | max | errors |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, st) in &rows {
        let base = if name.starts_with("GET") || name.contains("baseline GET") {
            bget.per_second
        } else {
            bpost.per_second
        };
        writeln!(
            s,
            "| {name} | {} | {:.0} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            st.requests,
            st.per_second,
            ratio(st.per_second, base),
            st.p50_ms,
            st.p90_ms,
            st.p99_ms,
            st.max_ms,
            st.errors
        )?;
    }
    writeln!(
        s,
        "\nGET rows are compared with the baseline GET, all others with the baseline POST. Against the baseline GET that carries a header as long as the gateway's token, the first GET row of each store reads {}.",
        rows.iter()
            .filter(|(n, _)| n.starts_with("GET, ") && !n.contains("HTTP/2"))
            .map(|(n, st)| format!("{n}: {}", ratio(st.per_second, b.get_token.per_second)))
            .collect::<Vec<_>>()
            .join("; ")
    )?;
    Ok(s)
}

async fn delivery_report() -> anyhow::Result<String> {
    use sinks::SinkKind;
    let slow = SinkKind::Slow(Duration::from_secs(5));
    let scenarios = [
        (SinkKind::KeepAlive, None, false),
        (SinkKind::Close, None, false),
        (SinkKind::Http10, None, false),
        (SinkKind::KeepAlive, None, true),
        (SinkKind::Http10, None, true),
        (SinkKind::KeepAlive, Some(Some(slow)), false),
        (SinkKind::KeepAlive, Some(None), false),
        (SinkKind::KeepAlive, Some(Some(SinkKind::Blackhole)), false),
    ];
    // `bench delivery WORD` runs only the scenarios whose row contains WORD.
    let only = std::env::args().nth(2).unwrap_or_default();
    let mut s = String::from(
        "### Event delivery (one replica; 1,000 bookings with a sink each start together; lag = arrival - the event's `time`)\n\n| sink | beside it (as many bookings again) | store | ACTIVATED events | events/s | lag p50 | lag p99 | lag max | duplicates | budget |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (kind, beside, redis) in scenarios {
        let beside_name = match beside {
            None => "-".to_owned(),
            Some(None) => "a refusing sink".to_owned(),
            Some(Some(k)) => format!("a {} sink", k.name()),
        };
        let store = if redis { "Redis" } else { "memory" };
        let row = format!("{} | {beside_name} | {store}", kind.name());
        if !row.contains(only.as_str()) {
            continue;
        }
        let f = delivery::run(&delivery::Scenario {
            kind,
            bookings: 1_000,
            beside,
            redis,
        })
        .await?;
        writeln!(
            s,
            "| {row} | {} | {:.0} | {} ms | {} ms | {} ms | {} | >= 1,000/s, no duplicates |",
            f.events, f.per_second, f.p50_ms, f.p99_ms, f.max_ms, f.duplicates
        )?;
    }
    // At volume (Step 15): 10,000 events due at once to keep-alive sinks.
    let mut volume = String::from(
        "\n### Event delivery at volume (one replica; 10,000 bookings with a sink each start together)\n\n| sink | store | ACTIVATED events | events/s | lag p50 | lag p99 | lag max | duplicates | budget |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut any = false;
    for redis in [false, true] {
        let store = if redis { "Redis" } else { "memory" };
        let row = format!("keep-alive, 10,000 | {store}");
        if !row.contains(only.as_str()) {
            continue;
        }
        any = true;
        let f = delivery::run(&delivery::Scenario {
            kind: SinkKind::KeepAlive,
            bookings: 10_000,
            beside: None,
            redis,
        })
        .await?;
        writeln!(
            volume,
            "| {row} | {} | {:.0} | {} ms | {} ms | {} ms | {} | >= 5,000/s, lag p99 < 2,000 ms, no duplicates |",
            f.events, f.per_second, f.p50_ms, f.p99_ms, f.max_ms, f.duplicates
        )?;
    }
    if any {
        s.push_str(&volume);
    }
    Ok(s)
}

async fn timers_report() -> anyhow::Result<String> {
    let scenarios = [
        (
            "stream: 10,000 starts over 10 s, NEF 5 ms",
            Scenario {
                southbound: Southbound::Nef,
                bookings: 10_000,
                spread: Duration::from_secs(10),
                latency_ms: 5,
                kill_after: None,
                duration_s: 120,
                first_device: 20_000_000,
            },
            "p99 < 50 ms, max < 250 ms, none early",
        ),
        (
            "burst: 10,000 with one start, NEF 5 ms",
            Scenario {
                southbound: Southbound::Nef,
                bookings: 10_000,
                spread: Duration::ZERO,
                latency_ms: 5,
                kill_after: None,
                duration_s: 120,
                first_device: 20_000_000,
            },
            "all within 3 s",
        ),
        (
            "burst of 10,000, one replica killed 0.5 s after the start",
            Scenario {
                southbound: Southbound::Nef,
                bookings: 10_000,
                spread: Duration::ZERO,
                latency_ms: 5,
                kill_after: Some(Duration::from_millis(500)),
                duration_s: 40,
                first_device: 20_000_000,
            },
            "exactly once, none later than 5 s, none left",
        ),
        (
            "burst: 10,000 with one start, NEF 50 ms",
            Scenario {
                southbound: Southbound::Nef,
                bookings: 10_000,
                spread: Duration::ZERO,
                latency_ms: 50,
                kill_after: None,
                duration_s: 120,
                first_device: 20_000_000,
            },
            "all within 5 s",
        ),
        (
            "PCF (N5, h2c): stream: 10,000 starts over 10 s, PCF 5 ms",
            Scenario {
                southbound: Southbound::Pcf,
                bookings: 10_000,
                spread: Duration::from_secs(10),
                latency_ms: 5,
                kill_after: None,
                duration_s: 120,
                first_device: 20_000_000,
            },
            "p99 < 50 ms, max < 250 ms, none early",
        ),
        (
            "PCF (N5, h2c): burst: 10,000 with one start, PCF 5 ms",
            Scenario {
                southbound: Southbound::Pcf,
                bookings: 10_000,
                spread: Duration::ZERO,
                latency_ms: 5,
                kill_after: None,
                duration_s: 120,
                first_device: 20_000_000,
            },
            "all within 3 s",
        ),
        (
            "PCF (N5, h2c): burst of 10,000, one replica killed 0.5 s after the start",
            Scenario {
                southbound: Southbound::Pcf,
                bookings: 10_000,
                spread: Duration::ZERO,
                latency_ms: 5,
                kill_after: Some(Duration::from_millis(500)),
                duration_s: 40,
                first_device: 20_000_000,
            },
            "exactly once, none later than 5 s, none left",
        ),
    ];
    // `bench timers WORD` runs only the scenarios whose name contains WORD.
    let only = std::env::args().nth(2).unwrap_or_default();
    let mut s = String::from(
        "### Timers (two replicas on one Redis, standalone nef-sim or pcf-sim; lag = create received at the NEF/PCF - startTime)\n\n| scenario | activated | min | p50 | p99 | max | duplicates | left at the end | budget |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, sc, budget) in scenarios.into_iter().filter(|(n, _, _)| n.contains(only.as_str())) {
        let l: Lag = timers::run(&sc).await?;
        s.push_str(&lag_row(name, budget, &l));
    }
    Ok(s)
}

/// A timer scenario's row: activated, lag min/p50/p99/max, duplicates, left, its budget.
fn lag_row(name: &str, budget: &str, l: &Lag) -> String {
    format!(
        "| {name} | {}/{} | {} ms | {} ms | {} ms | {} ms | {} | {} | {budget} |\n",
        l.activated,
        l.bookings,
        l.min_ms,
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        l.duplicates,
        l.left_at_end.map_or("-".into(), |n| n.to_string())
    )
}

async fn cluster_report(shape: cluster::Shape) -> anyhow::Result<String> {
    // `bench cluster WORD` runs GET, create and only the timer scenarios containing WORD.
    let only = std::env::args()
        .nth(2)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_default();
    let f = cluster::run(shape, &only).await?;
    let mut s = format!(
        "### Cluster shape (Redis Cluster of 3 primaries + 3 replicas, AOF everysec, node timeout {} ms; 4 gateway replicas; standalone nef-sim at 5 ms; {} live bookings stored first at {:.0}/s, {:.0} bytes each on the primaries)\n\n\
         | API on one of the replicas, among the live bookings | requests/s | p50 | p90 | p99 | max | errors |\n|---|---|---|---|---|---|---|\n",
        shape.node_timeout_ms, f.live, f.load_per_second, f.redis_bytes_per_booking
    );
    for (name, st) in [("GET", &f.get), ("create", &f.create)] {
        writeln!(
            s,
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            st.per_second, st.p50_ms, st.p90_ms, st.p99_ms, st.max_ms, st.errors
        )?;
    }
    s.push_str(
        "\n| timers (bookings last 20 s; lag = NEF POST received - startTime) | activated | min | p50 | p99 | max | duplicates | left at the end | budget | Redis forks in the scenario |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, budget, l, forked) in &f.timers {
        let row = lag_row(name, budget, l);
        writeln!(s, "{} {forked} |", row.trim_end())?;
    }
    Ok(s)
}

async fn memory_report() -> anyhow::Result<String> {
    let m = memory::memory_store(100_000).await?;
    let r = memory::redis_million(1_000_000).await?;
    let per = |a: u64, b: u64, n: usize| (b.saturating_sub(a)) as f64 / n as f64;
    Ok(format!(
        "### Memory\n\n| measure | value | budget |\n|---|---|---|\n\
         | memory store: gateway RSS per booking ({} created through the API) | {:.0} bytes ({} -> {} MiB) | 1,536 bytes |\n\
         | Redis bytes per booking ({} stored) | {:.0} bytes | 1,024 bytes |\n\
         | gateway RSS with {} bookings in Redis | {} MiB | 64 MiB |\n\
         | GET among {} bookings in Redis | {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, errors {} | |\n",
        m.bookings,
        per(m.rss_before, m.rss_after, m.bookings),
        m.rss_before / 1_048_576,
        m.rss_after / 1_048_576,
        r.bookings,
        per(r.redis_before, r.redis_after, r.bookings),
        r.bookings,
        r.gateway_rss / 1_048_576,
        r.bookings,
        r.get.per_second,
        r.get.p50_ms,
        r.get.p99_ms,
        r.get.errors
    ))
}

/// Replaces the generated section of `docs/BENCHMARKS.md` (appends it the first time).
fn write_doc(report: &str) -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let block = format!("{BEGIN}\n{report}\n{END}");
    let doc = match (doc.find(BEGIN), doc.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &doc[..a], &doc[b + END.len()..]),
        _ => format!("{}\n\n## The benchmark suite\n\n{block}\n", doc.trim_end()),
    };
    std::fs::write(&path, doc)?;
    Ok(())
}
