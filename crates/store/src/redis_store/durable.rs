//! Opt-in durability (`RedisSettings::wait`): a create is acknowledged only once `WAIT` says
//! enough replicas hold it. When they do not confirm in time, the booking is taken out again
//! (record, index entries, timer and its first event), so a client answered 503 has no
//! booking: it is never both refused and kept. See docs/RELIABILITY.md for what this does and
//! does not promise (Redis replication stays asynchronous; WAIT narrows the window).

use super::conn::Conn;
use super::{RedisStore, WaitReplicas, keys, timed_out};
use booking::{BookingId, BookingStore, StoreError};
use std::sync::atomic::Ordering;

impl RedisStore {
    /// The connection a create runs on: one of the waiting creates' own when `WAIT` is on
    /// (round robin), else the shared one.
    pub(super) fn create_conn(&self) -> Conn {
        if self.wait_conns.is_empty() {
            return self.conn.clone();
        }
        let i = self.next_wait.fetch_add(1, Ordering::Relaxed) % self.wait_conns.len();
        self.wait_conns[i].clone()
    }

    /// After a create on `conn`: `Ok` once `w.replicas` replicas have it; else the create
    /// is undone and the store reported unavailable.
    pub(super) async fn confirm_replicated(
        &self,
        id: BookingId,
        ledger_entry: &[u8],
        w: WaitReplicas,
        conn: &mut Conn,
    ) -> Result<(), StoreError> {
        if self.wait_for(w, conn).await? {
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
        if !ledger_entry.is_empty() {
            // A booking declined at its create wrote its (final) usage entry: not kept either.
            undo.cmd("XDEL")
                .arg(self.ledger_key(self.shard_of_id(id)))
                .arg(ledger_entry)
                .ignore();
        }
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

    /// `WAIT`: true when at least `w.replicas` replicas acknowledged `conn`'s writes.
    async fn wait_for(&self, w: WaitReplicas, conn: &mut Conn) -> Result<bool, StoreError> {
        let mut c = redis::cmd("WAIT");
        c.arg(w.replicas)
            .arg(u64::try_from(w.timeout.as_millis()).unwrap_or(u64::MAX));
        let acked: i64 =
            match tokio::time::timeout(w.timeout + self.settings.command_timeout, c.query_async(conn)).await {
                Ok(r) => r.map_err(|e| super::unavailable("Redis WAIT failed", e))?,
                Err(_) => return Ok(false),
            };
        Ok(acked >= i64::from(w.replicas))
    }
}
