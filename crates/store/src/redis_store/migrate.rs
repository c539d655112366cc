//! Moving data of store layout 1 (a hash per record, a Redis key per device, text ids) to
//! layout 2, shard by shard, when a replica connects. Each booking moves in one script, so a
//! crash or a second replica migrating at the same time leaves every booking readable in
//! exactly one layout. A shard that holds layout 2 says so in its `live` hash (`layout`);
//! an empty shard has nothing to move.
//!
//! Replicas of the old layout must be stopped before one of this layout starts: an old replica
//! cannot read a moved record.

use super::{RedisStore, keys};
use crate::record;
use booking::{BookingId, StoreError};
use tracing::info;

impl RedisStore {
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        for shard in 0..self.settings.shards.max(1) {
            let mut conn = self.conn.clone();
            let layout: Option<String> = self
                .bounded(
                    redis::cmd("HGET")
                        .arg(self.live_key(shard))
                        .arg("layout")
                        .query_async(&mut conn),
                )
                .await?;
            if layout.as_deref() == Some("2") {
                continue;
            }
            // An empty shard has nothing to move; its first booking marks it (`create.lua`).
            let used: i64 = self
                .bounded(
                    redis::cmd("EXISTS")
                        .arg(self.due_key(shard))
                        .arg(self.outbox_key(shard))
                        .query_async(&mut conn),
                )
                .await?;
            if used == 0 {
                continue;
            }
            let moved = self.migrate_shard(shard).await?;
            let _: i64 = self
                .bounded(
                    redis::cmd("HSET")
                        .arg(self.live_key(shard))
                        .arg("layout")
                        .arg("2")
                        .query_async(&mut conn),
                )
                .await?;
            if moved > 0 {
                info!(shard, bookings = moved, "store layout 1 moved to layout 2");
            }
        }
        Ok(())
    }

    /// Moves every booking of layout 1 in one shard: each has a timer (start, end, retry or
    /// purge), so the shard's `due` set names them all. Returns how many moved.
    async fn migrate_shard(&self, shard: u16) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let tag = self.tag(shard);
        let members: Vec<Vec<u8>> = self
            .bounded(
                redis::cmd("ZRANGE")
                    .arg(self.due_key(shard))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn),
            )
            .await?;
        let mut moved = 0;
        // Layout 1 wrote ids as 36 characters of text; layout 2 writes 16 bytes.
        for old in old_ids(&members) {
            let old_key = format!("{tag}:b:{old}");
            let json: Option<Vec<u8>> = self
                .bounded(redis::cmd("HGET").arg(&old_key).arg("j").query_async(&mut conn))
                .await?;
            let Some(bytes) = json else { continue };
            let b = record::decode(&bytes)?;
            let mut inv = self.migrate.prepare_invoke();
            inv.key(&old_key)
                .key(self.record_key(old))
                .key(self.due_key(shard))
                .key(self.live_key(shard))
                .key(self.index_key(shard));
            for k in &b.device_keys {
                inv.key(self.old_index_key(shard, k));
            }
            let mut value = format!("{}|", b.version).into_bytes();
            value.extend(record::encode(&b)?);
            inv.arg(old.to_string())
                .arg(&old.as_bytes()[..])
                .arg(value)
                .arg(self.entry(&b))
                .arg(&b.owner.client_id);
            for k in &b.device_keys {
                inv.arg(self.device_digest(k));
            }
            let done: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
            moved += usize::try_from(done).unwrap_or(0);
        }
        let pending: Vec<Vec<u8>> = self
            .bounded(
                redis::cmd("ZRANGE")
                    .arg(self.outbox_key(shard))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn),
            )
            .await?;
        for old in old_ids(&pending) {
            let mut inv = self.migrate_outbox.prepare_invoke();
            inv.key(self.outbox_key(shard))
                .key(format!("{tag}:ob:{old}"))
                .key(self.outbox_list_key(old))
                .arg(old.to_string())
                .arg(keys::hex(old));
            let _: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        }
        Ok(moved)
    }
}

impl RedisStore {
    /// A device's index key in layout 1.
    pub(super) fn old_index_key(&self, shard: u16, device_key: &str) -> String {
        let d = crate::record::hex(&self.digest(device_key)[..16]);
        format!("{}:d:{d}", self.tag(shard))
    }
}

/// The layout-1 ids among sorted-set members.
fn old_ids(members: &[Vec<u8>]) -> impl Iterator<Item = BookingId> + '_ {
    members
        .iter()
        .filter(|m| m.len() == 36)
        .filter_map(|m| std::str::from_utf8(m).ok().and_then(BookingId::parse))
}
