//! Key names and index entries of the Redis layout (see the parent module's doc): every key
//! of one booking shares its shard's hash tag, so each script runs in one cluster slot.

use super::{RedisStore, ms};
use aws_lc_rs::hmac;
use booking::{Booking, BookingId};

/// Largest time an index entry can hold (6 bytes of ms: the year 10889).
pub(super) const MAX_MS: i128 = (1 << 48) - 1;

impl RedisStore {
    pub(super) fn tag(&self, shard: u16) -> String {
        format!("{{{}:{}}}", self.settings.prefix, shard)
    }
    pub(super) fn shard_of_id(&self, id: BookingId) -> u16 {
        let b = id.as_bytes();
        u16::from_be_bytes([b[0], b[1]]) % self.settings.shards.max(1)
    }
    pub(super) fn digest(&self, data: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.key, data.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
    /// The field of a device in its shard's index: 12 bytes of a keyed hash, never the raw
    /// phone number or address (12 bytes keep the field in a 16-byte allocation; two devices
    /// of one client colliding is a 1 in 2^96 chance).
    pub(super) fn device_digest(&self, device_key: &str) -> Vec<u8> {
        self.digest(device_key)[..12].to_vec()
    }
    /// The client in index entries and live counters: 8 bytes of a keyed hash (a collision
    /// between two clients' ids is a 1 in 2^64 chance).
    pub(super) fn client_digest(&self, client_id: &str) -> Vec<u8> {
        self.digest(&format!("client\u{0}{client_id}"))[..8].to_vec()
    }
    pub(super) fn index_key(&self, shard: u16) -> String {
        format!("{}:dev", self.tag(shard))
    }
    pub(super) fn record_key(&self, id: BookingId) -> String {
        format!("{}:b:{}", self.tag(self.shard_of_id(id)), hex(id))
    }
    pub(super) fn due_key(&self, shard: u16) -> String {
        format!("{}:due", self.tag(shard))
    }
    pub(super) fn outbox_list_key(&self, id: BookingId) -> String {
        format!("{}:ob:{}", self.tag(self.shard_of_id(id)), hex(id))
    }
    /// Hash client digest -> number of live bookings in this shard (for the per-client quota),
    /// `status:<code>` -> bookings with that status, and `layout`.
    pub(super) fn live_key(&self, shard: u16) -> String {
        format!("{}:live", self.tag(shard))
    }
    /// The pub/sub channel of new timers (not a key: no hash tag needed).
    pub(super) fn wake_channel(&self) -> String {
        format!("{}:due", self.settings.prefix)
    }
    /// The reservations of one bucket (a pool's profile, `booking::capacity::bucket`). Every
    /// bucket shares one hash tag, so that one script admits a booking into all its pools at
    /// once (on a cluster: one slot for all pools).
    pub(super) fn pool_key(&self, pool: &str) -> String {
        format!(
            "{{{}:cap}}:{}",
            self.settings.prefix,
            crate::record::hex(pool.as_bytes())
        )
    }
    /// The operator's stored client onboarding records: one hash, field = client id.
    pub(super) fn clients_key(&self) -> String {
        format!("{{{}:cap}}:clients", self.settings.prefix)
    }
    /// The operator's capacity changes (same hash tag as the pools).
    pub(super) fn limits_key(&self) -> String {
        format!("{{{}:cap}}:limits", self.settings.prefix)
    }
    /// A change's field: the pool's name in hex (any name is safe), `/`, the profile (whose
    /// characters exclude `/`).
    pub(super) fn limit_field(pool: &str, profile: &str) -> String {
        format!("{}/{profile}", crate::record::hex(pool.as_bytes()))
    }
    pub(super) fn outbox_key(&self, shard: u16) -> String {
        format!("{}:outbox", self.tag(shard))
    }
    /// The keys of every script that changes a booking, in the order `prelude.lua` names them.
    pub(super) fn keys_of(&self, id: BookingId) -> [String; 7] {
        let shard = self.shard_of_id(id);
        [
            self.record_key(id),
            self.due_key(shard),
            self.outbox_list_key(id),
            self.outbox_key(shard),
            self.live_key(shard),
            self.index_key(shard),
            self.ledger_key(shard),
        ]
    }
    /// The shard's usage ledger: a stream of entries (field `b`: the booking's record).
    pub(super) fn ledger_key(&self, shard: u16) -> String {
        format!("{}:usage", self.tag(shard))
    }
    /// The exporters' leases and markers share one hash tag, so that a marker moves only
    /// while its lease is held, in one script.
    pub(super) fn lease_key(&self, name: &str) -> String {
        format!("{{{}:usage}}:lease:{name}", self.settings.prefix)
    }
    /// Hash `<exporter>/<shard>` -> the stream id it is done with.
    pub(super) fn markers_key(&self) -> String {
        format!("{{{}:usage}}:markers", self.settings.prefix)
    }
    /// A booking's index entry without its id: live flag (`0`/`1`), start and end (ms, 6
    /// bytes big-endian each), client digest.
    pub(super) fn entry(&self, b: &Booking) -> Vec<u8> {
        let t = |t| ms(t).clamp(0, MAX_MS).to_be_bytes()[10..].to_vec();
        let mut e = vec![if b.is_live() { b'1' } else { b'0' }];
        e.extend(t(b.start_time));
        e.extend(t(b.end_time()));
        e.extend(self.client_digest(&b.owner.client_id));
        e
    }
}

/// An id as it appears in key names and outbox members: 32 hex digits.
pub(super) fn hex(id: BookingId) -> String {
    crate::record::hex(id.as_bytes())
}

/// The ids in a device's index field (entries of [`ENTRY`] bytes, id first).
pub(super) fn ids_in(entries: &[u8]) -> impl Iterator<Item = BookingId> + '_ {
    entries.chunks_exact(ENTRY).filter_map(id_of)
}

/// An id from its 32 hex digits.
pub(super) fn id_of_hex(s: &str) -> Option<BookingId> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = std::str::from_utf8(&b[2 * i..2 * i + 2]).ok()?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(BookingId::from_bytes(out))
}

/// An id from its 16 bytes.
pub(super) fn id_of(b: &[u8]) -> Option<BookingId> {
    b.get(..16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(BookingId::from_bytes)
}

/// Bytes of one index entry (see `prelude.lua`).
pub(super) const ENTRY: usize = 37;
