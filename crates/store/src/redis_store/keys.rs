//! Key names of the Redis layout (see the parent module's doc): every key of one booking
//! shares its shard's hash tag, so each script runs in one cluster slot.

use super::{RedisStore, ms};
use aws_lc_rs::hmac;
use booking::{Booking, BookingId};

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
    pub(super) fn index_key(&self, shard: u16, device_key: &str) -> String {
        let d = self.digest(device_key);
        let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:d:{hex}", self.tag(shard))
    }
    pub(super) fn record_key(&self, id: BookingId) -> String {
        format!("{}:b:{id}", self.tag(self.shard_of_id(id)))
    }
    pub(super) fn due_key(&self, shard: u16) -> String {
        format!("{}:due", self.tag(shard))
    }
    pub(super) fn outbox_list_key(&self, id: BookingId) -> String {
        format!("{}:ob:{id}", self.tag(self.shard_of_id(id)))
    }
    /// Hash client -> number of live bookings in this shard (for the per-client quota).
    pub(super) fn live_key(&self, shard: u16) -> String {
        format!("{}:live", self.tag(shard))
    }
    pub(super) fn outbox_key(&self, shard: u16) -> String {
        format!("{}:outbox", self.tag(shard))
    }
    pub(super) fn keys_of(&self, b: &Booking) -> Vec<String> {
        let shard = self.shard_of_id(b.id);
        let mut keys = vec![
            self.record_key(b.id),
            self.due_key(shard),
            self.outbox_list_key(b.id),
            self.outbox_key(shard),
            self.live_key(shard),
        ];
        keys.extend(b.device_keys.iter().map(|k| self.index_key(shard, k)));
        keys
    }
    pub(super) fn entry(b: &Booking) -> String {
        format!(
            "{};{};{};{}",
            u8::from(b.is_live()),
            ms(b.start_time),
            ms(b.end_time()),
            b.owner.client_id
        )
    }
}
