//! The Redis store, for many gateway replicas: single node (multiplexed `ConnectionManager`,
//! reconnecting by itself), a primary found through Redis Sentinel (`sentinel.rs`, following
//! a promotion) or Redis Cluster.
//!
//! Layout 2. Bookings are spread over `shards` hash tags `{<prefix>:<n>}`; everything one
//! script touches shares the tag, so each script runs in one slot. Ids are 16 raw bytes in
//! sorted sets and index entries, 32 hex digits in key names:
//! - `{p:n}:b:<id>`: string `<version>|<record>` (the versioned binary record of `record`);
//! - `{p:n}:dev`: hash keyed by a 16-byte keyed hash of a device key; its value lists the
//!   device's bookings as fixed-width entries (id, live flag, start and end in ms, client
//!   digest): the index for retrieve-by-device and conflict checks, one hash per shard
//!   instead of a key per device (a Redis key costs about 100 bytes before its content);
//! - `{p:n}:due`: sorted set of booking ids by due time (ms). A claim moves an entry's score
//!   to `now + lease`: a replica that dies holding it loses the claim when the lease ends.
//! - `{p:n}:live`: hash client digest -> number of its live bookings in the shard (the
//!   quota), and the field `layout` (the layout of the shard's data);
//! - `{p:n}:ob:<id>`: list of the booking's undelivered events (`<event id>|<record>`), and
//!   `{p:n}:outbox`: sorted set of bookings (hex ids) with undelivered events, claimed like
//!   timers.
//!
//! The shard of a booking is chosen from its client and primary device key, and the booking
//! id is drawn so that it maps to that shard: the conflict check of a device and the insert
//! are one script, and `get` finds the shard from the id alone. Data of layout 1 (a hash per
//! record, a key per device, text ids) is moved to layout 2 when a replica connects
//! (`migrate`).

use async_trait::async_trait;
use aws_lc_rs::hmac;
use booking::capacity::PoolClaim;
use booking::usage::{LedgerEntry, LedgerPosition};
use booking::{Booking, BookingId, BookingStore, CreateOutcome, EventAck, Owner, StatusEvent, StoreError, StoreStats};
use conn::Conn;
use redis::Script;
pub use sentinel::SentinelSettings;

use std::time::Duration;
use time::OffsetDateTime;

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/db`, `rediss://...` or `unix:///path/to/socket`; for a cluster, the
    /// seed nodes.
    pub urls: Vec<String>,
    pub cluster: bool,
    /// Key prefix (several gateways can share one Redis with different prefixes).
    pub prefix: String,
    /// Number of hash-tag shards. Fixed for the life of the data: changing it hides bookings.
    pub shards: u16,
    /// Every command (or script) must answer within this time, else the store is unavailable.
    pub command_timeout: Duration,
    pub connect_timeout: Duration,
    /// Secret of the keyed hash of device identifiers in key names. Same on every replica.
    pub key_secret: String,
    /// For `rediss://`: the CAs (PEM) Redis's certificate must chain to, when they are not
    /// public ones (the built-in web roots are used otherwise).
    pub tls_root_cert: Option<Vec<u8>>,
    /// Reach the primary through these sentinels (then `urls` is not used).
    pub sentinel: Option<SentinelSettings>,
    /// Opt-in durability: a create is acknowledged only once this many replicas hold it.
    pub wait: Option<WaitReplicas>,
}

/// `WAIT` after a create: how many replicas must have the write, and for how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct WaitReplicas {
    pub replicas: u32,
    pub timeout: Duration,
}

pub struct RedisStore {
    conn: Conn,
    /// Connections of their own for creates that `WAIT` (empty when off).
    wait_conns: Vec<Conn>,
    next_wait: std::sync::atomic::AtomicUsize,
    settings: RedisSettings,
    key: hmac::Key,
    create: Script,
    update: Script,
    remove: Script,
    claim: Script,
    claim_events: Script,
    ack_events: Script,
    migrate: Script,
    migrate_outbox: Script,
    renew: Script,
    reserve: Script,
    lease: Script,
    set_marker: Script,
    /// Stamps of claims that got no answer (`orphans.rs`).
    orphans: orphans::Orphans,
}

// The scripts live in `lua/`. Every script that changes a booking takes the same keys and
// arguments (`prelude.lua` names them); it appends the event (if any) to the outbox and keeps
// the client's count of live bookings. `create.lua` restates the conflict rule of
// `booking::overlaps` over index entries; the store suite proves the two agree.
const PRELUDE: &str = include_str!("../lua/prelude.lua");

const CREATE: &str = include_str!("../lua/create.lua");

const UPDATE: &str = include_str!("../lua/update.lua");

const REMOVE: &str = include_str!("../lua/remove.lua");

const CLAIM_EVENTS: &str = include_str!("../lua/claim_events.lua");

const ACK_EVENTS: &str = include_str!("../lua/ack_events.lua");

const CLAIM: &str = include_str!("../lua/claim.lua");

const RENEW: &str = include_str!("../lua/renew.lua");

const MIGRATE: &str = include_str!("../lua/migrate.lua");

const MIGRATE_OUTBOX: &str = include_str!("../lua/migrate_outbox.lua");
/// Capacity pools: reserve in all of a booking's pools, or none.
const RESERVE: &str = include_str!("../lua/reserve.lua");
/// The usage exporters' lease and markers (`ledger.rs`).
const LEASE: &str = include_str!("../lua/lease.lua");
const SET_MARKER: &str = include_str!("../lua/set_marker.lua");

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

fn unavailable(what: &str, e: redis::RedisError) -> StoreError {
    StoreError::unavailable(what, e)
}

fn timed_out(what: &str) -> StoreError {
    StoreError::Unavailable {
        what: what.to_owned(),
        source: None,
    }
}

#[async_trait]
impl BookingStore for RedisStore {
    fn new_id(&self, owner: &Owner, device_keys: &[String]) -> BookingId {
        let shards = self.settings.shards.max(1);
        let primary = device_keys.first().map(String::as_str).unwrap_or_default();
        let d = self.digest(&format!("{}\u{0}{primary}", owner.client_id));
        let target = u16::from_be_bytes([d[0], d[1]]) % shards;
        // One draw, then its first two bytes (random bits of a v4 UUID; version and variant
        // sit in bytes 6 and 8) moved to the nearest value of the target shard: a draw per
        // shard until one landed cost a `getrandom` syscall each, 16 per create.
        let mut bytes = *BookingId::new().as_bytes();
        let r = u32::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        let (n, t) = (u32::from(shards), u32::from(target));
        let mut v = r - r % n + t;
        if v > u32::from(u16::MAX) {
            v -= n;
        }
        let [hi, lo] = u16::try_from(v).unwrap_or(target).to_be_bytes();
        bytes[0] = hi;
        bytes[1] = lo;
        let id = BookingId::from_bytes(bytes);
        debug_assert_eq!(self.shard_of_id(id), target);
        id
    }

    async fn create(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        let inv = self.change(&self.create, booking, due, event)?;
        // With WAIT, the create and its WAIT go on one connection of their own, to one node.
        let mut conn = self.create_conn().pinned();
        let (stored, detail): (i64, Vec<u8>) = self.bounded(inv.invoke_async(&mut conn)).await?;
        if stored == 0 {
            return keys::id_of(&detail)
                .map(CreateOutcome::Conflict)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "a conflict answer without a booking id".into(),
                    source: None,
                });
        }
        if let Some(w) = self.settings.wait {
            // `detail`: the ledger entry the create wrote, if any, undone with it.
            self.confirm_replicated(booking.id, &detail, w, &mut conn).await?;
        }
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        let mut conn = self.conn.clone();
        let bytes: Option<Vec<u8>> = self
            .bounded(redis::cmd("GET").arg(self.record_key(id)).query_async(&mut conn))
            .await?;
        bytes.map(|b| Self::read(&b)).transpose()
    }

    async fn by_device(&self, device_keys: &[String]) -> Result<Vec<Booking>, StoreError> {
        // A device's bookings live in the shard of their client, so every shard is asked. On a
        // single node that is two round trips (the index fields of every shard, then the
        // records); a cluster refuses pipelines that cross slots, so there it is two per shard.
        let shards: Vec<u16> = (0..self.settings.shards.max(1)).collect();
        let groups: Vec<&[u16]> = if self.settings.cluster {
            shards.chunks(1).collect()
        } else {
            vec![&shards[..]]
        };
        let digests: Vec<Vec<u8>> = device_keys.iter().map(|k| self.device_digest(k)).collect();
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        for group in groups {
            let mut pipe = redis::pipe();
            for shard in group {
                for d in &digests {
                    pipe.cmd("HGET").arg(self.index_key(*shard)).arg(d);
                }
            }
            let lists: Vec<Option<Vec<u8>>> = self.bounded(pipe.query_async(&mut conn)).await?;
            let mut ids: Vec<BookingId> = lists.iter().flatten().flat_map(|l| keys::ids_in(l)).collect();
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("GET").arg(self.record_key(*id));
            }
            let records: Vec<Option<Vec<u8>>> = self.bounded(pipe.query_async(&mut conn)).await?;
            for r in records.into_iter().flatten() {
                out.push(Self::read(&r)?);
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<bool, StoreError> {
        let inv = self.change(&self.update, booking, due, event)?;
        let mut conn = self.conn.clone();
        let done: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    async fn remove(&self, id: BookingId) -> Result<(), StoreError> {
        // The index entries come from the record; without a record only the timer can be left.
        let digests: Vec<Vec<u8>> = match self.get(id).await? {
            Some(b) => b.device_keys.iter().map(|k| self.device_digest(k)).collect(),
            None => Vec::new(),
        };
        let mut inv = self.remove.prepare_invoke();
        for k in self.keys_of(id) {
            inv.key(k);
        }
        inv.arg(&id.as_bytes()[..]);
        for d in digests {
            inv.arg(d);
        }
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.claim_timers(now, limit, lease).await
    }

    async fn renew(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.renew_claims(claims, until).await
    }

    async fn claim_events(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        self.claim_outbox(now, limit, lease).await
    }

    async fn ack_events(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        self.ack_outbox(acks).await
    }

    /// Its shard: one shard's calls fail together (one primary serves its hash tag).
    fn part_of(&self, booking: BookingId) -> usize {
        usize::from(self.shard_of_id(booking))
    }

    async fn defer_events(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        self.defer_outbox(deferrals).await
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let firsts: Vec<Vec<(Vec<u8>, f64)>> = self
            .each_shard(|shard| {
                let mut c = redis::cmd("ZRANGE");
                c.arg(self.due_key(shard)).arg(0).arg(0).arg("WITHSCORES");
                c
            })
            .await?;
        let min = firsts.into_iter().flatten().map(|(_, score)| score as i128).min();
        Ok(min.and_then(|m| OffsetDateTime::from_unix_timestamp_nanos(m * 1_000_000).ok()))
    }

    async fn count_live(&self, client_id: &str) -> Result<usize, StoreError> {
        let counts: Vec<Option<i64>> = self
            .each_shard(|shard| {
                let mut c = redis::cmd("HGET");
                c.arg(self.live_key(shard)).arg(self.client_digest(client_id));
                c
            })
            .await?;
        Ok(usize::try_from(counts.into_iter().flatten().sum::<i64>()).unwrap_or(0))
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let counts: Vec<Vec<Option<i64>>> = self
            .each_shard(|shard| {
                let mut c = redis::cmd("HMGET");
                c.arg(self.live_key(shard));
                for code in 0..4 {
                    c.arg(format!("status:{code}"));
                }
                c
            })
            .await?;
        let backlog: Vec<i64> = self
            .each_shard(|shard| {
                let mut c = redis::cmd("ZCARD");
                c.arg(self.outbox_key(shard));
                c
            })
            .await?;
        let mut stats = StoreStats::default();
        for shard in counts {
            for (n, c) in stats.by_status.iter_mut().zip(shard) {
                *n += u64::try_from(c.unwrap_or(0)).unwrap_or(0);
            }
        }
        stats.outbox_backlog = backlog.into_iter().map(|n| u64::try_from(n).unwrap_or(0)).sum();
        Ok(stats)
    }

    async fn reserve(
        &self,
        claims: &[PoolClaim],
        id: BookingId,
        start: OffsetDateTime,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        if claims.is_empty() {
            return Ok(None);
        }
        let (s, e) = (ms(start).clamp(0, keys::MAX_MS), ms(end).clamp(0, keys::MAX_MS));
        let mut window = s.to_be_bytes()[10..].to_vec();
        window.extend_from_slice(&e.to_be_bytes()[10..]);
        // The places it takes, after the window when more than one (older entries: one).
        let units = claims.first().map_or(1, |c| c.units);
        if units != 1 {
            window.extend_from_slice(&units.to_be_bytes());
        }
        let mut inv = self.reserve.prepare_invoke();
        inv.key(self.limits_key());
        for c in claims {
            inv.key(self.pool_key(&c.bucket()));
        }
        inv.arg(&id.as_bytes()[..])
            .arg(window)
            .arg(s.to_string())
            .arg(e.to_string())
            .arg(ms(now).to_string())
            .arg(units);
        for c in claims {
            inv.arg(c.limit).arg(Self::limit_field(&c.pool, &c.profile));
            let period = |a: OffsetDateTime, b: OffsetDateTime| {
                (
                    ms(a).clamp(0, keys::MAX_MS).to_string(),
                    ms(b).clamp(0, keys::MAX_MS).to_string(),
                )
            };
            if c.periods.is_empty() {
                inv.arg(1).arg(s.to_string()).arg(e.to_string()).arg(-1);
            } else {
                inv.arg(c.periods.len());
                for p in &c.periods {
                    let (ps, pe) = period(p.start, p.end);
                    inv.arg(ps).arg(pe).arg(p.limit.map_or(-1, i64::from));
                }
            }
        }
        let mut conn = self.conn.clone();
        let full: usize = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(full.checked_sub(1).and_then(|i| claims.get(i)).map(|c| c.pool.clone()))
    }

    async fn list(
        &self,
        keep: &(dyn for<'b> Fn(&'b Booking) -> bool + Send + Sync),
        limit: usize,
    ) -> Result<Vec<Booking>, StoreError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        for shard in 0..self.settings.shards.max(1) {
            let ids: Vec<Vec<u8>> = self
                .bounded(
                    redis::cmd("ZRANGE")
                        .arg(self.due_key(shard))
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn),
                )
                .await?;
            // The records of one shard share its slot: one MGET per hundred.
            for chunk in ids.chunks(100) {
                let mut mget = redis::cmd("MGET");
                for id in chunk {
                    let Ok(bytes) = <[u8; 16]>::try_from(id.as_slice()) else {
                        continue;
                    };
                    mget.arg(self.record_key(BookingId::from_bytes(bytes)));
                }
                let values: Vec<Option<Vec<u8>>> = self.bounded(mget.query_async(&mut conn)).await?;
                for v in values.into_iter().flatten() {
                    let b = match Self::read(&v) {
                        Ok(b) => b,
                        Err(e) => {
                            // One unreadable record must not hide every other from the operator.
                            tracing::warn!(error = %e, "skipping an unreadable booking record in a listing");
                            continue;
                        }
                    };
                    if keep(&b) {
                        out.push(b);
                        if out.len() >= limit {
                            return Ok(out);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn set_limit(&self, pool: &str, profile: &str, limit: Option<u32>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let field = Self::limit_field(pool, profile);
        let c = match limit {
            Some(n) => {
                let mut c = redis::cmd("HSET");
                c.arg(self.limits_key()).arg(field).arg(n);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(self.limits_key()).arg(field);
                c
            }
        };
        let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn limits(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, u32)> = self
            .bounded(redis::cmd("HGETALL").arg(self.limits_key()).query_async(&mut conn))
            .await?;
        let mut out: Vec<(String, String, u32)> = all
            .into_iter()
            .filter_map(|(field, n)| {
                let (pool, profile) = field.split_once('/')?;
                let pool = crate::record::unhex(pool)?;
                Some((pool, profile.to_owned(), n))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    async fn set_client(&self, client_id: &str, record: Option<&booking::ClientRecord>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let c = match record {
            Some(r) => {
                let mut c = redis::cmd("HSET");
                c.arg(self.clients_key())
                    .arg(client_id)
                    .arg(crate::record::encode_client(r)?);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(self.clients_key()).arg(client_id);
                c
            }
        };
        let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn clients(&self) -> Result<Vec<booking::ClientRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, Vec<u8>)> = self
            .bounded(redis::cmd("HGETALL").arg(self.clients_key()).query_async(&mut conn))
            .await?;
        let mut out = Vec::with_capacity(all.len());
        for (_, bytes) in all {
            out.push(crate::record::decode_client(&bytes)?);
        }
        out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(out)
    }

    async fn release(&self, pools: &[String], id: BookingId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        for p in pools {
            let mut c = redis::cmd("HDEL");
            c.arg(self.pool_key(p)).arg(&id.as_bytes()[..]);
            let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = self.bounded(redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }

    fn ledger_shards(&self) -> u16 {
        self.settings.shards.max(1)
    }

    async fn ledger(&self, shard: u16, after: LedgerPosition, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.ledger_read(shard, after, limit).await
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: time::Duration,
    ) -> Result<booking::usage::LeaseGrant, StoreError> {
        self.take_lease(name, holder, ttl).await
    }

    async fn ledger_marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError> {
        self.marker(name, shard).await
    }

    async fn set_ledger_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError> {
        self.move_marker(name, holder, shard, at).await
    }

    async fn trim_ledger(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        self.trim(shard, before_ms).await
    }

    async fn export_state(&self, name: &str, booking: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        self.state_of(name, booking).await
    }

    async fn set_export_state(&self, name: &str, booking: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        self.put_state(name, booking, state).await
    }

    async fn export_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        self.all_states(name).await
    }
}

mod calls;
mod claims;
mod cluster;
mod conn;
mod durable;
mod healing;
mod keys;
mod ledger;
mod migrate;
mod orphans;
mod outbox;
mod sentinel;
#[cfg(test)]
mod sentinel_tests;
#[cfg(test)]
mod tests;
mod wake;
