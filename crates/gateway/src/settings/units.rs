//! Durations in the configuration: the key names keep their unit (`request_timeout_ms`,
//! `lease_seconds`, as operators write them), the fields are `Duration`s. A negative or
//! non-integer value fails the start with the key's name.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

pub fn ms<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

pub fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

/// A configured duration for the domain's `time::Duration` (saturating: never fails).
pub fn span(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}
