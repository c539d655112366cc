//! Redis behind Sentinel: the primary of a named master is asked of the sentinels (the redis
//! crate's `SentinelClient`, which also checks the node's `ROLE`), and a multiplexed
//! `ConnectionManager` is kept to it. A command that fails the way a failover makes commands
//! fail (connection refused or dropped, a timeout, `READONLY` from a demoted primary) starts
//! one re-discovery in the background; the commands after it go to the promoted primary, so
//! the gateway follows a promotion without a restart. The failing command itself is answered
//! with its error (a 503 at the API): it is not retried, as a write may have landed. A
//! command given up by the caller's timeout counts as failing too, and the sentinels are also
//! asked every second: a demoted primary that answers reads without errors is left as soon.

use super::healing::{Heal, watched};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::{debug, info, warn};

/// How to reach a primary through Sentinel.
#[derive(Debug, Clone)]
pub struct SentinelSettings {
    /// The master name the sentinels monitor (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// `host:port` of each sentinel.
    pub addresses: Vec<String>,
    /// AUTH to the sentinels (`requirepass` of sentinel.conf), if any.
    pub sentinel_username: Option<String>,
    pub sentinel_password: Option<String>,
    /// AUTH to the Redis nodes, if any.
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: i64,
    /// TLS to the sentinels and the nodes.
    pub tls: bool,
}

impl SentinelSettings {
    fn client(&self) -> RedisResult<SentinelClient> {
        let addrs = self
            .addresses
            .iter()
            .map(|a| {
                let (host, port) = a.rsplit_once(':').ok_or_else(|| invalid(a))?;
                let port: u16 = port.parse().map_err(|_| invalid(a))?;
                let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
                Ok(if self.tls {
                    ConnectionAddr::TcpTls {
                        host,
                        port,
                        insecure: false,
                        tls_params: None,
                    }
                } else {
                    ConnectionAddr::Tcp(host, port)
                })
            })
            .collect::<RedisResult<Vec<_>>>()?;
        let mut b = SentinelClientBuilder::new(addrs, &self.master_name, SentinelServerType::Master)?
            .set_client_to_redis_db(self.db);
        if self.tls {
            b = b
                .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        }
        if let Some(u) = &self.username {
            b = b.set_client_to_redis_username(u);
        }
        if let Some(p) = &self.password {
            b = b.set_client_to_redis_password(p);
        }
        if let Some(u) = &self.sentinel_username {
            b = b.set_client_to_sentinel_username(u);
        }
        if let Some(p) = &self.sentinel_password {
            b = b.set_client_to_sentinel_password(p);
        }
        b.build()
    }
}

fn invalid(addr: &str) -> RedisError {
    RedisError::from((
        ErrorKind::InvalidClientConfig,
        "a sentinel address must be host:port",
        addr.to_owned(),
    ))
}

/// How often the sentinels are asked which node is primary, errors or not.
const CHECK_EVERY: Duration = Duration::from_secs(1);

struct Inner {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    /// The primary's address and the connection to it.
    current: RwLock<(ConnectionAddr, ConnectionManager)>,
    config: ConnectionManagerConfig,
    connect_timeout: Duration,
    rediscovering: AtomicBool,
}

/// A connection to whichever node the sentinels name primary.
#[derive(Clone)]
pub(crate) struct SentinelConn(Arc<Inner>);

impl SentinelConn {
    /// `checked`: also ask the sentinels every second (the store's main connection; the
    /// connections of waiting creates only write, and a demoted primary refuses writes).
    pub(crate) async fn connect(
        settings: &SentinelSettings,
        config: ConnectionManagerConfig,
        connect_timeout: Duration,
        checked: bool,
    ) -> RedisResult<Self> {
        let mut sentinel = settings.client()?;
        let found = primary(&mut sentinel, &config, connect_timeout).await?;
        let inner = Arc::new(Inner {
            sentinel: tokio::sync::Mutex::new(sentinel),
            current: RwLock::new(found),
            config,
            connect_timeout,
            rediscovering: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        if !checked {
            return Ok(Self(inner));
        }
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                if !inner.rediscovering.swap(true, Ordering::AcqRel) {
                    rediscover(&inner).await;
                }
            }
        });
        Ok(Self(inner))
    }

    /// A client of the node the sentinels name primary now (for pub/sub). Bounded in time
    /// like every other use of the sentinel client: it holds the client's lock, and a lookup
    /// that never ends would keep every healing of this connection waiting behind it.
    pub(crate) async fn primary_client(&self) -> RedisResult<redis::Client> {
        let mut sentinel = self.0.sentinel.lock().await;
        tokio::time::timeout(self.0.connect_timeout * 2, sentinel.async_get_client())
            .await
            .map_err(|_| RedisError::from((ErrorKind::Io, "timed out asking the sentinels for the primary")))?
    }

    fn manager(&self) -> ConnectionManager {
        self.0.current.read().unwrap_or_else(|p| p.into_inner()).1.clone()
    }
}

impl Heal for SentinelConn {
    /// Asks the sentinels again, once at a time.
    fn heal_soon(&self) {
        if self.0.rediscovering.swap(true, Ordering::AcqRel) {
            return;
        }
        debug!("a failover symptom: asking the sentinels again");
        let inner = self.0.clone();
        tokio::spawn(async move { rediscover(&inner).await });
    }
}

/// Asks the sentinels for the primary and moves to it if it is another node; clears the
/// `rediscovering` flag the caller set.
async fn rediscover(inner: &Inner) {
    let addr = {
        let mut sentinel = inner.sentinel.lock().await;
        tokio::time::timeout(inner.connect_timeout * 2, sentinel.async_get_client()).await
    };
    match addr {
        Ok(Ok(client)) => {
            let addr = client.get_connection_info().addr().clone();
            let same = inner.current.read().unwrap_or_else(|p| p.into_inner()).0 == addr;
            if same {
                debug!(primary = %addr, "the sentinels name the primary in use");
            } else {
                match tokio::time::timeout(
                    inner.connect_timeout * 2,
                    ConnectionManager::new_with_config(client, inner.config.clone()),
                )
                .await
                {
                    Ok(Ok(m)) => {
                        info!(primary = %addr, "connected to the primary the sentinels name");
                        *inner.current.write().unwrap_or_else(|p| p.into_inner()) = (addr, m);
                    }
                    Ok(Err(e)) => warn!(error = %e, "cannot connect to the primary the sentinels name"),
                    Err(_) => warn!("timed out connecting to the primary the sentinels name"),
                }
            }
        }
        // The sentinels may not have promoted anyone yet: the next failing command, or the
        // next check, asks again.
        Ok(Err(e)) => warn!(error = %e, "no primary from the sentinels yet"),
        Err(_) => warn!("timed out asking the sentinels for the primary"),
    }
    // A short pause: a burst of failing commands makes one query, not hundreds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    inner.rediscovering.store(false, Ordering::Release);
}

async fn primary(
    sentinel: &mut SentinelClient,
    config: &ConnectionManagerConfig,
    connect_timeout: Duration,
) -> RedisResult<(ConnectionAddr, ConnectionManager)> {
    let connect = async {
        let client = sentinel.async_get_client().await?;
        let addr = client.get_connection_info().addr().clone();
        Ok((addr, ConnectionManager::new_with_config(client, config.clone()).await?))
    };
    tokio::time::timeout(connect_timeout * 2, connect)
        .await
        .map_err(|_| RedisError::from((ErrorKind::Io, "timed out asking the sentinels for the primary")))?
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut m = self.manager();
            watched(self, m.req_packed_command(cmd)).await
        })
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        p: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut m = self.manager();
            watched(self, m.req_packed_commands(p, offset, count)).await
        })
    }
    fn get_db(&self) -> i64 {
        self.manager().get_db()
    }
}
