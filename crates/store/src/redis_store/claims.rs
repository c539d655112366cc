//! Claims on the two sorted sets replicas share work through: the timers (`{p:n}:due`) and
//! the outbox (`{p:n}:outbox`). A claim moves an entry's score to the end of its lease;
//! renewing, acknowledging, deferring and recovering claims whose answer was lost
//! (`orphans.rs`) all work on those scores.

use super::{RedisStore, keys, ms, orphans};
use crate::record;
use booking::{BookingId, StatusEvent, StoreError};
use time::OffsetDateTime;

impl RedisStore {
    pub(super) async fn claim_timers(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        let mut claimed = Vec::new();
        // Start at a random shard so replicas do not all drain shard 0 first.
        let shards = self.settings.shards.max(1);
        let start = self.shard_of_id(BookingId::new());
        for i in 0..shards {
            if claimed.len() >= limit {
                break;
            }
            let shard = (start + i) % shards;
            let stamp = ms(now + lease);
            let mut inv = self.claim.prepare_invoke();
            inv.key(self.due_key(shard))
                .arg(ms(now).to_string())
                .arg(limit - claimed.len())
                .arg(stamp.to_string());
            for old in self.orphans.stamps(orphans::Kind::Timers, shard, ms(now)) {
                inv.arg(old.to_string());
            }
            let ids: Vec<Vec<u8>> = self.claim_call(orphans::Kind::Timers, shard, stamp, &inv).await?;
            claimed.extend(ids.iter().filter_map(|b| keys::id_of(b)));
        }
        Ok(claimed)
    }

    pub(super) async fn renew_claims(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        let mut by_shard: std::collections::BTreeMap<u16, Vec<&(BookingId, OffsetDateTime)>> = Default::default();
        for c in claims {
            by_shard.entry(self.shard_of_id(c.0)).or_default().push(c);
        }
        let mut moved = Vec::new();
        for (shard, claims) in by_shard {
            let mut inv = self.renew.prepare_invoke();
            inv.key(self.due_key(shard)).arg(ms(until).to_string());
            for (id, claimed) in claims {
                inv.arg(&id.as_bytes()[..]).arg(ms(*claimed).to_string());
            }
            let mut conn = self.conn.clone();
            let ids: Vec<Vec<u8>> = self.bounded(inv.invoke_async(&mut conn)).await?;
            moved.extend(ids.iter().filter_map(|b| keys::id_of(b)));
        }
        Ok(moved)
    }

    pub(super) async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        let shards = self.settings.shards.max(1);
        let start = self.shard_of_id(BookingId::new());
        let mut out = Vec::new();
        for i in 0..shards {
            if out.len() >= limit {
                break;
            }
            let shard = (start + i) % shards;
            let stamp = ms(now + lease);
            let mut inv = self.claim_events.prepare_invoke();
            inv.key(self.outbox_key(shard))
                .arg(ms(now).to_string())
                .arg(limit - out.len())
                .arg(stamp.to_string())
                .arg(format!("{}:ob:", self.tag(shard)));
            for old in self.orphans.stamps(orphans::Kind::Events, shard, ms(now)) {
                inv.arg(old.to_string());
            }
            let rows: Vec<Vec<Vec<u8>>> = self.claim_call(orphans::Kind::Events, shard, stamp, &inv).await?;
            for row in rows {
                let mut it = row.into_iter();
                let Some(id) = it
                    .next()
                    .and_then(|s| std::str::from_utf8(&s).ok().and_then(keys::id_of_hex))
                else {
                    continue;
                };
                let events = it
                    .map(|e| {
                        let at = e.iter().position(|&c| c == b'|').map_or(e.len(), |i| i + 1);
                        record::decode_event(&e[at..])
                    })
                    .collect::<Result<Vec<StatusEvent>, _>>()?;
                out.push((id, events));
            }
        }
        Ok(out)
    }

    pub(super) async fn ack_outbox(&self, booking: BookingId, event_id: &str, release: bool) -> Result<(), StoreError> {
        let mut inv = self.ack_event.prepare_invoke();
        inv.key(self.outbox_list_key(booking))
            .key(self.outbox_key(self.shard_of_id(booking)))
            .arg(keys::hex(booking))
            .arg(event_id)
            .arg(if release { "1" } else { "0" });
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    pub(super) async fn defer_outbox(&self, booking: BookingId, at: OffsetDateTime) -> Result<(), StoreError> {
        // XX: only while it is in the set (an outbox emptied meanwhile stays out).
        let mut c = redis::cmd("ZADD");
        c.arg(self.outbox_key(self.shard_of_id(booking)))
            .arg("XX")
            .arg(ms(at).to_string())
            .arg(keys::hex(booking));
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        Ok(())
    }
}
