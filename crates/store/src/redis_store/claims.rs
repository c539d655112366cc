//! Claims on the timers (`{p:n}:due`), the sorted set replicas share timer work through. A
//! claim moves an entry's score to the end of its lease; renewing and recovering claims whose
//! answer was lost (`orphans.rs`) work on those scores. The outbox's claims are in
//! `outbox.rs`.

use super::{RedisStore, keys, ms, orphans};
use booking::{BookingId, StoreError};
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
}
