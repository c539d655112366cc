//! Claims on the timers (`{p:n}:due`), the sorted set replicas share timer work through. A
//! claim moves an entry's score to the end of its lease; renewing and recovering claims whose
//! answer was lost (`orphans.rs`) work on those scores. The outbox's claims are in
//! `outbox.rs`.

use super::{RedisStore, keys, ms, orphans};
use booking::{BookingId, StoreError};
use futures_util::future::join_all;
use time::OffsetDateTime;

impl RedisStore {
    /// Claims up to `limit` due timers, shard after shard from a random one. A shard that
    /// does not answer (its primary failing over) is passed over: the others' timers are
    /// still handed out, and it is asked again on the next call. Once anything is claimed,
    /// or a third of the lease has gone by, a shard that does not answer ends the call: the
    /// claims already made must reach the scheduler well within their lease.
    pub(super) async fn claim_timers(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<BookingId>, StoreError> {
        let shards = self.settings.shards.max(1);
        // Start at a random shard so replicas do not all drain shard 0 first.
        let start = self.shard_of_id(BookingId::new());
        let stamp = ms(now + lease);
        let began = tokio::time::Instant::now();
        let budget = std::time::Duration::try_from(lease / 3).unwrap_or_default();
        let mut answers = Vec::new();
        let mut claimed = 0;
        for i in 0..shards {
            let failed = answers.last().is_some_and(|a: &Result<Vec<_>, _>| a.is_err());
            if claimed >= limit || (failed && (claimed > 0 || began.elapsed() > budget)) {
                break;
            }
            let shard = (start + i) % shards;
            let mut inv = self.claim.prepare_invoke();
            inv.key(self.due_key(shard))
                .arg(ms(now).to_string())
                .arg(limit - claimed)
                .arg(stamp.to_string());
            for old in self.orphans.stamps(orphans::Kind::Timers, shard, ms(now)) {
                inv.arg(old.to_string());
            }
            let answer = self
                .claim_call::<Vec<Vec<u8>>>(orphans::Kind::Timers, shard, stamp, &inv)
                .await
                .map(|ids| ids.iter().filter_map(|b| keys::id_of(b)).collect::<Vec<_>>());
            claimed += answer.as_ref().map_or(0, Vec::len);
            answers.push(answer);
        }
        some_shards("claim timers", answers)
    }

    /// Renews claims, each shard's in one call, all shards at once; the answer names those
    /// renewed. A shard that does not answer is left out of it: its claims keep their lease
    /// end, or (when the renewal ran but its answer was lost) hold the new one, which their
    /// claimer no longer knows, until it ends.
    pub(super) async fn renew_claims(
        &self,
        claims: &[(BookingId, OffsetDateTime)],
        until: OffsetDateTime,
    ) -> Result<Vec<BookingId>, StoreError> {
        let mut by_shard: std::collections::BTreeMap<u16, Vec<&(BookingId, OffsetDateTime)>> = Default::default();
        for c in claims {
            by_shard.entry(self.shard_of_id(c.0)).or_default().push(c);
        }
        let calls = by_shard.into_iter().map(|(shard, claims)| async move {
            let mut inv = self.renew.prepare_invoke();
            inv.key(self.due_key(shard)).arg(ms(until).to_string());
            for (id, claimed) in claims {
                inv.arg(&id.as_bytes()[..]).arg(ms(*claimed).to_string());
            }
            let mut conn = self.conn.clone();
            let ids: Vec<Vec<u8>> = self.bounded(inv.invoke_async(&mut conn)).await?;
            Ok(ids.iter().filter_map(|b| keys::id_of(b)).collect::<Vec<_>>())
        });
        some_shards("renew claims", join_all(calls).await)
    }
}

/// What the shards that answered gave, when at least one did (logging the failure of the
/// others); the first failure when none did.
pub(super) fn some_shards<T>(what: &str, answers: Vec<Result<Vec<T>, StoreError>>) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut failure = None;
    let mut answered = false;
    for a in answers {
        match a {
            Ok(rows) => {
                answered = true;
                out.extend(rows);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) if !answered => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, "a shard did not answer ({what}); the others' answers are used");
            Ok(out)
        }
        None => Ok(out),
    }
}
