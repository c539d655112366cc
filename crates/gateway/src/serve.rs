//! The HTTP server loop. axum's `serve` has no header read timeout, so a client that trickles
//! its headers could hold connections forever; this loop serves with hyper directly: HTTP/1.1
//! and HTTP/2 on the same port (h2c with prior knowledge, or ALPN `h2` over TLS: a PCF's
//! callbacks come as HTTP/2), a header read timeout (the TLS handshake included), bounded
//! HTTP/2 streams and keep-alive pings, a cap on open connections, optional TLS, the peer's
//! address for each request, and graceful shutdown.

use crate::forwarded::Peer;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::{debug, warn};

#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A client must send its complete request headers within this time.
    pub header_read_timeout: Duration,
    /// Most connections open at once; further clients wait in the accept queue.
    pub max_connections: usize,
    /// How long shutdown waits for requests in progress.
    pub drain_timeout: Duration,
}

/// Streams one HTTP/2 connection may have open at once (requests in flight).
const H2_MAX_STREAMS: u32 = 256;
/// An HTTP/2 connection is pinged after this long without frames, and closed when the ping
/// is not answered within [`H2_PING_TIMEOUT`]: a dead peer does not hold a connection slot.
const H2_PING_EVERY: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(listener: TcpListener, router: Router, limits: ServerLimits, shutdown: impl Future<Output = ()>) {
    serve_tls(listener, router, limits, None, shutdown).await;
}

/// [`serve`], with TLS when `tls` is given.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Option<Arc<crate::tls::Tls>>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let info = Peer {
            addr: peer,
            tls: tls.is_some(),
        };
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(info);
            router.clone().oneshot(req)
        }));
        let builder = {
            let mut b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            b.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            b.http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(H2_MAX_STREAMS)
                .keep_alive_interval(H2_PING_EVERY)
                .keep_alive_timeout(H2_PING_TIMEOUT);
            b
        };
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let done = match acceptor {
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    // The handshake counts against the header read timeout.
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(tls), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            debug!(%peer, error = %e, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            debug!(%peer, "TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = done {
                debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("shutdown: requests still in progress were cut off");
    }
}
