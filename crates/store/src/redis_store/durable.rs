//! Opt-in durability (`RedisSettings::wait`): a create is acknowledged only once `WAIT` says
//! enough replicas hold it. When they do not confirm in time, the booking is taken out again
//! (record, index entries, timer and its first event), so a client answered 503 has no
//! booking: it is never both refused and kept. See docs/RELIABILITY.md for what this does and
//! does not promise (Redis replication stays asynchronous; WAIT narrows the window).

use super::{RedisStore, WaitReplicas, keys, timed_out};
use booking::{BookingId, BookingStore, StoreError};

impl RedisStore {
    /// After a create: `Ok` once `w.replicas` replicas have it; else the create is undone and
    /// the store reported unavailable.
    pub(super) async fn confirm_replicated(&self, id: BookingId, w: WaitReplicas) -> Result<(), StoreError> {
        if self.wait_for(w).await? {
            return Ok(());
        }
        self.remove(id).await?;
        let mut undo = redis::pipe();
        undo.cmd("DEL")
            .arg(self.outbox_list_key(id))
            .ignore()
            .cmd("ZREM")
            .arg(self.outbox_key(self.shard_of_id(id)))
            .arg(keys::hex(id))
            .ignore();
        let mut conn = self.conn.clone();
        self.bounded(undo.query_async::<()>(&mut conn)).await?;
        // The undo goes to the replicas as the create did; not waiting for it to land keeps
        // the refusal fast, and a replica that has neither is consistent too.
        Err(timed_out(&format!(
            "the booking did not reach {} Redis replica(s) within {} ms; it was not kept",
            w.replicas,
            w.timeout.as_millis()
        )))
    }

    /// `WAIT`: true when at least `w.replicas` replicas acknowledged this connection's writes.
    async fn wait_for(&self, w: WaitReplicas) -> Result<bool, StoreError> {
        let mut c = redis::cmd("WAIT");
        c.arg(w.replicas)
            .arg(u64::try_from(w.timeout.as_millis()).unwrap_or(u64::MAX));
        let mut conn = self.conn.clone();
        let acked: i64 =
            match tokio::time::timeout(w.timeout + self.settings.command_timeout, c.query_async(&mut conn)).await {
                Ok(r) => r.map_err(|e| super::unavailable("Redis WAIT failed", e))?,
                Err(_) => return Ok(false),
            };
        Ok(acked >= i64::from(w.replicas))
    }
}
