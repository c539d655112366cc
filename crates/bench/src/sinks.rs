//! CloudEvents sinks of each kind webhook receivers come in, on raw TCP so that what each does
//! with its connection is exactly what it says: keep-alive, `Connection: close`, HTTP/1.0
//! (body delimited by the close), slow, blackholed (reads, never answers). Each records the
//! events it took: the CloudEvent `id`, its `time` and when it arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    KeepAlive,
    /// HTTP/1.1, answers `Connection: close` and closes.
    Close,
    /// Answers `HTTP/1.0 200` without a length and closes (many small receivers do).
    Http10,
    /// Keep-alive, but each answer takes this long.
    Slow(Duration),
    /// Reads requests and never answers.
    Blackhole,
}

impl SinkKind {
    pub fn name(self) -> String {
        match self {
            Self::KeepAlive => "keep-alive".into(),
            Self::Close => "`Connection: close`".into(),
            Self::Http10 => "HTTP/1.0".into(),
            Self::Slow(d) => format!("slow ({} s per answer)", d.as_secs()),
            Self::Blackhole => "blackholed (never answers)".into(),
        }
    }
}

/// One event as the sink took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    /// The CloudEvent's `time` (ms since the epoch).
    pub event_ms: i64,
    pub received_ms: i64,
}

pub struct Sink {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

#[allow(clippy::disallowed_methods, reason = "arrival times are real time")]
fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

impl Sink {
    /// Serves on a thread and runtime of its own: the bench's own work (reading the
    /// simulator's log, sorting latencies) must not stall the sink, or the gateways' deliveries
    /// time out and are sent again, and the bench measures itself. The thread lives as long
    /// as the bench process.
    pub async fn start(kind: SinkKind) -> anyhow::Result<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let url = format!("http://{}/events", std_listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("sink".into()).spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, kind, rec.clone()));
                }
            });
        })?;
        Ok(Self { url, received })
    }

    /// A sink URL nothing listens on (connections refused).
    pub fn refusing() -> anyhow::Result<String> {
        Ok(format!("http://127.0.0.1:{}/events", crate::procs::free_port()?))
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The events taken since the last take (a long run reads them a batch at a time).
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Deliveries beyond one per event id.
    pub fn duplicates(&self) -> usize {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in self.received() {
            *seen.entry(r.id).or_default() += 1;
        }
        seen.values().map(|n| n - 1).sum()
    }
}

async fn serve(stream: TcpStream, kind: SinkKind, received: Arc<Mutex<Vec<Received>>>) {
    let _ = stream.set_nodelay(true);
    let mut conn = BufReader::new(stream);
    loop {
        let Some(body) = read_request(&mut conn).await else {
            return;
        };
        let at = now_ms();
        if kind == SinkKind::Blackhole {
            // Holds the connection open and never answers.
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            return;
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            let event_ms = v["time"]
                .as_str()
                .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
                .map_or(0, |t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0));
            received.lock().unwrap_or_else(|p| p.into_inner()).push(Received {
                id: v["id"].as_str().unwrap_or_default().to_owned(),
                event_ms,
                received_ms: at,
            });
        }
        let answer: &[u8] = match kind {
            SinkKind::KeepAlive | SinkKind::Blackhole => b"HTTP/1.1 204 No Content\r\n\r\n",
            SinkKind::Slow(d) => {
                tokio::time::sleep(d).await;
                b"HTTP/1.1 204 No Content\r\n\r\n"
            }
            SinkKind::Close => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            SinkKind::Http10 => b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok",
        };
        if conn.get_mut().write_all(answer).await.is_err() {
            return;
        }
        if matches!(kind, SinkKind::Close | SinkKind::Http10) {
            let _ = conn.get_mut().shutdown().await;
            return;
        }
    }
}

/// Reads one request; its body. `None` at the end of the connection or on garbage.
async fn read_request(conn: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    conn.read_exact(&mut body).await.ok()?;
    Some(body)
}
