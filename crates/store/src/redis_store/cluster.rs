//! The connection to a Redis Cluster, healing after a failover. redis-rs refreshes its slot
//! map on MOVED and ASK, but a request for a shard whose primary died goes on to the dead
//! address (connection refused is retried as is, never redirected), so a replica could keep a
//! stale map for many seconds after the promotion (seen in `tests/failover.rs`: one of two
//! gateways answered 503 for 10 s). On a failover-like error this connects anew from the
//! configured nodes, which fetches the current slot map, and moves to it.

use super::healing::{Heal, watched};
use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::{info, warn};

/// The shortest time between two reconnections: a burst of failing commands makes one.
const HEAL_GAP: Duration = Duration::from_millis(200);

struct Inner {
    client: ClusterClient,
    current: RwLock<ClusterConnection>,
    connect_timeout: Duration,
    healing: AtomicBool,
}

#[derive(Clone)]
pub(crate) struct ClusterConn(Arc<Inner>);

impl ClusterConn {
    pub(crate) async fn connect(client: ClusterClient, connect_timeout: Duration) -> RedisResult<Self> {
        let c = connect(&client, connect_timeout).await?;
        Ok(Self(Arc::new(Inner {
            client,
            current: RwLock::new(c),
            connect_timeout,
            healing: AtomicBool::new(false),
        })))
    }

    fn current(&self) -> ClusterConnection {
        self.0.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Bounded: a cluster connection can hang at start-up (redis-rs issue #1953).
async fn connect(client: &ClusterClient, timeout: Duration) -> RedisResult<ClusterConnection> {
    tokio::time::timeout(timeout * 3, client.get_async_connection())
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out connecting to the Redis cluster")))?
}

impl Heal for ClusterConn {
    fn heal_soon(&self) {
        if self.0.healing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.0.clone();
        tokio::spawn(async move {
            match connect(&inner.client, inner.connect_timeout).await {
                Ok(c) => {
                    *inner.current.write().unwrap_or_else(|p| p.into_inner()) = c;
                    info!("reconnected to the Redis cluster (fresh slot map)");
                }
                Err(e) => warn!(error = %e, "cannot reconnect to the Redis cluster yet"),
            }
            tokio::time::sleep(HEAL_GAP).await;
            inner.healing.store(false, Ordering::Release);
        });
    }
}

impl ConnectionLike for ClusterConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut c = self.current();
            watched(self, c.req_packed_command(cmd)).await
        })
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        p: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut c = self.current();
            watched(self, c.req_packed_commands(p, offset, count)).await
        })
    }
    fn get_db(&self) -> i64 {
        0
    }
}
