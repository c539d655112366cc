//! What the Sentinel and the Cluster connection share: a call that fails the way a failover
//! makes calls fail (or is dropped unfinished by the caller's timeout) asks its connection to
//! heal itself soon: find the new primary, or fetch the cluster's slot map again.

use redis::{ErrorKind, RedisError, RedisResult, ServerErrorKind};
use std::future::Future;

/// True for the errors a failover causes (and that a new primary cures).
pub(super) fn failover_symptom(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly)
                | ErrorKind::Server(ServerErrorKind::MasterDown)
                | ErrorKind::Server(ServerErrorKind::ClusterDown)
        )
}

/// A connection that can find its way back after a failover (at most one attempt at a time).
pub(super) trait Heal {
    fn heal_soon(&self);
}

/// Marks a call that is dropped before it finished (the caller's timeout): that is a
/// failover symptom too.
struct Pending<'a, H: Heal> {
    conn: &'a H,
    done: bool,
}

impl<H: Heal> Drop for Pending<'_, H> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.heal_soon();
        }
    }
}

/// Runs one call; a failover-like error, or the call dropped unfinished, starts a healing.
pub(super) async fn watched<H: Heal, T>(conn: &H, call: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    let mut pending = Pending { conn, done: false };
    let r = call.await;
    pending.done = true;
    if let Err(e) = &r
        && failover_symptom(e)
    {
        conn.heal_soon();
    }
    r
}
