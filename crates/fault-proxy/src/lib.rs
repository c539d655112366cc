//! A fault-injecting TCP proxy for tests: it listens on a loopback port and forwards to an
//! upstream (TCP or a unix socket, as the tests' `redis-server` uses), and does to the
//! traffic what the test sets, at any moment, to new and open connections alike:
//! [`Fault::Pass`], [`Fault::Latency`] (each chunk held back), [`Fault::Reset`] (every
//! connection reset, new ones refused with a reset), [`Fault::Blackhole`] (connections
//! accepted, nothing forwarded either way until the fault changes: a partition, which TCP
//! then heals or a reset ends) and [`Fault::CutAnswer`] (the request reaches the
//! upstream, which acts on it, and the connection is reset after at most `n` bytes of its
//! answer, once). It counts the answers it cut, so tests can tell the fault was met.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::watch;

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Every chunk, either way, is held back this long.
    Latency(Duration),
    /// Open connections are reset; new ones are accepted and reset at once.
    Reset,
    /// Nothing reaches either side while it lasts; connections are accepted and stay open,
    /// and what was sent is delivered if the fault is lifted (as after a healed partition).
    Blackhole,
    /// The next answer is cut after at most this many bytes and both sides are reset; then
    /// the proxy passes again. With 0: the upstream acted, the client got nothing.
    CutAnswer(usize),
}

/// Where the proxy forwards to.
#[derive(Debug, Clone)]
pub enum Upstream {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

#[derive(Default)]
struct Counters {
    cut: AtomicU64,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: watch::Sender<Fault>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl FaultProxy {
    /// Listens on a free loopback port, passing traffic to `upstream`.
    pub async fn start(upstream: Upstream) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, watch) = watch::channel(Fault::Pass);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let tx = fault.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(serve(client, upstream.clone(), watch.clone(), tx.clone(), c.clone()));
            }
        });
        Ok(Self {
            addr,
            fault,
            counters,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `redis://127.0.0.1:<port>`
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// Answers cut so far ([`Fault::CutAnswer`]).
    pub fn cut(&self) -> u64 {
        self.counters.cut.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resets (RST, not FIN) a TCP connection by closing it with a zero linger.
fn reset(s: TcpStream) {
    #[allow(deprecated, reason = "zero linger is exactly what a reset needs")]
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

async fn serve(
    client: TcpStream,
    upstream: Upstream,
    mut fault: watch::Receiver<Fault>,
    tx: watch::Sender<Fault>,
    counters: Arc<Counters>,
) {
    // A blackholed connection is accepted and held until the partition heals (or turns
    // into a reset).
    if wait_out_blackhole(&mut fault).await == Fault::Reset {
        return reset(client);
    }
    let server: Box<dyn Stream> = match &upstream {
        Upstream::Tcp(a) => match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
            Err(_) => return reset(client),
        },
        Upstream::Unix(p) => match UnixStream::connect(p).await {
            Ok(s) => Box::new(s),
            Err(_) => return reset(client),
        },
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = tokio::io::split(server);
    // Either side ending (or a reset) ends the connection.
    let end = {
        let up = pump(&mut cr, &mut sw, fault.clone(), None);
        let down = pump(&mut sr, &mut cw, fault.clone(), Some((tx, counters)));
        tokio::select! {
            r = up => r,
            r = down => r,
        }
    };
    if matches!(end, End::Reset)
        && let Ok(client) = cr.reunite(cw)
    {
        reset(client);
    }
}

/// What ended a pump.
enum End {
    Closed,
    Reset,
}

/// Copies `from` to `to` chunk by chunk under the current fault. `answers`: this is the
/// upstream's direction (where [`Fault::CutAnswer`] applies).
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    from: &mut R,
    to: &mut W,
    mut fault: watch::Receiver<Fault>,
    answers: Option<(watch::Sender<Fault>, Arc<Counters>)>,
) -> End {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if wait_out_blackhole(&mut fault).await == Fault::Reset {
            return End::Reset;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return End::Closed,
                Ok(n) => n,
            },
            // A fault that arrives while idle: a reset acts at once.
            _ = fault.changed() => {
                if *fault.borrow() == Fault::Reset {
                    return End::Reset;
                }
                continue;
            }
        };
        let current = wait_out_blackhole(&mut fault).await;
        match current {
            // (`wait_out_blackhole` returns no blackhole.)
            Fault::Pass | Fault::Blackhole => {}
            Fault::Latency(d) => tokio::time::sleep(d).await,
            Fault::Reset => return End::Reset,
            Fault::CutAnswer(keep) => {
                if let Some((tx, counters)) = &answers {
                    let _ = to.write_all(&buf[..n.min(keep)]).await;
                    let _ = to.flush().await;
                    counters.cut.fetch_add(1, Ordering::Relaxed);
                    tx.send_replace(Fault::Pass);
                    return End::Reset;
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return End::Closed;
        }
    }
}

/// Waits while the fault is [`Fault::Blackhole`]; the fault after it.
async fn wait_out_blackhole(fault: &mut watch::Receiver<Fault>) -> Fault {
    loop {
        let now = *fault.borrow_and_update();
        if now != Fault::Blackhole {
            return now;
        }
        if fault.changed().await.is_err() {
            return Fault::Reset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: what it reads, it writes back.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        a
    }

    async fn roundtrip(addr: SocketAddr, msg: &[u8], within: Duration) -> Result<Vec<u8>, String> {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        s.write_all(msg).await.map_err(|e| e.to_string())?;
        let mut out = vec![0u8; msg.len()];
        match tokio::time::timeout(within, s.read_exact(&mut out)).await {
            Ok(Ok(_)) => Ok(out),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }

    #[tokio::test]
    async fn each_fault_does_what_it_says() {
        let p = FaultProxy::start(Upstream::Tcp(echo().await)).await.unwrap();
        let second = Duration::from_secs(1);
        assert_eq!(roundtrip(p.addr, b"ping", second).await.unwrap(), b"ping");
        p.set(Fault::Latency(Duration::from_millis(200)));
        let t = std::time::Instant::now();
        roundtrip(p.addr, b"slow", second).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(400), "held back both ways");
        p.set(Fault::Blackhole);
        assert_eq!(
            roundtrip(p.addr, b"void", Duration::from_millis(300)).await,
            Err("timeout".into())
        );
        p.set(Fault::Reset);
        assert!(roundtrip(p.addr, b"rst", second).await.is_err());
        p.set(Fault::CutAnswer(2));
        let cut = roundtrip(p.addr, b"cutme", second).await;
        assert!(cut.is_err(), "{cut:?}");
        assert_eq!(p.cut(), 1);
        assert_eq!(p.fault(), Fault::Pass, "a cut happens once");
        assert_eq!(roundtrip(p.addr, b"again", second).await.unwrap(), b"again");
    }

    #[tokio::test]
    async fn an_open_connection_is_blackholed_and_reset_as_it_goes() {
        let p = FaultProxy::start(Upstream::Tcp(echo().await)).await.unwrap();
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        let mut b = [0u8; 2];
        s.write_all(b"ok").await.unwrap();
        s.read_exact(&mut b).await.unwrap();
        p.set(Fault::Blackhole);
        s.write_all(b"no").await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut b)).await;
        assert!(r.is_err(), "no answer through a blackhole");
        p.set(Fault::Reset);
        let r = tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "closed: {r:?}");
    }
}
