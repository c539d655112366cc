//! The round trips the store's calls share: one bounded command, one command per shard, the
//! arguments of a booking-changing script, reading a stored value.

use super::{RedisStore, keys, ms, timed_out, unavailable};
use crate::record;
use booking::{Booking, StatusEvent, StoreError};
use redis::{Cmd, Script};
use std::future::Future;
use time::OffsetDateTime;

impl RedisStore {
    /// Runs one Redis round trip under the command timeout.
    pub(super) async fn bounded<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.settings.command_timeout, f).await {
            Ok(r) => r.map_err(|e| unavailable("Redis command failed", e)),
            Err(_) => Err(timed_out("Redis did not answer in time")),
        }
    }

    /// One command per shard, answers in shard order: a single pipeline (one round trip) on a
    /// single node; on a cluster, where a pipeline may not cross slots, every command at
    /// once (the client pipelines those bound for one node), so a create's quota read costs
    /// one round trip, not one per shard.
    pub(super) async fn each_shard<T: redis::FromRedisValue>(
        &self,
        cmd: impl Fn(u16) -> Cmd,
    ) -> Result<Vec<T>, StoreError> {
        let shards = 0..self.settings.shards.max(1);
        if self.settings.cluster {
            let calls = shards.map(|shard| {
                let (c, mut conn) = (cmd(shard), self.conn.clone());
                async move { self.bounded(c.query_async(&mut conn)).await }
            });
            futures_util::future::try_join_all(calls).await
        } else {
            let mut conn = self.conn.clone();
            let mut pipe = redis::pipe();
            for shard in shards {
                pipe.add_command(cmd(shard));
            }
            self.bounded(pipe.query_async(&mut conn)).await
        }
    }

    /// The keys and arguments shared by the scripts that store a changed booking (see
    /// `prelude.lua`).
    pub(super) fn change<'a>(
        &self,
        script: &'a Script,
        booking: &Booking,
        due: Option<OffsetDateTime>,
        event: Option<&StatusEvent>,
    ) -> Result<redis::ScriptInvocation<'a>, StoreError> {
        let (element, at) = Self::event_args(event)?;
        let mut inv = script.prepare_invoke();
        for k in self.keys_of(booking.id) {
            inv.key(k);
        }
        inv.arg(&booking.id.as_bytes()[..])
            .arg(keys::hex(booking.id))
            .arg(record::encode(booking)?)
            .arg(booking.version)
            .arg(due.map(|d| ms(d).to_string()).unwrap_or_default())
            .arg(self.entry(booking))
            .arg(element)
            .arg(at)
            .arg(self.wake_channel())
            .arg(Self::ledger_arg(booking)?);
        for k in &booking.device_keys {
            inv.arg(self.device_digest(k));
        }
        Ok(inv)
    }

    /// Reads a stored record value, `<version>|<record>`.
    pub(super) fn read(value: &[u8]) -> Result<Booking, StoreError> {
        let at = value
            .iter()
            .position(|&c| c == b'|')
            .ok_or_else(|| StoreError::Corrupt {
                what: "booking value without a version".into(),
                source: None,
            })?;
        record::decode(&value[at + 1..])
    }

    /// An outbox element, `<event id>|<record>`, and its time in ms.
    pub(super) fn event_args(ev: Option<&StatusEvent>) -> Result<(Vec<u8>, String), StoreError> {
        match ev {
            None => Ok((Vec::new(), String::new())),
            Some(ev) => {
                let mut element = format!("{}|", ev.id).into_bytes();
                element.extend(record::encode_event(ev)?);
                Ok((element, ms(ev.time).to_string()))
            }
        }
    }
}
