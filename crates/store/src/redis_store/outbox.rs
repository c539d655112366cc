//! The outbox on Redis: per shard, `{p:n}:outbox`, the bookings with undelivered events scored
//! by when they may next be claimed (a claim moves the score to the end of its lease), and
//! each booking's list `{p:n}:ob:<id>`. Claims, acknowledgements and deferrals of many
//! bookings go in one call per shard, at most [`BATCH`] bookings a call: a call touches one
//! shard's keys only (one slot, so a cluster takes it) and never runs long on Redis. The calls
//! of different shards go out at once (on one node, pipelined on the one connection).

use super::{RedisStore, keys, ms, orphans};
use crate::record;
use booking::{BookingId, EventAck, StatusEvent, StoreError};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The most bookings one outbox call claims, acknowledges or defers.
pub(super) const BATCH: usize = 256;

impl RedisStore {
    pub(super) async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        let shards = self.settings.shards.max(1);
        // Start at a random shard so replicas do not all drain shard 0 first.
        let start = self.shard_of_id(BookingId::new());
        // The shards that may hold more, in the order they are asked.
        let mut open: Vec<u16> = (0..shards).map(|i| (start + i) % shards).collect();
        let mut out = Vec::new();
        let mut failure = None;
        // Each round's claims carry a stamp of their own: a later round's lost answer must not
        // make the next claim take back (as orphans) what an earlier round of this call
        // handed out and is being delivered.
        let mut round = 0i128;
        loop {
            let want = limit.saturating_sub(out.len());
            if want == 0 || open.is_empty() {
                break;
            }
            // What is wanted, spread over as many shards (one call each, at once): never more
            // than `limit` in all. A shard that gave all it was asked for is asked again.
            let n = open.len().min(want);
            let ask: Vec<(u16, usize)> = open[..n]
                .iter()
                .enumerate()
                .map(|(i, s)| (*s, (want / n + usize::from(i < want % n)).min(BATCH)))
                .collect();
            let answers = join_all(
                ask.iter()
                    .map(|(shard, k)| self.claim_shard(*shard, now, *k, lease, round)),
            )
            .await;
            round += 1;
            let mut again = Vec::new();
            for ((shard, k), answer) in ask.iter().zip(answers) {
                match answer {
                    Ok(rows) => {
                        if rows.len() >= *k {
                            again.push(*shard);
                        }
                        out.extend(rows);
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            open = open[n..].iter().copied().chain(again).collect();
        }
        match failure {
            // What the other shards gave is handed out, not left to wait for its lease.
            Some(e) if out.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "a shard of the outbox did not answer a claim; the others' events go on");
                Ok(out)
            }
            None => Ok(out),
        }
    }

    /// Claims up to `want` bookings of one shard (and those of this replica's claims whose
    /// answer was lost), stamped with the lease's end plus `round` ms.
    async fn claim_shard(
        &self,
        shard: u16,
        now: OffsetDateTime,
        want: usize,
        lease: time::Duration,
        round: i128,
    ) -> Result<Vec<(BookingId, Vec<StatusEvent>)>, StoreError> {
        let stamp = ms(now + lease) + round;
        let mut inv = self.claim_events.prepare_invoke();
        inv.key(self.outbox_key(shard))
            .arg(ms(now).to_string())
            .arg(want)
            .arg(stamp.to_string())
            .arg(format!("{}:ob:", self.tag(shard)));
        for old in self.orphans.stamps(orphans::Kind::Events, shard, ms(now)) {
            inv.arg(old.to_string());
        }
        let rows: Vec<Vec<Vec<u8>>> = self.claim_call(orphans::Kind::Events, shard, stamp, &inv).await?;
        let mut out = Vec::with_capacity(rows.len());
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
        Ok(out)
    }

    pub(super) async fn ack_outbox(&self, acks: &[EventAck]) -> Result<Vec<bool>, StoreError> {
        let groups = self.by_shard(acks.iter().map(|a| a.booking));
        // Shards at once; within a shard one call after the other, so that acknowledgements
        // of one booking are applied in the order given.
        let results = join_all(groups.iter().map(|(shard, idx)| async move {
            let mut done = Vec::new();
            for chunk in idx.chunks(BATCH) {
                let mut inv = self.ack_events.prepare_invoke();
                inv.key(self.outbox_key(*shard));
                for a in chunk.iter().map(|&i| &acks[i]) {
                    inv.key(self.outbox_list_key(a.booking))
                        .arg(keys::hex(a.booking))
                        .arg(&a.event_id)
                        .arg(if a.release { "1" } else { "0" });
                }
                let mut conn = self.conn.clone();
                match self.bounded::<i64>(inv.invoke_async(&mut conn)).await {
                    Ok(_) => done.extend_from_slice(chunk),
                    // The rest of this shard's are not tried: they would be applied out of
                    // order.
                    Err(e) => return (done, Some(e)),
                }
            }
            (done, None)
        }))
        .await;
        let mut stored = vec![false; acks.len()];
        let mut failure = None;
        for (done, err) in results {
            for i in done {
                stored[i] = true;
            }
            if let Some(e) = err {
                failure.get_or_insert(e);
            }
        }
        match failure {
            Some(e) if !stored.contains(&true) => Err(e),
            _ => Ok(stored),
        }
    }

    pub(super) async fn defer_outbox(&self, deferrals: &[(BookingId, OffsetDateTime)]) -> Result<(), StoreError> {
        let groups = self.by_shard(deferrals.iter().map(|d| d.0));
        let calls = groups.iter().flat_map(|(shard, idx)| {
            idx.chunks(BATCH).map(move |chunk| {
                // XX: only while it is in the set (an outbox emptied meanwhile stays out).
                let mut c = redis::cmd("ZADD");
                c.arg(self.outbox_key(*shard)).arg("XX");
                for (booking, at) in chunk.iter().map(|&i| &deferrals[i]) {
                    c.arg(ms(*at).to_string()).arg(keys::hex(*booking));
                }
                async move {
                    let mut conn = self.conn.clone();
                    self.bounded::<i64>(c.query_async(&mut conn)).await
                }
            })
        });
        join_all(calls)
            .await
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// The positions of `ids` grouped by shard, in their order.
    fn by_shard(&self, ids: impl Iterator<Item = BookingId>) -> BTreeMap<u16, Vec<usize>> {
        let mut m: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
        for (i, id) in ids.enumerate() {
            m.entry(self.shard_of_id(id)).or_default().push(i);
        }
        m
    }
}
