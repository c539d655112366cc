//! The usage ledger on Redis: one stream per shard (`{p:n}:usage`), appended by the booking
//! scripts in the same step as the transition (`prelude.lua`), read with `XRANGE` from an
//! exporter's marker; the exporters' leases and markers under one hash tag (`{p:usage}`).

use super::RedisStore;
use crate::record;
use booking::usage::{LeaseGrant, LedgerEntry, LedgerPosition, for_ledger, ledger_worthy};
use booking::{Booking, BookingId, StoreError};
use time::Duration;

impl RedisStore {
    /// The ledger element a booking script appends if the status changes ('' when the
    /// booking is not worth an entry in any case).
    pub(super) fn ledger_arg(b: &Booking) -> Result<Vec<u8>, StoreError> {
        if ledger_worthy(b) {
            record::encode(&for_ledger(b))
        } else {
            Ok(Vec::new())
        }
    }

    pub(super) async fn ledger_read(
        &self,
        shard: u16,
        after: LedgerPosition,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut c = redis::cmd("XRANGE");
        c.arg(self.ledger_key(shard))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1));
        let mut conn = self.conn.clone();
        let rows: Vec<(String, Vec<Vec<u8>>)> = self.bounded(c.query_async(&mut conn)).await?;
        rows.into_iter()
            .map(|(id, fields)| {
                let position = LedgerPosition::parse(&id).ok_or_else(|| StoreError::Corrupt {
                    what: format!("ledger entry id {id:?}"),
                    source: None,
                })?;
                let bytes = match fields.as_slice() {
                    [name, value, ..] if name.as_slice() == b"b" => value,
                    _ => {
                        return Err(StoreError::Corrupt {
                            what: format!("ledger entry {id} without its booking"),
                            source: None,
                        });
                    }
                };
                Ok(LedgerEntry {
                    shard,
                    position,
                    booking: record::decode(bytes)?,
                })
            })
            .collect()
    }

    pub(super) async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<LeaseGrant, StoreError> {
        let mut inv = self.lease.prepare_invoke();
        inv.key(self.lease_key(name))
            .arg(holder)
            .arg(ttl.whole_milliseconds().max(1).to_string());
        let mut conn = self.conn.clone();
        let held: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(match held {
            2 => LeaseGrant::Renewed,
            1 => LeaseGrant::Taken,
            _ => LeaseGrant::Refused,
        })
    }

    pub(super) async fn marker(&self, name: &str, shard: u16) -> Result<LedgerPosition, StoreError> {
        let mut c = redis::cmd("HGET");
        c.arg(self.markers_key()).arg(format!("{name}/{shard}"));
        let mut conn = self.conn.clone();
        let v: Option<String> = self.bounded(c.query_async(&mut conn)).await?;
        match v {
            None => Ok(LedgerPosition::default()),
            Some(v) => LedgerPosition::parse(&v).ok_or_else(|| StoreError::Corrupt {
                what: format!("usage marker {name}/{shard}: {v:?}"),
                source: None,
            }),
        }
    }

    pub(super) async fn move_marker(
        &self,
        name: &str,
        holder: &str,
        shard: u16,
        at: LedgerPosition,
    ) -> Result<bool, StoreError> {
        let mut inv = self.set_marker.prepare_invoke();
        inv.key(self.lease_key(name))
            .key(self.markers_key())
            .arg(holder)
            .arg(format!("{name}/{shard}"))
            .arg(at.ms.to_string())
            .arg(at.seq.to_string());
        let mut conn = self.conn.clone();
        let moved: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(moved == 1)
    }

    pub(super) async fn trim(&self, shard: u16, before_ms: u64) -> Result<(), StoreError> {
        let mut c = redis::cmd("XTRIM");
        c.arg(self.ledger_key(shard)).arg("MINID").arg(before_ms);
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        Ok(())
    }

    fn state_key(&self, name: &str, shard: u16) -> String {
        format!("{}:xs:{name}", self.tag(shard))
    }

    pub(super) async fn state_of(&self, name: &str, id: BookingId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = redis::cmd("HGET");
        c.arg(self.state_key(name, self.shard_of_id(id)))
            .arg(&id.as_bytes()[..]);
        let mut conn = self.conn.clone();
        self.bounded(c.query_async(&mut conn)).await
    }

    pub(super) async fn put_state(&self, name: &str, id: BookingId, state: Option<&[u8]>) -> Result<(), StoreError> {
        let key = self.state_key(name, self.shard_of_id(id));
        let c = match state {
            Some(v) => {
                let mut c = redis::cmd("HSET");
                c.arg(key).arg(&id.as_bytes()[..]).arg(v);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(key).arg(&id.as_bytes()[..]);
                c
            }
        };
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(c.query_async(&mut conn)).await?;
        Ok(())
    }

    pub(super) async fn all_states(&self, name: &str) -> Result<Vec<(BookingId, Vec<u8>)>, StoreError> {
        let shards: Vec<Vec<(Vec<u8>, Vec<u8>)>> = self
            .each_shard(|shard| {
                let mut c = redis::cmd("HGETALL");
                c.arg(self.state_key(name, shard));
                c
            })
            .await?;
        Ok(shards
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| super::keys::id_of(&k).map(|id| (id, v)))
            .collect())
    }
}
