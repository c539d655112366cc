//! The connection to Redis (single node, Sentinel or Cluster, one enum for all) and
//! connecting to it within bounded time.

use super::cluster::ClusterConn;
use super::sentinel::SentinelConn;
use super::{
    ACK_EVENTS, CLAIM, CLAIM_EVENTS, CREATE, LEASE, MIGRATE, MIGRATE_OUTBOX, PRELUDE, REMOVE, RENEW, RESERVE,
    RedisSettings, RedisStore, SET_MARKER, UPDATE, timed_out, unavailable,
};
use aws_lc_rs::hmac;
use booking::StoreError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};
use std::time::Duration;

#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Sentinel(SentinelConn),
    Cluster(ClusterConn),
}

impl Conn {
    /// This connection for a sequence that must reach one node (a create and its `WAIT`):
    /// behind Sentinel, one that does not move to a newly named primary in between.
    pub(super) fn pinned(&self) -> Self {
        match self {
            Conn::Sentinel(c) => Conn::Sentinel(c.pinned()),
            other => other.clone(),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        p: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(p, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(p, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(p, offset, count),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Private CAs for `rediss://` (instead of the built-in web roots).
fn tls_roots(pem: &[u8]) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    }
}

/// Creates that wait for replicas (`RedisSettings::wait`) at the same time, per replica.
const WAIT_CONNECTIONS: usize = 8;

/// One connection to Redis as the settings say (single node, Sentinel or Cluster).
async fn open(settings: &RedisSettings) -> Result<Conn, StoreError> {
    let first = settings.urls.first().cloned().unwrap_or_default();
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.command_timeout))
        .set_number_of_retries(2)
        // Reconnects are tried often: what fell due while Redis was away must fire within
        // moments of its return, not after a long backoff.
        .set_max_delay(Duration::from_millis(200));
    Ok(if let Some(sentinel) = &settings.sentinel {
        let c = tokio::time::timeout(
            settings.connect_timeout * 3,
            SentinelConn::connect(sentinel, manager_config, settings.connect_timeout),
        )
        .await
        .map_err(|_| timed_out("timed out connecting to Redis through the sentinels"))?
        .map_err(|e| unavailable("cannot connect to Redis through the sentinels", e))?;
        Conn::Sentinel(c)
    } else if settings.cluster {
        let mut builder = redis::cluster::ClusterClient::builder(settings.urls.clone());
        if let Some(pem) = &settings.tls_root_cert {
            builder = builder.certs(tls_roots(pem));
        }
        let client = builder
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .retries(2)
            .build()
            .map_err(|e| unavailable("invalid Redis cluster settings", e))?;
        let c = ClusterConn::connect(client, settings.connect_timeout)
            .await
            .map_err(|e| unavailable("cannot connect to the Redis cluster", e))?;
        Conn::Cluster(c)
    } else {
        let client = match &settings.tls_root_cert {
            Some(pem) => redis::Client::build_with_tls(first.as_str(), tls_roots(pem)),
            None => redis::Client::open(first.as_str()),
        }
        .map_err(|e| unavailable("invalid Redis URL or TLS certificates", e))?;
        let c = tokio::time::timeout(
            settings.connect_timeout * 3,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| timed_out("timed out connecting to Redis"))?
        .map_err(|e| unavailable("cannot connect to Redis", e))?;
        Conn::Single(c)
    })
}

impl RedisStore {
    /// Connects (bounded by the connect timeout) and prepares the scripts.
    pub async fn connect(settings: RedisSettings) -> Result<Self, StoreError> {
        let conn = open(&settings).await?;
        // `WAIT` blocks the connection it is sent on: creates that wait get connections of
        // their own, so that they neither wait one behind the other nor hold up every other
        // call of the store.
        let mut wait_conns = Vec::new();
        if settings.wait.is_some() {
            for _ in 0..WAIT_CONNECTIONS {
                wait_conns.push(match &conn {
                    // Behind Sentinel they follow the main connection's primary.
                    Conn::Sentinel(main) => Conn::Sentinel(
                        tokio::time::timeout(settings.connect_timeout * 3, main.follower())
                            .await
                            .map_err(|_| timed_out("timed out connecting to the Redis primary"))?
                            .map_err(|e| unavailable("cannot connect to the Redis primary", e))?,
                    ),
                    _ => open(&settings).await?,
                });
            }
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, settings.key_secret.as_bytes());
        let store = Self {
            conn,
            wait_conns,
            next_wait: Default::default(),
            settings,
            key,
            create: Script::new(&format!("{PRELUDE}{CREATE}")),
            update: Script::new(&format!("{PRELUDE}{UPDATE}")),
            remove: Script::new(&format!("{PRELUDE}{REMOVE}")),
            claim: Script::new(CLAIM),
            claim_events: Script::new(CLAIM_EVENTS),
            ack_events: Script::new(ACK_EVENTS),
            migrate: Script::new(&format!("{PRELUDE}{MIGRATE}")),
            migrate_outbox: Script::new(MIGRATE_OUTBOX),
            renew: Script::new(RENEW),
            reserve: Script::new(RESERVE),
            lease: Script::new(LEASE),
            set_marker: Script::new(SET_MARKER),
            orphans: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }
}
