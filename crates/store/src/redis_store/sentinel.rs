//! Redis behind Sentinel: the primary of a named master is asked of the sentinels (the redis
//! crate's `SentinelClient`, which also checks the node's `ROLE`), and a multiplexed
//! `ConnectionManager` is kept to it. A command that fails the way a failover makes commands
//! fail (connection refused or dropped, a timeout, `READONLY` from a demoted primary) starts
//! one re-discovery in the background; the commands after it go to the promoted primary, so
//! the gateway follows a promotion without a restart. The failing command itself is answered
//! with its error (a 503 at the API): it is not retried, as a write may have landed. A
//! command given up by the caller's timeout counts as failing too, and the sentinels are also
//! asked every second: a demoted primary that answers reads without errors is left as soon.
//! All connections of one store share that discovery (the main one and those of waiting
//! creates): what one learns, all follow at their next call.

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

/// What every connection of one store shares: the sentinel client, the primary it named last
/// (with a count of the moves), and the one re-discovery at a time. The store's main
/// connection and the connections of waiting creates follow the same primary, so the check of
/// every second and a failover symptom on any of them move them all.
struct Discovery {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    /// Moves so far, the primary's address, a client of it.
    named: RwLock<(u64, ConnectionAddr, redis::Client)>,
    config: ConnectionManagerConfig,
    connect_timeout: Duration,
    rediscovering: AtomicBool,
}

struct Inner {
    discovery: Arc<Discovery>,
    /// The move this connection follows, and the connection to that move's node.
    current: RwLock<(u64, ConnectionManager)>,
    /// One switch to a newly named primary at a time; calls meanwhile use the old connection
    /// (they fail fast on a demoted or dead node, with the 503 they would get anyway).
    switching: AtomicBool,
    /// Never switches (a create and its `WAIT`: [`SentinelConn::pinned`]).
    pinned: bool,
}

/// A connection to whichever node the sentinels name primary.
#[derive(Clone)]
pub(crate) struct SentinelConn(Arc<Inner>);

impl SentinelConn {
    /// Asks the sentinels for the primary and connects to it; the sentinels are then asked
    /// every second as long as a connection of this discovery lives.
    pub(crate) async fn connect(
        settings: &SentinelSettings,
        config: ConnectionManagerConfig,
        connect_timeout: Duration,
    ) -> RedisResult<Self> {
        let mut sentinel = settings.client()?;
        let client = named_client(&mut sentinel, connect_timeout).await?;
        let addr = client.get_connection_info().addr().clone();
        let manager = manager_of(client.clone(), &config, connect_timeout).await?;
        let discovery = Arc::new(Discovery {
            sentinel: tokio::sync::Mutex::new(sentinel),
            named: RwLock::new((0, addr, client)),
            config,
            connect_timeout,
            rediscovering: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&discovery);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let Some(d) = weak.upgrade() else { return };
                if !d.rediscovering.swap(true, Ordering::AcqRel) {
                    rediscover(&d).await;
                }
            }
        });
        Ok(Self(Arc::new(Inner {
            discovery,
            current: RwLock::new((0, manager)),
            switching: AtomicBool::new(false),
            pinned: false,
        })))
    }

    /// Another connection to the same primary, following the same discovery (`WAIT` blocks
    /// the connection it is sent on, so waiting creates get connections of their own).
    pub(crate) async fn follower(&self) -> RedisResult<Self> {
        let d = self.0.discovery.clone();
        let (moves, _, client) = d.named.read().unwrap_or_else(|p| p.into_inner()).clone();
        let manager = manager_of(client, &d.config, d.connect_timeout).await?;
        Ok(Self(Arc::new(Inner {
            discovery: d,
            current: RwLock::new((moves, manager)),
            switching: AtomicBool::new(false),
            pinned: false,
        })))
    }

    /// A client of the node the sentinels name primary now (for pub/sub). Bounded in time
    /// like every other use of the sentinel client: it holds the client's lock, and a lookup
    /// that never ends would keep every healing waiting behind it.
    pub(crate) async fn primary_client(&self) -> RedisResult<redis::Client> {
        let d = &self.0.discovery;
        let mut sentinel = d.sentinel.lock().await;
        named_client(&mut sentinel, d.connect_timeout).await
    }

    /// The connection to use for the next call. When the sentinels have named another primary
    /// since, one switch is started in the background (not in the caller's future, which its
    /// timeout may drop before a slow connect ends) and the calls until it is made go to the
    /// old node, where they fail fast as they would anyway.
    fn manager(&self) -> ConnectionManager {
        let (followed, manager) = {
            let c = self.0.current.read().unwrap_or_else(|p| p.into_inner());
            (c.0, c.1.clone())
        };
        let moves = self.0.discovery.named.read().unwrap_or_else(|p| p.into_inner()).0;
        if moves != followed && !self.0.pinned && !self.0.switching.swap(true, Ordering::AcqRel) {
            let inner = self.0.clone();
            tokio::spawn(async move { switch(&inner).await });
        }
        manager
    }

    /// This connection as it is now, never switching: for a create and its `WAIT`, which
    /// must reach the same node (a `WAIT` on a newly named primary would count replicas of
    /// writes that never reached it). A failover symptom on it still starts a re-discovery.
    pub(crate) fn pinned(&self) -> Self {
        // The connection itself still follows: a pending move starts here.
        let _ = self.manager();
        let current = self.0.current.read().unwrap_or_else(|p| p.into_inner()).clone();
        Self(Arc::new(Inner {
            discovery: self.0.discovery.clone(),
            current: RwLock::new(current),
            switching: AtomicBool::new(false),
            pinned: true,
        }))
    }
}

/// Moves `inner` to the primary named last; clears its `switching` flag, however it ends.
async fn switch(inner: &Inner) {
    let _switch = Switching(&inner.switching);
    let d = &inner.discovery;
    let (moves, addr, client) = d.named.read().unwrap_or_else(|p| p.into_inner()).clone();
    match manager_of(client, &d.config, d.connect_timeout).await {
        Ok(m) => {
            info!(primary = %addr, "connected to the primary the sentinels name");
            *inner.current.write().unwrap_or_else(|p| p.into_inner()) = (moves, m);
        }
        Err(e) => warn!(error = %e, primary = %addr, "cannot connect to the primary the sentinels name"),
    }
}

/// Clears a connection's `switching` flag when dropped.
struct Switching<'a>(&'a AtomicBool);

impl Drop for Switching<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Heal for SentinelConn {
    /// Asks the sentinels again, once at a time for every connection of the discovery.
    fn heal_soon(&self) {
        let d = self.0.discovery.clone();
        if d.rediscovering.swap(true, Ordering::AcqRel) {
            return;
        }
        debug!("a failover symptom: asking the sentinels again");
        tokio::spawn(async move { rediscover(&d).await });
    }
}

/// Asks the sentinels for the primary and, when they name another node, records the move
/// (each connection makes it at its next call); clears the `rediscovering` flag the caller set.
async fn rediscover(d: &Discovery) {
    let found = {
        let mut sentinel = d.sentinel.lock().await;
        named_client(&mut sentinel, d.connect_timeout).await
    };
    match found {
        Ok(client) => {
            let addr = client.get_connection_info().addr().clone();
            let mut named = d.named.write().unwrap_or_else(|p| p.into_inner());
            if named.1 == addr {
                debug!(primary = %addr, "the sentinels name the primary in use");
            } else {
                info!(primary = %addr, moves = named.0 + 1, "the sentinels name another primary");
                *named = (named.0 + 1, addr, client);
            }
        }
        // The sentinels may not have promoted anyone yet: the next failing command, or the
        // next check, asks again.
        Err(e) => warn!(error = %e, "no primary from the sentinels yet"),
    }
    // A short pause: a burst of failing commands makes one query, not hundreds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.rediscovering.store(false, Ordering::Release);
}

/// The primary the sentinels name (they check its `ROLE`), within twice the connect timeout.
async fn named_client(sentinel: &mut SentinelClient, connect_timeout: Duration) -> RedisResult<redis::Client> {
    tokio::time::timeout(connect_timeout * 2, sentinel.async_get_client())
        .await
        .map_err(|_| RedisError::from((ErrorKind::Io, "timed out asking the sentinels for the primary")))?
}

async fn manager_of(
    client: redis::Client,
    config: &ConnectionManagerConfig,
    connect_timeout: Duration,
) -> RedisResult<ConnectionManager> {
    tokio::time::timeout(
        connect_timeout * 2,
        ConnectionManager::new_with_config(client, config.clone()),
    )
    .await
    .map_err(|_| RedisError::from((ErrorKind::Io, "timed out connecting to the primary")))?
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
        self.0.current.read().unwrap_or_else(|p| p.into_inner()).1.get_db()
    }
}
