//! Claims whose answer never came. A claim script that times out on the client may still
//! have run on Redis (the request was on its way: a partition that heals delivers it), and
//! what it claimed would then wait out its lease with nobody working on it: timers fired a
//! lease late, events two minutes late. Each replica remembers the lease stamps of its
//! failed claims, per shard; its next claim there claims what still carries one of them
//! first. Two replicas that used the same millisecond as a stamp may both take such an
//! entry; the versioned transitions and the outbox's event ids make that harmless.

use super::RedisStore;
use booking::StoreError;
use std::collections::HashMap;
use std::sync::Mutex;

impl RedisStore {
    /// Runs a claim script on `shard` whose lease stamp is `stamp`, remembering the stamp
    /// when no answer came.
    pub(super) async fn claim_call<T: redis::FromRedisValue>(
        &self,
        kind: Kind,
        shard: u16,
        stamp: i128,
        inv: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        let r = self.bounded(inv.invoke_async(&mut conn)).await;
        match &r {
            Ok(_) => self.orphans.answered(kind, shard),
            Err(_) => self.orphans.unanswered(kind, shard, stamp),
        }
        r
    }
}

/// Which sorted set a claim was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    Timers,
    Events,
}

#[derive(Default)]
pub(super) struct Orphans(Mutex<HashMap<(Kind, u16), Vec<i128>>>);

impl Orphans {
    /// The stamps to recover on `shard` (those whose lease has not ended: an ended one is
    /// claimable anyway).
    pub(super) fn stamps(&self, kind: Kind, shard: u16, now_ms: i128) -> Vec<i128> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(v) = m.get_mut(&(kind, shard)) else {
            return Vec::new();
        };
        v.retain(|s| *s > now_ms);
        v.clone()
    }

    /// The claim with `stamp` answered: the stamps it carried are recovered.
    pub(super) fn answered(&self, kind: Kind, shard: u16) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&(kind, shard));
    }

    /// The claim with `stamp` got no answer.
    pub(super) fn unanswered(&self, kind: Kind, shard: u16, stamp: i128) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let v = m.entry((kind, shard)).or_default();
        if !v.contains(&stamp) && v.len() < 64 {
            v.push(stamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_kept_until_answered_or_expired() {
        let o = Orphans::default();
        o.unanswered(Kind::Timers, 3, 1_000);
        o.unanswered(Kind::Timers, 3, 2_000);
        o.unanswered(Kind::Events, 3, 5_000);
        assert_eq!(
            o.stamps(Kind::Timers, 3, 1_500),
            vec![2_000],
            "an expired lease is dropped"
        );
        assert!(o.stamps(Kind::Timers, 4, 0).is_empty());
        o.answered(Kind::Timers, 3);
        assert!(o.stamps(Kind::Timers, 3, 0).is_empty());
        assert_eq!(o.stamps(Kind::Events, 3, 0), vec![5_000]);
    }
}
